"""A fleet terminal never shows a name it may no longer hold: the shown name is bound to a live
lease, whatever happens to the keeper, config.toml, the hostname or the Redis server.

What a terminal shows is read as its prompt reads it (fleet_hosts.shown: the presence file's
name, plain only while its lease file vouches for it by /proc/uptime). Real redis-server,
hosts as namespaces, the real CLI; the hooks themselves in real shells at the end.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import World
from fleet_hosts import (
    LEASE,
    Host,
    Link,
    RedisServer,
    TcpServer,
    fleet_config,
    reap_keepers,
    shown,
    wait_for,
)
from helpers import marker_line, processes_after, require_strace
from terminals import OpenTerminal, Terminal, shell_argv, write_rc

MakeHost = Callable[..., Host]
SHELLS = ("bash", "zsh", "fish")


class Watch(threading.Thread):
    """Samples what every host's holders show, every 100 ms, and keeps each moment at which
    one plain name showed on two holders (a violation of the promise)."""

    def __init__(self, hosts: list[tuple[Host, list[int]]]) -> None:
        super().__init__(daemon=True)
        self.hosts = hosts
        self.samples = 0
        self.violations: list[dict[str, list[str]]] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            seen: dict[str, list[str]] = {}
            for host, pids in self.hosts:
                for name in shown(host.runtime, pids).values():
                    if "@" not in name:
                        seen.setdefault(name.casefold(), []).append(host.name)
            twice = {n: where for n, where in seen.items() if len(where) > 1}
            if twice:
                self.violations.append(twice)
            self.samples += 1
            time.sleep(0.1)

    def add(self, host: Host, pid: int) -> None:
        for h, pids in self.hosts:
            if h is host:
                pids.append(pid)

    def __enter__(self) -> Watch:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self.join()
        assert self.samples > 10, "the watch hardly sampled"
        assert self.violations == [], self.violations[:3]


def claimed(host: Host, count: int) -> dict[int, str]:
    pids = [host.holder() for _ in range(count)]
    return {pid: host.claim(pid) for pid in pids}


def all_plain(host: Host, pids: list[int]) -> dict[int, str] | None:
    now = shown(host.runtime, pids)
    return now if len(now) == len(pids) and all("@" not in n for n in now.values()) else None


def all_qualified(host: Host, pids: list[int]) -> bool:
    now = shown(host.runtime, pids)
    return len(now) == len(pids) and all("@" in n for n in now.values())


# --- the lease's arithmetic ------------------------------------------------------------------

@pytest.mark.parametrize("lease", [3, 60, 3600])
def test_a_lease_file_never_vouches_past_what_the_server_may_keep(lease: int) -> None:
    from codename_shell.fleet.lease import DRIFT, Timing

    timing = Timing(lease)
    assert DRIFT >= 0.01  # NTP keeps clocks within 0.05%; the allowance covers twenty times it
    for sent in (0.0, 0.4, 1.0, 12345.678, 9e6 + 0.999):
        # The server keeps the lease `lease` seconds from when it handled the renewal, which
        # is after `sent`; counted on a clock up to DRIFT fast, it may drop it at
        # sent + lease * (1 - DRIFT). A prompt compares the whole seconds of /proc/uptime
        # (`up < deadline`), so the deadline is never past that moment.
        assert timing.deadline(sent) <= sent + lease * (1 - DRIFT)
        assert timing.deadline(sent) > sent + lease * (1 - DRIFT) - 1
        # The keeper renews in time: before the deadline, with a tick and a round to spare.
        assert sent + timing.renew_every + timing.tick + timing.round_timeout \
            <= timing.renew_by(sent)
        assert timing.at_risk(sent, timing.expiry(sent) - timing.guard)
        assert not timing.at_risk(sent, sent)


def test_a_server_clock_that_jumps_ahead_is_told_from_a_slow_round_trip() -> None:
    from codename_shell.fleet.lease import server_ahead
    from codename_shell.fleet.renewal import CLOCK_SLACK_MS

    # Rounds a lease/3 apart, answers taking up to two seconds: the server's clock moves as
    # much as ours between our first send and our last answer, never more.
    last = (100.0, 5_000_000)
    for wire in (0.001, 0.5, 2.0):
        for server_moved in (1000, 1000 + wire * 1000):
            assert server_ahead(last, 101.0, 5_000_000 + int(server_moved), 101.0 + wire) \
                <= CLOCK_SLACK_MS
    # A 30 s step of the server's clock (keys expire early): told at once.
    assert server_ahead(last, 101.0, 5_031_000, 101.1) > CLOCK_SLACK_MS
    # A step back does no harm (keys live longer): not a jump.
    assert server_ahead(last, 101.0, 4_990_000, 101.1) < 0


# --- the keeper -----------------------------------------------------------------------------

def test_a_killed_keeper_never_leaves_a_plain_name_on_two_hosts_and_comes_back(
        hosts: MakeHost) -> None:
    a, b = hosts("laptop"), hosts("devvm")
    mine = claimed(a, 2)
    assert sorted(mine.values()) == ["Dwight", "Michael"]
    with Watch([(a, list(mine)), (b, [])]) as watch:
        for pid in a.keeper_pids():
            os.kill(pid, signal.SIGKILL)
        # No codename process runs on `laptop` now: its prompts turn host-qualified by
        # themselves when the leases may end, and `devvm` may then be given the names.
        wait_for(lambda: all_qualified(a, list(mine)), "laptop's names to show qualified",
                 4 * LEASE)
        theirs = claimed(b, 2)
        for pid in theirs:
            watch.add(b, pid)
        # Any codename command on `laptop` brings its keeper back, which gets its holders
        # plain names again: not `devvm`'s.
        a.codename("who")
        wait_for(a.keeper_pids, "laptop's keeper to come back", 10)
        back = wait_for(lambda: all_plain(a, list(mine)), "plain names on laptop", 6 * LEASE)
        assert not set(back.values()) & set(theirs.values())  # type: ignore[union-attr]


def test_a_keeper_stopped_past_its_lease_never_leaves_a_plain_name_on_two_hosts(
        hosts: MakeHost) -> None:
    a, b = hosts("laptop"), hosts("devvm")
    mine = claimed(a, 2)
    keepers = a.keeper_pids()
    assert keepers
    with Watch([(a, list(mine)), (b, [])]) as watch:
        for pid in keepers:
            os.kill(pid, signal.SIGSTOP)
        try:
            wait_for(lambda: all_qualified(a, list(mine)), "laptop's names to show qualified",
                     4 * LEASE)
            theirs = claimed(b, 2)
            for pid in theirs:
                watch.add(b, pid)
            time.sleep(LEASE)  # the stop goes on past a lease
        finally:
            for pid in keepers:
                os.kill(pid, signal.SIGCONT)
        back = wait_for(lambda: all_plain(a, list(mine)), "plain names on laptop", 6 * LEASE)
        assert not set(back.values()) & set(theirs.values())  # type: ignore[union-attr]


# --- config.toml -------------------------------------------------------------------------

def test_a_config_file_that_blinks_changes_nothing(hosts: MakeHost, redis: RedisServer) -> None:
    a, b = hosts("laptop"), hosts("devvm")
    mine = claimed(a, 2)
    keepers = a.keeper_pids()
    config = a.config_file.read_text()
    with Watch([(a, list(mine)), (b, [])]) as watch:
        a.config_file.write_text("")  # an editor's truncate-and-write save
        # A terminal opened right then cannot ask the fleet: a host-qualified name, which
        # the keeper (that still knows the fleet) swaps for a plain one.
        late = a.holder()
        assert "@" in a.claim(late)
        watch.add(a, late)
        a.config_file.write_text(config)
        time.sleep(0.5)
        a.config_file.write_text("\n".join("# " + line for line in config.splitlines()))
        time.sleep(1)
        a.config_file.unlink()  # `stow -R`
        time.sleep(1)
        a.config_file.write_text(config)
        a.config_file.chmod(0o600)
        time.sleep(2 * LEASE)
        theirs = claimed(b, 2)
        for pid in theirs:
            watch.add(b, pid)
    assert a.keeper_pids() == keepers  # the same keeper kept going
    assert all_plain(a, list(mine)) == mine
    wait_for(lambda: all_plain(a, [late]), "a plain name for the late terminal", 4 * LEASE)
    assert not set(mine.values()) & set(theirs.values())
    assert set(mine.values()) <= set(redis.names().values())


def test_fleet_removed_for_good_gives_the_names_back(hosts: MakeHost,
                                                     redis: RedisServer) -> None:
    a, b = hosts("laptop"), hosts("devvm")
    mine = claimed(a, 2)
    with Watch([(a, list(mine)), (b, [])]) as watch:
        a.config_file.write_text("")
        wait_for(lambda: not a.keeper_pids(), "the keeper to leave", 30)
        # Its names went back at once, and its prompts show them qualified from then on.
        assert not set(mine.values()) & set(redis.names().values())
        assert all_qualified(a, list(mine))
        theirs = claimed(b, 2)
        for pid in theirs:
            watch.add(b, pid)
    assert set(theirs.values()) == set(mine.values())


# --- the hostname ------------------------------------------------------------------------

def test_a_hostname_change_keeps_every_name_of_the_host(hosts: MakeHost,
                                                        redis: RedisServer) -> None:
    a, b = hosts("laptop"), hosts("devvm")
    mine = claimed(a, 2)
    with Watch([(a, list(mine)), (b, [])]) as watch:
        assert a.run("hostname", "laptop-renamed").returncode == 0
        time.sleep(3 * LEASE)
        theirs = claimed(b, 2)
        for pid in theirs:
            watch.add(b, pid)
        # A terminal opened after the change is the same host's: its keeper keeps its name.
        later = claimed(a, 1)
        for pid in later:
            watch.add(a, pid)
        time.sleep(2 * LEASE)
    assert all_plain(a, list(later)) == later
    assert all_plain(a, list(mine)) == mine
    assert not set(mine.values()) & set(theirs.values())
    held = redis.names().values()
    assert set(mine.values()) <= set(held) and set(theirs.values()) <= set(held)


# --- Redis emptied -----------------------------------------------------------------------

def test_an_emptied_redis_hands_out_no_plain_name_another_host_may_show(
        hosts: MakeHost, redis: RedisServer) -> None:
    a, b = hosts("laptop"), hosts("devvm")
    mine = claimed(a, 3)
    used = claimed(b, 1)  # devvm has used this fleet: it knows its epoch
    wait_for(lambda: all((h.state / "fleet.epoch").exists() for h in (a, b)),
             "both hosts to know the fleet's epoch", 4 * LEASE)
    with Watch([(a, list(mine)), (b, list(used))]) as watch:
        redis.restart()  # no persistence: every key is gone, the epoch too
        theirs = claimed(b, 2)
        for pid in theirs:
            watch.add(b, pid)
        # The quiet period: host-qualified names on `devvm`, while `laptop` sets its own again.
        assert all("@" in n for n in theirs.values()), theirs
        wait_for(lambda: set(mine.values()) <= set(redis.names().values()),
                 "laptop to set its names again", 4 * LEASE)
        back = wait_for(lambda: all_plain(b, list(theirs)), "plain names on devvm", 8 * LEASE)
        assert not set(back.values()) & set(mine.values())  # type: ignore[union-attr]
        assert not set(back.values()) & set(used.values())  # type: ignore[union-attr]
    assert all_plain(a, list(mine)) == mine


def test_a_new_redis_gives_plain_names_at_once_and_its_epoch_is_remembered(
        hosts: MakeHost, redis: RedisServer) -> None:
    redis.cli("FLUSHALL")  # a Redis never used by codename: no epoch
    a = hosts("laptop")
    assert a.claim(a.holder()) == "Michael"  # no host knew an older epoch: nothing was lost
    wait_for(lambda: (a.state / "fleet.epoch").exists(), "the epoch to be remembered", 4 * LEASE)
    assert (a.state / "fleet.epoch").read_text().split("\t") == [
        "codename:", redis.cli("GET", "codename:epoch").strip() + "\n"]


def test_flushall_is_an_emptied_redis_too(hosts: MakeHost, redis: RedisServer) -> None:
    a, b = hosts("laptop"), hosts("devvm")
    mine = claimed(a, 2)
    used = claimed(b, 1)
    wait_for(lambda: all((h.state / "fleet.epoch").exists() for h in (a, b)),
             "both hosts to know the fleet's epoch", 4 * LEASE)
    with Watch([(a, list(mine)), (b, list(used))]) as watch:
        redis.cli("FLUSHALL")
        pid = b.holder()
        watch.add(b, pid)
        assert "@" in b.claim(pid)
        wait_for(lambda: all_plain(b, [pid]), "a plain name on devvm", 8 * LEASE)
    assert not set(shown(b.runtime, [pid]).values()) & (set(mine.values()) | set(used.values()))


# --- roster names through a partition ------------------------------------------------------

def test_a_roster_name_stays_out_of_other_hands_while_its_host_is_cut_off(
        hosts: MakeHost, links: Callable[[], Link], redis: RedisServer) -> None:
    link = links()
    job = None
    a = hosts("ci", url=redis.url(port=link.port))
    job = a.holder()
    roster = a.home / "jobs.jsonl"
    roster.write_text(f'{{"name": "Michael", "pid": {job}}}\n')
    a.config_file.write_text(fleet_config(redis.url(port=link.port))
                             + f'[[rosters]]\npath = "{roster}"\n')
    a.claim(a.holder())  # starts its keeper, which publishes the roster's Michael
    wait_for(lambda: "Michael" in redis.names().values(), "the roster's name in the fleet", 10)
    b = hosts("devvm")
    link.cut()
    try:
        time.sleep(3 * LEASE)  # past any lease: only a person or its host may free it
        got = [b.claim(b.holder()) for _ in range(3)]
        assert "Michael" not in got, got
    finally:
        link.heal()
    # By hand, from any host: `reap --host` frees what a host that is gone for good held.
    a.vanish()
    r = b.codename("reap", "--host", "ci")
    assert r.returncode == 0 and "fleet name" in r.stdout, r.stdout + r.stderr
    assert b.claim(b.holder()) == "Michael"


def test_a_duplicate_with_a_roster_is_resolved_when_the_link_heals(
        hosts: MakeHost, links: Callable[[], Link], redis: RedisServer) -> None:
    link = links()
    a = hosts("ci", url=redis.url(port=link.port))
    roster = a.home / "jobs.jsonl"
    a.config_file.write_text(fleet_config(redis.url(port=link.port))
                             + f'[[rosters]]\npath = "{roster}"\n')
    a.claim(a.holder())  # Michael, and a keeper
    b = hosts("devvm")
    link.cut()
    try:
        pid = b.holder()
        assert b.claim(pid) == "Dwight"
        # Cut off, `ci`'s launcher starts a job named Dwight: a duplicate made while nobody
        # could see it. The job cannot be renamed; `devvm`'s terminal can.
        roster.write_text(f'{{"name": "Dwight", "pid": {a.holder()}}}\n')
        time.sleep(LEASE)
    finally:
        link.heal()
    renamed = wait_for(lambda: (n := shown(b.runtime, [pid]).get(pid)) and n != "Dwight" and
                       "@" not in n and n, "devvm's Dwight to be renamed", 8 * LEASE)
    assert renamed not in ("Dwight", "Michael")


# --- no round trip under the local lock ----------------------------------------------------

class Silent(TcpServer):
    """A server that takes a request and never answers; `asked` is set when one arrived."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        super().__init__()

    def _serve(self, client: socket.socket) -> None:
        try:
            if client.recv(65536):
                self.asked.set()
            self._closed.wait()
        finally:
            client.close()


