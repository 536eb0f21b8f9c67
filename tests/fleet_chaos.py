"""A fleet at scale under random faults: the chaos harness of the test (short form, in CI) and
of the benchmark (`python -m bench fleet-chaos --minutes N`, long form). Same code for both.

Twenty hosts (namespaces: fleet_hosts.Host), eight holders each (a `sleep` claimed with
`codename claim --pid`), a 3 s lease, each host reaching Redis through a Link of its own so
its link alone can be cut. For the run's duration a seeded RNG (the seed printed, so a failure
can be replayed) picks a fault every 0.5 to 1 s from KINDS, each kind once per round in a
shuffled order (kill-holder twice), so every kind happens in any run over a round long, while
a sampler (fleet_sampler) reads every live holder's shown name five times a second. After
the faults: everything undone, a terminal opened on every host, and a bound (ten leases) for
every live holder to show a plain name again: recovery is a bound here, its speed a figure of
the report.

CPU is the scarce thing (two cores for twenty keepers, the claims, the links and the sampler):
claims run one at a time during the faults (three at once while setting up), and one fault at
a time.
"""

from __future__ import annotations

import heapq
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

from fleet_hosts import LEASE_RULE, Host, Link, RedisServer, reap_keepers
from fleet_sampler import Live, OpsMeter, Report, Sampler, doubles, is_plain, read_all

#: Every kind of fault, and what it does. One a round each, in a shuffled order, kill-holder
#: twice (it is also what makes names churn).
KINDS = {
    "kill-holder": "kill -9 one or two holders of a host; new holders claim in their place",
    "kill-keeper": "kill -9 a host's keeper (the host's next claim starts another)",
    "stop-keeper": "SIGSTOP a host's keeper for longer than the lease, then SIGCONT",
    "cut-link": "cut one host's link to Redis for 1 s to two leases, then heal it",
    "pause-redis": "SIGSTOP the redis-server for 0.3-1.5 s",
    "restart-redis": "restart the redis-server, empty",
    "rename-host": "`hostname NEW` inside a host (now and then back to its first name)",
    "empty-config": "truncate a host's config.toml for ~1 s, then write it back",
    "no-fleet-config": "comment out a host's config.toml ([fleet] and all) for ~1 s",
}
ROUND = [*KINDS, "kill-holder"]


class ChaosError(Exception):
    """A run that could tell nothing (no holder ever showed a plain name)."""


@dataclass
class Settings:
    hosts: int = 20
    holders: int = 8
    lease: int = 3
    seconds: float = 60.0  # of faults
    seed: int | None = None  # None: a fresh one, printed
    rule: str = LEASE_RULE  # how a holder's shown name is read (fleet_hosts.shown)
    every: tuple[float, float] = (0.5, 1.0)  # seconds between two faults
    sample_every: float = 0.2
    settle_leases: int = 10  # the bound on every live holder showing a plain name again
    setup_parallel: int = 3  # claims at once while setting up

    @classmethod
    def from_env(cls, **given: object) -> Settings:
        """`given`, then CODENAME_CHAOS_SECONDS, _SEED and _RULE from the environment."""
        settings = cls(**given)  # type: ignore[arg-type]
        if os.environ.get("CODENAME_CHAOS_RULE"):
            settings.rule = os.environ["CODENAME_CHAOS_RULE"]
        if os.environ.get("CODENAME_CHAOS_SECONDS"):
            settings.seconds = float(os.environ["CODENAME_CHAOS_SECONDS"])
        if os.environ.get("CODENAME_CHAOS_SEED"):
            settings.seed = int(os.environ["CODENAME_CHAOS_SEED"])
        return settings


def run(root: Path, settings: Settings, log: Callable[[str], None] = print) -> Report:
    """One chaos run under `root` (a directory of its own); everything it started is gone when
    it returns or raises."""
    chaos = Chaos(root, settings, log)
    try:
        chaos.setup()
        chaos.faults()
        chaos.settle()
    finally:
        chaos.close()
    return chaos.report


