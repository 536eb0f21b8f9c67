"""Issue 17: what users saw on a machine that has been in use a while, each row a test.

- a spare that has run `codename heartbeat` for months: its rows made every claim slow, and
  past the ledger's cap every claim was refused, `reap` fixing nothing;
- a roster of 60 MB: every shell start parsed it again (6.4 s);
- 1,000 claims at once on 2 cores (tmux-resurrect): a holder that waited for a CPU was taken
  for a stuck one, and 379 claims were refused;
- a container sharing `$HOME`: doctor advised reaping this very machine's other pid namespace
  by hostname, and `reap --host` removed its live terminals;
- lookalike names (fullwidth, bold, circled) and control characters on every printer.

Everything is real: files, processes, pid namespaces (`unshare`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import World
from helpers import (
    assert_one_line_error,
    claim_burst,
    end_session,
    hold_lock,
    lock_is_held,
    state_lock,
    wait_for,
    who,
)

from codename_shell import config
from codename_shell.allocator import Allocator
from codename_shell.sources.ledger import COMPACT_AFTER, LEDGER_MAX


def live_names(world: World) -> list[str]:
    return sorted(str(row["name"]) for row in who(world))


# --- row 1: a spare's heartbeats ----------------------------------------------------------------

def ledger_lines(world: World) -> list[str]:
    return world.ledger.read_text().splitlines()


def test_a_spare_that_heartbeats_for_ever_keeps_the_ledger_as_small_as_none(
        world: World) -> None:
    """Every heartbeat appended a row that nothing compacted: a claim read them all."""
    spare = world.sleeper()
    assert world.claim(spare.pid, "--kind", "spare") == "Michael"
    allocator = Allocator(config.load())  # the real allocator, in-process: 100 heartbeats
    longest = 0
    for _ in range(3 * COMPACT_AFTER + 4):
        assert allocator.heartbeat(spare.pid).name == "Michael"
        longest = max(longest, len(ledger_lines(world)))
    assert longest <= COMPACT_AFTER + 4, longest

    # Only the latest heartbeat is kept, in the live file (its beat also in the claim's row);
    # nothing but superseded heartbeats was ever archived.
    archive = world.ledger.parent / "ledger.log.1"
    assert not archive.exists() or "\theartbeat\t" not in archive.read_text()
    r = world.run("log", "--json", "--name", "Michael")
    assert r.returncode == 0, r.stderr
    assert [e["event"] for e in json.loads(r.stdout)] == ["claimed", "heartbeat"]

    # The ledger alone still knows the spare, with its latest beat.
    for f in world.presence_dir.iterdir():
        f.unlink()
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert live_names(world) == ["Dwight", "Michael"]


def oversize_ledger(world: World, spare: int) -> None:
    """The spare's heartbeats, as codename wrote them before they were compacted, past
    LEDGER_MAX: one row each, its beat a second later than the last."""
    assert world.claim(spare, "--kind", "spare") == "Michael"
    stamp, _, row = ledger_lines(world)[-1].split("\t", 2)
    before, after = re.split(r"beat=\d+", row)
    beat = int(time.time()) - 10**7
    rows = []
    size = world.ledger.stat().st_size
    while size <= LEDGER_MAX:
        line = f"{stamp}\theartbeat\t{before}beat={beat}{after}\n"
        rows.append(line)
        size += len(line.encode())
        beat += 60
    with world.ledger.open("a") as f:
        f.write("".join(rows))
    assert world.ledger.stat().st_size > LEDGER_MAX


def test_a_ledger_past_its_cap_is_compacted_by_the_next_claim_not_refused(
        world: World) -> None:
    """Past 64 MiB every claim was refused ("unreadable (larger than 64 MiB)"), for ever."""
    spare = world.sleeper()
    oversize_ledger(world, spare.pid)

    assert world.claim(world.sleeper().pid) == "Dwight"
    assert world.ledger.stat().st_size < 4096
    assert live_names(world) == ["Dwight", "Michael"]
    # The spare's row came through the compaction: the ledger alone keeps its name.
    for f in world.presence_dir.iterdir():
        f.unlink()
    assert world.claim(world.sleeper().pid) == "Jim"
    assert world.claim(spare.pid) == "Michael"


def test_reap_repairs_a_ledger_past_its_cap(world: World) -> None:
    spare = world.sleeper()
    oversize_ledger(world, spare.pid)

    r = world.run("reap")
    assert r.returncode == 0, r.stderr
    assert world.ledger.stat().st_size < 4096
    doctor = world.run("doctor")
    assert "ledger" not in "".join(line for line in doctor.stdout.splitlines()
                                   if "FAIL" in line), doctor.stdout
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert live_names(world) == ["Dwight", "Michael"]


# --- row 2: a big roster, parsed once per change ----------------------------------------------

def settle(path: Path) -> None:
    """Wait until `path` last changed over a second ago: a version younger than that is never
    kept (two changes within one tick of the clock leave the same times)."""
    while time.time_ns() - path.stat().st_ctime_ns <= 1_100_000_000:
        time.sleep(0.1)


def opened(world: World, strace: str, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                            str]:
    """`codename ARGS` under strace: its result, and the files it opened."""
    trace = world.root / "trace"
    r = subprocess.run([strace, "-f", "-qq", "-e", "trace=open,openat", "-o", str(trace),
                        sys.executable, "-m", "codename_shell", *args], env=world.env,
                       cwd=world.home, capture_output=True, text=True, timeout=120)
    return r, trace.read_text()


def test_a_claim_parses_an_unchanged_roster_no_more(world: World) -> None:
    """Every shell start parsed a 60 MB roster again: 6.4 s each (`who` 26 s)."""
    from helpers import require_strace, use_roster

    strace = require_strace()
    roster = use_roster(world, [{"name": "Michael"}] + [
        {"name": f"job-{i}", "host": f"ci-{i % 7}", "pid": 100 + i} for i in range(3000)])
    settle(roster)
    assert world.claim(world.sleeper().pid) == "Dwight"  # parses it, and keeps the parse

    r, trace = opened(world, strace, "claim", "--pid", str(world.sleeper().pid))
    assert (r.returncode, r.stdout.strip()) == (0, "Jim"), r.stderr
    assert f'"{roster}"' not in trace
    r, trace = opened(world, strace, "who", "--json")
    assert r.returncode == 0, r.stderr
    assert f'"{roster}"' not in trace
    rows = json.loads(r.stdout)
    assert len(rows) == 3003 and {row["name"] for row in rows} >= {"Michael", "Dwight", "Jim"}


def test_a_roster_rewritten_in_place_is_read_again(world: World) -> None:
    from helpers import use_roster

    roster = use_roster(world, [{"name": "Dwight"}])
    settle(roster)
    assert world.claim(world.sleeper().pid) == "Michael"
    assert world.claim(world.sleeper().pid) == "Jim"  # from the kept parse
    # The same inode and size, and its mtime put back (as `cp -p` and `rsync -t` do): only
    # the ctime tells the new version from the kept one.
    text, before = roster.read_text(), roster.stat()
    with open(roster, "r+") as f:
        f.write(text.replace("Dwight", "Angela"))
    os.utime(roster, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = roster.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino, before.st_size, before.st_mtime_ns)
    names = world.claim(world.sleeper().pid), world.claim(world.sleeper().pid)
    assert names == ("Dwight", "Pam"), names  # Angela is the roster's now
    held = {str(row["name"]) for row in who(world)}
    assert "Angela" in held and held >= {"Michael", "Jim", "Dwight", "Pam"}


def test_a_kept_roster_is_looked_at_again_for_a_cast_added_since(world: World) -> None:
    """A claim reads only the roster's rows of names a cast holds: a cast added to config.toml
    since the roster was kept makes other rows count."""
    from helpers import use_roster

    roster = use_roster(world, [{"name": "Ada", "host": "ci-7"}, {"name": "Dwight"}])
    settle(roster)
    assert world.claim(world.sleeper().pid) == "Michael"
    assert world.claim(world.sleeper().pid) == "Jim"  # from the kept rows
    config = world.config_file.read_text()
    world.write_config('theme = "crew"\n[themes.crew]\nnames = ["Ada", "Grace"]\n' + config)
    assert world.claim(world.sleeper().pid) == "Grace"
    assert world.claim(world.sleeper().pid) == "Ada 2"


def test_a_kept_roster_still_has_its_holders_checked_at_each_claim(world: World) -> None:
    """What is kept is the parse, never whether a holder lives: a roster that never prunes
    lists Michael under many gone pids, and under one live one until it ends."""
    from helpers import kill, use_roster

    beyond = int(Path("/proc/sys/kernel/pid_max").read_text())  # no process has these pids
    live = world.sleeper()
    gone = [{"name": "Michael", "pid": beyond + i} for i in range(1, 200)]
    roster = use_roster(world, [*gone, {"name": "Michael", "pid": live.pid}, *gone])
    settle(roster)
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert world.claim(world.sleeper().pid) == "Jim"
    kill(live)
    assert world.claim(world.sleeper().pid) == "Michael"


def test_a_kept_roster_holds_lookalike_overflow_and_asked_for_names(world: World) -> None:
    from helpers import use_roster

    ada = world.sleeper()
    roster = use_roster(world, [
        {"name": "Ada"}, {"name": "\uff27race", "pid": ada.pid}, {"name": "Ada 2"},
        {"name": "GRACE \uff12", "host": "ci-7"}, {"name": "Bob", "host": "ci-7"},
        *({"name": f"job-{i}"} for i in range(500))],
        extra_config='theme = "crew"\n[themes.crew]\nnames = ["Ada", "Grace"]\n')
    settle(roster)
    for expected in ("Ada 3", "Grace 3"):  # the first claim keeps the parse, the next reads it
        assert world.claim(world.sleeper().pid) == expected
    line = assert_one_line_error(world.run("claim", "--pid", str(world.sleeper().pid),
                                           "--name", "bob"))
    assert "Bob is held by" in line, line
    assert world.claim(world.sleeper().pid, "--name", "job-500") == "job-500"


def test_a_roster_s_byte_order_mark_hides_no_holder(world: World) -> None:
    """A roster saved by an editor that starts files with a UTF-8 BOM: its first row, read
    as a bad line, handed its name out again."""
    from helpers import use_roster

    roster = use_roster(world, "\ufeff" + json.dumps({"name": "Michael", "kind": "job"})
                        + "\n" + json.dumps({"name": "Dwight"}) + "\n")
    assert roster.read_bytes().startswith(b"\xef\xbb\xbf{")
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "Jim", "")
    settle(roster)
    assert world.claim(world.sleeper().pid) == "Pam"  # parsed and kept
    assert world.claim(world.sleeper().pid) == "Ryan"  # from the kept parse


# --- row 3: a burst of claims on a busy machine -------------------------------------------------

BURST = 1000


def test_a_thousand_claims_at_once_are_all_granted_with_distinct_names(world: World) -> None:
    """tmux-resurrect starts every pane at once: on 2 cores a holder of the lock waits seconds
    for a CPU, and the old lock took such a holder for a stuck one (379 of 1,000 refused)."""
    holders = [world.sleeper(3600) for _ in range(BURST)]
    claim_burst(world, holders, timeout=1200)


WORKER = r"""
import sys, time
from codename_shell.lock import Lock

