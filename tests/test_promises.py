"""Promises the README makes that no other test held codename to, each tried for real.

Several of these are also the tests that catch a bug planted by `tests/mutants.py`: a holder
in another pid namespace, the ledger archive's rotation, overflow names past round 2, `rename`
without a name, a lock taken shared, and the TTY column. Each test says which.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, World, require
from helpers import (
    assert_one_line_error,
    end_session,
    hold_lock,
    ledger_rows,
    lock_is_held,
    names_held,
    proc_state,
    require_root,
    require_strace,
    state_lock,
    wait_for,
    who,
)
from terminals import (
    PID,
    PROMPT,
    SHELLS,
    TIMEOUT,
    OpenTerminal,
    claim_for_a_sleeper,
    closing_event,
    emptied_by_the_hook,
    holders,
    presence_file,
    shell_argv,
    write_rc,
)

from codename_shell.shells import quote
from codename_shell.sources.ledger import ARCHIVE_MAX, COMPACT_AFTER


def made_state_lock(world: World) -> Path:
    """The allocator's lock file, created as codename creates it."""
    lock = state_lock(world)
    lock.touch(mode=0o600)
    return lock


# --- the lock -----------------------------------------------------------------------------

def test_a_claim_never_shares_the_lock(world: World) -> None:
    """Catches the lock taken shared (LOCK_SH): two claims could then both see a name free."""
    lock = made_state_lock(world)
    reader = hold_lock(world, lock, "--shared")
    try:
        r = world.run("claim", "--pid", str(world.sleeper().pid))
    finally:
        end_session(reader)
    assert "lock" in assert_one_line_error(r)
    assert who(world) == []
    assert not world.ledger.exists() or ledger_rows(world) == []