class Chaos:
    def __init__(self, root: Path, settings: Settings, log: Callable[[str], None]) -> None:
        self.root, self.settings, self.log = root, settings, log
        seed = settings.seed
        if seed is None:
            seed = random.SystemRandom().randrange(1 << 32)
        self.rng = random.Random(seed)  # the faults' only source of choice
        self.report = Report(seed, settings.rule, settings.hosts, settings.holders,
                             settings.lease, settings.seconds)
        self.started = time.monotonic()
        self.redis: RedisServer | None = None
        self.links: list[Link] = []
        self.hosts: list[Host] = []
        self.configs: list[str] = []
        self.hostnames: list[str] = []
        self.live = Live(settings.hosts)
        self.sampler: Sampler | None = None
        self.claims: Queue[int | None] = Queue()  # hosts that need a new holder
        self.claimer = threading.Thread(target=self._claim_loop, daemon=True,
                                        name="chaos-claimer")
        # Faults under way, and their undoing: (when, order, what, how).
        self.undo: list[tuple[float, int, str, Callable[[], None]]] = []
        self._order = 0
        self.cut: set[int] = set()
        self.stopped: set[int] = set()
        self.blinking: set[int] = set()
        self.paused = False
        log(f"fleet chaos: seed {seed} (replay: CODENAME_CHAOS_SEED={seed}), rule "
            f"{settings.rule}, {settings.hosts} hosts x {settings.holders} holders, lease "
            f"{settings.lease} s, {settings.seconds:.0f} s of faults")

    # --- set-up and tear-down ----------------------------------------------------------------

    def setup(self) -> None:
        s = self.settings
        (self.root / "redis").mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(self.root / "redis")
        for i in range(s.hosts):
            link = Link(self.redis.port)
            self.links.append(link)
            config = (f'[fleet]\nurl = "{self.redis.url(port=link.port)}"\n'
                      f"lease = {s.lease}\n")
            self.configs.append(config)
            self.hostnames.append(f"node{i:02d}")
            self.hosts.append(Host(self.root, self.hostnames[i], config))
        pairs = [(i, h.holder()) for i, h in enumerate(self.hosts) for _ in range(s.holders)]
        with ThreadPoolExecutor(s.setup_parallel) as pool:
            list(pool.map(lambda pair: self._claim(pair[0], pair[1], "setup"), pairs))
        self.log(f"fleet chaos: {s.hosts} hosts, {self._alive()} holders claimed "
                 f"({time.monotonic() - self.started:.0f} s)")
        bound = time.monotonic() + 2 * s.lease
        while not self._all_plain():  # else no fault could show anything
            if time.monotonic() > bound:
                raise ChaosError(
                    f"before any fault, not every holder shows a plain name by the {s.rule} "
                    f"rule within {2 * s.lease} s (does this codename write the lease files, "
                    "codename-fleet/<ident>.lease? see fleet_hosts.shown)")
            time.sleep(0.2)
        ops = OpsMeter(self.redis.port)
        self.sampler = Sampler(self.hosts, self.live, s.rule, s.sample_every, ops, self.report,
                               self.started)
        self.sampler.start()
        self.claimer.start()

    def close(self) -> None:
        """Undo whatever is under way, stop the threads, end every process; never raises."""
        steps: list[Callable[[], None]] = [self._stop_threads, self._undo_all]
        steps += [h.close for h in self.hosts] + [link.close for link in self.links]
        if self.redis is not None:
            steps.append(self.redis.close)
        steps.append(lambda: reap_keepers(self.root))
        for step in steps:
            try:
                step()
            except BaseException as e:  # pytest.fail's exception too: clean up the rest
                self.report.errors.append(f"cleanup: {type(e).__name__}: {e}")
        self.report.wall = time.monotonic() - self.started
        if self.sampler is not None and self.sampler.ops.rate() is not None:
            self.report.ops_per_s = self.sampler.ops.rate()
            self.report.peak_ops = self.sampler.ops.peak

    def _stop_threads(self) -> None:
        if self.claimer.is_alive():
            self.claims.put(None)
            self.claimer.join(timeout=120)
        if self.sampler is not None and self.sampler.is_alive():
            self.sampler.stop.set()
            self.sampler.join(timeout=30)

    # --- holders -----------------------------------------------------------------------------

    def _alive(self) -> int:
        return sum(len(p) for p in self.live.snapshot().values())

    def _claim(self, i: int, pid: int, phase: str) -> None:
        """`codename claim --pid PID` on host `i`, timed; PID joins the live set once named."""
        host = self.hosts[i]
        began = time.monotonic()
        name = None
        try:
            r = host.codename("claim", "--pid", str(pid), "--json", timeout=60)
            why = f"exit {r.returncode}: {r.stderr.strip()[-200:]}"
            if r.returncode == 0:
                name = json.loads(r.stdout)["name"]
        except (subprocess.SubprocessError, ValueError, KeyError, TypeError) as e:
            why = f"{type(e).__name__}: {e}"
        ms = (time.monotonic() - began) * 1000
        self.report.claims.setdefault(phase, []).append(ms)
        if name:
            self.live.add(i, pid)
        else:
            self.report.failed_claims.append(f"{phase} {host.name} pid {pid}: {why}")
            host.kill(pid)

    def _claim_loop(self) -> None:
        while (i := self.claims.get()) is not None:
            try:
                self._claim(i, self.hosts[i].holder(), "faults")
            except Exception as e:
                self.report.errors.append(f"claimer: {type(e).__name__}: {e}")

    # --- the faults --------------------------------------------------------------------------

    def faults(self) -> None:
        s = self.settings
        end = time.monotonic() + s.seconds
        kinds: list[str] = []
        due = time.monotonic() + self.rng.uniform(*s.every)
        progress = time.monotonic() + 10
        while (now := time.monotonic()) < end:
            self._undo_due(now)
            if now >= due:
                if not kinds:
                    kinds = self.rng.sample(ROUND, len(ROUND))
                kind = kinds.pop()
                try:
                    done = getattr(self, "_" + kind.replace("-", "_"))()
                except Exception as e:  # reported; the run goes on
                    self.report.errors.append(f"{kind}: {type(e).__name__}: {e}")
                    done = ""
                (self.report.faults if done else self.report.skipped)[kind] += 1
                if done:
                    self.report.trail.append((now - self.started, f"{kind} {done}"))
                due = time.monotonic() + self.rng.uniform(*s.every)
            if now >= progress:
                r = self.report
                self.log(f"fleet chaos: t+{now - self.started:.0f} s, "
                         f"{sum(r.faults.values())} faults, {r.samples} samples, "
                         f"{r.violating} violating, {self._alive()} holders")
                progress += 10
            time.sleep(0.02)

    def _later(self, after: float, host: int | None, undo: Callable[[], None]) -> str:
        """Undo a fault `after` seconds from now; what it was, for the trail."""
        self._order += 1
        what = f"{self.hosts[host].name} " if host is not None else ""
        heapq.heappush(self.undo, (time.monotonic() + after, self._order, what, undo))
        return f"{what}for {after:.1f} s"

    def _undo_due(self, now: float) -> None:
        while self.undo and self.undo[0][0] <= now:
            _, _, what, fn = heapq.heappop(self.undo)
            try:
                fn()
            except Exception as e:
                self.report.errors.append(f"undo {what}: {type(e).__name__}: {e}")

    def _undo_all(self) -> None:
        self._undo_due(float("inf"))

    def _pick(self, among: list[int]) -> int | None:
        return self.rng.choice(among) if among else None

    def _keepers(self) -> dict[int, list[int]]:
        """Each host's keeper processes (pids as seen from here), from one pass over /proc."""
        homes = {f"HOME={h.home}".encode(): i for i, h in enumerate(self.hosts)}
        found: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if b"fleet.keeper" not in f.read():
                        continue
                with open(f"/proc/{entry}/environ", "rb") as f:
                    env = f.read().split(b"\0")
            except OSError:
                continue
            for var in env:
                if var in homes:
                    found.setdefault(homes[var], []).append(int(entry))
        return found

    # Each fault: what it did, for the trail ("" when it could not be done just then).

    def _kill_holder(self) -> str:
        snapshot = self.live.snapshot()
        i = self._pick([i for i, p in snapshot.items() if p])
        if i is None:
            return ""
        pids = self.rng.sample(snapshot[i], min(len(snapshot[i]), self.rng.randint(1, 2)))
        for pid in pids:
            self.live.take(i, pid)  # out of the samples before it dies
            self.hosts[i].kill(pid)
            self.claims.put(i)
        return f"{self.hosts[i].name} pid {', '.join(map(str, pids))}"

    def _kill_keeper(self) -> str:
        keepers = self._keepers()
        i = self._pick(sorted(keepers))
        if i is None:
            return ""
        for pid in keepers[i]:
            _signal(pid, signal.SIGKILL)
        return self.hosts[i].name

    def _stop_keeper(self) -> str:
        keepers = self._keepers()
        i = self._pick(sorted(keepers.keys() - self.stopped))
        if i is None:
            return ""
        pids = keepers[i]
        for pid in pids:
            _signal(pid, signal.SIGSTOP)
        self.stopped.add(i)

        def resume() -> None:
            self.stopped.discard(i)
            for pid in pids:
                _signal(pid, signal.SIGCONT)

        return self._later(self.settings.lease + self.rng.uniform(0.5, 2.0), i, resume)

    def _cut_link(self) -> str:
        i = self._pick(sorted(set(range(len(self.hosts))) - self.cut))
        if i is None:
            return ""
        self.links[i].cut()
        self.cut.add(i)

        def heal() -> None:
            self.cut.discard(i)
            self.links[i].heal()

        return self._later(self.rng.uniform(1.0, 2.0 * self.settings.lease), i, heal)

    def _pause_redis(self) -> str:
        if self.paused or self.redis is None:
            return ""
        self.redis.pause()
        self.paused = True
        return self._later(self.rng.uniform(0.3, 1.5), None, self._resume_redis)

    def _resume_redis(self) -> None:
        if self.paused and self.redis is not None:
            self.paused = False
            self.redis.resume()

    def _restart_redis(self) -> str:
        if self.redis is None:
            return ""
        self.paused = False  # stop() lets a paused server go first
        self.redis.restart()
        return "empty"

    def _rename_host(self) -> str:
        i = self.rng.randrange(len(self.hosts))
        first = self.hosts[i].name
        back = self.hostnames[i] != first and self.rng.random() < 0.3
        new = first if back else f"{first}-{self.rng.randrange(1000)}"
        r = self.hosts[i].run("hostname", new, timeout=20)
        if r.returncode != 0:
            raise RuntimeError(f"hostname {new}: {r.stderr.strip()}")
        self.hostnames[i] = new
        return f"{first} to {new}"

    def _empty_config(self) -> str:
        return self._blink(lambda text: "")

    def _no_fleet_config(self) -> str:
        return self._blink(lambda text: "".join(f"# {line}\n" for line in text.splitlines()))

    def _blink(self, change: Callable[[str], str]) -> str:
        """A host's config.toml changed in place for about a second, then written back."""
        i = self._pick(sorted(set(range(len(self.hosts))) - self.blinking))
        if i is None:
            return ""
        path, text = self.hosts[i].config_file, self.configs[i]
        with open(path, "w") as f:  # in place, as an editor that truncates first would
            f.write(change(text))
        self.blinking.add(i)

        def restore() -> None:
            with open(path, "w") as f:
                f.write(text)
            self.blinking.discard(i)

        return self._later(self.rng.uniform(0.8, 1.2), i, restore)

    # --- after the faults --------------------------------------------------------------------

    def settle(self) -> None:
        """Undo what is under way, let a terminal open on every host (its claim starts a
        keeper again where a fault killed it: nothing else does), then wait, within a bound,
        for every live holder to show a plain name; a lease more of samples after that."""
        s = self.settings
        self.claims.put(None)
        self.claimer.join(timeout=120)
        self._undo_all()
        stopped = time.monotonic()
        self.log(f"fleet chaos: faults over, {self.report.samples} samples, "
                 f"{self.report.violating} violating; settling")
        for i, host in enumerate(self.hosts):
            self._claim(i, host.holder(), "settle")
        deadline = stopped + s.settle_leases * s.lease
        while time.monotonic() < deadline:
            if self._all_plain():
                self.report.settled_in = time.monotonic() - stopped
                break
            time.sleep(0.2)
        time.sleep(s.lease)
        assert self.sampler is not None
        self.sampler.stop.set()
        self.sampler.join(timeout=30)
        _, final = self._read()
        self.report.end_doubles = sorted(doubles(final, final))

    def _read(self) -> tuple[dict[int, list[int]], list[dict[int, str]]]:
        pids = self.live.snapshot()
        return pids, read_all(self.hosts, pids, self.settings.rule)

    def _all_plain(self) -> bool:
        pids, names = self._read()
        return all(len(names[i]) == len(pids[i]) and all(is_plain(n) for n in names[i].values())
                   for i in pids)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
