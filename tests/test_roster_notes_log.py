"""The roster a team reads: `who` says what each session is doing, `note` and `roster` keep a
shared notes file, and `log` reads the ledger back as history.

Real terminals (pseudo-terminals through terminals.py), real writers racing each other, real
ledger rotation: each test is one promise of issue 10 as a user meets it.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from conftest import World, require
from helpers import assert_one_line_error, require_root, wait_for, who
from hypothesis import given, settings
from hypothesis import strategies as st
from terminals import OpenTerminal, wait_until, write_rc

START, END = b"<!-- codename:roster -->", b"<!-- /codename:roster -->"


def cells(text: str) -> int:
    """Terminal cells `text` takes: two for wide (CJK, most emoji) characters."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def job(world: World, *argv: str, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """A live process running `argv` (its command line is what `who` shows), not yet named."""
    p = subprocess.Popen(list(argv), env=world.env, cwd=cwd, stdin=subprocess.DEVNULL)
    world.children.append(p)
    return p


def row_of(world: World, pid: int) -> dict[str, object] | None:
    return next((r for r in who(world) if r["pid"] == pid), None)


# --- who: what each session is doing --------------------------------------------------------

def test_a_terminal_running_sleep_in_tmp_shows_sleep_and_tmp(
        world: World, terminal: OpenTerminal) -> None:
    write_rc(world, "bash")
    t = terminal()
    name = t.ask('"$CODENAME"')
    # At its prompt, in its home: the shell itself, in `~`.
    wait_until(lambda: (row_of(world, t.pid) or {}).get("cwd") == str(world.home),
               "the terminal's row to show its home directory")
    at_home = world.run("who", env={"COLUMNS": "250"}).stdout
    assert re.search(rf"^  {name} .* bash +~ ", at_home, re.M), at_home

    t.type("cd /tmp && sleep 300")
    wait_until(lambda: (row_of(world, t.pid) or {}).get("doing") == "sleep 300",
               "the terminal's row to show its foreground command")
    row = row_of(world, t.pid)
    assert row is not None
    assert (row["name"], row["cwd"], row["current"]) == (name, "/tmp", False)
    assert isinstance(row["idle_seconds"], int) and row["idle_seconds"] >= 0
    line = next(x for x in world.run("who", env={"COLUMNS": "250"}).stdout.splitlines()
                if f" {t.pid} " in x)
    assert "sleep 300" in line and " /tmp " in line + " ", line
    t.child.sendintr()
    t.wait_prompt()


def test_the_callers_own_row_is_marked(world: World, terminal: OpenTerminal) -> None:
    world.claim(world.sleeper().pid)
    write_rc(world, "bash")
    t = terminal()
    name = t.ask('"$CODENAME"')
    screen = t.run("codename who")
    marked = [line for line in screen.splitlines() if line.startswith("* ")]
    assert [line.split()[1] for line in marked] == [name], screen
    # A script run from the terminal is the terminal's: its nearest named ancestor.
    t.run("sh -c 'codename who --json > who.json'")
    rows = json.loads((world.home / "who.json").read_text())
    assert {r["name"]: r["current"] for r in rows} == {"Michael": False, name: True}


def test_a_job_under_codename_run_is_its_own_current_row(world: World) -> None:
    world.claim(world.sleeper().pid)
    r = world.run("run", "--", sys.executable, "-m", "codename_shell", "who", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["Michael"]["current"] is False
    assert rows["Dwight"]["current"] is True
    assert "codename_shell who --json" in str(rows["Dwight"]["doing"])


def launcher(world: World) -> Path:
    """codename's launcher as install.sh writes it (`python -SP …/bin/codename`), first on the
    PATH of the world's terminals."""
    bin_dir = world.home / ".local" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "codename"
    assert world.run_module("codename_shell.launcher", str(path)).returncode == 0
    world.env["PATH"] = f"{bin_dir}:{world.env['PATH']}"
    return path