# A holder that works (on a CPU) longer than the timeout, as a claim among many holders does
# on a machine that is busy: slow, not stuck.
with Lock(sys.argv[1]):
    print("held", flush=True)
    end = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end:
        pass
"""


def test_a_holder_that_works_past_the_timeout_is_waited_for(world: World) -> None:
    from codename_shell.lock import LOCK_TIMEOUT

    lock = state_lock(world)
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(lock.parent),
                               str(3 * LOCK_TIMEOUT)], env=world.env, stdout=subprocess.PIPE,
                              text=True)
    world.children.append(worker)
    assert worker.stdout is not None and worker.stdout.readline() == "held\n"

    r = world.run("claim", "--pid", str(world.sleeper().pid))

    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Michael"
    assert worker.wait(timeout=60) == 0  # it kept the lock until it was done


SPIN = "while True: pass\n"


def test_a_busy_process_named_in_the_lock_file_does_not_vouch_for_its_real_holder(
        world: World) -> None:
    """The record names who took the lock last, not who holds it now: a holder that never
    signed (`flock sleep`) behind the record of a process that is busy elsewhere is stuck."""
    lock = state_lock(world)
    busy = subprocess.Popen([sys.executable, "-c", SPIN], env=world.env)
    world.children.append(busy)
    stuck = hold_lock(world, lock)
    try:
        with open(lock, "r+b") as f:  # as if `busy` had been the last codename to hold it
            f.write(f"{busy.pid} 1".encode().ljust(31) + b"\n")
        r = world.run("claim", "--pid", str(world.sleeper().pid), timeout=120)
        line = assert_one_line_error(r)
        assert "stayed locked by one process" in line, line
        assert lock_is_held(lock)
    finally:
        end_session(stuck)
    assert who(world) == []


def test_a_stopped_holder_is_stuck_however_busy_it_was(world: World) -> None:
    import signal

    lock = state_lock(world)
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(lock.parent), "600"],
                              env=world.env, stdout=subprocess.PIPE, text=True)
    world.children.append(worker)
    assert worker.stdout is not None and worker.stdout.readline() == "held\n"
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1]
                 .split()[0] == "T", "the holder to stop")
        r = world.run("claim", "--pid", str(world.sleeper().pid), timeout=120)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
    line = assert_one_line_error(r)
    assert "stayed locked by one process" in line, line



# --- row 5: lookalike names, and control characters on every printer ----------------------------

# `Pam` in fullwidth letters, in mathematical bold, with a circled P.
LOOKALIKES = ["\uff30\uff41\uff4d", "\U0001d40f\U0001d41a\U0001d426", "\u24c5am"]


def test_pam_in_lookalike_letters_is_pam_to_claims_log_and_doctor(world: World) -> None:
    from helpers import use_roster

    pam = world.sleeper()
    assert world.claim(pam.pid, "--name", "Pam") == "Pam"
    for lookalike in LOOKALIKES:
        line = assert_one_line_error(world.run("claim", "--pid", str(world.sleeper().pid),
                                               "--name", lookalike))
        assert "Pam is held by" in line, line
        r = world.run("log", "--json", "--name", lookalike)  # Pam's history, by any spelling
        assert [(e["event"], e["name"]) for e in json.loads(r.stdout)] == [("claimed", "Pam")]

    # Another launcher hands out Pam in bold letters: the same name to a reader, held twice.
    use_roster(world, [{"name": LOOKALIKES[1], "kind": "job"}])
    doctor = world.run("doctor")
    assert doctor.returncode == 1, doctor.stdout
    (line,) = [line for line in doctor.stdout.splitlines() if "DUPLICATE" in line]
    assert "held by 2 live holders" in line and f"pid {pam.pid}" in line, line


CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")

HOSTILE = r"""
import sys
from codename_shell import liveness
from codename_shell.sources import LedgerSource, PresenceSource

