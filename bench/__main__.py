"""`python -m bench [FAMILY …]`: run the benchmark families (all by default), print the table.

    .venv/bin/python -m bench                  # every family (about 5 minutes on 2 cores)
    .venv/bin/python -m bench claim prompts    # some families
    .venv/bin/python -m bench --quick          # a smoke run: few pairs, not figures to quote
    .venv/bin/python -m bench --markdown       # the table as Markdown, for the README
    sudo .venv/bin/python -m bench fleet-chaos --minutes 10   # only when named: see its module

The exit status is 1 when a row misses its target, 0 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from bench.common import Bench, BenchError, log

# In the order they run: `shells` reuses `init`'s bare interpreter time, `batches` and
# `burst` the sleepers `claim` leaves. `burst` goes last: 1,000 Pythons at once keep a small
# machine busy for a minute or more, which would blur any figure taken after it.
FAMILIES = ("init", "shells", "prompts", "claim", "ledger", "history", "batches", "processes",
            "fleet", "hooktext", "peers", "drawcost", "burst")
# Run only when named: minutes long, and root (its hosts are namespaces).
ON_REQUEST = ("fleet-chaos",)


def module(family: str) -> str:
    return f"bench.{family.replace('-', '_')}"


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=(__doc__ or "").split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="families: " + "; ".join(
            f"{f}: {importlib.import_module(module(f)).WHAT}" for f in FAMILIES + ON_REQUEST))
    ap.add_argument("families", nargs="*", metavar="FAMILY", help="families to run (all)")
    ap.add_argument("--codename", metavar="PATH",
                    help="the codename to measure (default: codename's launcher, written for "
                         "the Python of the codename next to this interpreter)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: a few pairs only")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--markdown-file", metavar="PATH",
                    help="also write the table as Markdown to PATH")
    ap.add_argument("--pairs", type=int, help="pairs per comparison (default 30, quick 5)")
    ap.add_argument("--batch-pairs", type=int, help="pairs of 50-claim batches (default 20)")
    ap.add_argument("--importtime", action="store_true",
                    help="init: also note where init spends its imports (python -X importtime)")
    ap.add_argument("--plot-dir", metavar="DIR",
                    help="claim: where to write the growth plot (if matplotlib is installed)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--runtime-base", metavar="DIR",
                    help="where the worlds' runtime dirs go (default: /dev/shm, a tmpfs as "
                         "/run/user/<uid> is; else the temporary directory)")
    ap.add_argument("--minutes", type=float,
                    help="fleet-chaos: minutes of faults (default 10, quick 1)")
    ap.add_argument("--seed", type=int, help="fleet-chaos: the seed of a run to replay")
    ap.add_argument("--rule", choices=("lease", "presence"),
                    help="fleet-chaos: how a shown name is read (default lease; presence: "
                         "the rule before lease files, see tests/fleet_hosts.shown)")
    args = ap.parse_args(argv)
    unknown = [f for f in args.families if f not in FAMILIES + ON_REQUEST]
    if unknown:
        ap.error(f"unknown family {unknown[0]!r} (choose from "
                 f"{', '.join(FAMILIES + ON_REQUEST)})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not sys.platform.startswith("linux"):
        print("bench needs Linux (/proc, ptys, wait4)", file=sys.stderr)
        return 2
    chosen = ([f for f in FAMILIES + ON_REQUEST if f in args.families] if args.families
              else list(FAMILIES))
    bench = None
    t0 = time.monotonic()
    try:
        bench = Bench(args)
        bench.setup()
        log(f"measuring {bench.codename} (interpreter {bench.interp}) in {bench.tmp}")
        for family in chosen:
            importlib.import_module(module(family)).measure(bench)
        print(bench.table(args.markdown))
        if args.markdown_file:
            with open(args.markdown_file, "w", encoding="utf-8") as f:
                f.write(bench.table(markdown=True) + "\n")
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if bench is not None:
            bench.cleanup()
    log(f"done in {time.monotonic() - t0:.0f} s")
    return 1 if any(r.ok is False for r in bench.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
