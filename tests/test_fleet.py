"""The fleet: names distinct across hosts sharing one Redis, through kills, outages, partitions
and restarts. Real redis-server, real namespaces for hosts (see fleet_hosts), the real CLI.

Leases are short (3 s, or longer where a test must tell "given back" from "expired") so the
tests run fast; every wait is a bound after which the test gives up, not a timing claim.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import IN_CI, World
from fleet_hosts import (
    LEASE,
    OFFICE,
    Host,
    Link,
    RedisServer,
    fleet_config,
    plain,
    reap_keepers,
    shown,
    wait_for,
)
from terminals import Terminal, write_rc

from codename_shell.fleet.node import fold as node_fold

MakeHost = Callable[..., Host]


@pytest.fixture(autouse=True)
def _no_stray_keepers(tmp_path: Path) -> Iterator[None]:
    yield
    reap_keepers(tmp_path)


def claim_all(pairs: list[tuple[Host, int]]) -> list[str]:
    """Claim for every (host, pid) at once; the names in the same order."""
    names: dict[int, str] = {}
    errors: list[BaseException] = []

    def go(i: int, host: Host, pid: int) -> None:
        try:
            names[i] = host.claim(pid)
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=go, args=(i, h, p)) for i, (h, p) in enumerate(pairs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return [names[i] for i in range(len(pairs))]


def folded(names: list[str]) -> set[str]:
    return {n.casefold() for n in names}


# --- distinct across hosts ----------------------------------------------------------------

@pytest.mark.parametrize("codec", ["hiredis", "pure"])
def test_two_hosts_claiming_at_once_get_distinct_names(hosts: MakeHost, codec: str) -> None:
    extra = {"CODENAME_FLEET_PURE_RESP": "1"} if codec == "pure" else {}
    a, b = hosts("alpha"), hosts("bravo")
    a.env.update(extra)
    b.env.update(extra)
    pairs = [(h, h.holder()) for h in (a, b) for _ in range(6)]
    names = claim_all(pairs)
    assert len(folded(names)) == 12, sorted(names)
    assert plain(names) == set(names), names  # the fleet answered: no host-qualified name
    rows = a.who()
    by_host = {(r["host"], r["name"]) for r in rows}
    assert {("bravo", n) for n in names[6:]} <= by_host, rows
    bravo = [r for r in rows if r["host"] == "bravo"]
    assert all(r["sources"] == ["fleet"] for r in bravo), bravo
    assert {r["host"] for r in a.who("--host", "bravo")} == {"bravo"}


def test_claims_past_the_cast_on_two_hosts_at_once_get_distinct_overflow_names(
        hosts: MakeHost, redis: RedisServer) -> None:
    # Sixteen claims on each host at once, for a cast of fifteen: whatever the order, each
    # host hands out overflow names ("Michael 2", ...) while the other does too, so only the
    # CLAIM script's overflow loop checking Redis (not only this host's names) keeps them apart.
    a, b = hosts("alpha"), hosts("bravo")
    pairs = [(h, h.holder()) for h in (a, b) for _ in range(16)]
    names = claim_all(pairs)
    assert len(folded(names)) == 32, sorted(names)
    assert plain(names) == set(names), names  # the fleet answered: no host-qualified name
    # Each claim took the first name free fleet-wide: the cast, the whole second round, then
    # the third round's first two.
    assert set(names) == {*OFFICE, *(f"{n} 2" for n in OFFICE), "Michael 3", "Dwight 3"}
    assert sorted(redis.names().values()) == sorted(names)


def test_one_hostname_in_two_namespaces_is_two_hosts(hosts: MakeHost,
                                                      redis: RedisServer) -> None:
    a, b = hosts("twin"), hosts("twin")
    pa = [a.holder() for _ in range(3)]
    pb = [b.holder() for _ in range(3)]
    names = claim_all([(a, p) for p in pa] + [(b, p) for p in pb])
    assert len(folded(names)) == 6, names
    # Each host's keeper renews its own holders only: after a few lease periods, every name
    # still stands, though the other side's pids mean nothing (or something else) here.
    time.sleep(2 * LEASE)
    assert set(redis.names().values()) == set(names)
    assert {r["name"] for r in a.who()} == set(names)
    # b's holders end: b's keeper gives their names back; a's stay.
    for pid in pb:
        b.kill(pid)
    wait_for(lambda: set(redis.names().values()) == set(names[:3]),
             "the names of b's killed holders to go back", 10 * LEASE)
    assert a.shown(pa) == dict(zip(pa, names[:3], strict=True))


def test_a_kill_9d_holders_name_is_free_fleet_wide_within_a_third_of_the_lease(
        hosts: MakeHost, redis: RedisServer) -> None:
    lease = 30  # so the name cannot come back by its lease ending (30 s), only by the keeper
    a, b = hosts("alpha", lease=lease), hosts("bravo", lease=lease)
    pid = a.holder()
    assert a.claim(pid) == "Michael"
    assert b.claim(b.holder()) == "Dwight"
    a.kill(pid)
    wait_for(lambda: "codename:name:michael" not in redis.names(),
             "Michael to be free fleet-wide, with no new claim", lease / 3)
    assert b.claim(b.holder()) == "Michael"


def test_a_vanished_hosts_names_come_back_after_the_lease(hosts: MakeHost,
                                                          redis: RedisServer) -> None:
    lease = 6
    a, b = hosts("alpha", lease=lease), hosts("bravo", lease=lease)
    assert [a.claim(a.holder()), a.claim(a.holder())] == ["Michael", "Dwight"]
    a.vanish()
    assert b.claim(b.holder()) == "Jim"  # their leases still run
    wait_for(lambda: not {"Michael", "Dwight"} & set(redis.names().values()),
             "the vanished host's leases to end", 4 * lease)
    assert b.claim(b.holder()) == "Michael"


# --- the fleet down at a claim ------------------------------------------------------------

def _qualified_claims(a: Host, b: Host, count: int) -> tuple[list[int], list[int], list[str]]:
    """`count` claims on each host while the fleet does not answer: host-qualified names,
    distinct, each with exactly one warning line."""
    pa = [a.holder() for _ in range(count)]
    pb = [b.holder() for _ in range(count)]
    names, lines = [], []
    for host, pid in [(a, p) for p in pa] + [(b, p) for p in pb]:
        r = host.codename("claim", "--pid", str(pid))
        assert r.returncode == 0, r.stderr
        names.append(r.stdout.strip())
        lines.append([line for line in r.stderr.splitlines() if line.strip()])
    assert all(len(ls) == 1 for ls in lines), lines
    assert all(n in ls[0] for n, ls in zip(names, lines, strict=True)), lines
    assert not plain(names), names
    assert len(folded(names)) == 2 * count, names
    assert {n.split("@")[0] for n in names[:count]} == set(OFFICE[:count])
    return pa, pb, names


def test_a_refused_fleet_gives_distinct_host_qualified_names_then_plain_ones(
        hosts: MakeHost, redis: RedisServer) -> None:
    redis.stop()
    a, b = hosts("alpha"), hosts("bravo")
    pa, pb, names = _qualified_claims(a, b, 3)
    assert all(n.startswith(f"{o}@alpha~") for n, o in zip(names[:3], OFFICE, strict=False))
    r = a.codename("claim", "--pid", str(a.holder()), "--name", "Toby")
    assert r.returncode == 1 and "fleet" in r.stderr, r.stderr  # no plain name on faith
    redis.start()

    def all_plain() -> bool:
        shown = list(a.shown(pa).values()) + list(b.shown(pb).values())
        return len(shown) == 6 and plain(shown) == set(shown)

    wait_for(all_plain, "the keepers to swap host-qualified names for plain ones", 10 * LEASE)
    shown = list(a.shown(pa).values()) + list(b.shown(pb).values())
    assert len(folded(shown)) == 6, shown
    assert set(redis.names().values()) == set(shown)
    log = json.loads(a.codename("log", "--json").stdout)
    renamed = [e for e in log if e["event"] == "renamed"]
    assert len(renamed) == 3 and all("fleet" in e["reason"] for e in renamed), renamed


def test_a_stopped_server_that_never_answers_gives_host_qualified_names_then_plain_ones(
        hosts: MakeHost, redis: RedisServer) -> None:
    # One hostname for both: their host-qualified names must still differ.
    a, b = hosts("twin"), hosts("twin")
    redis.pause()
    pa, pb, _names = _qualified_claims(a, b, 2)
    redis.resume()

    def all_plain() -> bool:
        shown = list(a.shown(pa).values()) + list(b.shown(pb).values())
        return len(shown) == 4 and plain(shown) == set(shown)

    wait_for(all_plain, "plain names once the server answers again", 10 * LEASE)
    shown = list(a.shown(pa).values()) + list(b.shown(pb).values())
    assert len(folded(shown)) == 4, shown


def test_a_burst_of_starts_while_the_fleet_hangs_all_get_names(world: World,
                                                                redis: RedisServer) -> None:
    # Twenty claims each waiting out a hung server in turn would outlast the lock's bound and
    # go nameless: no claim asks the fleet under the allocator's lock (see
    # test_no_round_trip_to_the_fleet_happens_under_the_local_lock), so they wait side by side.
    world.write_config(fleet_config(redis.url()))
    sleepers = [world.sleeper() for _ in range(20)]
    redis.pause()
    results: dict[int, object] = {}

    def go(pid: int) -> None:
        results[pid] = world.run("claim", "--pid", str(pid))

    threads = [threading.Thread(target=go, args=(s.pid,)) for s in sleepers]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        redis.resume()
        reap_keepers(world.root)
    failed = [r for r in results.values() if r.returncode != 0]  # type: ignore[attr-defined]
    assert not failed, failed[:2]
    names = [r.stdout.strip() for r in results.values()]  # type: ignore[attr-defined]
    assert len(folded(names)) == 20 and not plain(names), names
    # Each says why in one line, naming the fleet that did not answer.
    for r in results.values():
        lines = r.stderr.splitlines()  # type: ignore[attr-defined]
        assert len(lines) == 1 and ("no answer" in lines[0] or "not waited" in lines[0]), lines


# --- a partition --------------------------------------------------------------------------

class Sampler(threading.Thread):
    """Reads what both hosts' holders show, over and over; records any plain name shown on
    both (a, then b, then a again: a name a shows in both of its reads and b in its own was
    shown by both at one moment)."""

    def __init__(self, a: Host, pa: list[int], b: Host, pb: list[int]) -> None:
        super().__init__(daemon=True)
        self.a, self.pa, self.b, self.pb = a, pa, b, pb
        self.stop = threading.Event()
        self.samples = 0
        self.both: list[tuple[set[str], set[str]]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            first = plain(self.a.shown(self.pa).values())
            other = plain(self.b.shown(list(self.pb)).values())
            again = plain(self.a.shown(self.pa).values())
            if first & other & again:
                self.both.append((first & again, other))
            self.samples += 1
            time.sleep(0.01)


def test_a_cut_link_never_shows_one_plain_name_on_two_hosts(
        hosts: MakeHost, links: Callable[[], Link], redis: RedisServer) -> None:
    la, lb = links(), links()
    a = hosts("alpha", url=redis.url(port=la.port))
    b = hosts("bravo", url=redis.url(port=lb.port))
    pa = [a.holder() for _ in range(3)]
    for pid in pa:
        a.claim(pid)
    a_names = list(a.shown(pa).values())
    assert sorted(a_names) == sorted(OFFICE[:3])
    pb = [b.holder()]
    b.claim(pb[0])
    sampler = Sampler(a, pa, b, pb)
    sampler.start()
    la.cut()  # alpha alone is cut off; bravo still reaches Redis
    taken: set[str] = set()
    deadline = time.monotonic() + 12 * LEASE
    while not taken and time.monotonic() < deadline:
        pid = b.holder()
        pb.append(pid)
        name = b.claim(pid)
        taken |= {name} & set(a_names)
        time.sleep(0.3)
    assert taken, "bravo never got one of alpha's names: the partition was not real"
    assert not plain(a.shown(pa).values()), a.shown(pa)  # alpha's are host-qualified now
    la.heal()
    wait_for(lambda: plain(a.shown(pa).values()) == set(a.shown(pa).values()),
             "alpha's holders to get plain names once the link heals", 10 * LEASE)
    time.sleep(LEASE)  # a few more samples with both sides plain
    sampler.stop.set()
    sampler.join()
    assert sampler.samples > 50, sampler.samples
    assert not sampler.both, sampler.both[:3]
    shown = list(a.shown(pa).values()) + list(b.shown(pb).values())
    assert len(folded(shown)) == len(shown), sorted(shown)


# --- a restarted, emptied Redis -----------------------------------------------------------

def test_redis_restarted_empty_loses_no_live_holder(hosts: MakeHost, redis: RedisServer) -> None:
    # A lease long enough that the restart itself (a second or so on a loaded machine) does
    # not make the keepers give their names up first.
    a, b = hosts("alpha", lease=6), hosts("bravo", lease=6)
    pa, pb = [a.holder() for _ in range(3)], [b.holder() for _ in range(3)]
    claim_all([(a, p) for p in pa] + [(b, p) for p in pb])
    before = {**{("a", p): n for p, n in a.shown(pa).items()},
              **{("b", p): n for p, n in b.shown(pb).items()}}
    redis.restart()
    assert redis.names() == {}
    wait_for(lambda: len(redis.names()) == 6, "every keeper to set its names again", 5 * LEASE)
    assert set(redis.names().values()) == set(before.values())
    after = {**{("a", p): n for p, n in a.shown(pa).items()},
             **{("b", p): n for p, n in b.shown(pb).items()}}
    assert after == before


def test_a_name_taken_while_its_lease_had_lapsed_gets_its_holder_a_new_one(
        hosts: MakeHost, redis: RedisServer) -> None:
    # alpha's keeper is stopped past the lease: its prompt shows the qualified name (its lease
    # file says so), bravo is given Michael, and alpha's keeper, resumed, finds Michael taken
    # and gives its holder another plain name.
    a, b = hosts("alpha"), hosts("bravo")
    pa = a.holder()
    assert a.claim(pa) == "Michael"
    keepers = wait_for(a.keeper_pids, "alpha's keeper", 20)
    for pid in keepers:  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: "@" in shown(a.runtime, [pa])[pa], "alpha's prompt to qualify Michael",
                 4 * LEASE)
        # The prompt gave Michael up before the server can drop it (a lease is never believed
        # longer than the server keeps it); once the server did, Michael is free fleet-wide.
        wait_for(lambda: "Michael" not in redis.names().values(), "Michael's lease to end",
                 2 * LEASE)
        assert b.claim(b.holder()) == "Michael"
    finally:
        for pid in keepers:  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGCONT)
    wait_for(lambda: a.shown([pa]).get(pa) not in (None, "Michael")
             and "@" not in a.shown([pa])[pa] and "@" not in shown(a.runtime, [pa])[pa],
             "alpha's holder to get another plain name", 6 * LEASE)
    log = json.loads(a.codename("log", "--json").stdout)
    renamed = [e for e in log if e["event"] == "renamed"]
    assert renamed and "taken" in renamed[-1]["reason"], log


# --- secrets ------------------------------------------------------------------------------

SECRET = "s3cret-Pa55w0rd"


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis-locked"
    directory.mkdir()
    server = RedisServer(directory, password=SECRET)
    yield server
    server.close()


def test_a_wrong_password_is_one_clear_line(tmp_path: Path, locked_redis: RedisServer) -> None:
    wrong = "wrong-Guess-42"
    host = Host(tmp_path, "alpha", fleet_config(locked_redis.url(password=wrong)))
    try:
        r = host.codename("claim", "--pid", str(host.holder()))
        assert r.returncode == 0
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "password" in lines[0], r.stderr
        assert "@alpha~" in r.stdout
        d = host.codename("doctor")
        assert d.returncode == 1
        assert "refused the password" in d.stdout
        for text in (r.stdout, r.stderr, d.stdout, d.stderr):
            assert wrong not in text and SECRET not in text
    finally:
        host.close()


def test_the_password_never_appears_in_any_output(tmp_path: Path,
                                                   locked_redis: RedisServer) -> None:
    secret_file = tmp_path / "fleet.secret"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    port_only = locked_redis.url(password="")
    ways = {
        "url": fleet_config(locked_redis.url()),
        "password_file": fleet_config(port_only, extra=f'password_file = "{secret_file}"\n'),
        "env": fleet_config(port_only),
    }
    seen: list[str] = []
    for way, config in ways.items():
        host = Host(tmp_path, f"h-{way.replace('_', '-')}", config)
        env = {"CODENAME_FLEET_URL": locked_redis.url()} if way == "env" else {}
        try:
            pid = host.holder()
            name = host.claim(pid) if not env else json.loads(
                host.codename("claim", "--pid", str(pid), "--json", env=env).stdout)["name"]
            assert "@" not in name, (way, name)  # the password worked
            for args in (["who"], ["who", "--json"], ["who", "--markdown"], ["doctor"],
                         ["log", "--json"], ["roster"], ["claim", "--pid", str(pid)]):
                r = host.codename(*args, env=env)
                seen += [r.stdout, r.stderr]
            locked_redis.pause()  # the errors of a fleet that does not answer
            try:
                for args in (["claim", "--pid", str(host.holder())], ["who"], ["doctor"]):
                    r = host.codename(*args, env=env)
                    seen += [r.stdout, r.stderr]
                time.sleep(LEASE)  # the keeper logs its lost link and renames
            finally:
                locked_redis.resume()
            # Every file codename wrote, the config cache included (it holds no secret).
            assert (host.state / "config.cache").is_file()
            seen += [p.read_text(errors="replace") for p in host.root.rglob("*")
                     if p.is_file() and p != host.config_file]
            seen += [Path(f"/proc/{k}/cmdline").read_text(errors="replace")
                     for k in host.keeper_pids()]
        finally:
            host.close()
    assert any("redis://:***@127.0.0.1" in text for text in seen)
    assert not [t for t in seen if SECRET in t]


# --- seeing the fleet ---------------------------------------------------------------------

def test_doctor_reports_the_fleet_and_fails_when_it_cannot_be_reached(
        hosts: MakeHost, redis: RedisServer) -> None:
    a, b = hosts("alpha"), hosts("bravo")
    a.claim(a.holder())
    a.claim(a.holder())
    b.claim(b.holder())
    r = a.codename("doctor")
    assert r.returncode == 0, r.stdout
    assert "Redis 7" in r.stdout or "Redis " in r.stdout
    assert "round trip" in r.stdout
    assert "alpha (this host): 2 names held" in r.stdout, r.stdout
    assert "bravo: 1 name held" in r.stdout, r.stdout
    assert "keeper" in r.stdout and "running on this host" in r.stdout
    for pid in b.keeper_pids():
        os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: "gone quiet" in a.codename("doctor").stdout,
                 "doctor to see bravo's keeper gone quiet", 5 * LEASE)
    finally:
        for pid in b.keeper_pids():
            os.kill(pid, signal.SIGCONT)
    redis.stop()
    r = a.codename("doctor")
    assert r.returncode == 1
    assert "FAIL  fleet" in r.stdout and "connection refused" in r.stdout, r.stdout


def test_at_most_one_keeper_per_host_which_leaves_when_nothing_is_held(
        hosts: MakeHost, redis: RedisServer) -> None:
    a = hosts("alpha")
    pids = [a.holder() for _ in range(5)]
    claim_all([(a, p) for p in pids])
    wait_for(lambda: len(a.keeper_pids()) == 1, "one keeper", 20)
    time.sleep(1)
    assert len(a.keeper_pids()) == 1
    for pid in pids:
        a.kill(pid)
    wait_for(lambda: not a.keeper_pids(), "the keeper to leave once nothing is held", 60)
    assert redis.names() == {}


def test_release_gives_the_name_back_fleet_wide(hosts: MakeHost, redis: RedisServer) -> None:
    lease = 30  # given back by the keeper, not by the lease ending
    a, b = hosts("alpha", lease=lease), hosts("bravo", lease=lease)
    pid = a.holder()
    assert a.claim(pid) == "Michael"
    r = a.codename("release", "--pid", str(pid))
    assert r.returncode == 0 and "Michael" in r.stdout
    wait_for(lambda: "codename:name:michael" not in redis.names(),
             "a released name to go back to the fleet", lease / 3)
    assert b.claim(b.holder()) == "Michael"


def test_a_shell_exit_gives_the_name_back_fleet_wide(world: World,
                                                    redis: RedisServer) -> None:
    world.write_config(fleet_config(redis.url(), lease=30))
    write_rc(world, "bash")
    term = Terminal(world, "bash")
    try:
        name = term.ask('"$CODENAME"')
        assert name == "Michael"
        assert "codename:name:michael" in redis.names()
        term.exit()
        wait_for(lambda: "codename:name:michael" not in redis.names(),
                 "the exited shell's name to go back to the fleet", 10)
    finally:
        term.close()
        reap_keepers(world.root)


def test_a_terminals_prompt_follows_its_fleet_name_through_an_outage(
        world: World, redis: RedisServer) -> None:
    world.write_config(fleet_config(redis.url()))
    write_rc(world, "bash")
    term = Terminal(world, "bash")

    def shown_in_presence() -> str:
        rows = [p.read_text() for p in world.presence_dir.glob(f"{term.pid}-*")
                if "." not in p.name]
        return rows[0].split("\t", 1)[0] if rows else ""

    try:
        assert term.ask('"$CODENAME"') == "Michael"
        redis.stop()
        wait_for(lambda: "@" in shown_in_presence(), "the keeper to qualify the name",
                 10 * LEASE)
        qualified = shown_in_presence()
        assert qualified.startswith("Michael@")
        assert f"[{qualified}] P> " in term.run("")  # the next prompt shows it
        assert term.ask('"$CODENAME"') == qualified
        redis.start()
        wait_for(lambda: shown_in_presence() == "Michael", "the plain name back", 10 * LEASE)
        assert "[Michael] P> " in term.run("")
        assert term.ask('"$CODENAME"') == "Michael"
    finally:
        term.close()
        reap_keepers(world.root)


def test_a_unix_socket_fleet(world: World) -> None:
    short = Path(tempfile.mkdtemp(prefix="cnr"))  # a socket path must be short
    server = RedisServer(short, unix_socket=short / "redis.sock")
    try:
        world.write_config(fleet_config(f"unix://{short}/redis.sock"))
        sleeper = world.sleeper()
        assert world.claim(sleeper.pid) == "Michael"
        assert "codename:name:michael" in server.names()
    finally:
        reap_keepers(world.root)
        server.close()


# --- the shell start stays lean -----------------------------------------------------------

OS = {"os", "posixpath", "_collections_abc"}
HEAVY = {"re", "json", "tomllib", "argparse", "platformdirs", "socket", "ssl", "selectors",
         "urllib", "urllib.parse", "hashlib", "redis", "enum", "typing", "subprocess",
         "signal", "dataclasses"}


def _init_imports(world: World) -> set[str]:
    from terminals import rc_path

    rc_path(world, "bash").write_text("PS1='P> '\n")
    trace = world.root / "importtime.txt"
    out = world.root / "hook.txt"
    launcher = world.root / "codename"  # what install.sh installs (pip's wrapper imports re)
    assert world.run_module("codename_shell.launcher", str(launcher)).returncode == 0
    assert world.run("themes").returncode == 0  # the config cache, as every later start has
    term = Terminal(world, "bash")
    try:
        # -SP as the launcher's `#!` line has it (naming the interpreter bypasses that line).
        term.run(f"{sys.executable} -SP -X importtime {launcher} init bash >{out} 2>{trace}")
    finally:
        term.close()
    assert "__codename_name=" in out.read_text()
    return {line.split("|")[-1].strip() for line in trace.read_text().splitlines()
            if line.startswith("import time:") and "|" in line}


def test_init_with_a_fleet_imports_nothing_heavy(world: World, redis: RedisServer) -> None:
    world.write_config(fleet_config(redis.url()))
    try:
        imported = _init_imports(world)
    finally:
        reap_keepers(world.root)
    assert "codename_shell.fleet.client" in imported
    assert not HEAVY & imported, sorted(HEAVY & imported)
    assert not OS & imported, sorted(OS & imported)  # see tests/test_hot_path.py
    assert "codename:name:michael" in redis.names()


def test_without_a_fleet_no_fleet_module_is_imported(world: World) -> None:
    imported = _init_imports(world)
    assert not [m for m in imported if m.startswith("codename_shell.fleet")
                or m == "codename_shell.sources.fleet" or m == "_socket"]


# --- names as readers see them, across hosts ----------------------------------------------

def test_a_name_held_on_another_host_is_refused_in_any_case(hosts: MakeHost) -> None:
    a, b = hosts("alpha"), hosts("bravo")
    pid = a.holder()
    assert a.claim(pid) == "Michael"
    r = b.codename("claim", "--pid", str(b.holder()), "--name", "MICHAEL")
    assert r.returncode == 1
    assert f"held by pid {pid} on host alpha" in r.stderr, r.stderr
    assert b.claim(b.holder(), "--name", "Toby") == "Toby"


def test_the_same_holder_asking_again_gets_its_fleet_name_back(world: World,
                                                               redis: RedisServer) -> None:
    world.write_config(fleet_config(redis.url(), lease=30))
    first, second = world.sleeper(), world.sleeper()
    try:
        assert world.claim(first.pid) == "Michael"
        # Every local trace of it gone (a wiped runtime dir, a lost ledger): the fleet still
        # knows which holder it reserved Michael for.
        for f in world.presence_dir.iterdir():
            f.unlink()
        world.ledger.unlink()
        assert world.claim(second.pid) == "Dwight"
        assert world.claim(first.pid) == "Michael"
    finally:
        reap_keepers(world.root)


def test_the_environment_url_wins_over_config(world: World, redis: RedisServer) -> None:
    world.write_config(fleet_config(redis.url(port=1)))  # nothing listens on port 1
    sleeper = world.sleeper()
    try:
        r = world.run("claim", "--pid", str(sleeper.pid),
                      env={"CODENAME_FLEET_URL": redis.url()})
        assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "Michael", "")
    finally:
        reap_keepers(world.root)


def test_bad_fleet_settings_are_named_never_quoted_and_names_stay_safe(world: World) -> None:
    world.write_config('[fleet]\nurl = "redis://:hush-hush@"\nlease = 1\ncolour = "red"\n')
    sleeper = world.sleeper()
    try:
        r = world.run("claim", "--pid", str(sleeper.pid))
    finally:
        reap_keepers(world.root)
    assert r.returncode == 0
    assert "@" in r.stdout  # a fleet it cannot use: a host-qualified name, never a bare one
    assert "`fleet.lease`" in r.stderr and "`fleet.colour`" in r.stderr, r.stderr
    assert "names no host" in r.stderr
    assert "hush-hush" not in r.stdout + r.stderr


def test_doctor_fails_on_a_password_others_can_read(world: World, redis: RedisServer) -> None:
    path = world.write_config(fleet_config("redis://:open-secret@127.0.0.1:1/0"))
    path.chmod(0o644)
    r = world.run("doctor")
    assert r.returncode == 1
    assert "holds the fleet's password and others may read it" in r.stdout, r.stdout
    assert "open-secret" not in r.stdout + r.stderr
    path.chmod(0o600)
    assert "fleet secret" not in world.run("doctor").stdout


# --- the wire -------------------------------------------------------------------------------

def test_the_script_digests_are_the_scripts_sha1() -> None:
    import hashlib

    from codename_shell.fleet import scripts

    for name in ("CLAIM", "SETTLE", "RENEW", "LIST"):
        source = getattr(scripts, name)
        assert getattr(scripts, f"{name}_SHA") == hashlib.sha1(source.encode()).hexdigest()


URLS = [
    ("redis://127.0.0.1", dict(host="127.0.0.1", port=6379, db=0, password=""),
     "redis://127.0.0.1:6379/0"),
    ("redis://:p%40ss%3Aw0rd@cache.internal:6380/2",
     dict(host="cache.internal", port=6380, db=2, password="p@ss:w0rd"),
     "redis://:***@cache.internal:6380/2"),
    ("rediss://ops:tls-secret@[::1]:7000/1?ssl_cert_reqs=none",
     dict(scheme="rediss", host="::1", port=7000, db=1, username="ops",
          password="tls-secret", verify=False),
     "rediss://ops:***@[::1]:7000/1"),
    ("redis://bare-secret@host/3", dict(host="host", db=3, password="bare-secret"),
     "redis://:***@host:6379/3"),
    ("unix:///run/redis/redis.sock?db=4&password=sock-secret",
     dict(scheme="unix", path="/run/redis/redis.sock", db=4, password="sock-secret"),
     "unix://:***@/run/redis/redis.sock?db=4"),
]


@pytest.mark.parametrize(("url", "fields", "shown"), URLS)
def test_fleet_urls_are_read_and_shown_without_their_password(
        url: str, fields: dict[str, object], shown: str) -> None:
    from codename_shell.fleet.url import parse_url

    target = parse_url(url)
    for key, value in fields.items():
        assert getattr(target, key) == value, key
    assert target.shown == shown


@pytest.mark.parametrize("url", ["http://:leak1@host", "redis://:leak2@", "redis://h:99999",
                                 "redis://:leak3@h:port", "unix://relative/leak4.sock",
                                 "redis://:leak5@h/db"])
def test_a_bad_fleet_url_is_refused_without_quoting_it(url: str) -> None:
    from codename_shell.errors import ConfigError
    from codename_shell.fleet.url import parse_url

    with pytest.raises(ConfigError) as caught:
        parse_url(url)
    assert "leak" not in str(caught.value)


def _resp(value: object) -> bytes:
    """A reply as a Redis server writes it (RESP2)."""
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if isinstance(value, tuple):  # ("+", text) a status, ("-", text) an error
        return f"{value[0]}{value[1]}\r\n".encode()
    assert isinstance(value, list)
    return b"*%d\r\n" % len(value) + b"".join(_resp(v) for v in value)


def _replies() -> object:
    from hypothesis import strategies as st

    line = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                   max_size=20)
    leaf = st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.binary(max_size=40),
                     st.tuples(st.just("+"), line), st.tuples(st.just("-"), line))
    return st.recursive(leaf, lambda inner: st.lists(inner, max_size=5), max_leaves=20)


def _normal(value: object) -> object:
    from codename_shell.fleet.resp import ServerError

    if isinstance(value, ServerError):
        return ("-", str(value))
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def test_the_pure_codec_reads_and_writes_as_hiredis_does() -> None:
    try:
        import hiredis
    except ImportError:
        if IN_CI:
            pytest.fail("hiredis is not installed, and CI installs the fleet extra")
        pytest.skip("hiredis is not installed (pip install -e '.[fleet]')")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from codename_shell.fleet.resp import PureReader, ServerError, _pure_pack

    @settings(max_examples=300, deadline=None)
    @given(st.lists(_replies(), min_size=1, max_size=4), st.integers(1, 7),
           st.lists(st.one_of(st.text(max_size=10), st.binary(max_size=10),
                              st.integers(-10**6, 10**6)), min_size=1, max_size=5))
    def check(replies: list[object], chunk: int, args: list[object]) -> None:
        stream = b"".join(_resp(r) for r in replies)
        ours, theirs = PureReader(), hiredis.Reader(replyError=ServerError)
        got_ours: list[object] = []
        got_theirs: list[object] = []
        for i in range(0, len(stream), chunk):
            ours.feed(stream[i:i + chunk])
            theirs.feed(stream[i:i + chunk])
            while (r := ours.gets()) is not False:
                got_ours.append(_normal(r))
            while (r := theirs.gets()) is not False:
                got_theirs.append(_normal(r))
        status = [_normal(r) for r in replies]
        assert got_ours == got_theirs
        assert len(got_ours) == len(status)
        assert _pure_pack(tuple(args)) == hiredis.pack_command(tuple(args))

    check()


def test_a_tls_fleet(world: World, tmp_path: Path) -> None:
    """rediss://: the server's certificate checked against the CA the url names."""
    import subprocess

    from conftest import require

    openssl = require("openssl")
    d = tmp_path / "tls"
    d.mkdir()

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=d, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
        "server.key", "-out", "server.csr")
    (d / "san.cnf").write_text("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.crt")
    from fleet_hosts import free_port

    port = free_port()
    server = subprocess.Popen(
        [require("redis-server"), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(d / "server.crt"), "--tls-key-file", str(d / "server.key"),
         "--tls-ca-cert-file", str(d / "ca.crt"), "--tls-auth-clients", "no", "--save", "",
         "--appendonly", "no", "--dir", str(d)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import socket as _s

        wait_for(lambda: _s.socket().connect_ex(("127.0.0.1", port)) == 0,
                 "redis-server to listen with TLS", 20)
        subprocess.run(["redis-cli", "--tls", "--cacert", str(d / "ca.crt"), "-h", "localhost",
                        "-p", str(port), "SET", "codename:epoch", "1"], check=True,
                       capture_output=True, timeout=10)  # a fleet in use (see RedisServer)
        world.write_config(fleet_config(f"rediss://localhost:{port}/0?ssl_ca_certs={d}/ca.crt"))
        r = world.run("claim", "--pid", str(world.sleeper().pid))
        assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "Michael", "")
        # A certificate the url does not trust: the fleet is unreachable, the name qualified.
        world.write_config(fleet_config(f"rediss://localhost:{port}/0"))
        r = world.run("claim", "--pid", str(world.sleeper().pid))
        assert r.returncode == 0 and "@" in r.stdout and "TLS" in r.stderr, r.stderr
    finally:
        reap_keepers(world.root)
        server.kill()
        server.wait()


# --- hostile answers, full disks, slow DNS, odd files (the red team's findings) -------------

GARBAGE = b"$<html>garbage</html>\r\n"  # not RESP2: neither codec can read it


@pytest.mark.parametrize("codec", ["hiredis", "pure"])
def test_an_answer_that_is_not_redis_still_moves_a_host_to_qualified_names(
        hosts: MakeHost, links: Callable[[], Link], redis: RedisServer, codec: str) -> None:
    # A middlebox answering in Redis's place made the keeper's tick die before its guard:
    # alpha kept showing Michael after its lease ended and bravo got Michael too.
    lease = 6
    link = links()
    a = hosts("alpha", url=redis.url(port=link.port), lease=lease)
    b = hosts("bravo", lease=lease)
    if codec == "pure":
        a.env["CODENAME_FLEET_PURE_RESP"] = "1"
    pa = a.holder()
    assert a.claim(pa) == "Michael"
    link.garble(GARBAGE)
    wait_for(lambda: a.shown([pa]).get(pa, "").startswith("Michael@alpha~"),
             "alpha's keeper to qualify Michael while Redis's answers are garbage", 3 * lease)
    got: list[str] = []
    deadline = time.monotonic() + 4 * lease
    while "Michael" not in got and time.monotonic() < deadline:
        got.append(b.claim(b.holder()))
        assert plain(a.shown([pa]).values()) == set(), a.shown([pa])
        time.sleep(0.5)
    assert "Michael" in got, "the garbled host's lease never ended: the test proves nothing"
    assert plain(a.shown([pa]).values()) == set()
    link.heal()
    wait_for(lambda: plain(a.shown([pa]).values()), "alpha's holder to get a plain name again",
             5 * lease)
    assert a.shown([pa])[pa] not in got, (a.shown([pa]), got)
    # Its log says why the terminal that showed Michael shows another name now.
    renamed = [e for e in json.loads(a.codename("log", "--json").stdout)
               if e["event"] == "renamed"]
    assert "Michael was taken in the fleet meanwhile" in renamed[-1]["reason"], renamed
    assert not (a.state / "errors.log").exists(), (a.state / "errors.log").read_text()


@pytest.mark.parametrize(("reply", "codec"), [(b"HTTP/1.1 400 Bad Request\r\n\r\n", "hiredis"),
                                              (b"*1\r\n" * 200000 + b":1\r\n", "pure"),
                                              (b"*1\r\n" * 200000 + b":1\r\n", "hiredis"),
                                              (b"*1\r\n" * 900 + b":1\r\n", "hiredis")])
def test_who_and_doctor_say_a_server_that_is_not_redis_cannot_be_reached(
        world: World, reply: bytes, codec: str) -> None:
    from fleet_hosts import NotRedis

    server = NotRedis(reply)
    env = {"CODENAME_FLEET_PURE_RESP": "1"} if codec == "pure" else {}
    world.write_config(fleet_config(server.url()))
    try:
        who = world.run("who", env=env)
        doctor = world.run("doctor", env=env)
    finally:
        server.close()
        reap_keepers(world.root)
    assert who.returncode == 0, who.stderr
    assert "is not Redis" in who.stderr and "only this host's holders" in who.stderr
    assert doctor.returncode == 1
    assert "FAIL  fleet" in doctor.stdout and "is not Redis" in doctor.stdout, doctor.stdout
    for r in (who, doctor):
        assert "internal error" not in r.stdout + r.stderr
        assert "Traceback" not in r.stdout + r.stderr


def test_a_reply_announcing_a_huge_string_costs_bounded_memory(world: World) -> None:
    """A reply of 200 MB (announced, then sent) is given up on at MAX_REPLY (16 MiB): `who`
    once grew to the size of whatever arrived within its second."""
    import subprocess

    from fleet_hosts import NotRedis

    server = NotRedis(b"$200000000\r\n", stream=200_000_000)
    world.write_config(fleet_config(server.url()))
    try:
        # `who` is started by a small Python of its own, which reports its peak memory
        # (wait4): a child forked from this test process would count pytest's own resident
        # pages, which it shares until it execs, in its peak.
        r = subprocess.run([sys.executable, "-c", PEAK_OF, sys.executable, "-m",
                            "codename_shell", "who"], env=world.env, capture_output=True,
                           cwd=world.home, timeout=120)
    finally:
        server.close()
        reap_keepers(world.root)
    peak_kib, returncode = (int(n) for n in r.stdout.split())
    assert peak_kib < 100 * 1024, f"who grew to {peak_kib // 1024} MiB"
    assert returncode == 0 and b"is not Redis" in r.stderr, r.stderr


PEAK_OF = """
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = p.stderr.read()  # one line; then the process ends
_, status, usage = os.wait4(p.pid, 0)  # its own peak memory, which wait() drops
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status), flush=True)
sys.stderr.buffer.write(err)
"""


def _tmpfs(where: Path) -> None:
    """A 64 KiB tmpfs at `where` (so a test can fill it): root only."""
    import subprocess

    from fleet_hosts import require_root

    require_root()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(where)],
                   check=True, capture_output=True, timeout=30)