def test_no_round_trip_to_the_fleet_happens_under_the_local_lock(world: World) -> None:
    server = Silent()
    world.write_config(fleet_config(f"redis://127.0.0.1:{server.port}/0"))
    sleeper = world.sleeper()
    result: list[object] = []
    claim = threading.Thread(target=lambda: result.append(
        world.run("claim", "--pid", str(sleeper.pid))))
    try:
        claim.start()
        assert server.asked.wait(20), "the claim never asked the fleet"
        # While the claim waits for the fleet, the allocator's lock is free: every other
        # shell start of this host goes on meanwhile.
        lock = world.state / "codename" / "lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if it is held
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        claim.join(30)
    finally:
        server.close()
        reap_keepers(world.root)
    r = result[0]
    assert r.returncode == 0 and "@" in r.stdout, (r.stdout, r.stderr)  # type: ignore[attr-defined]


# --- the hooks: the lease, checked at every draw with builtins only -----------------------

def keepers_of(world: World) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and b"fleet.keeper" in (d / "cmdline").read_bytes() \
                    and str(world.root).encode() in (d / "environ").read_bytes():
                found.append(int(d.name))
        except OSError:
            pass
    return found


@contextmanager
def keepers_stopped(world: World) -> Iterator[list[int]]:
    """The host's keepers stopped (SIGSTOP) for the block, so that no renewal or lapse is
    written meanwhile; their pids."""
    wait_for(lambda: keepers_of(world), "a keeper", 10)
    keepers = keepers_of(world)
    for pid in keepers:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield keepers
    finally:
        for pid in keepers:
            os.kill(pid, signal.SIGCONT)


