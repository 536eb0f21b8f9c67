"""The fleet's figures, with a real redis-server on a free port of 127.0.0.1.

(9) `codename init bash` with a `[fleet]` in config.toml, against the bare interpreter and
against init without a fleet (same launcher, same alternation as the init family): a claim
with a fleet makes one round trip to Redis (the median of 200 PINGs over codename's own
connection, measured first, is shown beside it); issue 20 sets its target at 1.2x the bare
interpreter on a local Redis (issue 12's was 1.5x plus one round trip).
(9b) a claim among 150 fleet holders, 50 on each of 3 nodes (three separate states on this
machine, each with its own keeper), against a claim in an empty fleet.
"""

from __future__ import annotations

import os
import subprocess

from bench.common import Bench, BenchError, Row, World, compare, log, median
from bench.server import RedisServer

FAMILY = "fleet"
WHAT = "init and claims with a fleet (a real redis-server)"
TARGET_INIT = 1.2  # issue 20: init with a fleet on a local Redis against a bare start

RTT = """import sys, time, statistics
from codename_shell.fleet.store import FleetConfig, Store
store = Store(FleetConfig({"url": sys.argv[1]}), "bench", "bench")
rtts = [store.server(time.monotonic() + 1)[1] * 1000 for _ in range(200)]
store.close()
print(statistics.median(rtts))
"""


def fleet_world(bench: Bench, name: str, url: str, prefix: str) -> World:
    w = World(bench, name)
    os.makedirs(os.path.join(w.config, "codename"), exist_ok=True)
    with open(os.path.join(w.config, "codename", "config.toml"), "w") as f:
        f.write(f'[fleet]\nurl = "{url}"\nname = "{prefix}"\nlease = 60\n')
    return w


def measure(bench: Bench) -> None:
    with RedisServer(bench, ("codename", "busy", "empty")) as url:
        if url is None:
            bench.rows.append(Row("9", "the fleet: skipped, redis-server is not installed",
                                  "—", "—"))
            return
        _init(bench, url)
        _claims(bench, url)


def _init(bench: Bench, url: str) -> None:
    log("fleet: init with a fleet against init without and the bare interpreter …")
    r = subprocess.run([bench.interp, "-c", RTT, url], capture_output=True, text=True,
                       env=bench.base_env, timeout=60)
    if r.returncode != 0:
        raise BenchError(f"measuring the round trip: {r.stderr.strip()[-300:]}")
    rtt = float(r.stdout)
    plain = World(bench, "fleet-plain")
    fleet = fleet_world(bench, "fleet-init", url, "codename")
    variants = {"bare": [bench.interp, "-c", "pass"], "init": [bench.codename, "init", "bash"],
                "fleet": [bench.codename, "init", "bash", "fleet"]}

    def run(key: str, argv: list[str]) -> float:
        world = fleet if key == "fleet" else plain
        s = bench.shell_timed(world, argv[:3])
        if key != "bare" and not s["hook_len"]:
            raise BenchError(f"{key}: init printed no hook: {s['err']!r}")
        if s["err"]:
            bench.warn(f"fleet {key}: stderr: {str(s['err']).strip()}")
        return float(s["ms"])  # type: ignore[arg-type]

    for _ in range(2):
        for key, argv in variants.items():
            run(key, argv)
    got = bench._medians(variants, max(bench.pairs, 20) * 2, run)
    ms = {k: v[0] for k, v in got.items()}
    bench.rows.append(compare(
        "9", "`codename init bash` with a fleet (one round trip to a local redis-server) "
             "against `python -c pass`", "python -c pass", ms["bare"], "fleet init",
        ms["fleet"], got["fleet"][1], limit=TARGET_INIT,
        delta=f"{ms['fleet'] - ms['bare']:+.1f} ms; without a fleet {ms['init']:.1f} ms "
              f"({ms['init'] / ms['bare']:.2f}x); a round trip {rtt:.2f} ms"))


def _claims(bench: Bench, url: str) -> None:
    log("fleet: a claim among 150 fleet holders on 3 nodes against an empty fleet …")
    nodes = [fleet_world(bench, f"fleet-node{i}", url, "busy") for i in range(3)]
    for w in nodes:
        for _ in range(50):
            w.codename("claim", "--pid", str(bench.sleeper()))
    busy = fleet_world(bench, "fleet-busy", url, "busy")
    empty = fleet_world(bench, "fleet-empty", url, "empty")
    listed = len(busy.live())
    if listed != 150:
        raise BenchError(f"`who` in the busy fleet lists {listed} holders, not 150")

    def claim(world: World) -> float:
        p = bench.sleeper()
        ms = world.timed_claim(p)
        world.codename("release", "--pid", str(p))
        bench.kill(p)
        return ms

    for _ in range(3):
        claim(busy)
        claim(empty)
    a: list[float] = []
    b: list[float] = []
    for i in range(bench.pairs):
        for world, into in ([(empty, a), (busy, b)] if i % 2 == 0 else [(busy, b), (empty, a)]):
            into.append(claim(world))
    bench.rows.append(compare("9b", "`codename claim --pid P` among 150 fleet holders (50 on "
                                    "each of 3 nodes) against in an empty fleet", "empty fleet",
                              median(a), "150 holders", median(b), bench.pairs))
