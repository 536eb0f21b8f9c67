"""Hostile input files: each test is one attack on what codename reads, tried through the CLI.

A roster is another launcher's file, config.toml the user's, presence files and the ledger
codename's own; any of them may hold bytes no one meant, or be something that is not a file at
all. Whatever they hold: no name is handed out twice, nothing hangs, nothing reaches the
terminal raw, and a bad file costs one line, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import World
from helpers import assert_one_line_error, identity, names_held, use_roster, who, write_presence
from terminals import PROMPT, Terminal, write_rc

from codename_shell import liveness
from codename_shell.sources.presence import PresenceSource
from codename_shell.sources.roster import ROSTER_MAX, RosterSource

GAVE_UP = 60  # seconds: a command still running by then is hung (the bug), not slow

# Characters a terminal acts on: C0 controls (ESC, BEL, newline), DEL and the C1 controls.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def run(world: World, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """`codename ARGS`, given up on (failing the test) if it has not finished by GAVE_UP."""
    return world.run(*args, timeout=GAVE_UP, **kwargs)  # type: ignore[arg-type]


def claimed_by_a_sleeper(world: World) -> tuple[str, int]:
    pid = world.sleeper().pid
    return world.claim(pid), pid


# --- 1. a JSON line ends at "\n" alone ---------------------------------------------------------

@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_a_roster_row_holding_a_unicode_line_separator_keeps_its_holder(
        world: World, separator: str) -> None:
    # Valid JSON, as JSON.stringify or ensure_ascii=False writes it: the separator stays raw.
    row = json.dumps({"name": "Michael", "host": f"rack{separator}7"}, ensure_ascii=False)
    roster = use_roster(world, row + "\n")
    assert separator in roster.read_text(encoding="utf-8")

    r = run(world, "claim", "--pid", str(world.sleeper().pid))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.strip() == "Dwight"  # Michael is the roster's
    (held,) = names_held(world)["Michael"]
    assert held["host"] == f"rack{separator}7"


def test_a_presence_row_holding_u2028_keeps_its_holder(world: World) -> None:
    spare = world.sleeper()
    write_presence(world, "Michael", spare.pid, full="Michael\u2028Scott")
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert [r["pid"] for r in names_held(world)["Michael"]] == [spare.pid]


def test_a_ledger_row_holding_a_carriage_return_keeps_its_holder(world: World) -> None:
    name, pid = claimed_by_a_sleeper(world)
    # Only the ledger knows it now (a wiped runtime dir), and its row holds a raw "\r".
    for f in world.presence_dir.iterdir():
        f.unlink()
    world.ledger.write_text(world.ledger.read_text().replace(
        f"full={name}", f"full={name}\rthe boss"))
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert [r["pid"] for r in names_held(world)[name]] == [pid]


# --- 5. nothing reaches the terminal raw -------------------------------------------------------

HOSTILE = "a\x1b]0;pwned\x07b\x1b]52;c;cHduZWQ=\x07\nnext | row\x9b2J"


def test_escape_sequences_in_any_field_never_reach_the_terminal(world: World) -> None:
    # A roster (its file name too), a ledger row and a config key, each full of controls.
    fleet = world.home / "fleet\x1b[31m"
    fleet.mkdir()
    roster = fleet / "roster.jsonl"
    roster.write_text(json.dumps({"name": "Michael", "host": HOSTILE, "since": 10}) + "\n"
                      + '{"name": "bad\\u0007"}\n')
    world.write_config(f'"key\\u001b[2J" = 1\n[[rosters]]\npath = {json.dumps(str(roster))}\n')
    spare = world.sleeper()
    me = identity(spare.pid)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    world.ledger.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    in_a_row = HOSTILE.replace("\n", "")  # a row is one line: no newline can be in one
    world.ledger.write_text(
        f"{stamp}\tclaimed\tDwight\tfull={in_a_row}\tkind=spare\tpid={spare.pid}"
        f"\tstart={me.start}\tboot={me.boot}\thost={liveness.host()}\tns={me.ns}"
        f"\ttty={in_a_row}\n")

    out = {}
    for args in (("who",), ("who", "--markdown"), ("who", "--json"), ("doctor",),
                 ("claim", "--pid", str(world.sleeper().pid))):
        r = run(world, *args)
        assert r.returncode in (0, 1) and "Traceback" not in r.stderr, r.stderr
        assert not RAW_CONTROL.search(r.stdout + r.stderr), (args, r.stdout + r.stderr)
        out[" ".join(args) if args[0] == "who" else args[0]] = r
    table = out["who"].stdout.splitlines()
    assert len(table) == 3, table  # the header, Dwight, Michael: a newline broke no row
    assert any("a\\x1b]0;pwned\\x07b" in line and "\\x0anext" in line for line in table)
    markdown = out["who --markdown"].stdout.splitlines()
    assert len(markdown) == 4 and all(line.startswith("|") for line in markdown)
    # As many cells a row as the header has: a `|` in a field is escaped, a newline shown \x0a.
    cells = {line.count(" | ") for line in markdown if not line.startswith("|-")}
    assert len(cells) == 1, markdown
    rows = json.loads(out["who --json"].stdout)
    assert {r["name"]: r["host"] for r in rows}["Michael"] == HOSTILE  # the data, unchanged
    assert "fleet\\x1b[31m" in out["doctor"].stdout  # the roster's path, shown escaped
    assert out["claim"].stdout.strip() == "Jim"


# --- 6. files that are not files ---------------------------------------------------------------

def fifo(path: Path) -> Path:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.mkfifo(path, 0o600)
    return path


def test_a_fifo_as_roster_hangs_nothing_and_gives_no_name(world: World) -> None:
    held, pid = claimed_by_a_sleeper(world)
    roster = fifo(world.home / "roster.jsonl")
    world.write_config(f'[[rosters]]\npath = "{roster}"\n')

    # A roster that cannot be read may list any name: no new name, one line saying why.
    line = assert_one_line_error(run(world, "claim", "--pid", str(world.sleeper().pid)))
    assert str(roster) in line and "FIFO" in line
    assert run(world, "claim", "--pid", str(pid)).stdout.strip() == held  # held ones stay
    r = run(world, "who")
    assert r.returncode == 0 and held in r.stdout
    assert r.stderr.count("\n") == 1 and "FIFO" in r.stderr
    doctor = run(world, "doctor")
    assert doctor.returncode == 1 and "FIFO" in doctor.stdout
    assert "regular file" in doctor.stdout  # what to do about it
    assert run(world, "reap").returncode == 0


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/stdin"])
def test_a_device_as_roster_is_refused_not_read(world: World, device: str) -> None:
    world.write_config(f'[[rosters]]\npath = "{device}"\n')
    # stdin a pipe that never ends, as a terminal's would not: read, it would hang the claim.
    with subprocess.Popen(["sleep", str(GAVE_UP * 2)], stdout=subprocess.PIPE) as never:
        try:
            r = subprocess.run(
                [*_codename(), "claim", "--pid", str(world.sleeper().pid)], env=world.env,
                stdin=never.stdout, capture_output=True, text=True, timeout=GAVE_UP,
                cwd=world.home)
        finally:
            never.kill()
    line = assert_one_line_error(r)
    assert device in line and ("device" in line or "FIFO" in line), line


def _codename() -> list[str]:
    import sys

    return [sys.executable, "-m", "codename_shell"]


def test_a_roster_too_large_to_read_is_refused_without_reading_it(world: World) -> None:
    roster = world.home / "huge.jsonl"
    with open(roster, "wb") as f:
        f.truncate(ROSTER_MAX + 1)  # sparse: costs no disk
    world.write_config(f'[[rosters]]\npath = "{roster}"\n')
    line = assert_one_line_error(run(world, "claim", "--pid", str(world.sleeper().pid)))
    assert "larger than 64 MiB" in line


def test_a_fifo_as_presence_entry_is_reported_and_reaped(world: World) -> None:
    entry = fifo(world.presence_dir / "4242-1")
    name, pid = claimed_by_a_sleeper(world)
    assert name == "Michael"
    doctor = run(world, "doctor")
    assert doctor.returncode == 1 and f"{entry}: unreadable (a FIFO, not a file)" in doctor.stdout
    assert run(world, "reap").returncode == 0
    assert not entry.exists()
    assert [r["pid"] for r in who(world)] == [pid]


def test_a_symlink_as_presence_entry_is_not_followed(world: World) -> None:
    # Another user's file (or a FIFO) behind a link: never opened through it.
    target = world.home / "elsewhere"
    target.write_text("Dwight\tkind=spare\tpid=1\n")
    world.presence_dir.mkdir(mode=0o700)
    link = world.presence_dir / "1-1"
    link.symlink_to(target)
    assert world.claim(world.sleeper().pid) == "Michael"
    assert "symlink" in run(world, "doctor").stdout
    assert run(world, "reap").returncode == 0
    assert not link.is_symlink() and target.exists()


def test_a_fifo_as_ledger_hangs_nothing_and_gives_no_name(world: World) -> None:
    ledger = fifo(world.ledger)
    line = assert_one_line_error(run(world, "claim", "--pid", str(world.sleeper().pid)))
    assert str(ledger) in line and "FIFO" in line
    assert run(world, "who").returncode == 0
    doctor = run(world, "doctor")
    assert doctor.returncode == 1 and "move it aside" in doctor.stdout
    assert run(world, "reap").returncode == 0
    assert ledger.exists()  # a person decides what it is


def test_a_directory_as_ledger_is_one_line_not_an_internal_error(world: World) -> None:
    world.ledger.parent.mkdir(mode=0o700, parents=True)
    world.ledger.mkdir()
    line = assert_one_line_error(run(world, "claim", "--pid", str(world.sleeper().pid)))
    assert "a directory, not a file" in line and "internal error" not in line


def test_a_fifo_as_config_is_one_warning_and_the_defaults(world: World) -> None:
    config = fifo(world.config_file)
    r = run(world, "claim", "--pid", str(world.sleeper().pid))
    assert r.returncode == 0 and r.stdout.strip() == "Michael"
    assert r.stderr.count("\n") == 1 and str(config) in r.stderr and "FIFO" in r.stderr
    assert run(world, "who").returncode == 0
    assert run(world, "doctor").returncode == 1
    assert run(world, "theme", "parks").returncode == 1  # never edited through a FIFO


def test_a_relative_roster_path_is_read_beside_config_toml(world: World) -> None:
    world.write_config('[[rosters]]\npath = "fleet/roster.jsonl"\n')
    roster = world.config_file.parent / "fleet" / "roster.jsonl"
    roster.parent.mkdir()
    roster.write_text('{"name": "Michael"}\n')
    # Run from elsewhere: the path means beside config.toml, not the current directory.
    elsewhere = world.home / "project"
    (elsewhere / "fleet").mkdir(parents=True)
    (elsewhere / "fleet" / "roster.jsonl").write_text('{"name": "Dwight"}\n')
    r = subprocess.run([*_codename(), "claim", "--pid", str(world.sleeper().pid)],
                       env=world.env, capture_output=True, text=True, timeout=GAVE_UP,
                       cwd=elsewhere)
    assert r.returncode == 0 and r.stdout.strip() == "Dwight", r.stderr
    (row,) = [row for row in who(world) if row["name"] == "Michael"]
    assert row["sources"] == [f"roster:{roster}"]


@pytest.mark.parametrize("where", ["config.toml", "presence entry", "ledger", "roster"])
def test_a_fifo_never_hangs_a_shell_start(world: World, where: str) -> None:
    if where == "config.toml":
        fifo(world.config_file)
    elif where == "presence entry":
        fifo(world.presence_dir / "4242-1")
    elif where == "ledger":
        fifo(world.ledger)
    else:
        world.write_config(f'[[rosters]]\npath = "{fifo(world.home / "roster.jsonl")}"\n')
    write_rc(world, "bash")
    t = Terminal(world, "bash")  # waits for the first prompt: a hang fails here
    try:
        lines = [line for line in t.startup.splitlines() if line.strip()]
        named = where in ("config.toml", "presence entry")
        assert t.ask('"$CODENAME"') == ("Michael" if named else "")
        warned = where != "presence entry"  # doctor lists a bad presence entry
        assert len(lines) == 1 + warned, t.startup
        if warned:
            assert lines[0].startswith("codename: ") and "FIFO" in lines[0]
        assert lines[-1].rstrip().endswith(PROMPT.strip())
    finally:
        t.close()


def test_a_roster_can_be_read_before_the_lock(world: World) -> None:
    # The allocator loads rosters before it takes its lock; the survey under the lock then
    # uses those rows and does not read (or parse) the file again.
    roster = world.home / "roster.jsonl"
    roster.write_text("".join(json.dumps({"name": f"Job {i}"}) + "\n" for i in range(1000)))
    source = RosterSource(str(roster))
    source.load()
    roster.write_text('{"name": "Later"}\n')
    assert len(source.holders()) == 1000
    assert [h.name for h in source.holders()] == ["Later"]  # handed over once


# --- 10. the smaller ones ----------------------------------------------------------------------

@pytest.mark.parametrize("since", ["100000000000000000000", "-5", "-100000000000000000000",
                                   "1" + "0" * 40])
def test_who_shows_a_row_whose_since_is_out_of_range(world: World, since: str) -> None:
    use_roster(world, f'{{"name": "Michael", "since": {since}}}\n')
    name, _ = claimed_by_a_sleeper(world)
    world.ledger.write_text(world.ledger.read_text().replace("\tsince=", f"\tsince={since}\t_="))
    for f in world.presence_dir.iterdir():
        f.unlink()  # the ledger's row is the one shown
    for args in (("who",), ("who", "--json"), ("who", "--markdown")):
        r = run(world, *args)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert "Michael" in r.stdout and name in r.stdout
    assert run(world, "doctor").returncode == 0


def test_reap_keeps_a_live_presence_file_beside_a_junk_file_named_after_it(world: World) -> None:
    name, _ = claimed_by_a_sleeper(world)
    (live,) = world.presence_dir.iterdir()
    junk = world.presence_dir / f"{live.name}: junk"
    junk.write_text("not a row\n")
    assert run(world, "reap").returncode == 0
    assert live.exists() and not junk.exists()
    assert names_held(world)[name][0]["sources"] == ["presence", "ledger"]


def test_temp_files_of_killed_writers_are_cleaned(world: World) -> None:
    _, pid = claimed_by_a_sleeper(world)
    dead = _dead_pid()
    writer = world.sleeper()
    old = time.time() - 3600
    state = world.ledger.parent
    left = [world.presence_dir / f"{pid}-1.{dead}.tmp", state / f"ledger.log.{dead}.tmp",
            state / f"config.cache.{dead}.tmp"]
    kept = [world.presence_dir / f"{pid}-2.{writer.pid}.tmp",  # its writer still runs
            state / f"ledger.log.{os.getpid()}.tmp",
            world.presence_dir / "notes.tmp"]  # not a temp file of codename's
    for path in left + kept:
        path.write_text("half a row")
        os.utime(path, (old, old))
    fresh = state / f"ledger.log.{_dead_pid()}.tmp"
    fresh.write_text("a write under way")  # too new to judge by a pid

    assert world.claim(world.sleeper().pid) == "Dwight"
    assert [p for p in left if p.exists()] == []
    assert [p for p in [*kept, fresh] if not p.exists()] == []
    assert run(world, "reap").returncode == 0
    assert [p for p in [*kept, fresh] if not p.exists()] == []


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_reap_removes_the_unreadable_ledger_rows_doctor_reports(world: World) -> None:
    name, pid = claimed_by_a_sleeper(world)
    with open(world.ledger, "a") as f:
        f.write("2026-01-01T00:00:00Z\tteleported\tPam\tpid=1\n")
    doctor = run(world, "doctor")
    assert doctor.returncode == 1 and "`codename reap` removes" in doctor.stdout
    assert run(world, "reap").returncode == 0
    after = run(world, "doctor")
    assert after.returncode == 0, after.stdout
    assert "teleported" not in world.ledger.read_text()
    assert "teleported" in (world.ledger.parent / "ledger.log.1").read_text()  # kept to read
    assert [r["pid"] for r in names_held(world)[name]] == [pid]
    for f in world.presence_dir.iterdir():  # the ledger alone still knows the holder
        f.unlink()
    assert world.claim(world.sleeper().pid) == "Dwight"


def test_doctor_never_says_pid_none(world: World) -> None:
    name, _ = claimed_by_a_sleeper(world)
    # A launcher hands out the same name without a pid: a duplicate doctor must describe.
    use_roster(world, [{"name": name}, {"name": "Dwight"}])
    doctor = run(world, "doctor")
    assert doctor.returncode == 1 and "DUPLICATE" in doctor.stdout
    assert "None" not in doctor.stdout
    assert "an entry without a pid" in doctor.stdout


def test_presence_problem_paths_are_data_not_parsed_from_messages(world: World) -> None:
    # The reaper's list of junk is kept as paths: a file name with ": " in it changes nothing.
    world.presence_dir.mkdir(mode=0o700)
    junk = world.presence_dir / "7-7: x: y"
    junk.write_text("\x00\x01\n")
    source = PresenceSource(str(world.presence_dir))
    assert source.holders() == []
    assert source.unreadable == [str(junk)]
    assert source.remove_unreadable() == [str(junk)]