@pytest.fixture
def fleet_world(world: World, redis: RedisServer) -> Iterator[World]:
    world.write_config(fleet_config(redis.url()))
    yield world
    reap_keepers(world.root)


@pytest.mark.parametrize("shell", SHELLS)
def test_a_prompt_shows_the_qualified_name_once_the_lease_may_lapse_and_revives_the_keeper(
        fleet_world: World, terminal: OpenTerminal, shell: str) -> None:
    world = fleet_world
    write_rc(world, shell)
    t = terminal(shell)
    assert t.ask('"$CODENAME"') == "Michael"
    with keepers_stopped(world):
        time.sleep(LEASE + 1)  # the lease may have lapsed: nobody renewed it
        t.run("")  # a draw
        name = t.ask('"$CODENAME"')
        assert re.fullmatch(r"Michael@[^ ]+~[0-9a-f]{6}", name), name
        assert f"[{name}]" in t.run("")  # the prompt shows what $CODENAME says
    wait_for(lambda: t.run("") is not None and t.ask('"$CODENAME"') == "Michael",
             "the plain name back", 4 * LEASE)
    # A keeper that died is started again by the prompt that finds its lease overdue.
    for pid in keepers_of(world):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not keepers_of(world), "the keeper to be gone", 10)
    time.sleep(LEASE)
    wait_for(lambda: t.run("") is not None and keepers_of(world), "the prompt to start a keeper",
             4 * LEASE)
    wait_for(lambda: t.run("") is not None and t.ask('"$CODENAME"') == "Michael",
             "the plain name back", 4 * LEASE)


