"""(10) The fleet at scale under random faults: the long form of the test's chaos harness.

Twenty hosts (Linux namespaces, so root), eight holders each, a 3 s lease, `--minutes` of
random faults of every kind (tests/fleet_chaos.py says which), five samples a second of every
holder's shown name. The same code as tests/test_fleet_chaos.py, which runs a minute of it:
that is why this family imports the tests' modules (and so needs pytest, as the tests do). It
runs only when named: `python -m bench fleet-chaos --minutes 10`.

Rows: (10) samples showing one plain name on two live holders (target 0); (10b) how long a
holder goes without a plain name after a fault; (10c) claims during the faults; (10d) Redis's
ops/s. The whole report, seed included, is printed too.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from pathlib import Path

from bench.common import Bench, BenchError, Row, log

FAMILY = "fleet-chaos"
WHAT = ("twenty hosts under random faults (root, redis-server; only when named; "
        "--minutes, --seed, --rule)")
TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")


def measure(bench: Bench) -> None:
    missing = [p for p in ("redis-server", "unshare", "nsenter") if shutil.which(p) is None]
    if os.geteuid() != 0 or missing:
        why = "needs root" if os.geteuid() != 0 else f"{', '.join(missing)} not installed"
        bench.rows.append(Row("10", f"the fleet under random faults: skipped, {why}", "—", "—"))
        return
    if TESTS not in sys.path:
        sys.path.insert(0, TESTS)
    try:
        import fleet_chaos  # type: ignore[import-not-found, unused-ignore]  # tests/, on sys.path
        import pytest
    except ImportError as e:
        raise BenchError(f"fleet-chaos runs the tests' harness: {e} (pip install -e '.[test]')"
                         ) from None
    args = bench.args
    minutes = args.minutes if args.minutes is not None else (1.0 if args.quick else 10.0)
    settings = fleet_chaos.Settings(seconds=minutes * 60, seed=args.seed)
    if args.rule:
        settings.rule = args.rule
    root = os.path.join(bench.tmp, "chaos")
    log(f"fleet-chaos: {minutes:g} minutes of faults …")
    try:
        report = fleet_chaos.run(Path(root), settings, log=log)
    except (fleet_chaos.ChaosError, pytest.fail.Exception, pytest.skip.Exception) as e:
        raise BenchError(f"fleet-chaos: {e}") from None
    log(report.text())
    scale = f"{report.hosts} hosts x {report.holders} holders, lease {report.lease} s"
    bench.rows.append(Row(
        "10", f"samples showing one plain name on two live holders, {minutes:g} min of faults "
              f"({scale}; rule {report.rule})",
        f"samples {report.samples}", f"violating {report.violating}",
        delta=f"{report.episodes} episodes", target="0", n=report.samples,
        ok=report.violating == 0 and not report.end_doubles))
    rec = report.recoveries
    bench.rows.append(Row(
        "10b", "time a holder goes without a plain name after a fault (median; max)",
        f"median {statistics.median(rec):.1f} s" if rec else "—",
        f"max {max(rec):.1f} s" if rec else "—",
        delta=f"all plain {report.settled_in:.1f} s after the faults"
              if report.settled_in is not None else "not all plain within the bound",
        n=len(rec), ok=report.settled_in is not None))
    during = report.claims.get("faults", [])
    bench.rows.append(Row(
        "10c", "`codename claim --pid P` during the faults (p50; p99), through nsenter",
        f"p50 {report.claim_ms('faults', 50):.0f} ms" if during else "—",
        f"p99 {report.claim_ms('faults', 99):.0f} ms" if during else "—",
        delta=f"{len(report.failed_claims)} failed", n=len(during),
        ok=not report.failed_claims))
    bench.rows.append(Row(
        "10d", "Redis commands per second over the run (mean; peak of its own count)",
        f"mean {report.ops_per_s:,.0f}" if report.ops_per_s is not None else "—",
        f"peak {report.peak_ops:,}"))
    faults = ", ".join(f"{k} {v}" for k, v in sorted(report.faults.items()))
    bench.notes.append(f"fleet-chaos: seed {report.seed} (--seed to replay); faults: {faults}")