def test_a_claim_killed_while_it_holds_the_lock_never_wedges_the_next(world: World) -> None:
    # strace holds the claim still right after its flock() returned: the lock is its own.
    strace = require_strace()
    lock = made_state_lock(world)
    victim = world.sleeper()
    tracer = subprocess.Popen(
        [strace, "-qq", "-o", "/dev/null", "-e", "trace=flock",
         "-e", "inject=flock:delay_exit=600s",
         sys.executable, "-m", "codename_shell", "claim", "--pid", str(victim.pid)],
        env=world.env, cwd=world.home, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    world.children.append(tracer)
    wait_for(lambda: lock_is_held(lock), "the traced claim to take the lock")
    children = Path(f"/proc/{tracer.pid}/task/{tracer.pid}/children").read_text().split()
    assert len(children) == 1, children
    claim_pid = int(children[0])

    os.kill(claim_pid, signal.SIGKILL)
    # strace would keep the dying claim stopped at its exit: end it too, and the kernel lets
    # the claim go on dying (and its descriptors, the lock's among them, close).
    tracer.kill()
    tracer.communicate(timeout=TIMEOUT)
    wait_for(lambda: proc_state(claim_pid) in (None, "Z"), "the killed claim to end")

    assert world.claim(world.sleeper().pid) == "Michael"
    assert world.claim(victim.pid) == "Dwight"
    assert {name: len(rows) for name, rows in names_held(world).items()} == {
        "Michael": 1, "Dwight": 1}


def test_a_shell_start_gives_up_on_a_stuck_lock_with_one_line_and_no_name(
        world: World, terminal: OpenTerminal) -> None:
    lock = made_state_lock(world)
    stuck = hold_lock(world, lock)  # holds it far longer than any shell start may wait
    try:
        write_rc(world, "bash")
        t = terminal("bash")
        lines = [line for line in t.startup.splitlines() if line.strip()]
        assert len(lines) == 2, t.startup  # the one line, then the prompt
        assert lines[0].startswith("codename: ") and "lock" in lines[0], lines[0]
        assert "no name" in lines[0] and "Traceback" not in t.screen()
        assert lines[1] == PROMPT
        assert t.ask('"$CODENAME"') == ""
        assert lock_is_held(lock)  # still stuck: the shell did not wait it out
    finally:
        end_session(stuck)
    assert holders(world) == {}


# --- holders codename cannot check from here ----------------------------------------------

def test_a_holder_in_another_pid_namespace_keeps_its_name(world: World) -> None:
    """Catches the pid-namespace check removed from liveness: the holder is pid 1 in its own
    namespace, and pid 1 here is another process, so without the check it looks dead."""
    unshare = require("unshare")
    require_root("to make a pid namespace")
    answer = world.root / "inner-claim"
    # The namespace's first process claims for itself, then stays alive as `sleep`.
    inner = f'"{sys.executable}" -m codename_shell claim --pid 1 >"$0" && exec sleep 600'
    ns = subprocess.Popen([unshare, "--pid", "--mount-proc", "--kill-child", "sh", "-c", inner,
                           str(answer)], env=world.env, cwd=world.home)
    world.children.append(ns)
    wait_for(lambda: ns.poll() is not None or (answer.exists()
                                               and answer.read_text().endswith("\n")),
             "the claim inside the namespace")
    assert ns.poll() is None and answer.read_text() == "Michael\n", ns.returncode

    assert world.claim(world.sleeper().pid) == "Dwight"
    held = names_held(world)
    assert [row["pid"] for row in held["Michael"]] == [1]
    assert world.run("reap").stdout.strip() == "no ghosts"


# --- the ledger's history -------------------------------------------------------------------

def test_the_ledger_history_rotates_to_a_second_archive(world: World) -> None:
    """Catches an archive that never rotates to `.2`: ledger.log.1 would grow without end."""
    state = world.ledger.parent
    state.mkdir(mode=0o700, parents=True)
    stamp = "2026-01-01T00:00:00Z"
    old = "".join(f"{stamp}\treleased\tOld\tpid={i}\tstart=1\n"
                  for i in range(ARCHIVE_MAX // 30 + 1))
    assert len(old) > ARCHIVE_MAX
    (state / "ledger.log.1").write_text(old)
    # Enough closed rows in the live file that the next claim compacts it.
    closed = "".join(f"{stamp}\treleased\tRecent\tpid={i}\tstart=1\n"
                     for i in range(COMPACT_AFTER + 10))
    world.ledger.write_text(closed)

    assert world.claim(world.sleeper().pid) == "Michael"
    assert world.run("reap").returncode == 0  # compacts, if the claim left it to reap

    assert (state / "ledger.log.2").read_text() == old
    archive = (state / "ledger.log.1").read_text()
    assert archive.startswith(closed) and "\tOld\t" not in archive
    assert [(e, n) for e, n, _ in ledger_rows(world)] == [("claimed", "Michael")]


# --- names ----------------------------------------------------------------------------------

def test_overflow_names_stay_distinct_past_the_third_round(world: World) -> None:
    """Catches overflow rounds 3 and up ignoring the names already taken (two live `Ada 3`)."""
    world.write_config('theme = "duo"\n[themes.duo]\nnames = ["Ada", "Grace"]\n')
    got = [world.claim(world.sleeper().pid) for _ in range(8)]
    assert got == ["Ada", "Grace", "Ada 2", "Grace 2", "Ada 3", "Grace 3", "Ada 4", "Grace 4"]
    assert sorted(names_held(world)) == sorted(got)
    assert all(len(rows) == 1 for rows in names_held(world).values())


def test_rename_without_a_name_gives_another_name(world: World) -> None:
    """Catches `rename` with no NAME handing back the name already held."""
    p = world.sleeper()
    assert world.claim(p.pid) == "Michael"

    r = world.run("rename", "--pid", str(p.pid))

    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Dwight"
    assert [(row["name"], row["pid"]) for row in who(world)] == [("Dwight", p.pid)]
    # Issue 18 changed the rows: a rename is one `renamed` row naming the old name (it was a
    # `released` row and a `claimed` row), as the fleet's keeper writes one.
    rows = ledger_rows(world)
    assert [(e, n) for e, n, _ in rows] == [("claimed", "Michael"), ("renamed", "Dwight")]
    assert rows[-1][2]["from"] == "Michael"
    assert world.claim(world.sleeper().pid) == "Michael"


# --- shells ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_exec_of_the_shell_keeps_the_name(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    assert t.ask('"$CODENAME"') == "Michael"
    pid, ident = t.ask(PID[shell]), t.ask('"$CODENAME_ID"')

    t.run("exec " + " ".join(quote(arg, shell) for arg in shell_argv(world, shell)))

    assert t.ask(PID[shell]) == pid  # the same process, running a fresh shell
    assert t.ask('"$CODENAME"') == "Michael"
    assert t.ask('"$CODENAME_ID"') == ident
    assert t.run("").endswith(f"[Michael] {PROMPT}")
    assert holders(world) == {t.pid: "Michael"}
    assert [e for e, _, _ in ledger_rows(world)] == ["claimed"]
    # The shell that exec made still gives the name back on its way out.
    assert t.exit() == 0
    assert emptied_by_the_hook(presence_file(world, ident))
    assert claim_for_a_sleeper(world) == "Michael"
    assert closing_event(world, t.pid) == "released"


def osc0_titles(raw: str) -> list[str]:
    """The window titles set with OSC 0 (`ESC ] 0 ; title BEL`), in order."""
    return re.findall(r"\x1b\]0;([^\x07\x1b]*)(?:\x07|\x1b\\)", raw)


@pytest.mark.parametrize("shell", SHELLS)
def test_the_terminal_title_carries_the_name_from_the_start(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    raw = t.transcript.getvalue()  # everything the shell wrote up to its first prompt
    # bash and zsh set the title to the name; fish's own title, prefixed with it.
    wanted = re.compile(r"\[Michael\] " if shell == "fish" else r"Michael\Z")
    assert any(wanted.match(title) for title in osc0_titles(raw)), repr(raw)

    before = len(t.transcript.getvalue())
    t.run("codename rename Pam")
    t.run("")
    retitled = osc0_titles(t.transcript.getvalue()[before:])
    assert retitled and "Pam" in retitled[-1], retitled


def test_who_shows_a_terminal_s_tty(world: World, terminal: OpenTerminal) -> None:
    """Catches the TTY column left empty (the holder's tty never recorded)."""
    write_rc(world, "bash")
    t = terminal("bash")
    tty = t.ask('"$(tty)"')
    assert re.fullmatch(r"/dev/pts/[0-9]+", tty), tty

    (row,) = [row for row in who(world) if row["pid"] == t.pid]
    assert row["tty"] == tty
    # The table, not on a terminal: every column, each cell under its heading.
    header, *body = world.run("who").stdout.splitlines()
    rows = [line for line in body if str(t.pid) in line.split()]
    assert len(rows) == 1, (header, body)
    column = header.index("TTY")
    # (written in full, or without /dev/ as who(1) writes it)
    assert rows[0][column:].split()[0] in (tty, tty.removeprefix("/dev/")), (header, rows[0])


# --- errors.log on the shell-start path ------------------------------------------------------

def broken_install(world: World) -> Path:
    """A copy of codename whose bash hook script cannot be read (a directory stands in its
    place, as after an upgrade cut short): `codename init bash` fails unexpectedly."""
    root = world.root / "install"
    shutil.copytree(REPO / "codename_shell", root / "codename_shell",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "shell", root / "shell")
    script = root / "shell" / "codename.bash"
    script.unlink()
    script.mkdir()
    return root


def test_an_internal_error_at_a_shell_start_goes_to_errors_log_and_one_line(
        world: World, terminal: OpenTerminal) -> None:
    install = broken_install(world)
    write_rc(world, "bash")
    t = terminal("bash", env={"PYTHONPATH": str(install)})

    lines = [line for line in t.startup.splitlines() if line.strip()]
    log = world.state / "codename" / "errors.log"
    assert len(lines) == 2, t.startup  # the one line, then the prompt
    assert lines[0].startswith("codename: internal error") and str(log) in lines[0], lines[0]
    assert lines[1] == PROMPT
    assert "Traceback" not in t.screen()
    logged = log.read_text()
    assert logged.startswith("Traceback") and "IsADirectoryError" in logged
    assert t.ask('"$CODENAME"') == ""
    # A shell that starts without a name holds none: the claim made before the failure was
    # given back, so no row lists this shell and the next claim gets the first name.
    assert holders(world) == {}
    assert claim_for_a_sleeper(world) == "Michael"
    assert t.run("echo still-works").count("still-works") == 2  # the echo and the output
    assert t.exit() == 0