def michael_leased(world: World, terminal: OpenTerminal, shell: str) -> tuple[Terminal, str]:
    """A terminal of `shell` in the fleet world, holding Michael; its holder's ident (whose
    lease file is `lease.path(fleet_dir(world), ident)`)."""
    write_rc(world, shell)
    t = terminal(shell)
    assert t.ask('"$CODENAME"') == "Michael"
    return t, t.ask('"$CODENAME_ID"')


def fleet_dir(world: World) -> str:
    """Where the keeper writes the lease files of `world`'s holders."""
    from codename_shell import fleet

    return fleet.directory(str(world.presence_dir))


def names_drawn(output: str) -> list[str]:
    """The `[Michael…]` names a draw's output shows, plain or host-qualified."""
    return re.findall(r"\[(Michael[^\]]*)\]", output)


@pytest.mark.parametrize("shell", SHELLS)
def test_no_draw_shows_a_plain_name_past_the_deadline_of_its_lease_file(
        fleet_world: World, redis: RedisServer, terminal: OpenTerminal, shell: str) -> None:
    """A draw with nothing new skips __codename_show until the moment it computed (its
    renewal or deadline). Drawing all through a lapse, past the renewal (where a stopped
    keeper's holder is "revived", which moves the next revival 10 s on) and the deadline,
    no draw may show the plain name once /proc/uptime has reached the lease file's deadline.
    A lease of 9 s: with 3 s, the renewal falls due with the deadline, not before it."""
    from codename_shell.fleet import lease

    world = fleet_world
    lease_s = 9
    world.write_config(fleet_config(redis.url(), lease=lease_s))
    t, ident = michael_leased(world, terminal, shell)
    lease_file = Path(lease.path(fleet_dir(world), ident))
    shown: list[str] = []
    with keepers_stopped(world):
        end = time.monotonic() + lease_s + 2
        while time.monotonic() < end:
            before = float(Path("/proc/uptime").read_text().split()[0])
            drawn = names_drawn(t.run(""))
            assert drawn, "a draw without the name"
            shown.append(drawn[-1])
            if "@" not in drawn[-1]:
                deadline = int(lease_file.read_text().split("\t")[0])
                assert before < deadline, (drawn[-1], before, deadline)
            time.sleep(0.1)
    assert "Michael" in shown and "@" in shown[-1], shown  # plain, then past the deadline


