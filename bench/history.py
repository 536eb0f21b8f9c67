"""`codename log` over 200,000 rows of history in three files (two rotations), against none.

Issue 18's target: `log` answers within a second over 200,000 rows and two rotations. The rows
are claimed/released pairs in the ledger's own format, copied field by field from a real claim
and release of the codename under test (bench/ledger.py makes them), one terminal every ten
minutes, spread over `ledger.log.2`, `ledger.log.1` and the live file. Each question a person
asks is timed as the whole command (a fresh process, wall time): `--at`, `--at --name`,
`--since`, `--name`, `--timeline`, and the whole history as JSON (info: 200,000 events printed
is a different question from an answer). The empty ledger gives the floor (Python's start).
A question about a moment after the rotated files' last row reads of them only what
`history.cache` keeps (codename_shell/historycache.py); H1c is the first one after a rotation,
which reads every file whole and writes that cache.
"""

from __future__ import annotations

import os
import subprocess
import time

from bench.common import Bench, BenchError, Row, World, fmt_ms, log, median
from bench.ledger import cast_names, history, template_of

FAMILY = "history"
WHAT = "`codename log` over 200,000 rows and two rotations"
ROWS = 200_000
TARGET_MS = 1000.0
SAMPLES = 9  # per question: each run reads 60 MB, so fewer than the claim rows' 30


def timed(world: World, *args: str) -> float:
    """Wall ms of `codename log ARGS`, its output read and thrown away."""
    t0 = time.perf_counter()
    r = subprocess.run([world.bench.codename, "log", *args], env=world.env, cwd=world.home,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    ms = (time.perf_counter() - t0) * 1000
    if r.returncode != 0 or r.stderr.strip():
        raise BenchError(f"codename log {' '.join(args)}: {r.stderr.decode()[:300]}")
    return ms


def measure(bench: Bench) -> None:
    log(f"H. `codename log` over {ROWS:,} rows of history in three files …")
    seed = World(bench, "history-seed")
    p = bench.sleeper()
    seed.timed_claim(p)
    seed.codename("release", "--pid", str(p))
    bench.kill(p)
    text = history(seed, template_of(seed.ledger), ROWS)
    lines = text.splitlines(keepends=True)
    third = len(lines) // 3
    full = World(bench, "history-full")
    empty = World(bench, "history-empty")
    state = os.path.dirname(full.ledger)
    os.makedirs(state, mode=0o700)
    for name, part in (("ledger.log.2", lines[:third]), ("ledger.log.1", lines[third:2 * third]),
                       ("ledger.log", lines[2 * third:])):
        with open(os.path.join(state, name), "wb") as f:
            f.writelines(part)
    name = cast_names(seed)[0]
    questions = {
        "H1": (("--at", "1d"), "who held each name a day ago (`--at 1d`)"),
        "H2": (("--at", "1d", "--name", name), f"who held {name} a day ago"),
        "H3": (("--since", "1d"), "a day of events, after the names held then (`--since 1d`)"),
        "H4": (("--name", name), f"every event of {name} ({ROWS // 15:,} of them)"),
        "H5": (("--timeline",), "the timeline of the last 8 hours"),
        "H6": (("--json",), f"all {ROWS:,} events as JSON (info: an export, not an answer)"),
    }
    cache = os.path.join(state, "history.cache")
    questions["H1c"] = (("--at", "1d"), "H1, the first question after a rotation (no "
                                        "history.cache yet: every file read whole)")
    samples = min(bench.pairs, SAMPLES)
    for key, (args, what) in questions.items():
        timed(full, *args)  # the files in the page cache, as they are once written
        base, big = [], []
        for _ in range(samples):
            base.append(timed(empty, *args))
            if key == "H1c":
                os.unlink(cache)  # the one a rotation makes stale (historycache.identity)
            big.append(timed(full, *args))
        bare, rows = median(base), median(big)
        limited = key != "H6"
        bench.rows.append(Row(key, f"`codename log {' '.join(args)}`: {what}",
                              f"no ledger {fmt_ms(bare)}", f"{ROWS // 1000}k rows {fmt_ms(rows)}",
                              f"{rows / bare:.1f}x", f"{rows - bare:+.0f} ms",
                              f"<= {TARGET_MS:.0f} ms" if limited else "—", samples,
                              rows <= TARGET_MS if limited else None))
    size = sum(os.path.getsize(os.path.join(state, n)) for n in os.listdir(state)
               if n.startswith("ledger.log"))
    bench.notes.append(f"(H) the history: {ROWS:,} rows ({size / 1e6:.0f} MB) in ledger.log.2, "
                       ".1 and the live file, copied from a real claimed/released pair; "
                       "each figure is the whole command, Python's start included.")
