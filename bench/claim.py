"""A claim among many live holders: how its cost grows from 0 to 10, 100, 150, 1,000 and 5,000.

Every holder is a real `sleep` process with a real identity (pid, start time, boot, machine,
host, pid namespace read from /proc by codename's own `liveness.identify`), written into each
world's presence dir and ledger by codename's own writers (`PresenceSource.record`,
`LedgerSource.append`), with the names a run of real claims hands out in that order (the cast,
then "Michael 2" …) and a colour each, as a claim records one (without it, every claim would
work out 1,000 colours from names: a millisecond or two no real world costs), each a terminal
as `codename init` leaves one: its presence file with the `.seen` and `.exit` scratch files
beside it (three entries of the runtime dir a holder). One process writes a whole world: 5,000
real claims one after another would take minutes and measure nothing more. `codename who
--json` must list exactly N live holders in each world before anything is timed. Each timed
claim (`codename claim --pid P`, the process's wall time) is for a fresh `sleep`, released
untimed afterwards, so the count stays put; the worlds take turns (0, 10, …, 5,000, then
back), as in every comparison.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import time

from bench.common import Bench, BenchError, Row, World, compare, log, median

FAMILY = "claim"
WHAT = "a claim among 0 to 5,000 live holders (the growth table)"
TARGETS = {150: 1.2, 1000: 1.2}  # issue 20 (issue 12 asked 1.5x at 1,000; issue 4 1.5x at 150)

POPULATE = """import sys
from codename_shell import config, hook, liveness, paths
from codename_shell.allocator import Allocator
from codename_shell.colours import PALETTE
from codename_shell.holders import Holder

settings = config.load()
allocator = Allocator(settings)
for d in (allocator.state_dir, allocator.runtime_dir):
    paths.ensure_private_dir(d)
theme, _ = settings.theme_in_force()
cast = settings.cast(theme)


def names():
    yield from cast
    rounds = 2
    while True:
        for short, full in cast:
            yield f"{short} {rounds}", f"{full} {rounds}"
        rounds += 1


rows = []
terminals = sys.argv[1] == "terminal"
for pid, (short, full) in zip(map(int, sys.argv[2:]), names()):
    me = liveness.identify(pid)
    # Each with a colour, as a claim records one (colours.pick: the palette in turn).
    holder = Holder(short, full=full, kind=sys.argv[1], pid=pid, start=me.start, boot=me.boot,
                    host=me.host, ns=me.ns, machine=me.machine, theme=theme,
                    colour=PALETTE[len(rows) % len(PALETTE)])
    allocator.presence.record(holder)
    if terminals:  # what `codename init` makes beside a terminal's presence file
        presence = allocator.presence.path_for(holder)
        hook._make_scratch(presence + ".seen")
        hook._make_scratch(presence + ".exit")
    rows.append(("claimed", holder))
allocator.ledger.append(rows)
"""


def measure(bench: Bench) -> None:
    sizes = [0, 10, 100, 150, 300] if bench.args.quick else [0, 10, 100, 150, 1000, 5000]
    log(f"claim: claims among {', '.join(map(str, sizes))} live holders: starting {sizes[-1]} "
        "sleep processes …")
    t0 = time.monotonic()
    holders = [bench.sleeper() for _ in range(sizes[-1])]
    worlds: dict[int, World] = {}
    for n in sizes:
        w = World(bench, f"holders-{n}")
        w.codename("who")  # the directories and the config cache, as on any used machine
        if n:
            r = subprocess.run([bench.interp, "-c", POPULATE, "terminal",
                                *map(str, holders[:n])],
                               env=w.env, cwd=w.home, capture_output=True, text=True,
                               timeout=600)
            if r.returncode != 0:
                raise BenchError(f"populating {n} holders: {r.stderr.strip()[-500:]}")
        live = len(w.live())
        if live != n:
            raise BenchError(f"the {n}-holder world has {live} live holders")
        worlds[n] = w
    bench.notes.append(f"(3) verified: `codename who --json` lists exactly "
                       f"{', '.join(map(str, sizes))} live holders in the worlds (set up in "
                       f"{time.monotonic() - t0:.0f} s).")
    for w in worlds.values():  # warm: config.cache, page cache
        p = bench.sleeper()
        w.timed_claim(p)
        w.codename("release", "--pid", str(p))
        bench.kill(p)
    samples: dict[int, list[float]] = {n: [] for n in sizes}
    for i in range(bench.pairs):
        for n in (sizes if i % 2 == 0 else sizes[::-1]):
            p = bench.sleeper()
            samples[n].append(worlds[n].timed_claim(p))
            worlds[n].codename("release", "--pid", str(p))
            bench.kill(p)
    base = median(samples[0])
    for n in sizes[1:]:
        m = median(samples[n])
        row = compare(f"3 {n}", f"`codename claim --pid P` among {n} live holders against "
                                "among none", "0 holders", base, f"{n} holders", m,
                      bench.pairs, limit=TARGETS.get(n),
                      delta=f"{m - base:+.1f} ms = {(m - base) / n * 1000:.1f} µs a holder")
        bench.rows.append(row)
    plot(bench, {n: median(v) for n, v in samples.items()})
    bench.holders = holders
    for w in worlds.values():
        w.remove()


def plot(bench: Bench, ms: dict[int, float]) -> None:
    """A plot of the growth, when matplotlib happens to be installed (it is no dependency)."""
    if importlib.util.find_spec("matplotlib") is None:
        bench.notes.append("(3) no plot: matplotlib is not installed here (the table says it).")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = os.path.join(bench.args.plot_dir or bench.tmp, "claim-growth.png")
    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = sorted(ms)
    ax.plot(sizes, [ms[n] for n in sizes], marker="o")
    ax.set_xlabel("live holders")
    ax.set_ylabel("codename claim, median ms")
    fig.savefig(path, dpi=100)
    bench.notes.append(f"(3) plot: {path}")
    bench.rows.append(Row("3 plot", f"the growth, plotted: {path}", "—", "—"))