def test_a_terminal_running_codename_shows_what_was_typed_not_the_launcher(
        world: World, terminal: OpenTerminal) -> None:
    launcher(world)
    notes = world.home / "sync.md"
    world.env["CODENAME_NOTES"] = str(notes)
    write_rc(world, "bash")
    t = terminal()
    assert t.ask("$(type -P codename)") == str(world.home / ".local" / "bin" / "codename")
    t.type("codename run -- sleep 300")  # the foreground job: the launcher's interpreter line
    wait_until(lambda: (row_of(world, t.pid) or {}).get("doing") == "codename run -- sleep 300",
               "the terminal's row to show the codename command as typed")
    line = next(x for x in world.run("who", env={"COLUMNS": "250"}).stdout.splitlines()
                if f" {t.pid} " in x)
    assert "codename run -- sleep 300" in line and "-SP" not in line, line
    assert world.run("roster", "--write").returncode == 0
    written = notes.read_text()
    assert "`codename run -- sleep 300`" in written, written
    assert "-SP" not in written and "python" not in written, written
    t.child.sendintr()
    t.wait_prompt()


@pytest.mark.parametrize("script", ["launcher", "pip's wrapper"])
def test_a_process_running_codenames_script_shows_as_typed(world: World, script: str) -> None:
    if script == "launcher":
        path = launcher(world)
        argv = [sys.executable, "-SP", str(path)]  # exactly what its `#!` line runs
    else:
        path = Path(sys.executable).parent / "codename"
        if not path.exists():
            require("codename")  # pip's wrapper of the test venv (pip install -e .)
        argv = [sys.executable, str(path)]
    assert path.read_text().startswith("#!")
    # `codename run` waits for its job; claimed as a job itself, its own command is its Doing.
    p = job(world, *argv, "run", "--", "sleep", "300")
    wait_until(lambda: len(who(world)) == 1, "the run to claim a name for its job")
    world.claim(p.pid, "--kind", "job")
    wait_until(lambda: (row_of(world, p.pid) or {}).get("doing") == "codename run -- sleep 300",
               "the row to show the codename command as typed")
    # Anything else run by an interpreter stays as it is: only codename's own scripts change.
    other = world.home / "codename"
    other.write_text("#!/bin/sh\nexec sleep 300\n")
    q = job(world, sys.executable, "-c", "import time; time.sleep(300)", str(other))
    world.claim(q.pid, "--kind", "job")
    wait_until(lambda: "import time" in str((row_of(world, q.pid) or {}).get("doing")),
               "the other row")


WIDE_CAST = 'theme = "wide"\n[themes.wide]\nnames = ["山田太郎", "Ann", "🦊Fox"]\n'


def test_wide_names_align_in_terminal_cells(world: World) -> None:
    world.write_config(WIDE_CAST)
    pids = [world.sleeper().pid for _ in range(3)]
    assert [world.claim(p) for p in pids] == ["山田太郎", "Ann", "🦊Fox"]
    lines = world.run("who").stdout.splitlines()
    header, rows = lines[0], lines[1:]
    # Where each row's PID starts, counted in cells, is where the header's `PID` starts.
    column = cells(header[:header.index(" PID ") + 1])
    assert len(rows) == 3, lines
    for pid in pids:
        line = next(x for x in rows if f" {pid} " in x)
        assert cells(line[:line.index(f" {pid} ") + 1]) == column, lines


LONG = "an-argument-long-enough-to-need-cutting-" * 4


@pytest.mark.parametrize("how", ["pty", "COLUMNS"])
def test_a_40_column_terminal_gets_no_line_wider_than_40(
        world: World, terminal: OpenTerminal, how: str) -> None:
    world.write_config(WIDE_CAST)
    for _ in range(2):
        p = job(world, sys.executable, "-c", "import time; time.sleep(600)", LONG)
        world.claim(p.pid, "--kind", "job")
    if how == "pty":
        write_rc(world, "bash")
        t = terminal()
        t.child.setwinsize(24, 40)
        # The shell redraws its prompt on the resize: let that pass before reading output.
        wait_until(lambda: t.ask("$(tput cols)") == "40", "the terminal to be 40 columns wide")
        screen = t.run("codename who")
        out = screen.split("codename who\n", 1)[1].rsplit("\n", 1)[0]
    else:
        out = world.run("who", env={"COLUMNS": "40"}).stdout
    lines = out.splitlines()
    assert len(lines) >= 3, out
    assert all(cells(line) <= 40 for line in lines), "\n".join(lines)
    assert any("山田太郎" in line for line in lines), out  # names are never cut
    assert "…" in out, out  # the long command is cut, not wrapped


