"""A claim over a ledger with 100,000 rows of history, against an empty ledger.

100,000 rows (50,000 claimed/released pairs, 20 MB) are written in the ledger's own format,
copied field by field from a real claimed and released row of the codename under test; `who`
must read them as closed history with no warning. The first claim over them compacts them
(history to `ledger.log.1`): that one-off is timed on 5 fresh copies and reported apart (4a).
Then the steady state (4) against an empty ledger; and (4b) the live file at its bound,
COMPACT_AFTER - 2 closed rows (rewritten before each claim), the most a claim reads before
compacting.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from bench.common import Bench, BenchError, World, compare, log, median

FAMILY = "ledger"
WHAT = "a claim over 100,000 rows of ledger history against an empty ledger"
TARGET_LEDGER = 1.1


def history(seed: World, template: tuple[str, str], rows: int) -> bytes:
    """`rows` rows of closed history (claimed/released pairs) in the ledger's own format,
    made from a real claimed row and a real released row of this codename."""
    claimed, released = template
    names = cast_names(seed)
    now = int(time.time())
    pid_max = 32768
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
    except (OSError, ValueError):
        pass
    out = []
    pairs = rows // 2
    for i in range(pairs):
        since = now - (pairs - i) * 600  # one terminal every ten minutes, oldest first
        pid = 300 + (i * 7919) % (pid_max - 300)
        start = 1000 + i * 60
        name = names[i % len(names)]
        for tpl, at in ((claimed, since), (released, since + 3000)):
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
            row = tpl.format(stamp=stamp, name=name, pid=pid, start=start,
                             since=since, beat=since)
            out.append(row)
    return ("\n".join(out) + "\n").encode()

def cast_names(seed: World) -> list[str]:
    try:
        themes = json.loads(seed.codename("themes", "--json").stdout)
        office = next(t for t in themes if t.get("name") == "office")
        names = [str(n) for n in office["names"]]
        if names:
            return names
    except (BenchError, ValueError, StopIteration, KeyError, AttributeError):
        pass
    return ["Michael", "Dwight", "Jim", "Pam"]

def template_of(ledger: str) -> tuple[str, str]:
    """A real claimed row and released row, their variable fields made into {slots}."""
    rows: dict[str, str] = {}
    with open(ledger, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) > 3 and parts[1] in ("claimed", "released"):
                rows.setdefault(parts[1], line.rstrip("\n"))
    if set(rows) != {"claimed", "released"}:
        raise BenchError(f"{ledger} holds no claimed and released row to copy")

    def slots(line: str) -> str:
        parts = line.replace("{", "{{").replace("}", "}}").split("\t")
        parts[0], parts[2] = "{stamp}", "{name}"
        for i, part in enumerate(parts[3:], 3):
            key, sep, _ = part.partition("=")
            if sep and key in ("pid", "start", "since", "beat"):
                parts[i] = f"{key}={{{key}}}"
            elif sep and key == "full":
                parts[i] = "full={name}"
        return "\t".join(parts)

    return slots(rows["claimed"]), slots(rows["released"])

def measure(bench: Bench) -> None:
    log("4. a claim with an empty ledger against one with 100,000 rows of history …")
    seed = World(bench, "ledger-seed")  # a real claimed row and released row to copy
    p = bench.sleeper()
    seed.timed_claim(p)
    seed.codename("release", "--pid", str(p))
    bench.kill(p)
    template = template_of(seed.ledger)
    text = history(seed, template, 100_000)
    rows_written = text.count(b"\n")
    empty = World(bench, "ledger-empty")
    # The one-off: the first claim after the history piled up in the live file compacts it.
    firsts: list[float] = []
    hist: World | None = None
    for k in range(2 if bench.args.quick else 5):
        if hist is not None:
            hist.remove()
        hist = World(bench, f"ledger-history-{k}")
        os.makedirs(os.path.dirname(hist.ledger), mode=0o700)
        with open(hist.ledger, "wb") as f:
            f.write(text)
        os.chmod(hist.ledger, 0o600)
        if k == 0:
            r = hist.codename("who", "--json")
            if json.loads(r.stdout) or r.stderr.strip():
                raise BenchError(f"the written history is not read as closed rows: "
                                 f"{r.stdout[:200]!r} {r.stderr[:300]!r}")
        p = bench.sleeper()
        firsts.append(hist.timed_claim(p))
        hist.codename("release", "--pid", str(p))
        bench.kill(p)
    assert hist is not None
    live_size = os.path.getsize(hist.ledger)
    archived = [s for s in (".1", ".2") if os.path.exists(hist.ledger + s)]
    bench.notes.append(f"(4) the history: {rows_written:,} rows ({len(text) / 1e6:.1f} MB) "
                      f"written in the ledger's format (copied from a real claimed/released "
                      f"pair); after the first claim the live ledger is {live_size} bytes and "
                      f"the history is in ledger.log{'/'.join(archived) or ' (nowhere!)'}.")
    # A live file at its bound: as many closed rows as it holds before a claim compacts.
    r = subprocess.run([bench.interp, "-c", "from codename_shell.sources.ledger import "
                        "COMPACT_AFTER; print(COMPACT_AFTER - 2)"], capture_output=True,
                       text=True, env=bench.base_env, check=True)
    at_bound = int(r.stdout)
    bound_world = World(bench, "ledger-bound")
    os.makedirs(os.path.dirname(bound_world.ledger), mode=0o700)
    bound = history(seed, template, at_bound)
    worlds = {"empty": empty, "history": hist, "bound": bound_world}
    for w in worlds.values():
        p = bench.sleeper()
        w.timed_claim(p)
        w.codename("release", "--pid", str(p))
        bench.kill(p)
    samples: dict[str, list[float]] = {k: [] for k in worlds}
    keys = list(worlds)
    for i in range(bench.pairs):
        for key in (keys if i % 2 == 0 else keys[::-1]):
            w = worlds[key]
            if key == "empty":  # untimed: back to no ledger at all
                for path in (w.ledger, w.ledger + ".1"):
                    if os.path.exists(path):
                        os.unlink(path)
            elif key == "bound":
                with open(w.ledger, "wb") as f:
                    f.write(bound)
            p = bench.sleeper()
            samples[key].append(w.timed_claim(p))
            w.codename("release", "--pid", str(p))
            bench.kill(p)
    base = median(samples["empty"])
    first = median(firsts)
    steady = median(samples["history"])
    bench.rows.append(compare("4", "`codename claim`, 100,000 rows of history (steady "
                                  "state, after it was compacted) against an empty ledger",
                             "empty", base, "100k history", steady, bench.pairs,
                             limit=TARGET_LEDGER))
    bench.rows.append(compare("4a", "the one-off first claim over 100,000 rows not yet "
                                   "compacted (it compacts them) against an empty ledger",
                             "empty", base, "first claim", first, len(firsts),
                             delta=f"{first - base:+.0f} ms, once"))
    bench.rows.append(compare("4b", f"the live ledger at its bound ({at_bound} closed rows, "
                                    "the most it holds before a claim compacts) against empty",
                             "empty", base, f"{at_bound} rows", median(samples["bound"]),
                             bench.pairs))

# - 5: concurrency --------------------------------------------------------------------------
