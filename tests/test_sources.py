"""Each source on its own: presence files, the ledger, and other launchers' rosters."""

from __future__ import annotations

import os
import stat
import time

from conftest import World
from helpers import dead_pid, kill, ledger_rows, names_held, use_roster, who

from codename_shell import config, liveness
from codename_shell.allocator import Allocator
from codename_shell.sources.ledger import COMPACT_AFTER

SLACK = 8  # a header and the open rows of live holders, on top of the closed rows allowed

# --- presence ---------------------------------------------------------------------------------

def test_presence_files_and_state_are_private_to_the_user(world: World) -> None:
    world.claim(world.sleeper().pid)
    (presence_file,) = world.presence_dir.iterdir()
    assert stat.S_IMODE(presence_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(world.presence_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(world.ledger.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(world.ledger.stat().st_mode) == 0o600


def test_an_unreadable_presence_row_is_reported_and_reaped(world: World) -> None:
    world.presence_dir.mkdir(mode=0o700)
    junk = world.presence_dir / "123-456"
    junk.write_text("\tnot a row\n")
    assert world.claim(world.sleeper().pid) == "Michael"
    doctor = world.run("doctor")
    assert doctor.returncode == 1 and str(junk) in doctor.stdout
    assert world.run("reap").returncode == 0
    assert not junk.exists()


# --- the ledger -------------------------------------------------------------------------------

def torn_row(name: str, pid: int) -> str:
    """A claim row cut off mid-write: no start time, no host, no newline."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return f"{stamp}\tclaimed\t{name}\tfull={name}\tkind=terminal\tpid={pid}"


def test_a_torn_ledger_line_is_ignored_and_reported_and_never_joined(world: World) -> None:
    first = world.sleeper()
    assert world.claim(first.pid) == "Michael"
    # The cut-off row names a live process: read as a row, it would make Dwight look held.
    bystander = world.sleeper()
    with open(world.ledger, "a") as f:
        f.write(torn_row("Dwight", bystander.pid))

    doctor = world.run("doctor")
    assert doctor.returncode == 1
    assert "torn" in doctor.stdout

    second = world.sleeper()
    assert world.claim(second.pid) == "Dwight"
    text = world.ledger.read_text()
    assert text.endswith("\n")
    assert all(line.count("\tclaimed\t") <= 1 for line in text.splitlines())
    assert text.splitlines()[-1].split("\t")[1:3] == ["claimed", "Dwight"]

    assert world.claim(world.sleeper().pid) == "Jim"
    held = names_held(world)
    assert [r["pid"] for r in held["Dwight"]] == [second.pid]
    assert bystander.pid not in [r["pid"] for r in who(world)]
    after = world.run("doctor")
    assert after.returncode == 0, after.stdout


def test_an_unreadable_ledger_row_is_skipped_and_reported(world: World) -> None:
    world.claim(world.sleeper().pid)
    with open(world.ledger, "a") as f:
        f.write("2026-01-01T00:00:00Z\tteleported\tPam\tpid=1\n")
    assert world.claim(world.sleeper().pid) == "Dwight"
    doctor = world.run("doctor")
    assert doctor.returncode == 1
    assert f"{world.ledger}:2" in doctor.stdout


def test_the_ledger_is_compacted_once_closed_rows_pile_up(world: World) -> None:
    allocator = Allocator(config.load())
    resident = world.sleeper()
    assert allocator.claim(resident.pid).name == "Michael"
    visitor = world.sleeper().pid
    for _ in range(COMPACT_AFTER):  # 2 rows each: claimed, released
        assert allocator.claim(visitor).name == "Dwight"
        allocator.release(visitor)

    written = 1 + 2 * COMPACT_AFTER
    live_rows = world.ledger.read_text().splitlines()
    assert len(live_rows) <= written - COMPACT_AFTER
    history = (world.ledger.parent / "ledger.log.1").read_text()
    assert history.count("\treleased\tDwight\t") >= COMPACT_AFTER // 2


def test_the_ledger_stays_bounded(world: World) -> None:
    allocator = Allocator(config.load())
    visitor = world.sleeper().pid
    longest = 0
    for _ in range(3 * COMPACT_AFTER):
        allocator.claim(visitor)
        allocator.release(visitor)
        longest = max(longest, len(world.ledger.read_text().splitlines()))
    assert longest <= COMPACT_AFTER + SLACK


def test_open_rows_survive_compaction(world: World) -> None:
    allocator = Allocator(config.load())
    resident = world.sleeper()
    allocator.claim(resident.pid)
    visitor = world.sleeper().pid
    for _ in range(COMPACT_AFTER):
        allocator.claim(visitor)
        allocator.release(visitor)
    assert (world.ledger.parent / "ledger.log.1").exists()

    # Even with its presence file gone, the compacted ledger alone keeps the resident's name.
    for f in world.presence_dir.iterdir():
        f.unlink()
    assert [e for e, _, f in ledger_rows(world) if f["pid"] == str(resident.pid)] == ["claimed"]
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert world.claim(resident.pid) == "Michael"


# --- rosters ----------------------------------------------------------------------------------

def test_a_missing_roster_file_counts_as_empty(world: World) -> None:
    world.write_config(f'[[rosters]]\npath = "{world.home / "no-such-roster.jsonl"}"\n')
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert r.returncode == 0 and r.stdout.strip() == "Michael"
    assert r.stderr == ""
    doctor = world.run("doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "counts as empty" in doctor.stdout


def test_a_bad_roster_line_is_skipped_with_a_warning(world: World) -> None:
    roster = use_roster(world, '{not json\n{"name": "Michael"}\n["a list"]\n{"pid": 12}\n'
                               '{"name": "Jim", "pid": "12"}\n{"name": "Pam\\n"}\n')
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Dwight"  # the good line still counts
    warnings = r.stderr.splitlines()
    lines = (1, 3, 4, 5, 6)
    assert len(warnings) == len(lines), r.stderr
    assert all(f"{roster}:{n}:" in w for w, n in zip(warnings, lines, strict=True)), r.stderr
    assert "Traceback" not in r.stderr


def test_a_roster_row_with_a_dead_pid_of_this_host_is_ignored(world: World) -> None:
    gone = dead_pid(world)
    use_roster(world, [{"name": "Michael", "pid": gone},
                       {"name": "Dwight", "pid": gone, "host": liveness.host()}])
    assert world.claim(world.sleeper().pid) == "Michael"
    assert world.claim(world.sleeper().pid) == "Dwight"


def test_a_roster_row_is_believed_while_its_process_lives(world: World) -> None:
    job = world.sleeper()
    roster = use_roster(world, [{"name": "Michael", "pid": job.pid}])
    assert world.claim(world.sleeper().pid) == "Dwight"
    kill(job)
    assert world.claim(world.sleeper().pid) == "Michael"
    assert roster.read_text().count("Michael") == 1  # codename never edits a roster


def test_roster_rows_without_a_pid_are_trusted(world: World) -> None:
    use_roster(world, [{"name": "Michael"}, {"name": "Dwight", "host": "elsewhere.example"}])
    assert world.claim(world.sleeper().pid) == "Jim"


def test_a_roster_row_of_another_host_is_trusted(world: World) -> None:
    use_roster(world, [{"name": "Michael", "pid": dead_pid(world), "host": "elsewhere.example"}])
    assert world.claim(world.sleeper().pid) == "Dwight"


def test_who_shows_the_roster_as_a_source(world: World) -> None:
    job = world.sleeper()
    roster = use_roster(world, [{"name": "Michael", "pid": job.pid}])
    (row,) = who(world)
    assert row["sources"] == [f"roster:{roster}"]
    assert row["pid"] == job.pid


def test_a_process_known_to_a_roster_and_to_codename_is_one_holder(world: World) -> None:
    job = world.sleeper()
    assert world.claim(job.pid) == "Michael"
    roster = use_roster(world, [{"name": "Michael", "pid": job.pid}])
    (row,) = who(world)
    assert row["sources"] == ["presence", "ledger", f"roster:{roster}"]
    assert world.run("doctor").returncode == 0


def test_a_roster_path_may_start_with_a_tilde(world: World) -> None:
    (world.home / "fleet.jsonl").write_text('{"name": "Michael"}\n')
    world.write_config('[[rosters]]\npath = "~/fleet.jsonl"\n')
    (row,) = who(world)
    assert row["sources"] == [f"roster:{os.path.join(world.home, 'fleet.jsonl')}"]


def test_an_unreadable_roster_stops_new_names_but_keeps_held_ones(world: World) -> None:
    # A roster we cannot read may list any name: handing one out could make two Tobys.
    held = world.sleeper()
    assert world.claim(held.pid) == "Michael"
    roster = world.home / "roster-is-a-directory"
    roster.mkdir()
    world.write_config(f'[[rosters]]\npath = "{roster}"\n')
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert r.returncode == 1
    assert str(roster) in r.stderr and "Traceback" not in r.stderr
    assert world.claim(held.pid) == "Michael"  # an existing holder still gets its own name
