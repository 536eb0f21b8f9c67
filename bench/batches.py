"""50 claims at once against 50 one after another, each batch in a fresh world (wall time);
and a burst of 1,000 claims at once (tmux-resurrect starting every pane), each claim's own time.

Every claim must be granted and the names distinct: the promise under load.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from bench.common import Bench, BenchError, Row, World, compare, fmt_ms, log, median

FAMILY = "batches"
WHAT = "50 concurrent claims against 50 sequential ones; a burst of 1,000 claims at once"
BURST = 1000  # claims; 200 with --quick


def measure(bench: Bench) -> None:
    batches(bench)
    burst(bench, 200 if bench.args.quick else BURST)


def batches(bench: Bench) -> None:
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


# Run by a process of its own, so that it can wait for any of its children (the benchmark's
# own children include its sleepers): starts every claim at once, notes when each started and
# ended (wait4 returns each as it ends), then reads what each printed.
SPAWN_ALL = r"""
import json, os, sys, time
codename, out, pids = sys.argv[1], sys.argv[2], sys.argv[3:]
began = {}
for i, pid in enumerate(pids):
    files = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)] + [
        (os.POSIX_SPAWN_OPEN, fd, f"{out}/{i}.{fd}", os.O_WRONLY | os.O_CREAT, 0o600)
        for fd in (1, 2)]
    t = time.perf_counter()
    began[os.posix_spawn(codename, [codename, "claim", "--pid", pid], os.environ,
                         file_actions=files)] = (i, t)
spawned = time.perf_counter()
ended = {}
while len(ended) < len(began):
    child, status, _ = os.wait4(-1, 0)
    ended[child] = (time.perf_counter(), os.waitstatus_to_exitcode(status))
results = []
for child, (i, t) in sorted(began.items(), key=lambda kv: kv[1][0]):
    done, code = ended[child]
    with open(f"{out}/{i}.1") as f1, open(f"{out}/{i}.2") as f2:
        results.append([done - t, code, f1.read().strip(), f2.read().strip()])
print(json.dumps({"spawned": spawned - min(t for _, t in began.values()),
                  "wall": max(d for d, _ in ended.values()) - min(t for _, t in began.values()),
                  "results": results}))
"""


def burst(bench: Bench, size: int) -> None:
    """(5b) `size` claims started at once in a fresh world: each claim's time from its own
    start to its end (p50, p99), the burst's wall time, and that all were granted, distinct."""
    log(f"5b. a burst of {size} claims at once …")
    pids = bench.holders[:size] if len(bench.holders) >= size else \
        [bench.sleeper() for _ in range(size)]
    w = World(bench, f"burst-{size}")
    w.codename("who")  # untimed: the config cache, as on any used machine
    out = os.path.join(w.root, "out")
    os.makedirs(out)
    r = subprocess.run([bench.interp, "-c", SPAWN_ALL, bench.codename, out, *map(str, pids)],
                       env=w.env, cwd=w.home, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise BenchError(f"the burst of {size} claims: {r.stderr.strip()[-500:]}")
    found = json.loads(r.stdout)
    results = found["results"]
    times = sorted(ms * 1000 for ms, *_ in results)
    refused = [err for _, code, _, err in results if code != 0]
    names = [name for _, code, name, _ in results if code == 0]
    duplicates = len(names) - len(set(names))
    for err in refused[:3]:
        bench.warn(f"a claim of the burst was refused: {err}")
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    row = Row("5b", f"{size} claims at once (tmux-resurrect starting every pane), each in the "
              "same fresh world: one claim's time from its start to its end, median and 99th "
              "percentile", f"p50 {fmt_ms(median(times))}", f"p99 {fmt_ms(p99)}",
              delta=f"burst {fmt_ms(found['wall'] * 1000)} (starting them "
              f"{fmt_ms(found['spawned'] * 1000)}); {len(refused)} refused, {duplicates} "
              "duplicate names",
              target="every claim granted, no duplicate", n=size,
              ok=not refused and not duplicates and len(names) == size)
    bench.rows.append(row)
    w.remove()