@pytest.mark.parametrize("shell", SHELLS)
def test_a_lease_its_keeper_gives_up_is_shown_given_up_at_the_next_draw(
        fleet_world: World, terminal: OpenTerminal, shell: str) -> None:
    """When Redis says the name is another's, the keeper sets the deadline to 0 at once
    (`lease.lapse`): the very next draw shows the host-qualified name, long before the
    renewal that a draw with nothing new waits for."""
    from codename_shell.fleet import lease

    world = fleet_world
    t, ident = michael_leased(world, terminal, shell)
    with keepers_stopped(world):  # no renewal may undo the lapse meanwhile
        assert "[Michael]" in t.run("")
        lease.lapse(fleet_dir(world), ident, "Michael")
        drawn = names_drawn(t.run(""))
        assert drawn and "@" in drawn[-1], drawn


@pytest.mark.parametrize("shell", SHELLS)
def test_a_lease_file_that_is_gone_vouches_for_nothing_at_the_next_draw(
        fleet_world: World, terminal: OpenTerminal, shell: str) -> None:
    """The keeper removes the lease file where it cannot write a lapse (a full runtime dir),
    and when the fleet forgets the holder's lease: the name it vouched for must not stay
    plain on the strength of the deadline read before."""
    from codename_shell.fleet import lease

    world = fleet_world
    t, ident = michael_leased(world, terminal, shell)
    with keepers_stopped(world):  # no renewal may write it back meanwhile
        assert "[Michael]" in t.run("")
        os.unlink(lease.path(fleet_dir(world), ident))
        for _ in range(3):
            drawn = names_drawn(t.run(""))
            assert drawn and "@" in drawn[-1], drawn
        assert "@" in t.ask('"$CODENAME"')


