"""What a fleet under random faults shows: the live holders, a sampler that reads every host's
shown names five times a second, and the report of a run (tests/fleet_chaos.py runs it).

The promise sampled: no moment shows one plain name (casefolded) on two live holders, on two
hosts or twice on one. "At one moment" from reads that cannot all be at one moment: a sample
reads every host twice, in order (pass 1: hosts 0 … n-1, then pass 2: 0 … n-1). A name that
host i shows in both of its reads was on its screen all through [i's first read, i's second
read]; host j's first read lies inside that span when j comes after i, its second read when
j comes before. So such a name seen there too was shown by both at once, while a name that
moved between two reads (given back by one host, taken by another) never counts. On one
host: a name two of its holders show in both reads.

A holder leaves the live set before it is killed, under the lock a sample holds throughout:
no sample ever reads a holder that may be dead (a dead holder's presence file still names it,
and no terminal shows it). A new holder joins once its claim has returned.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from fleet_hosts import Host, shown


class Live:
    """The holders alive now, by host index: the pids (as their host sees them) to sample."""

    def __init__(self, hosts: int) -> None:
        self.lock = threading.Lock()
        self.pids: dict[int, set[int]] = {i: set() for i in range(hosts)}

    def add(self, host: int, pid: int) -> None:
        with self.lock:
            self.pids[host].add(pid)

    def take(self, host: int, pid: int) -> None:
        """`pid` leaves: called before it is killed (waits for a sample under way)."""
        with self.lock:
            self.pids[host].discard(pid)

    def snapshot(self) -> dict[int, list[int]]:
        with self.lock:
            return {i: sorted(p) for i, p in self.pids.items()}


def read_all(hosts: list[Host], pids: dict[int, list[int]], rule: str) -> list[dict[int, str]]:
    """What each host's live holders show now, host by host (fleet_hosts.shown)."""
    return [shown(h.runtime, pids[i], rule) for i, h in enumerate(hosts)]


def is_plain(name: str | None) -> bool:
    return bool(name) and "@" not in str(name)


def doubles(first: list[dict[int, str]], second: list[dict[int, str]]) -> dict[str, set[int]]:
    """The plain names (folded) shown twice at one moment, each with the hosts showing it,
    from two passes over every host (see the module's docstring for why this is "at once")."""
    steady: list[Counter[str]] = []
    for a, b in zip(first, second, strict=True):
        steady.append(Counter(n.casefold() for pid, n in a.items()
                              if is_plain(n) and b.get(pid) == n))
    seen = [({n.casefold() for n in a.values() if is_plain(n)},
             {n.casefold() for n in b.values() if is_plain(n)}) for a, b in zip(first, second,
                                                                                strict=True)]
    out: dict[str, set[int]] = {}
    for i, names in enumerate(steady):
        for name, count in names.items():
            if count > 1:
                out.setdefault(name, set()).add(i)
        if not names:
            continue
        for j, (in_first, in_second) in enumerate(seen):
            if j != i:
                for name in names.keys() & (in_first if j > i else in_second):
                    out.setdefault(name, set()).update((i, j))
    return out


