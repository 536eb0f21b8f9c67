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
from fleet_hosts import OFFICE, Host, Link, RedisServer, plain, reap_keepers, wait_for
from terminals import Terminal, write_rc

LEASE = 3
MakeHost = Callable[..., Host]


def fleet_config(url: str, lease: int = LEASE, extra: str = "") -> str:
    return f'[fleet]\nurl = "{url}"\nlease = {lease}\n{extra}'


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    yield server
    server.close()


@pytest.fixture
def hosts(tmp_path: Path, redis: RedisServer) -> Iterator[MakeHost]:
    made: list[Host] = []

    def make(name: str, *, url: str | None = None, lease: int = LEASE, extra: str = "") -> Host:
        host = Host(tmp_path, name, fleet_config(url or redis.url(), lease, extra))
        made.append(host)
        return host

    yield make
    for host in made:
        host.close()


@pytest.fixture
def links(redis: RedisServer) -> Iterator[Callable[[], Link]]:
    made: list[Link] = []

    def make() -> Link:
        link = Link(redis.port)
        made.append(link)
        return link

    yield make
    for link in made:
        link.close()


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
    # Each claim holds the allocator's lock while it asks the fleet: twenty claims each
    # waiting out a hung server in turn would outlast the lock's bound and go nameless.
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
    # One claim waited for the server; the others knew it had just not answered.
    waited = [r for r in results.values() if "not waited for again" not in r.stderr]  # type: ignore[attr-defined]
    assert len(waited) <= 2, [r.stderr for r in waited]  # type: ignore[attr-defined]


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


def test_a_name_taken_while_redis_was_empty_gets_its_holder_a_new_one(
        hosts: MakeHost, redis: RedisServer) -> None:
    a, b = hosts("alpha"), hosts("bravo")
    pa = a.holder()
    assert a.claim(pa) == "Michael"
    keepers = wait_for(a.keeper_pids, "alpha's keeper", 20)
    for pid in keepers:  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGSTOP)
    try:
        redis.restart()
        assert b.claim(b.holder()) == "Michael"  # the emptied fleet knows no Michael
    finally:
        for pid in keepers:  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGCONT)
    wait_for(lambda: a.shown([pa]).get(pa) not in (None, "Michael")
             and "@" not in a.shown([pa])[pa],
             "alpha's holder to get another plain name", 10 * LEASE)
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
            # Every file codename wrote, but config.cache: its key is config.toml's very bytes,
            # kept as privately as config.toml itself.
            cache = host.state / "config.cache"
            assert not cache.exists() or cache.stat().st_mode & 0o077 == 0
            seen += [p.read_text(errors="replace") for p in host.root.rglob("*")
                     if p.is_file() and p not in (host.config_file, cache)]
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
        term.run(f"{sys.executable} -X importtime {launcher} init bash >{out} 2>{trace}")
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

    for name in ("CLAIM", "RENEW", "LIST"):
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
    from codename_shell.fleet.client import parse_url

    target = parse_url(url)
    for key, value in fields.items():
        assert getattr(target, key) == value, key
    assert target.shown == shown


@pytest.mark.parametrize("url", ["http://:leak1@host", "redis://:leak2@", "redis://h:99999",
                                 "redis://:leak3@h:port", "unix://relative/leak4.sock",
                                 "redis://:leak5@h/db"])
def test_a_bad_fleet_url_is_refused_without_quoting_it(url: str) -> None:
    from codename_shell.errors import ConfigError
    from codename_shell.fleet.client import parse_url

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
    from codename_shell.fleet.client import ServerError

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

    from codename_shell.fleet.client import PureReader, ServerError, _pure_pack

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