SET_BY_HAND = {"bash": "export CODENAME=Michael", "zsh": "export CODENAME=Michael",
               "fish": "set -gx CODENAME Michael"}


@pytest.mark.parametrize("shell", SHELLS)
def test_a_plain_name_set_by_hand_is_taken_back_at_the_next_draw_with_a_fleet(
        fleet_world: World, terminal: OpenTerminal, shell: str) -> None:
    """Once the lease is given up, `$CODENAME` set back to the plain name by hand (or by a
    script) is what the prompt would show: the next draw puts the qualified name back."""
    from codename_shell.fleet import lease

    world = fleet_world
    t, ident = michael_leased(world, terminal, shell)
    with keepers_stopped(world):
        lease.lapse(fleet_dir(world), ident, "Michael", final=True)
        t.run("")
        qualified = t.ask('"$CODENAME"')
        assert qualified.startswith("Michael@"), qualified
        assert names_drawn(t.run(SET_BY_HAND[shell])) == [qualified]
        assert t.ask('"$CODENAME"') == qualified


def test_zsh_options_that_warn_about_scopes_stay_quiet_at_fleet_draws(
        fleet_world: World, terminal: OpenTerminal) -> None:
    """A fleet draw's short way runs before `emulate -L zsh`, under the user's options: with
    warn_nested_var or warn_create_global, a variable it set outside its own scope was a
    warning at every prompt."""
    write_rc(fleet_world, "zsh", after="setopt warn_nested_var warn_create_global nounset\n")
    t = terminal("zsh")
    assert t.ask('"$CODENAME"') == "Michael"
    shown = "".join(t.run("") for _ in range(3))
    assert "[Michael]" in shown
    assert "scope" not in shown and "created globally" not in shown, shown


@pytest.mark.parametrize("shell", SHELLS)
def test_a_fleet_prompt_starts_no_process_while_the_lease_lives(
        fleet_world: World, terminal: OpenTerminal, shell: str) -> None:
    world = fleet_world
    strace = require_strace()
    write_rc(world, shell)
    trace = world.root / "trace"
    t = terminal(shell, argv=[strace, "-f", "-qq", "-o", str(trace),
                              "-e", "trace=execve,fork,vfork,clone,clone3",
                              *shell_argv(world, shell)])
    assert t.ask('"$CODENAME"') == "Michael"
    t.run("/bin/echo codename-test-marker")  # after this: prompts only
    for _ in range(3):
        assert "[Michael]" in t.run("")
    lines = trace.read_text().splitlines()
    assert processes_after(lines, marker_line(lines)) == []