def redis_info(port: int, timeout: float = 0.5) -> dict[str, str] | None:
    """Redis's INFO as a dict; None when it does not answer in time (paused, restarting).
    A socket of our own rather than redis-cli: a process a second would cost more CPU than
    what it measures."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nINFO\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return None
                data += chunk
                head, _, body = data.partition(b"\r\n")
                if head.startswith(b"$") and len(body) >= int(head[1:]) + 2:
                    break
    except (OSError, ValueError):
        return None
    out = {}
    for line in body.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key] = value
    return out


class OpsMeter:
    """Commands Redis processed over the run, across restarts (each restart counts from 0
    again under a new run_id), and the peak of its own instantaneous ops/s."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.total = 0
        self.peak = 0
        self.span = 0.0
        self._last: tuple[str, int, float] | None = None

    def poll(self) -> None:
        info = redis_info(self.port)
        if info is None:
            return
        try:
            run_id, count = info["run_id"], int(info["total_commands_processed"])
            self.peak = max(self.peak, int(info.get("instantaneous_ops_per_sec", "0")))
        except (KeyError, ValueError):
            return
        now = time.monotonic()
        if self._last is not None:
            last_id, last_count, last_time = self._last
            self.total += count - last_count if run_id == last_id else count
            self.span += now - last_time
        self._last = (run_id, count, now)

    def rate(self) -> float | None:
        return self.total / self.span if self.span else None


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass
class Report:
    """What a chaos run saw; `text()` is what the benchmark prints and a failing test shows."""

    seed: int
    rule: str
    hosts: int
    holders: int
    lease: int
    seconds: float
    samples: int = 0
    violating: int = 0  # samples showing at least one plain name twice
    violations: int = 0  # (sample, name) pairs
    episodes: int = 0  # runs of consecutive samples showing one name twice
    examples: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    trail: list[tuple[float, str]] = field(default_factory=list)  # (t, fault) as they came
    first: float | None = None  # t of the first sample showing a plain name twice
    skipped: Counter[str] = field(default_factory=Counter)
    recoveries: list[float] = field(default_factory=list)  # seconds without a plain name
    unrecovered: int = 0  # holders without a plain name when the run ended
    reads: int = 0  # holder reads (pass 1 of each sample)
    plain_reads: int = 0
    sample_ms: list[float] = field(default_factory=list)
    claims: dict[str, list[float]] = field(default_factory=dict)  # ms, by phase
    failed_claims: list[str] = field(default_factory=list)
    ops_per_s: float | None = None
    peak_ops: int = 0
    settled_in: float | None = None  # s from the faults' end to every live holder plain
    end_doubles: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0

    def claim_ms(self, phase: str, q: int) -> float:
        return percentile(self.claims.get(phase, []), q)

    def _before_first(self) -> list[str]:
        """The faults in the 5 s before the first sample showing a plain name twice."""
        if self.first is None:
            return []
        first = self.first
        return ["  faults in the 5 s before the first: " + "; ".join(
            f"t+{t:.1f} s {what}" for t, what in self.trail if first - 5 <= t <= first)]

    def text(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items()))
        rec = (f"median {statistics.median(self.recoveries):.1f} s, max "
               f"{max(self.recoveries):.1f} s" if self.recoveries else "none")
        share = f"{100 * self.plain_reads / self.reads:.1f}%" if self.reads else "—"
        settled = ("not within the bound" if self.settled_in is None
                   else f"{self.settled_in:.1f} s after the faults stopped")
        ops = f"{self.ops_per_s:,.0f}" if self.ops_per_s is not None else "—"
        sample = f"{statistics.median(self.sample_ms):.1f} ms" if self.sample_ms else "—"
        claims = "; ".join(
            f"{phase} p50 {self.claim_ms(phase, 50):.0f} ms, p99 {self.claim_ms(phase, 99):.0f}"
            f" ms (n {len(ms)})" for phase, ms in self.claims.items() if ms)
        lines = [
            f"fleet chaos: seed {self.seed} (replay: CODENAME_CHAOS_SEED={self.seed}), "
            f"rule {self.rule}, {self.hosts} hosts x {self.holders} holders, lease "
            f"{self.lease} s, {self.seconds:.0f} s of faults, {self.wall:.0f} s in all",
            f"samples      {self.samples} (a sample reads every host twice: {sample})",
            f"violations   {self.violating} samples show one plain name twice "
            f"({self.violations} name-samples, {self.episodes} episodes)",
            *(f"  {e}" for e in self.examples),
            *self._before_first(),
            f"faults       {sum(self.faults.values())}: {faults}"
            + (f" (not applicable then: {skipped})" if skipped else ""),
            f"plain        {share} of holder reads; every live holder plain: {settled}",
            f"recovery     {rec} without a plain name ({len(self.recoveries)} spells; "
            f"{self.unrecovered} holders without one at the end)",
            f"claims       {claims or '—'}; {len(self.failed_claims)} failed",
            *(f"  {e}" for e in self.failed_claims[:5]),
            f"redis        {ops} ops/s (mean over the run), peak {self.peak_ops:,}",
        ]
        if self.end_doubles:
            lines.append(f"at the end   a plain name twice: {', '.join(self.end_doubles)}")
        lines += [f"error        {e}" for e in self.errors[:10]]
        return "\n".join(lines)


class Sampler(threading.Thread):
    """Every `every` seconds: one sample of what every live holder shows, into `report`."""

    def __init__(self, hosts: list[Host], live: Live, rule: str, every: float, ops: OpsMeter,
                 report: Report, t0: float) -> None:
        super().__init__(daemon=True, name="chaos-sampler")
        self.hosts, self.live, self.rule, self.every = hosts, live, rule, every
        self.ops, self.report = ops, report
        self.stop = threading.Event()
        self.t0 = t0  # times in the report count from it (the run's start)
        self._spells: dict[tuple[int, int], float] = {}  # (host, pid) -> first seen not plain
        self._before: set[str] = set()  # names shown twice in the previous sample

    def run(self) -> None:
        last_poll = 0.0
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                self.sample()
                if began - last_poll >= 1.0:
                    self.ops.poll()
                    last_poll = began
            except Exception as e:  # reported; the run goes on
                self.report.errors.append(f"sampler: {type(e).__name__}: {e}")
            self.stop.wait(max(0.0, self.every - (time.monotonic() - began)))
        self.report.unrecovered = len(self._spells)

    def sample(self) -> None:
        began = time.monotonic()
        with self.live.lock:
            pids = {i: sorted(p) for i, p in self.live.pids.items()}
            first = read_all(self.hosts, pids, self.rule)
            second = read_all(self.hosts, pids, self.rule)
        now = time.monotonic()
        r = self.report
        r.samples += 1
        r.sample_ms.append((now - began) * 1000)
        found = doubles(first, second)
        if found:
            r.violating += 1
            if r.first is None:
                r.first = now - self.t0
            r.violations += len(found)
            new = found.keys() - self._before
            r.episodes += len(new)
            for name in sorted(new):  # the first sample of each episode, the first few
                if len(r.examples) < 5:
                    where = found[name]
                    r.examples.append(f"t+{now - self.t0:.1f} s: {name} on "
                                      + ", ".join(self.hosts[i].name for i in sorted(where)))
        self._before = set(found)
        alive = set()
        for i, host_pids in pids.items():
            for pid in host_pids:
                key = (i, pid)
                alive.add(key)
                r.reads += 1
                if is_plain(first[i].get(pid)):
                    r.plain_reads += 1
                    if key in self._spells:
                        r.recoveries.append(now - self._spells.pop(key))
                else:
                    self._spells.setdefault(key, now)
        for key in self._spells.keys() - alive:  # killed before it got a plain name back
            del self._spells[key]