# A row as a damaged or forged file could hold it: the row reader refuses C0 controls in a
# name, not DEL nor C1 (CSI is \x9b); every other field holds anything but tabs and newlines.
h = liveness.identify(int(sys.argv[1]))
h.name, h.full = "Ev\x9b31mil\x7f", "Full\x1b]0;pwn\x07 name\x85"
h.kind, h.theme, h.tty = "job\x1b[2J", "th\x9deme", "pts\x1b[1m"
PresenceSource(sys.argv[2]).record(h)
LedgerSource(sys.argv[3]).append([("claimed", h)])
"""


@pytest.fixture
def hostile(world: World) -> int:
    """A live holder whose row holds control characters, beside a roster whose host and
    lines do; the pid of the holder."""
    from helpers import use_roster

    holder = world.sleeper()
    for d in (world.presence_dir, world.state / "codename"):
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
    r = subprocess.run([sys.executable, "-c", HOSTILE, str(holder.pid), str(world.presence_dir),
                        str(world.state / "codename")], env=world.env, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    use_roster(world, json.dumps({"name": "Rosa", "host": "h\x1b]52;c;AAAA\x07ost\x9b"})
               + "\n{bad line \x1b[31m\n" + json.dumps({"name": "Ro\u2028sa"}) + "\n")
    return holder.pid


PRINTERS = [("who",), ("who", "--markdown"), ("who", "--json"), ("roster",), ("log",),
            ("log", "--json"), ("doctor",), ("doctor", "--json"), ("claim", "--pid", "{pid}"),
            ("claim", "--pid", "{pid}", "--json"), ("heartbeat", "--pid", "{pid}"),
            ("release", "--pid", "{pid}"), ("claim", "--pid", "{me}", "--name", "ev\x9b31mil\x7f"),
            ("reap", "--host", "far\x1b]0;x\x07away")]


@pytest.mark.parametrize("command", PRINTERS, ids=lambda c: "-".join(c).replace("{", "").replace(
    "}", "").encode("unicode_escape").decode())
def test_no_control_character_leaves_codename(world: World, hostile: int,
                                              command: tuple[str, ...]) -> None:
    args = [a.format(pid=hostile, me=world.sleeper().pid) for a in command]
    r = world.run(*args)
    assert "Traceback" not in r.stderr, r.stderr
    leaked = sorted(set(CONTROLS.findall(r.stdout + r.stderr)))
    assert leaked == [], (leaked, r.stdout, r.stderr)
    if command[0] == "who" and "--json" not in command:
        assert "x9b31mil" in r.stdout, r.stdout  # shown, escaped (`\\x9b`)


def test_a_note_and_its_echo_hold_no_control_character(world: World, hostile: int) -> None:
    notes = world.home / "notes.md"
    script = (f'{sys.executable} -m codename_shell claim --pid $$ >/dev/null && '
              f'{sys.executable} -m codename_shell note "hi \x1b[31m there\x9b"')
    r = subprocess.run(["bash", "-c", script], env={**world.env, "CODENAME_NOTES": str(notes)},
                       capture_output=True, text=True, cwd=world.home, timeout=60)
    assert r.returncode == 0, r.stderr
    assert CONTROLS.findall(r.stdout + r.stderr + notes.read_text()) == []
    assert "hi" in notes.read_text() and "there" in notes.read_text()
