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
import re
import time
from pathlib import Path

from conftest import World
from helpers import who

from codename_shell import config
from codename_shell.allocator import Allocator
from codename_shell.sources.ledger import COMPACT_AFTER, LEDGER_MAX


def state_lock(world: World) -> Path:
    state = world.state / "codename"
    state.mkdir(mode=0o700, exist_ok=True)
    return state / "lock"


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
