"""50 claims at once against 50 one after another, each batch in a fresh world (wall time).

Every claim must be granted and the 50 names distinct: the promise under load.
"""

from __future__ import annotations

import subprocess
import time

from bench.common import Bench, World, compare, log, median

FAMILY = "batches"
WHAT = "50 concurrent claims against 50 sequential ones"


def measure(bench: Bench) -> None:
    size = 50
    log(f"5. {size} concurrent claims against {size} sequential ones ({bench.batch_pairs} "
        "pairs) …")
    pids = bench.holders[:size] if len(bench.holders) >= size else \
        [bench.sleeper() for _ in range(size)]
    seq: list[float] = []
    conc: list[float] = []
    failures = 0
    duplicates = 0
    for i in range(bench.batch_pairs):
        for mode in (("seq", "conc") if i % 2 == 0 else ("conc", "seq")):
            w = World(bench, f"batch-{i}-{mode}")
            w.codename("who")  # untimed: the config cache, as on any used machine
            procs = []
            t0 = time.perf_counter()
            if mode == "seq":
                results = []
                for pid in pids:
                    p = subprocess.Popen([bench.codename, "claim", "--pid", str(pid)],
                                         env=w.env, cwd=w.home, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                    results.append((p, *p.communicate()))
            else:
                for pid in pids:
                    procs.append(subprocess.Popen(
                        [bench.codename, "claim", "--pid", str(pid)], env=w.env, cwd=w.home,
                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE))
                results = [(p, *p.communicate()) for p in procs]
            ms = (time.perf_counter() - t0) * 1000
            (seq if mode == "seq" else conc).append(ms)
            names = [out.decode().strip() for p, out, _ in results if p.returncode == 0]
            failures += sum(1 for p, _, _ in results if p.returncode != 0)
            duplicates += len(names) - len(set(names))
            for p, _, err in results:
                if p.returncode != 0:
                    bench.warn(f"a {mode} claim failed: {err.decode().strip()}")
            w.remove()
    row = compare("5", f"{size} claims at once against {size} one after another, each "
                       "batch in a fresh world (wall time of the batch)",
                  "sequential", median(seq), "concurrent", median(conc), bench.batch_pairs,
                  delta=f"{median(conc) - median(seq):+.0f} ms; {failures} failed, "
                        f"{duplicates} duplicate names")
    row.target = "every claim granted, no duplicate"
    row.ok = failures == 0 and duplicates == 0
    bench.rows.append(row)