def test_a_hostile_command_line_or_directory_reaches_no_terminal_raw(world: World) -> None:
    evil = world.home / "dir\nwith\x1b[31mcolour"
    evil.mkdir()
    p = job(world, sys.executable, "-c", "import time; time.sleep(600)", "\x1b]0;pwned\x07\u2028x",
            cwd=evil)
    world.claim(p.pid, "--kind", "job")
    for fmt in ([], ["--markdown"], ["--json"]):
        out = world.run("who", *fmt).stdout
        assert "\x1b" not in out and "\x07" not in out and "\u2028" not in out, (fmt, out)
        if fmt != ["--json"]:
            assert len(out.splitlines()) == (2 if not fmt else 3), out  # no line broken
    row = who(world)[0]
    assert row["cwd"] == str(evil) and "\x1b]0;pwned\x07" in str(row["doing"])


# --- note: one signed line per writer -------------------------------------------------------

NOTE_LINE = re.compile(r"- \d\d:\d\d \*\*(?P<name>[^*]+)\*\* \((?P<kind>\w+), (?P<where>[^)]*)\): "
                       r"(?P<text>.*)")
WRITER = 'read go\n"$PY" -m codename_shell note "from $$: $FILLER"\nexec sleep 600\n'


def test_twenty_writers_at_once_leave_twenty_whole_signed_lines(world: World) -> None:
    notes = world.home / "notes" / "sync.md"
    notes.parent.mkdir()
    notes.write_bytes(b"# sync\n\nuser text, no final newline")
    env = {**world.env, "CODENAME_NOTES": str(notes), "PY": sys.executable,
           "FILLER": "é" * 20000}  # 40 KB a line: a writer that split its write would show it
    writers = []
    for _ in range(20):
        p = subprocess.Popen(["sh", "-c", WRITER], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL)
        world.children.append(p)
        writers.append(p)
    names = {p.pid: world.claim(p.pid, "--kind", "job") for p in writers}
    # Roster rewrites racing the notes: a note must never land in a file being replaced.
    rewrites = [subprocess.Popen([sys.executable, "-m", "codename_shell", "roster", "--write"],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for _ in range(3)]
    for p in writers:
        assert p.stdin is not None
        p.stdin.write(b"go\n")
        p.stdin.flush()

    def done(p: subprocess.Popen[bytes]) -> bool:  # its note written, the writer sleeps
        return Path(f"/proc/{p.pid}/cmdline").read_bytes() == b"sleep\x00600\x00"

    wait_for(lambda: all(done(p) for p in writers), "every writer to finish", timeout=120)
    for r in rewrites:
        _, err = r.communicate(timeout=60)
        assert r.returncode == 0, err
    data = notes.read_bytes()
    assert data.count(START) == 1 and data.count(END) == 1
    assert b"# sync\n\nuser text, no final newline\n" in data
    written = [x for x in data.split(b"\n") if x.startswith(b"- ")]
    assert len(written) == 20, [x[:80] for x in written]
    signed = {}
    for raw in written:
        m = NOTE_LINE.fullmatch(raw.decode("utf-8"))
        assert m is not None, raw[:200]
        pid_text, _, filler = m["text"].partition(": ")
        assert filler == "é" * 20000 and m["kind"] == "job"
        signed[int(pid_text.removeprefix("from "))] = m["name"]
    assert signed == names


def test_an_unnamed_caller_gets_exit_1_and_one_line(world: World) -> None:
    notes = world.home / "sync.md"
    r = world.run("note", "hello", env={"CODENAME_NOTES": str(notes)})
    assert "name" in assert_one_line_error(r, 1)
    assert not notes.exists() or b"hello" not in notes.read_bytes()


def test_a_job_under_codename_run_signs_with_its_name_and_text_from_stdin(world: World) -> None:
    notes = world.home / "sync.md"
    r = world.run("run", "--", sys.executable, "-m", "codename_shell", "note",
                  env={"CODENAME_NOTES": str(notes)}, input="rebasing\nbilling\x1b[31m onto main\n")
    assert r.returncode == 0, r.stderr
    m = NOTE_LINE.fullmatch(notes.read_text().rstrip("\n"))
    assert m is not None, notes.read_text()
    assert (m["name"], m["kind"], m["where"], m["text"]) == (
        "Michael", "job", "~", "rebasing billing [31m onto main")
    assert notes.read_text().count("\n") == 1


FULL_DISK = r"""
mount -t tmpfs -o size=64k codename-test "$NOTES_DIR" || exit 99
notes="$NOTES_DIR/sync.md"
head -c 40000 /dev/zero | tr '\0' x > "$notes" && echo >> "$notes"
"$PY" -m codename_shell run -- "$PY" -m codename_shell note < "$TEXT" 2> "$ERR"
echo "rc=$? size=$(wc -c < "$notes") last=$(tail -c 1 "$notes" | od -An -tx1)"
"""


def test_a_note_on_a_full_disk_fails_cleanly_and_leaves_no_partial_line(world: World) -> None:
    require_root("to mount a small tmpfs in a mount namespace of its own")
    notes_dir, text, err = world.root / "notes", world.root / "text", world.root / "err"
    notes_dir.mkdir()
    text.write_text("x" * 60000)  # fits the 64 KB disk alone, not after the 40 KB already there
    env = {**world.env, "NOTES_DIR": str(notes_dir), "PY": sys.executable, "TEXT": str(text),
           "ERR": str(err), "CODENAME_NOTES": str(notes_dir / "sync.md")}
    r = subprocess.run([require("unshare"), "--mount", "--propagation", "private", "sh", "-c",
                        FULL_DISK], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["rc=1", "size=40001", "last=", "0a"], r.stdout
    lines = err.read_text().splitlines()
    assert len(lines) == 1 and "not written" in lines[0], lines


def test_no_notes_file_configured_is_one_line(world: World) -> None:
    r = world.run("run", "--", sys.executable, "-m", "codename_shell", "note", "hi")
    assert "[notes]" in assert_one_line_error(r, 1)


# --- roster: the block in the notes file ----------------------------------------------------

def test_roster_write_keeps_every_byte_around_the_block_and_twice_equals_once(
        world: World) -> None:
    world.claim(world.sleeper().pid)
    target = world.home / "team.md"
    before = b"# Team\r\nodd bytes \xff\xfe kept\n\n" + START + b"\nstale roster\n" + END
    after = b"\n\n- 09:00 **Pam** (terminal, ~): hand-written line\n  trailing, no newline"
    target.write_bytes(before + after)
    assert world.run("roster", "--write", str(target)).returncode == 0
    once = target.read_bytes()
    assert once.startswith(before[:before.index(START) + len(START)])
    assert once.endswith(END + after)
    assert b"stale roster" not in once and b"| Michael |" in once
    assert world.run("roster", "--write", str(target)).returncode == 0
    assert target.read_bytes() == once


def test_roster_write_gives_a_file_without_markers_one_block_at_the_top(world: World) -> None:
    world.claim(world.sleeper().pid)
    target = world.home / "team.md"
    target.write_bytes(b"# Team notes\n- 09:00 standup\n")
    for _ in range(2):
        r = world.run("roster", "--write", str(target))
        assert r.returncode == 0, r.stderr
        data = target.read_bytes()
        assert data.startswith(START) and data.count(START) == 1 and data.count(END) == 1
        assert data.endswith(END + b"\n\n# Team notes\n- 09:00 standup\n")


def test_roster_write_defaults_to_the_notes_file_follows_its_link_and_keeps_its_mode(
        world: World) -> None:
    world.write_config('[notes]\npath = "~/notes/sync.md"\n')
    world.claim(world.sleeper().pid)
    real = world.home / "shared" / "team.md"
    real.parent.mkdir()
    real.write_text("kept\n")
    real.chmod(0o640)
    link = world.home / "notes" / "sync.md"
    link.parent.mkdir()
    link.symlink_to(real)
    r = world.run("roster", "--write")
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert real.read_bytes().startswith(START) and real.read_bytes().endswith(b"\nkept\n")


def test_roster_prints_the_markdown_table(world: World) -> None:
    world.claim(world.sleeper().pid)
    r = world.run("roster")
    assert r.returncode == 0, r.stderr
    head, rule, row = r.stdout.splitlines()
    assert head.startswith("| Name | Full name |") and set(rule.strip("|").split("|")) == {"---"}
    assert row.startswith("| Michael | Michael Scott | terminal | `sleep 600` |"), row


def test_an_unknown_notes_setting_is_a_warning(world: World) -> None:
    world.write_config('[notes]\npath = "sync.md"\ncolour = "red"\n')
    r = world.run("roster")
    assert r.returncode == 0 and "notes.colour" in r.stderr


# --- log: the ledger as history -------------------------------------------------------------

def log_json(world: World, *args: str) -> list[dict[str, object]]:
    r = world.run("log", "--json", *args)
    assert r.returncode == 0, r.stderr
    events: list[dict[str, object]] = json.loads(r.stdout)
    return events


def test_log_lists_every_claim_of_a_name_across_rotated_ledgers(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from codename_shell import config
    from codename_shell.allocator import Allocator
    from codename_shell.sources import ledger

    # The real allocator and ledger, with thresholds small enough to rotate within a test.
    monkeypatch.setattr(ledger, "COMPACT_AFTER", 10)
    monkeypatch.setattr(ledger, "ARCHIVE_MAX", 1000)
    allocator = Allocator(config.load())
    steady, coming_and_going = world.sleeper(), world.sleeper()
    allocator.claim(steady.pid)  # Michael: open through every compaction, re-listed by each
    cycles = 0
    while not (world.ledger.parent / "ledger.log.2").exists():
        allocator.claim(coming_and_going.pid)
        allocator.release(coming_and_going.pid)
        cycles += 1
        assert cycles < 200, "the ledger never rotated"
    assert "# codename ledger, compacted" in world.ledger.read_text()

    dwight = log_json(world, "--name", "dwight")
    assert [e["event"] for e in dwight] == ["claimed", "released"] * cycles
    assert {e["pid"] for e in dwight} == {coming_and_going.pid}
    times = [str(e["time"]) for e in dwight]
    assert times == sorted(times)
    michael = log_json(world, "--name", "MICHAEL")
    assert [e["event"] for e in michael] == ["claimed"]  # re-listings are not claims
    assert set(michael[0]) >= {"time", "event", "name", "pid", "host", "kind"}


def test_log_skips_a_torn_or_foreign_line_with_a_warning(world: World) -> None:
    world.claim(world.sleeper().pid)
    (world.ledger.parent / "ledger.log.1").write_bytes(b"\xff\xfe binary junk\n")
    with world.ledger.open("a") as f:
        f.write("not a ledger row at all\n"
                "2026-01-01T00:00:00Z\tclaimed\tBad\tpid=not-a-number\n"
                "2026-01-01T00:00:00Z\tclaimed\tTorn\tfull=To")
    r = world.run("log", "--json")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert [(e["event"], e["name"]) for e in json.loads(r.stdout)] == [("claimed", "Michael")]
    warnings = r.stderr.splitlines()
    assert len(warnings) == 4 and all(w.startswith("codename: warning: ") for w in warnings)


def test_log_does_not_hang_on_a_fifo(world: World) -> None:
    world.claim(world.sleeper().pid)
    os.mkfifo(world.ledger.parent / "ledger.log.2")
    r = world.run("log", timeout=30)
    assert r.returncode == 0 and "ledger.log.2" in r.stderr, r.stderr
    assert "Michael" in r.stdout


def test_log_since_filters_and_a_bad_since_is_a_usage_error(world: World) -> None:
    world.claim(world.sleeper().pid)
    assert [e["name"] for e in log_json(world, "--since", "1h")] == ["Michael"]
    assert log_json(world, "--since", "2999-01-01") == []
    r = world.run("log", "--since", "last tuesday-ish")
    assert "--since" in assert_one_line_error(r, 2)


def test_a_rename_shows_in_the_log_on_both_names(world: World) -> None:
    # Issue 18 changed this: a typed rename was a `released … renamed to Jim` row and a
    # `claimed … renamed from Michael` row; it is now one `renamed` event, as a fleet rename is.
    p = world.sleeper()
    world.claim(p.pid)
    assert world.run("rename", "--pid", str(p.pid), "Jim").returncode == 0
    table = world.run("log").stdout
    assert re.search(r"renamed\s+Jim .*from Michael", table), table
    assert "released" not in table and table.count("claimed") == 1, table
    for name in ("michael", "JIM"):
        renamed = [e for e in log_json(world, "--name", name) if e["event"] == "renamed"]
        assert [(e["from"], e["to"], e["name"]) for e in renamed] == [("Michael", "Jim", "Jim")]


def test_a_fleet_rename_is_in_the_history_of_both_names_with_its_reason(world: World) -> None:
    from codename_shell import paths
    from codename_shell.sources import LedgerSource

    p = world.sleeper()
    world.claim(p.pid)
    ledger = LedgerSource(paths.state_dir())
    (toby,) = ledger.holders()
    toby.name = "Michael@laptop"
    ledger.rename(toby, "the fleet did not answer")  # as the fleet's keeper records one
    events = log_json(world, "--name", "michael")
    assert [(e["event"], e["name"]) for e in events] == [
        ("claimed", "Michael"), ("renamed", "Michael@laptop")]
    # Issue 18: `from` and `to`, as a typed rename has them (the field was `previous`).
    assert (events[1]["from"], events[1]["to"], events[1]["reason"]) == (
        "Michael", "Michael@laptop", "the fleet did not answer")
    assert log_json(world, "--name", "michael@LAPTOP") == events[1:]


def test_a_note_piped_in_as_invalid_utf8_is_written_not_a_crash(world: World) -> None:
    notes = world.home / "sync.md"
    r = subprocess.run([sys.executable, "-m", "codename_shell", "run", "--", sys.executable, "-m",
                        "codename_shell", "note"], input=b"caf\xe9 \xff\xfe ok\n",
                       env={**world.env, "CODENAME_NOTES": str(notes)}, capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert notes.read_text().endswith("): caf\ufffd \ufffd\ufffd ok\n")


# --- properties of the readers of outside input ---------------------------------------------

TEXT = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=30)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(TEXT, min_size=4, max_size=4), max_size=5),
       width=st.integers(min_value=1, max_value=120), marked=st.booleans())
def test_no_table_line_is_wider_than_the_terminal(rows: list[list[str]], width: int,
                                                   marked: bool) -> None:
    from codename_shell import report

    headers = ("Name", "Doing", "Where", "Sources")
    rows = [[report.printable(c) for c in row] for row in rows]
    out = report.grid(headers, rows, width=width, marks=["*"] * len(rows) if marked else None,
                      drop_first=("Sources",), drop=("Where",),
                      shrink={"Doing": 12, "Where": 12},
                      cut_front=("Where",))
    lines = out.splitlines()
    assert len(lines) == len(rows) + 1
    assert all(cells(line) <= width for line in lines), lines


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(st.text(max_size=80), max_size=8), torn=st.text(max_size=20))
def test_the_log_reader_never_crashes_on_any_ledger_text(
        tmp_path_factory: pytest.TempPathFactory, lines: list[str], torn: str) -> None:
    from codename_shell import history
    from codename_shell.sources import ledger

    directory = tmp_path_factory.mktemp("ledger")
    stamp = "2026-11-28T09:00:00Z\tclaimed\tPam\tpid=42\tstart=7\n"
    (directory / "ledger.log").write_text(stamp + "".join(x + "\n" for x in lines) + torn,
                                          encoding="utf-8", errors="surrogatepass")
    log = history.History(str(directory))
    events = log.events()
    assert events and history.Event(events[0]).name == "Pam"
    assert all(history.Event(e).event in ledger.EVENTS for e in events)
