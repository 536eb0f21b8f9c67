"""The allocator's promises: one live holder per name, whatever the sources and the processes."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import World
from helpers import (
    Zombie,
    assert_one_line_error,
    dead_pid,
    identity,
    kill,
    ledger_rows,
    names_held,
    needs_proc,
    require_machine_id,
    use_roster,
    who,
    write_presence,
)

from codename_shell import config, liveness
from codename_shell import survey as survey_module
from codename_shell.allocator import Allocator
from codename_shell.holders import Holder
from codename_shell.sources import LedgerSource, PresenceSource
from codename_shell.survey import FULL_CHECKS, Survey

OFFICE = ["Michael", "Dwight", "Jim", "Pam", "Ryan", "Andy", "Angela", "Kevin", "Oscar",
          "Stanley", "Phyllis", "Meredith", "Creed", "Kelly", "Toby"]


def test_claims_hand_out_the_first_free_name_in_cast_order(world: World) -> None:
    allocator = Allocator(config.load())
    got = [allocator.claim(world.sleeper().pid).name for _ in OFFICE]
    assert got == OFFICE


def test_a_freed_name_is_the_first_free_one_again(world: World) -> None:
    a, b, c = world.sleeper(), world.sleeper(), world.sleeper()
    assert [world.claim(p.pid) for p in (a, b, c)] == ["Michael", "Dwight", "Jim"]
    assert world.run("release", "--pid", str(b.pid)).returncode == 0
    assert world.claim(world.sleeper().pid) == "Dwight"


# --- the two Tobys ----------------------------------------------------------------------------

def test_spare_known_only_by_presence_file_and_job_known_only_to_roster_keep_their_names(
        world: World) -> None:
    spare, fleet_job = world.sleeper(), world.sleeper()
    write_presence(world, "Michael", spare.pid, kind="spare")  # no ledger row
    roster = use_roster(world, [{"name": "Dwight", "pid": fleet_job.pid}])

    handed = [world.claim(world.sleeper().pid) for _ in range(3)]

    assert handed == ["Jim", "Pam", "Ryan"]
    held = names_held(world)
    assert held["Michael"][0]["sources"] == ["presence"]
    assert held["Michael"][0]["pid"] == spare.pid
    assert held["Dwight"][0]["sources"] == [f"roster:{roster}"]
    assert held["Dwight"][0]["pid"] == fleet_job.pid
    assert all(len(rows) == 1 for rows in held.values()), held


def test_spare_known_only_by_presence_file_keeps_its_name(world: World) -> None:
    spare = world.sleeper()
    write_presence(world, "Michael", spare.pid, kind="spare")
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert world.claim(spare.pid) == "Michael"  # the spare asking again: its own name


def test_job_known_only_to_a_roster_keeps_its_name(world: World) -> None:
    fleet_job = world.sleeper()
    use_roster(world, [{"name": "Michael", "pid": fleet_job.pid}])
    assert world.claim(world.sleeper().pid) == "Dwight"


# --- ghosts -----------------------------------------------------------------------------------

def test_ghost_of_a_dead_session_is_reaped_and_its_name_freed(world: World) -> None:
    gone = world.sleeper()
    assert world.claim(gone.pid) == "Michael"
    presence_file = next(world.presence_dir.glob(f"{gone.pid}-*"))
    kill(gone)

    newcomer = world.sleeper()
    assert world.claim(newcomer.pid) == "Michael"

    assert not presence_file.exists()
    closed = [(event, name) for event, name, f in ledger_rows(world) if f["pid"] == str(gone.pid)]
    assert closed == [("claimed", "Michael"), ("reaped", "Michael")]
    assert [(r["name"], r["pid"]) for r in who(world)] == [("Michael", newcomer.pid)]


def test_reap_removes_ghosts_and_says_what_it_removed(world: World) -> None:
    gone, stays = world.sleeper(), world.sleeper()
    world.claim(gone.pid)
    world.claim(stays.pid)
    kill(gone)

    r = world.run("reap")
    assert r.returncode == 0, r.stderr
    assert "Michael" in r.stdout and str(gone.pid) in r.stdout
    assert "Dwight" not in r.stdout
    assert not list(world.presence_dir.glob(f"{gone.pid}-*"))
    assert ("reaped", "Michael") in [(e, n) for e, n, _ in ledger_rows(world)]
    again = world.run("reap")
    assert again.returncode == 0 and "no ghosts" in again.stdout
    assert [r["name"] for r in who(world)] == ["Dwight"]


@needs_proc
def test_a_zombie_holder_is_dead(world: World) -> None:
    zombie = Zombie(world)
    assert world.claim(zombie.pid) == "Michael"
    zombie.die()

    assert world.claim(world.sleeper().pid) == "Michael"
    assert ("reaped", "Michael") in [(e, n) for e, n, _ in ledger_rows(world)]
    assert zombie.pid not in [r["pid"] for r in who(world)]


@needs_proc
def test_a_zombie_cannot_claim_a_name(world: World) -> None:
    zombie = Zombie(world)
    zombie.die()
    r = world.run("claim", "--pid", str(zombie.pid))
    assert str(zombie.pid) in assert_one_line_error(r)
    assert who(world) == []


@needs_proc
def test_a_reused_pid_is_dead(world: World) -> None:
    # The pid runs, but it is another process than the one that claimed: other start time.
    other = world.sleeper()
    stale = write_presence(world, "Michael", other.pid, start=identity(other.pid).start - 1)

    assert world.claim(world.sleeper().pid) == "Michael"
    assert not stale.exists()
    assert world.claim(other.pid) == "Dwight"  # the new process under that pid is a stranger


def test_a_holder_from_an_earlier_boot_is_dead(world: World) -> None:
    # This machine (same machine id), another boot id, written before this boot began.
    require_machine_id()
    other = world.sleeper()
    before = int(liveness.boot_time()) - 60
    row = write_presence(world, "Michael", other.pid, boot="00000000-0000-0000-0000-000000000000",
                         since=before, beat=before)
    os.utime(row, (before, before))
    assert world.claim(world.sleeper().pid) == "Michael"


def test_a_holder_on_another_host_is_never_reaped_on_time_alone(world: World) -> None:
    # Its process cannot be checked from here: only its own host can tell it has ended.
    hour_ago = int(time.time()) - 3600
    stale = write_presence(world, "Michael", 4242, host="elsewhere.example", start=1, boot="b",
                           beat=hour_ago, since=hour_ago)
    os.utime(stale, (hour_ago, hour_ago))
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert stale.exists()


def test_heartbeat_ttl_is_still_accepted_and_reaps_nothing(world: World) -> None:
    five_minutes_ago = int(time.time()) - 300
    remote = write_presence(world, "Michael", 4242, host="elsewhere.example", start=1, boot="b",
                            beat=five_minutes_ago, since=five_minutes_ago)
    os.utime(remote, (five_minutes_ago, five_minutes_ago))
    world.write_config("heartbeat_ttl = 60\n")
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "Dwight", "")
    # What it still means: after it, doctor calls such a holder quiet (information only).
    (note,) = [line for line in world.run("doctor").stdout.splitlines() if "Michael" in line]
    assert "quiet for over heartbeat_ttl (60 s)" in note


def test_who_lists_only_live_holders(world: World) -> None:
    gone, stays = world.sleeper(), world.sleeper()
    world.claim(gone.pid)
    world.claim(stays.pid)
    kill(gone)
    assert [(r["name"], r["pid"]) for r in who(world)] == [("Dwight", stays.pid)]


def test_an_emptied_presence_file_is_a_clean_release(world: World) -> None:
    # What a shell hook does on exit: it empties its own presence file with a builtin.
    shell = world.sleeper()
    world.claim(shell.pid)
    presence_file = next(world.presence_dir.glob(f"{shell.pid}-*"))
    presence_file.write_text("")
    kill(shell)

    assert world.claim(world.sleeper().pid) == "Michael"
    assert not presence_file.exists()
    events = [e for e, _, f in ledger_rows(world) if f["pid"] == str(shell.pid)]
    assert events == ["claimed", "released"]


# --- a wiped runtime dir ----------------------------------------------------------------------

def test_a_wiped_runtime_dir_loses_no_live_holder(world: World) -> None:
    holder = world.sleeper()
    assert world.claim(holder.pid) == "Michael"
    shutil.rmtree(world.presence_dir)
    michael = names_held(world)["Michael"]
    assert [(r["pid"], r["sources"]) for r in michael] == [(holder.pid, ["ledger"])]

    assert world.claim(world.sleeper().pid) == "Dwight"
    # That claim made the runtime dir again and put the live holder's presence file back (a
    # prompt reads its name there), from the ledger row that kept it alive.
    michael = names_held(world)["Michael"]
    assert [(r["pid"], r["sources"]) for r in michael] == [(holder.pid, ["presence", "ledger"])]


def test_a_holder_whose_presence_file_vanished_gets_its_name_back_and_the_file_restored(
        world: World) -> None:
    holder = world.sleeper()
    assert world.claim(holder.pid) == "Michael"
    shutil.rmtree(world.presence_dir)

    assert world.claim(holder.pid) == "Michael"
    assert list(world.presence_dir.glob(f"{holder.pid}-*"))
    assert names_held(world)["Michael"][0]["sources"] == ["presence", "ledger"]


# --- many at once, and more than the cast -----------------------------------------------------

BARRIER_CLAIM = r"""
import fcntl, os, sys
from codename_shell.cli import main  # loaded before the barrier: all race for the lock at once
gate = os.open(sys.argv[1], os.O_RDONLY)
print("ready", flush=True)
fcntl.flock(gate, fcntl.LOCK_SH)  # blocks until the test lets go of its exclusive lock
sys.exit(main(["claim", "--pid", sys.argv[2]]))
"""


def test_thirty_claims_from_thirty_processes_released_at_one_barrier_are_all_distinct(
        world: World) -> None:
    holders = [world.sleeper() for _ in range(30)]
    gate = world.root / "gate"
    gate.touch()
    with open(gate) as barrier:
        fcntl.flock(barrier, fcntl.LOCK_EX)
        claimants = [subprocess.Popen(
            [sys.executable, "-c", BARRIER_CLAIM, str(gate), str(h.pid)], env=world.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=world.home,
        ) for h in holders]
        for c in claimants:
            assert c.stdout is not None and c.stdout.readline() == "ready\n"
    # The barrier is open: thirty claims race for the allocator.
    results = [c.communicate(timeout=120) for c in claimants]

    assert [c.returncode for c in claimants] == [0] * 30, [err for _, err in results]
    names = [out.strip() for out, _ in results]
    assert len(set(names)) == 30, sorted(names)
    assert set(OFFICE) <= set(names)
    listed = {(r["name"], r["pid"]) for r in who(world)}
    assert listed == {(n, h.pid) for n, h in zip(names, holders, strict=True)}


def test_when_the_whole_cast_is_held_new_holders_get_distinct_numbered_names(
        world: World) -> None:
    allocator = Allocator(config.load())
    got = [allocator.claim(world.sleeper().pid).name for _ in range(len(OFFICE) + 3)]
    assert got == [*OFFICE, "Michael 2", "Dwight 2", "Jim 2"]
    assert len(set(got)) == len(got)


def test_overflow_names_are_deterministic_first_free_ones(world: World) -> None:
    world.write_config('theme = "crew"\n[themes.crew]\nnames = ["Ada", "Grace", "Linus"]\n')
    holders = [world.sleeper() for _ in range(7)]
    got = [world.claim(p.pid) for p in holders]
    assert got == ["Ada", "Grace", "Linus", "Ada 2", "Grace 2", "Linus 2", "Ada 3"]

    world.run("release", "--pid", str(holders[4].pid))  # Grace 2 leaves
    assert world.claim(world.sleeper().pid) == "Grace 2"
    full = {r["name"]: r["full"] for r in who(world)}
    assert full["Grace 2"] == "Grace 2"


def test_overflow_skips_a_numbered_name_held_by_request(world: World) -> None:
    world.write_config('theme = "duo"\n[themes.duo]\nnames = ["Ada", "Grace"]\n')
    assert world.claim(world.sleeper().pid, "--name", "Ada 2") == "Ada 2"
    got = [world.claim(world.sleeper().pid) for _ in range(3)]
    assert got == ["Ada", "Grace", "Grace 2"]


# --- the same process, and a particular name --------------------------------------------------

def test_the_same_process_claiming_again_gets_the_same_name(world: World) -> None:
    p = world.sleeper()
    assert world.claim(p.pid) == "Michael"
    assert world.claim(p.pid) == "Michael"
    assert world.claim(p.pid, "--kind", "spare") == "Michael"
    assert [(r["name"], r["pid"]) for r in who(world)] == [("Michael", p.pid)]
    assert [e for e, _, _ in ledger_rows(world)] == ["claimed"]


def test_claim_defaults_to_the_calling_process_s_parent(world: World) -> None:
    r = subprocess.run(
        ["sh", "-c", f'"{sys.executable}" -m codename_shell claim --json; echo "$$"'],
        env=world.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    *body, shell_pid = r.stdout.strip().splitlines()
    assert json.loads("\n".join(body))["pid"] == int(shell_pid)


def test_release_defaults_to_the_calling_process_s_parent(world: World) -> None:
    me = f'"{sys.executable}" -m codename_shell'
    r = subprocess.run(["sh", "-c", f"{me} claim && {me} release && {me} who --json"],
                       env=world.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == ["Michael", "released Michael"]
    assert who(world) == []


def test_a_holder_keeps_its_name_when_the_theme_changes(world: World) -> None:
    p = world.sleeper()
    assert world.claim(p.pid) == "Michael"
    assert world.run("theme", "parks").returncode == 0
    assert world.claim(p.pid) == "Michael"
    assert world.claim(world.sleeper().pid) != "Michael"


def test_a_requested_free_name_is_granted(world: World) -> None:
    assert world.claim(world.sleeper().pid, "--name", "Pam") == "Pam"
    assert world.claim(world.sleeper().pid) == "Michael"


def test_a_requested_held_name_is_refused_naming_its_holder(world: World) -> None:
    pam = world.sleeper()
    world.claim(pam.pid, "--name", "Pam")
    r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", "Pam")
    line = assert_one_line_error(r)
    assert "Pam" in line and str(pam.pid) in line
    assert [r["pid"] for r in names_held(world)["Pam"]] == [pam.pid]


def test_a_requested_name_held_by_a_roster_entry_is_refused_naming_the_roster(
        world: World) -> None:
    roster = use_roster(world, [{"name": "Pam"}])
    r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", "Pam")
    line = assert_one_line_error(r)
    assert str(roster) in line
    assert "None" not in line


def test_a_requested_name_that_could_break_a_prompt_is_refused(world: World) -> None:
    for hostile in ("Pam\nrm -rf ~", "Tab\tName", "\x1b[31mRed", ""):
        r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", hostile)
        assert_one_line_error(r)
    assert who(world) == []


def test_claim_for_a_pid_that_is_not_running_fails(world: World) -> None:
    pid = dead_pid(world)
    r = world.run("claim", "--pid", str(pid))
    assert str(pid) in assert_one_line_error(r)
    assert who(world) == []


def test_release_gives_the_name_back(world: World) -> None:
    p = world.sleeper()
    world.claim(p.pid)
    r = world.run("release", "--pid", str(p.pid))
    assert r.returncode == 0 and "Michael" in r.stdout
    assert who(world) == []
    assert not list(world.presence_dir.glob(f"{p.pid}-*"))
    assert [e for e, _, _ in ledger_rows(world)] == ["claimed", "released"]


def test_release_exits_0_even_when_nothing_was_held(world: World) -> None:
    r = world.run("release", "--pid", str(world.sleeper().pid))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""
    gone = world.run("release", "--pid", str(dead_pid(world)))
    assert gone.returncode == 0, gone.stderr


def test_release_does_not_pretend_to_release_a_roster_entry(world: World) -> None:
    fleet_job = world.sleeper()
    use_roster(world, [{"name": "Michael", "pid": fleet_job.pid}])
    r = world.run("release", "--pid", str(fleet_job.pid))
    assert r.returncode == 0, r.stderr
    assert "Michael" not in r.stdout  # codename cannot edit another launcher's roster
    assert "Michael" in names_held(world)


# --- the lock ---------------------------------------------------------------------------------

def test_a_lock_held_too_long_gives_a_clear_error_not_a_hang(world: World) -> None:
    state = world.state / "codename"
    state.mkdir(mode=0o700)
    with open(state / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = world.run("claim", "--pid", str(world.sleeper().pid))
    line = assert_one_line_error(r)
    assert "lock" in line
    assert who(world) == []


def test_a_holder_of_another_pid_namespace_with_our_pid_and_start_keeps_its_own_file(
        world: World) -> None:
    """Two pid namespaces sharing one runtime dir can each have a holder with the same pid and
    start tick (two containers started together). Each keeps its own presence file: one file
    for both would let this claim overwrite the other's row (its name then free here), and one
    shell's exit give back the other's name."""
    local = world.sleeper()
    me = identity(local.pid)
    elsewhere = write_presence(world, "Michael", local.pid, start=me.start, boot=me.boot,
                               ns="pid:[4026530000]", kind="terminal")

    assert world.claim(local.pid) == "Dwight"
    files = sorted(p.name for p in world.presence_dir.iterdir() if "." not in p.name)
    assert len(files) == 2 and elsewhere.name in files, files
    assert elsewhere.read_text().startswith("Michael\t")
    assert sorted(names_held(world)) == ["Dwight", "Michael"]

    # The local holder's exit hook empties its own file, never the other namespace's.
    mine = next(p for p in world.presence_dir.iterdir() if p.name in files and p != elsewhere)
    mine.write_text("")
    kill(local)
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert elsewhere.read_text().startswith("Michael\t")
    assert sorted(names_held(world)) == ["Dwight", "Michael"]


# --- a claim among more holders than it reads /proc for (allocator.FULL_CHECKS) --------------

def crowd(world: World) -> list[tuple[subprocess.Popen[bytes], str]]:
    """More live holders than a claim checks in full, each with the name a real claim gave it
    (the cast, then "Michael 2" …)."""
    held = []
    for _ in range(FULL_CHECKS + 6):
        p = world.sleeper()
        held.append((p, world.claim(p.pid)))
    return held


@needs_proc
def test_among_many_holders_a_claim_hands_out_no_live_name_and_reaps_the_gone(
        world: World) -> None:
    held = crowd(world)
    gone = held[30:33]  # past the cast: their holders' /proc is not read by every claim
    for p, _ in gone:
        kill(p)  # and waited for: no process has the pid any more
    names = [world.claim(world.sleeper().pid) for _ in gone]
    assert names == [name for _, name in gone]  # the first free names, in the cast's order
    assert not {name for p, name in held if p not in [q for q, _ in gone]} & set(names)
    reaped = {n for e, n, _ in ledger_rows(world) if e == "reaped"}
    assert reaped == {name for _, name in gone}


@needs_proc
def test_among_many_holders_a_reused_pid_holding_a_cast_name_is_found(world: World) -> None:
    held = crowd(world)
    first, name = held[0]
    assert name == "Michael"
    world.run("release", "--pid", str(first.pid))
    # "Michael" held by a row whose process ended and whose pid now runs another process.
    other = world.sleeper()
    stale = write_presence(world, "Michael", other.pid, start=identity(other.pid).start - 1)
    assert world.claim(world.sleeper().pid) == "Michael"
    assert not stale.exists()


@needs_proc
def test_among_many_holders_the_name_asked_for_is_checked_in_full(world: World) -> None:
    crowd(world)
    other = world.sleeper()
    stale = write_presence(world, "Toby 7", other.pid, start=identity(other.pid).start - 1)
    assert world.claim(world.sleeper().pid, "--name", "Toby 7") == "Toby 7"
    assert not stale.exists()


@needs_proc
def test_a_quick_survey_reads_proc_for_the_holders_it_must(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Quick from the first holder on, and no window: what is left is the rule itself.
    monkeypatch.setattr(survey_module, "FULL_CHECKS", 0)
    monkeypatch.setattr(survey_module, "WINDOW", 0)
    live = world.sleeper()
    reused = {name: world.sleeper() for name in ("Michael", "Toby 7", "Kevin")}
    # Each row's process ended and its pid now runs another: the rows' start time is older.
    start = {name: identity(p.pid).start - 1 for name, p in reused.items()}
    for name in ("Michael", "Toby 7"):
        write_presence(world, name, reused[name].pid, start=start[name])
    write_presence(world, "Gone", dead_pid(world))
    write_presence(world, "Live", live.pid)
    world.ledger.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    ledger = LedgerSource(str(world.ledger.parent))
    me = identity(reused["Kevin"].pid)
    ledger.append([("claimed", Holder("Kevin", pid=me.pid, start=start["Kevin"], boot=me.boot,
                                      host=me.host, ns=me.ns, machine=me.machine))])
    sources = [PresenceSource(str(world.presence_dir)), ledger]
    survey = Survey(sources, 0, quick=True, sure=frozenset({"michael"}))
    verdicts = {h.name: h in survey.live for h in survey.holders}
    assert verdicts == {
        "Michael": False,  # a name handed out first: /proc is read, the reused pid seen
        "Kevin": False,  # known to the ledger alone: /proc is read
        "Gone": False,  # no process has its pid: dead without /proc
        "Live": True,
        # The price of not reading /proc: its pid runs, so it keeps its name for now.
        "Toby 7": True,
    }
    thorough = Survey(sources, 0)
    assert {h.name for h in thorough.live} == {"Live"}
