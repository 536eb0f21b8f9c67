"""Holders this host cannot check: another host, or another pid namespace, sharing the state dir.

A terminal in a container with a bind-mounted home, or on another machine with an NFS home,
writes its rows where ours go, but its pid means nothing in our /proc. Such a row must never be
reaped on time alone (that handed its name to a second live holder), only by its own host once
its process has ended, or by hand (`codename reap --host NAME`).

The other hosts here are real: `unshare --pid --fork --mount-proc` (plus `--uts` with a hostname
of its own for another host), entered with `nsenter`, sharing this test's HOME and XDG dirs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import World, require
from helpers import (
    assert_one_line_error,
    dead_pid,
    ledger_rows,
    require_machine_id,
    require_root,
    wait_for,
    who,
    write_presence,
)

from codename_shell import liveness

OTHER_HOST = "far-away"
# Each namespace test runs twice: another host (its own hostname), and another pid namespace
# that shares our hostname (two containers with one hostname are two hosts too).
SIDES = [pytest.param(OTHER_HOST, id="other-host"), pytest.param(None, id="same-hostname")]


class Box:
    """Another host: its own pid namespace and /proc (and hostname, when given); same files."""

    def __init__(self, world: World, hostname: str | None) -> None:
        self.world = world
        self.hostname = hostname or liveness.host()
        uts, script = ([], "exec sleep 100000") if hostname is None else (
            ["--uts"], f"hostname {hostname} && exec sleep 100000")
        self.proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", *uts,
                                      "sh", "-c", script], env=world.env)
        self.init = 0
        wait_for(self._started, "the namespace's init to start")

    def _started(self) -> bool:
        task = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            kids = task.read_text().split()
            # `sleep` once the script has exec'd: the hostname is set by then.
            started = bool(kids) and Path(f"/proc/{kids[0]}/comm").read_text().strip() == "sleep"
        except OSError:
            return False
        if started:
            self.init = int(kids[0])
        return started

    def run(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nsenter", "-t", str(self.init), "-p", "-m", "-u", "--", *cmd],
                              env=self.world.env, capture_output=True, text=True, timeout=60,
                              cwd=self.world.home, stdin=subprocess.DEVNULL)

    def codename(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-m", "codename_shell", *args)

    def sleeper(self) -> int:
        """A live process of this host (a terminal, a spare); its pid as this host sees it."""
        r = self.run("sh", "-c", "sleep 600 >/dev/null 2>&1 </dev/null & echo $!")
        assert r.returncode == 0, r.stderr
        return int(r.stdout)

    def claim(self, pid: int, *extra: str) -> str:
        r = self.codename("claim", "--pid", str(pid), *extra)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def kill(self, pid: int) -> None:
        # Its parent was a shell that has left: it stays a zombie of this host's init, which
        # is as dead as a process gets.
        assert self.run("kill", "-9", str(pid)).returncode == 0
        wait_for(lambda: self.run("grep", "-q", "^State:.*Z", f"/proc/{pid}/status")
                 .returncode == 0, f"pid {pid} to die in its namespace")

    def close(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.init, 9)  # the namespace's init: every process in it goes with it
            self.proc.wait(timeout=30)


@pytest.fixture
def boxes(world: World) -> Iterator[Callable[[str | None], Box]]:
    require_root("for unshare --pid and nsenter")
    require("unshare")
    require("nsenter")
    made: list[Box] = []

    def make(hostname: str | None) -> Box:
        made.append(Box(world, hostname))
        return made[-1]

    yield make
    for box in made:
        box.close()


def names(world: World) -> list[str]:
    return sorted(str(row["name"]) for row in who(world))


# --- the two Michaels of the issue, and the way back ------------------------------------------

@pytest.mark.parametrize("hostname", SIDES)
def test_a_holder_elsewhere_keeps_its_name_past_heartbeat_ttl(
        world: World, boxes: Callable[[str | None], Box], hostname: str | None) -> None:
    # The reproduction: it never heartbeats, and heartbeat_ttl has passed.
    world.write_config("heartbeat_ttl = 1\n")
    assert world.claim(world.sleeper().pid) == "Michael"
    time.sleep(2)
    box = boxes(hostname)
    assert box.claim(box.sleeper()) == "Dwight"
    time.sleep(2)  # and the other way round
    assert world.claim(world.sleeper().pid) == "Jim"
    assert names(world) == ["Dwight", "Jim", "Michael"]
    r = box.codename("who", "--json")
    assert r.returncode == 0, r.stderr
    assert sorted(row["name"] for row in json.loads(r.stdout)) == ["Dwight", "Jim", "Michael"]


@pytest.mark.parametrize("hostname", SIDES)
def test_a_holder_that_ends_is_reaped_by_its_own_host(
        world: World, boxes: Callable[[str | None], Box], hostname: str | None) -> None:
    box = boxes(hostname)
    inside = box.sleeper()
    assert box.claim(inside) == "Michael"
    box.kill(inside)
    # From here its end cannot be seen: the name stays taken.
    assert world.claim(world.sleeper().pid) == "Dwight"
    # Its own host sees it dead: the next claim there reaps the row and the name is free.
    assert box.claim(box.sleeper()) == "Michael"
    ends = [(event, fields["host"]) for event, name, fields in ledger_rows(world)
            if name == "Michael" and fields["pid"] == str(inside)]
    assert ends == [("claimed", box.hostname), ("reaped", box.hostname)]
    assert names(world) == ["Dwight", "Michael"]


# --- by hand: reap --host and doctor ----------------------------------------------------------

# Another machine: its own boot id (the running kernel's random number) and machine id. No
# namespace made here can have another kernel, so its rows are written as that machine would.
ANOTHER_BOOT = "0f0f0f0f-0000-4000-8000-000000000000"
ANOTHER_MACHINE = "0123456789abcdef0123456789abcdef"


def another_machine(world: World, name: str, hostname: str = OTHER_HOST) -> Path:
    return write_presence(world, name, 4242, host=hostname, start=1, boot=ANOTHER_BOOT,
                          machine=ANOTHER_MACHINE)


def test_reap_host_removes_a_host_s_rows_by_hand(
        world: World, boxes: Callable[[str | None], Box]) -> None:
    another_machine(world, "Michael")
    twin = boxes(None)
    twin_pid = twin.sleeper()
    assert twin.claim(twin_pid) == "Dwight"
    mine = world.sleeper()
    assert world.claim(mine.pid) == "Jim"

    r = world.run("reap", "--host", OTHER_HOST)
    assert r.returncode == 0, r.stderr
    assert f"removed Michael (pid 4242 on host {OTHER_HOST}," in r.stdout, r.stdout
    assert names(world) == ["Dwight", "Jim"]
    assert world.claim(world.sleeper().pid) == "Michael"

    # Our own hostname: our own live holder is judged by /proc and stays, and so does the
    # other pid namespace's row: this very kernel's, for that namespace to judge (issue 17).
    r = world.run("reap", "--host", liveness.host())
    assert r.returncode == 0, r.stderr
    assert not [line for line in r.stdout.splitlines() if line.startswith("removed")], r.stdout
    (line,) = [line for line in r.stdout.splitlines() if line.startswith("kept")]
    assert "Dwight" in line and f"pid {twin_pid}," in line and "pid:[" in line, line
    assert "another pid namespace of this machine" in line, line
    assert names(world) == ["Dwight", "Jim", "Michael"]
    assert ("reaped", "Dwight") not in [(e, n) for e, n, _ in ledger_rows(world)]

    r = world.run("reap", "--host", "nowhere.example")
    assert r.returncode == 0
    assert r.stdout.splitlines() == [
        "no ghosts", "no rows of host nowhere.example that cannot be checked from here"]
    assert names(world) == ["Dwight", "Jim", "Michael"]


def test_doctor_lists_rows_it_cannot_check_and_stays_healthy(
        world: World, boxes: Callable[[str | None], Box]) -> None:
    far, twin = boxes(OTHER_HOST), boxes(None)
    assert far.claim(far.sleeper()) == "Michael"
    assert twin.claim(twin.sleeper()) == "Dwight"
    another_machine(world, "Jim", "elsewhere.example")

    r = world.run("doctor")
    assert r.returncode == 0, r.stdout
    assert "healthy" in r.stdout
    notes = {line.split()[2].rstrip(":"): line for line in r.stdout.splitlines()
             if "unverifiable" in line}
    assert set(notes) == {"Michael", "Dwight", "Jim"}, r.stdout
    assert "on host elsewhere.example cannot be checked" in notes["Jim"]
    assert "`codename reap --host elsewhere.example`" in notes["Jim"]
    # Both namespaces run on this very kernel, whatever hostname each has: another pid
    # namespace of this machine, checked by its own side, never reaped by hostname.
    for name, hostname in (("Michael", OTHER_HOST), ("Dwight", liveness.host())):
        assert "another pid namespace of this machine" in notes[name], notes[name]
        assert f"hostname {hostname}" in notes[name] and "by its own side" in notes[name]
        assert "reap --host" not in notes[name], notes[name]


def test_a_container_sharing_home_is_never_reaped_by_hostname(
        world: World, boxes: Callable[[str | None], Box]) -> None:
    """Issue 17: doctor advised `codename reap --host vm` for a container's terminal, `vm`
    being this very machine (another pid namespace, the same hostname); following it removed
    the live terminal, and the next claim handed out its name again."""
    twin = boxes(None)  # `unshare --pid --fork --mount-proc`, sharing HOME and the XDG dirs
    inside = twin.sleeper()
    assert twin.claim(inside) == "Michael"
    doctor = world.run("doctor")
    assert "reap --host" not in doctor.stdout, doctor.stdout

    for hostname in (liveness.host(), twin.hostname):
        r = world.run("reap", "--host", hostname)
        assert r.returncode == 0, r.stderr
        assert "kept Michael" in r.stdout and "removed" not in r.stdout, r.stdout
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert names(world) == ["Dwight", "Michael"]
    r = twin.codename("who", "--json")
    assert sorted(row["name"] for row in json.loads(r.stdout)) == ["Dwight", "Michael"]

    # Its own side sees it end, and reaps it.
    twin.kill(inside)
    assert twin.claim(twin.sleeper()) == "Michael"


def test_reap_host_refuses_an_empty_name(world: World) -> None:
    assert "--host" in assert_one_line_error(world.run("reap", "--host", " "), code=2)


# --- heartbeat: on the holder's own host, seen from the other side ----------------------------

OLD_ROW = """
import os, sys
from codename_shell import liveness
from codename_shell.sources import PresenceSource
pid, old, directory = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
me = liveness.identify(pid)
me.name = me.full = "Michael"
me.kind, me.since, me.beat = "spare", old, old
source = PresenceSource(directory)
source.record(me)
os.utime(source.path_for(me), (old, old))
"""


def test_a_spare_heartbeats_on_its_own_host_and_is_seen_fresh_from_here(
        world: World, boxes: Callable[[str | None], Box]) -> None:
    far = boxes(OTHER_HOST)
    spare = far.sleeper()
    # A spare that claimed an hour ago on its host and has been quiet since.
    hour_ago = int(time.time()) - 3600
    world.presence_dir.mkdir(mode=0o700)
    r = far.run(sys.executable, "-c", OLD_ROW, str(spare), str(hour_ago), str(world.presence_dir))
    assert r.returncode == 0, r.stderr

    def note() -> str:
        (line,) = [line for line in world.run("doctor").stdout.splitlines() if "Michael" in line]
        return line

    assert "last heartbeat 60 min ago, quiet for over heartbeat_ttl (600 s)" in note()
    assert world.claim(world.sleeper().pid) == "Dwight"  # quiet is not gone

    r = far.codename("heartbeat", "--pid", str(spare))
    assert (r.returncode, r.stdout.strip()) == (0, "Michael: heartbeat refreshed"), r.stderr
    assert "quiet" not in note() and "last heartbeat" in note()
    assert [(e, f["host"]) for e, n, f in ledger_rows(world) if n == "Michael"] == [
        ("heartbeat", OTHER_HOST)]


def test_heartbeat_for_a_holder_of_another_host_is_one_clear_line(
        world: World, boxes: Callable[[str | None], Box]) -> None:
    far = boxes(OTHER_HOST)
    spare = far.sleeper()
    assert far.claim(spare, "--kind", "spare") == "Michael"
    # Here its pid is nobody's, or someone else's: nothing to refresh from this side.
    r = world.run("heartbeat", "--pid", str(spare))
    line = assert_one_line_error(r)
    # That pid here is a process holding no name, or no process at all.
    assert ((f"pid {spare} holds no name on this host" in line and "own host" in line)
            or f"no running process with pid {spare}" in line), line
    assert "heartbeat" not in [e for e, _, _ in ledger_rows(world)]


# --- which boot, which machine: rows that need no namespace to test ---------------------------

def _another_boot(world: World, name: str, machine: str, written: int | None = None) -> Path:
    """A presence row of this hostname and another boot id, written at `written` (by default
    before this boot began)."""
    stamp = int(liveness.boot_time()) - 60 if written is None else written
    row = write_presence(world, name, 4242, host=liveness.host(), start=1, machine=machine,
                         boot="00000000-0000-0000-0000-000000000000", since=stamp, beat=stamp)
    os.utime(row, (stamp, stamp))
    return row


def test_a_row_of_an_earlier_boot_of_this_machine_is_dead(world: World) -> None:
    require_machine_id()
    row = _another_boot(world, "Michael", liveness.machine_id())
    assert world.claim(world.sleeper().pid) == "Michael"
    assert not row.exists()


def test_a_row_with_this_hostname_but_another_machine_id_is_kept(world: World) -> None:
    # Another machine of the same name (an NFS home): its own boot id says nothing about ours.
    row = _another_boot(world, "Michael", "0123456789abcdef0123456789abcdef")
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert row.exists()
    (note,) = [line for line in world.run("doctor").stdout.splitlines() if "Michael" in line]
    assert "another machine" in note


def test_a_row_without_a_machine_id_from_another_boot_is_kept_until_reaped_by_hand(
        world: World) -> None:
    # Written before codename recorded machine ids, here or by an older codename elsewhere.
    row = _another_boot(world, "Michael", "")
    assert "machine=" not in row.read_text()
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert row.exists()
    r = world.run("reap", "--host", liveness.host())
    assert "removed Michael (pid 4242" in r.stdout, r.stdout
    assert not row.exists()
    assert world.claim(world.sleeper().pid) == "Michael"


def test_a_row_with_this_machine_id_written_since_this_boot_is_kept(world: World) -> None:
    # A cloned machine id (a VM or container image): a row written since this boot began
    # cannot be of an earlier boot, whatever the ids say.
    require_machine_id()
    now = int(time.time())
    row = _another_boot(world, "Michael", liveness.machine_id(), written=now)
    assert world.claim(world.sleeper().pid) == "Dwight"
    assert row.exists()


def test_a_claim_records_this_machine_s_id(world: World) -> None:
    require_machine_id()
    world.claim(world.sleeper().pid)
    (claimed,) = [f for e, _, f in ledger_rows(world) if e == "claimed"]
    ids = [p.read_text().strip() for p in map(Path, ("/etc/machine-id", "/var/lib/dbus/machine-id"))
           if p.exists()]
    assert claimed["machine"] == ids[0]


# --- a pid and start time that match ours, in another pid namespace ---------------------------

OTHER_NS = "pid:[4026599999]"


def test_a_process_of_another_namespace_with_our_pid_and_start_is_not_us(world: World) -> None:
    # Two containers started in the same clock tick can show the same pid and start time.
    mine = world.sleeper()
    theirs = write_presence(world, "Michael", mine.pid, ns=OTHER_NS)
    assert world.claim(mine.pid) == "Dwight"
    assert theirs.exists()


def test_release_of_a_gone_pid_leaves_another_namespace_s_row_alone(world: World) -> None:
    gone = dead_pid(world)
    write_presence(world, "Michael", gone, ns=OTHER_NS, start=1)
    r = world.run("release", "--pid", str(gone))
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    assert names(world) == ["Michael"]


def test_the_machine_id_on_macos_is_the_platform_uuid() -> None:
    # What `ioreg -rd1 -c IOPlatformExpertDevice` prints (trimmed); no Mac runs these tests.
    ioreg = ('+-o Mac14,2  <class IOPlatformExpertDevice, id 0x100000110, registered>\n'
             '    {\n'
             '      "IOPlatformSerialNumber" = "C02XXXXXXXXX"\n'
             '      "IOPlatformUUID" = "3F1C2A9E-7B7D-5E0A-9C1B-2D4E6F8A0B1C"\n'
             '    }\n')
    assert liveness.platform_uuid(ioreg) == "3F1C2A9E-7B7D-5E0A-9C1B-2D4E6F8A0B1C"
    assert liveness.platform_uuid('"IOPlatformUUID" = "\t$(x)"') == ""