def _unmount(where: Path) -> None:
    import subprocess

    subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def _fill(where: Path) -> Path:
    """Fill the file system of `where` up; the file that did it (remove it to free it)."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"x" * 512):
            pass
    except OSError:
        pass  # full
    finally:
        os.close(fd)
    return filler


def _other_world(root: Path) -> World:
    """A second user state (another node of the fleet, as another host is)."""
    home = root / "other-home"
    config, state, runtime = home / ".config", home / ".local" / "state", root / "other-run"
    for d in (home, config, state, runtime):
        d.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "XDG_CONFIG_HOME": str(config),
           "XDG_STATE_HOME": str(state), "XDG_RUNTIME_DIR": str(runtime), "LANG": "C.UTF-8",
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return World(root, home, config, state, runtime, env)


def test_a_name_that_cannot_be_recorded_here_is_never_freed_nor_kept_in_the_fleet(
        world: World, redis: RedisServer) -> None:
    # The fleet freed a rename's old name before the new one was written here: on a full
    # disk the rename failed, this host still showed Michael, and another host got Michael.
    world.write_config(fleet_config(redis.url(), lease=30))
    _tmpfs(world.runtime)
    other = _other_world(world.root)
    other.write_config(fleet_config(redis.url(), lease=30))
    try:
        holder = world.sleeper()
        assert world.claim(holder.pid) == "Michael"
        filler = _fill(world.runtime)
        r = world.run("rename", "--pid", str(holder.pid), "Jim")
        assert r.returncode == 1 and "no space left" in r.stderr, r.stderr
        assert set(redis.names().values()) == {"Michael"}  # kept, and Jim given back
        # A first claim that cannot be recorded leaves no reservation behind either.
        r = world.run("claim", "--pid", str(world.sleeper().pid))
        assert r.returncode == 1 and "not recorded" in r.stderr, r.stderr
        assert set(redis.names().values()) == {"Michael"}
        assert other.claim(world.sleeper().pid) == "Dwight"
        filler.unlink()
        assert world.run("rename", "--pid", str(holder.pid), "Jim").stdout.strip() == "Jim"
        wait_for(lambda: set(redis.names().values()) == {"Jim", "Dwight"},
                 "the renamed holder's old name to go back", 10)
    finally:
        reap_keepers(world.root)
        _unmount(world.runtime)


def test_the_keeper_survives_a_full_disk_and_renames_once_there_is_room(
        world: World, redis: RedisServer) -> None:
    world.write_config(fleet_config(redis.url()))
    _tmpfs(world.runtime)
    keeper_log = world.state / "codename" / "keeper.log"
    try:
        holder = world.sleeper()
        assert world.claim(holder.pid) == "Michael"
        wait_for(lambda: keeper_log.exists(), "the keeper to start", 20)
        filler = _fill(world.runtime)
        redis.stop()  # the keeper must qualify Michael, and cannot write it yet
        wait_for(lambda: any(said in keeper_log.read_text()
                             for said in ("could not be renamed", "a tick failed")),
                 "the keeper to try to qualify Michael on the full disk", 10 * LEASE)
        time.sleep(LEASE)  # more ticks on the full disk
        filler.unlink()

        def shown() -> str:
            rows = [p.read_text() for p in world.presence_dir.glob(f"{holder.pid}-*")
                    if "." not in p.name]
            return rows[0].split("\t", 1)[0] if rows else ""

        wait_for(lambda: shown().startswith("Michael@"), "the qualified name once there is room",
                 10 * LEASE)
        log = keeper_log.read_text()
        assert "a tick failed" not in log, log
        assert not (world.state / "codename" / "errors.log").exists()
        events = json.loads(world.run("log", "--json").stdout)
        assert [e["name"] for e in events if e["event"] == "renamed"] == [shown()]
    finally:
        reap_keepers(world.root)
        _unmount(world.runtime)


def test_a_password_file_that_is_a_fifo_never_hangs_a_claim(world: World,
                                                             locked_redis: RedisServer) -> None:
    fifo = world.root / "fleet.secret"
    os.mkfifo(fifo)
    world.write_config(fleet_config(locked_redis.url(password=""),
                                    extra=f'password_file = "{fifo}"\n'))
    try:
        # Bounded: before the fix the claim waited on the FIFO forever, holding the lock.
        r = world.run("claim", "--pid", str(world.sleeper().pid), timeout=30)
    finally:
        reap_keepers(world.root)
    assert r.returncode == 0 and "@" in r.stdout, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "password_file" in lines[0] and "FIFO" in lines[0], lines


ROSTER_LINE = '{"name": "Michael", "kind": "job"}\n'


def _roster(path: Path) -> str:
    return f'[[rosters]]\npath = "{path}"\n'


def test_a_roster_name_on_one_host_is_never_handed_out_on_another(
        hosts: MakeHost, redis: RedisServer, tmp_path: Path) -> None:
    roster = tmp_path / "alpha.roster"
    roster.write_text(ROSTER_LINE)
    a, b = hosts("alpha", extra=_roster(roster)), hosts("bravo")
    assert a.claim(a.holder()) == "Dwight"  # its keeper now publishes the roster's Michael
    wait_for(lambda: redis.names().get("codename:name:michael") == "Michael",
             "alpha's keeper to publish its roster's Michael", 10 * LEASE)
    assert b.claim(b.holder()) == "Jim"
    michael = [r for r in b.who() if r["name"] == "Michael"]
    assert [(r["host"], r["kind"]) for r in michael] == [("alpha", "job")], michael
    for host in (a, b):
        assert "DUPLICATE" not in host.codename("doctor").stdout
    roster.write_text("")  # the launcher's job ended
    wait_for(lambda: "codename:name:michael" not in redis.names(),
             "the roster's dropped name to go back to the fleet", 10 * LEASE)
    assert b.claim(b.holder()) == "Michael"


def test_a_shared_roster_is_one_entry_and_a_duplicate_with_it_is_renamed(
        hosts: MakeHost, redis: RedisServer, tmp_path: Path) -> None:
    shared = tmp_path / "shared.roster"  # one file both hosts read (a network share)
    shared.write_text(ROSTER_LINE)
    a, b = hosts("alpha", extra=_roster(shared)), hosts("bravo", extra=_roster(shared))
    c = hosts("charlie")
    pa, pb, pc = a.holder(), b.holder(), c.holder()
    na, nb = claim_all([(a, pa), (b, pb)])
    assert sorted([na, nb]) == ["Dwight", "Jim"]
    wait_for(lambda: redis.cli("HLEN", "codename:vouch:michael").strip() == "2",
             "both hosts to vouch for the shared roster's Michael", 10 * LEASE)
    for host in (a, b):
        assert "DUPLICATE" not in host.codename("doctor").stdout
    assert [r["name"] for r in c.who()].count("Michael") == 1
    assert c.claim(pc, "--name", "Pam") == "Pam"
    # The roster's launcher hands out Pam, which charlie's terminal holds: a duplicate. The
    # roster's job cannot be renamed; charlie's terminal can, and is.
    shared.write_text(ROSTER_LINE + '{"name": "Pam"}\n')
    renamed = wait_for(lambda: (n := shown(c.runtime, [pc]).get(pc)) and n != "Pam" and "@" not in n
                       and n, "charlie's Pam to be renamed", 10 * LEASE)
    assert renamed not in ("Michael", "Pam", na, nb)
    assert a.shown([pa]) == {pa: na} and b.shown([pb]) == {pb: nb}
    for host in (a, b):
        log = json.loads(host.codename("log", "--json").stdout)
        assert not [e for e in log if e["event"] == "renamed"], log
    log = json.loads(c.codename("log", "--json").stdout)
    assert [e for e in log if e["event"] == "renamed"], log
    # alpha is gone: bravo still vouches, so Michael stays held.
    a.vanish()
    time.sleep(2 * LEASE)
    assert redis.names().get("codename:name:michael") == "Michael"
    assert c.claim(c.holder()) not in ("Michael", "Pam", nb, renamed)


def _blackhole_dns() -> tuple[str, Callable[[], None]]:
    """A DNS server that never answers, on port 53 of a loopback address of its own."""
    import random
    import socket as _s

    address = f"127.{random.randrange(100, 250)}.{random.randrange(1, 250)}.53"
    sock = _s.socket(_s.AF_INET, _s.SOCK_DGRAM)
    sock.bind((address, 53))
    tcp = _s.socket()
    tcp.bind((address, 53))
    tcp.listen(8)

    def drop() -> None:
        try:
            while True:
                sock.recvfrom(4096)
        except OSError:
            pass

    threading.Thread(target=drop, daemon=True).start()
    return address, lambda: (sock.close(), tcp.close())  # type: ignore[func-returns-value]


def test_an_unresponsive_dns_server_holds_no_claim_nor_the_lock(
        hosts: MakeHost, redis: RedisServer, tmp_path: Path) -> None:
    from fleet_hosts import require_root

    require_root()  # port 53, a mount namespace
    address, stop = _blackhole_dns()
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(f"nameserver {address}\noptions timeout:30 attempts:1\n")
    try:
        a = hosts("alpha", url=f"redis://redis.fleet.example:{redis.port}/0")
        r = a.run("mount", "--bind", str(resolv), "/etc/resolv.conf")
        assert r.returncode == 0, r.stderr
        pids = [a.holder() for _ in range(4)]
        results: dict[int, object] = {}

        def go(pid: int) -> None:
            try:  # bounded: a lookup waited for (30 s here) outlasts it, and the lock's 2 s
                results[pid] = a.codename("claim", "--pid", str(pid), timeout=20)
            except BaseException as e:
                results[pid] = e

        threads = [threading.Thread(target=go, args=(p,)) for p in pids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop()
    runs = list(results.values())
    assert all(getattr(r, "returncode", None) == 0 for r in runs), runs
    names = [r.stdout.strip() for r in runs]  # type: ignore[attr-defined]
    assert len(folded(names)) == 4 and not plain(names), names
    assert any("did not resolve" in r.stderr for r in runs), runs  # type: ignore[attr-defined]


def test_a_host_name_is_resolved_and_kept_a_while(world: World, redis: RedisServer) -> None:
    world.write_config(fleet_config(f"redis://localhost:{redis.port}/0"))
    try:
        assert world.claim(world.sleeper().pid) == "Michael"
        kept = world.runtime / "codename-fleet" / "addresses"
        assert kept.is_file() and "\tlocalhost\t" in kept.read_text()
        assert world.claim(world.sleeper().pid) == "Dwight"
    finally:
        reap_keepers(world.root)


def test_a_same_length_password_change_is_read_at_once(world: World,
                                                       locked_redis: RedisServer) -> None:
    # The config cache keeps where the password stands in config.toml, not the password: a
    # password of the same length is still read from the file as it is now.
    wrong = "x" * len(SECRET)
    world.write_config(fleet_config(locked_redis.url(password=wrong))).chmod(0o600)
    assert "refused the password" in world.run("doctor").stdout
    world.write_config(fleet_config(locked_redis.url()))
    for _ in range(2):  # parsed, then from the cache
        r = world.run("doctor")
        assert r.returncode == 0 and "round trip" in r.stdout, r.stdout
    cache = (world.state / "codename" / "config.cache").read_bytes()
    assert SECRET.encode() not in cache and wrong.encode() not in cache


def test_doctor_shows_a_hostile_members_values_within_range(world: World,
                                                            redis: RedisServer) -> None:
    world.write_config(fleet_config(redis.url()))
    try:
        world.claim(world.sleeper().pid)
        evil = "badbadbadbadbad1"
        redis.cli("HSET", "codename:nodes", evil, "ev\x1b]0;pwned\x07il\t3000")
        redis.cli("HSET", "codename:beats", evil, "-8204097937000")
        redis.cli("SET", "codename:name:zed", f"{evil}/1-1\tZed\tkind=terminal\tpid=1\thost=evil",
                  "PX", "60000")
        redis.cli("HSET", f"codename:held:{evil}", f"{evil}/1-1", "zed")
        r = world.run("doctor")
        future = str(int(redis.cli("TIME").split()[0]) * 1000 + 10**12)
        redis.cli("HSET", "codename:beats", evil, future)
        r2 = world.run("doctor")
    finally:
        reap_keepers(world.root)
    for out in (r.stdout, r2.stdout):
        assert "renewed -" not in out and "\x1b" not in out, out
        assert "1 name held" in out
    assert "ev\\x1b]0;pwned\\x07il" in r.stdout


def test_a_keeper_log_that_is_a_fifo_never_stops_the_keeper(world: World,
                                                            redis: RedisServer) -> None:
    state = world.state / "codename"
    state.mkdir(parents=True, exist_ok=True)
    os.mkfifo(state / "keeper.log")
    world.write_config(fleet_config(redis.url()))
    holder = world.sleeper()
    try:
        assert world.claim(holder.pid) == "Michael"
        redis.stop()

        def shown() -> str:
            rows = [p.read_text() for p in world.presence_dir.glob(f"{holder.pid}-*")
                    if "." not in p.name]
            return rows[0].split("\t", 1)[0] if rows else ""

        wait_for(lambda: shown().startswith("Michael@"),
                 "the keeper (not stuck opening its log) to qualify the name", 10 * LEASE)
    finally:
        reap_keepers(world.root)


def test_a_name_with_an_at_sign_is_refused_in_a_fleet(world: World, redis: RedisServer) -> None:
    world.write_config(fleet_config(redis.url()))
    holder = world.sleeper()
    try:
        assert world.claim(holder.pid) == "Michael"
        for args in (["rename", "--pid", str(holder.pid), "Pam@bravo~327b4a"],
                     ["claim", "--pid", str(world.sleeper().pid), "--name", "Pam@bravo"]):
            r = world.run(*args)
            assert r.returncode == 1 and "'@'" in r.stderr, r.stderr
        assert set(redis.names().values()) == {"Michael"}
    finally:
        reap_keepers(world.root)


def test_a_lookalike_name_is_one_name_in_redis_too(world: World, redis: RedisServer) -> None:
    """The fleet keys names by the allocator's own fold: `Michael` with a variation selector,
    or in another case, is Michael's key in Redis, never a second one."""
    world.write_config(fleet_config(redis.url()))
    try:
        assert world.claim(world.sleeper().pid) == "Michael"
        for lookalike in ("Michael\ufe0f", "MICHAEL", "Mich\u034fael"):
            r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", lookalike)
            assert r.returncode == 1 and "Michael is held by" in r.stderr, r.stderr
        assert set(redis.names().values()) == {"Michael"}
        assert node_fold("Mich\u034fael") == node_fold("michael")
    finally:
        reap_keepers(world.root)
