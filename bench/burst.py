"""A burst: 1,000 claims started at once in one world, each for its own live process.

What a machine sees when a fleet of jobs, or a tmux server restoring a session, starts many
shells together. Each claim is `codename claim --pid P` for a distinct `sleep`. They are
started behind a gate, so that they really start together (spawning 1,000 processes one by
one takes this process seconds, more once the first ones compete with it for the CPU): each is
a `sh` that waits to read a pipe and then execs the claim; once all wait, the pipe is closed
and every one goes at that instant. A claim's latency is from that instant to its exit (the
parent blocks in waitpid, which returns as each one ends). Every claim must be granted and
every name distinct (issue 20: p50 under 1 s, p99 under 3 s, all granted, on 2 cores). The
names go to one file opened for appending (a line each, written whole), the refusals to
another; afterwards `codename who --json` must list every holder.
"""

from __future__ import annotations

import os
import subprocess
import time

from bench.common import Bench, Row, World, log

FAMILY = "burst"
WHAT = "1,000 claims started at once: latency p50/p99, all granted, names distinct"
SIZE = 1000
TARGET_P50_S = 1.0  # issue 20
TARGET_P99_S = 3.0


def percentile(values: list[float], q: float) -> float:
    """The q-quantile by the nearest rank (q in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def measure(bench: Bench) -> None:
    size = 100 if bench.args.quick else SIZE
    log(f"burst: {size} claims started at once in one world …")
    pids = bench.holders[:size] if len(bench.holders) >= size else \
        [bench.sleeper() for _ in range(size)]
    world = World(bench, "burst")
    world.codename("who")  # the directories and the config cache, as on any used machine
    names_path = os.path.join(world.root, "names")
    errors_path = os.path.join(world.root, "errors")
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    out, err = os.open(names_path, flags, 0o600), os.open(errors_path, flags, 0o600)
    started: set[int] = set()
    # Kept: a Popen dropped unwaited goes to subprocess's list of children to reap, and the
    # next Popen would reap it before the waitpid below could see it end.
    procs: list[subprocess.Popen[bytes]] = []
    codes: dict[int, int] = {}
    latency: list[float] = []
    gate, opener = os.pipe()
    gated = 'read _; exec "$@" </dev/null'
    t_spawn = time.perf_counter()
    try:
        for pid in pids:
            p = subprocess.Popen(["/bin/sh", "-c", gated, "gate", bench.codename, "claim",
                                  "--pid", str(pid)], env=world.env, cwd=world.home,
                                 stdin=gate, stdout=out, stderr=err)
            started.add(p.pid)
            procs.append(p)
        spawned = time.perf_counter() - t_spawn
        os.close(gate)
        t0 = time.perf_counter()
        os.close(opener)  # the gate opens: every `read` sees the end of the pipe at once
        opener = -1
        while len(codes) < len(started):
            child, status = os.waitpid(-1, 0)
            if child in started and child not in codes:
                latency.append(time.perf_counter() - t0)
                codes[child] = os.waitstatus_to_exitcode(status)
    finally:
        if opener >= 0:
            os.close(opener)
        os.close(out)
        os.close(err)
    for p in procs:
        p.returncode = codes.get(p.pid, p.returncode)  # reaped above: nothing left to wait for
    wall = time.perf_counter() - t0  # from the gate's opening
    with open(names_path, encoding="utf-8", errors="replace") as f:
        names = [line.strip() for line in f if line.strip()]
    with open(errors_path, encoding="utf-8", errors="replace") as f:
        said = [line.strip() for line in f if line.strip()]
    failed = sum(1 for c in codes.values() if c != 0)
    duplicates = len(names) - len(set(names))
    listed = len(world.live())
    for line in sorted(set(said))[:5]:
        bench.warn(f"burst: {line}")
    p50, p90, p99 = (percentile(latency, q) for q in (0.5, 0.9, 0.99))
    ok = (failed == 0 and duplicates == 0 and listed == size and p50 < TARGET_P50_S
          and p99 < TARGET_P99_S)
    bench.rows.append(Row(
        "5b", f"{size} claims started at once in one world (each for its own live process), "
              "latency from the moment they start to each one's exit", f"p50 {p50:.2f} s",
        f"p99 {p99:.2f} s", "—",
        f"p90 {p90:.2f} s, max {max(latency):.2f} s; {failed} refused, {duplicates} "
        f"duplicate names, {listed} listed by who; all done {wall:.2f} s after the gate "
        f"opened ({spawned:.1f} s to start them behind it)",
        f"p50 < {TARGET_P50_S:.0f} s, p99 < {TARGET_P99_S:.0f} s, all granted",
        size, ok))
    world.remove()
