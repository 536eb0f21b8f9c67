"""Interactive bash, zsh and fish on a pty, to their first prompt and `exit`: with the hook
against without. The rc file sets a prompt marker; the hook variant adds the hook line.
fish's first-start man-page indexing (a background Python!) is kept out by pre-creating its
`generated_completions` directory, and every variant is warmed up first.
"""

from __future__ import annotations

import re
import shutil

from bench.common import Bench, BenchError, Row, World, compare, log, median

FAMILY = "shells"
WHAT = "interactive shells from start to exit, with the hook against without"


def measure(bench: Bench) -> None:
    if bench.bare_ms is None:  # run without the init family: time the bare interpreter here
        world = World(bench, "bare")
        bench.bare_ms = median([float(bench.shell_timed(world, [bench.interp, "-c", "pass"])["ms"])  # type: ignore[arg-type]
                                for _ in range(max(bench.pairs, 10))])
    for shell in ("bash", "zsh", "fish"):
        if shutil.which(shell) is None:
            bench.rows.append(Row(f"2 {shell}", f"interactive {shell}: not installed",
                                 "—", "—"))
            continue
        log(f"2. interactive {shell} start-and-exit, with the hook against without …")
        world = World(bench, f"shell-{shell}")
        plain = bench.shell_argv(shell, world, hook=False)
        hooked = bench.shell_argv(shell, world, hook=True)
        # Warm up (fish writes its universal variables on a first start), and check the
        # hook really named the shell.
        for argv, env in (plain, hooked, plain, hooked):
            bench.interactive(argv, env, world.home, ["exit"])
        _, text = bench.interactive(hooked[0], hooked[1], world.home,
                                   ['echo "CN=[$CODENAME]"', "exit"])
        m = re.search(r"CN=\[([^\]$\"]+)\]", text)
        if m is None:
            raise BenchError(f"the {shell} hook gave the shell no $CODENAME: {text[-600:]!r}")
        bench.notes.append(f"(2) verified: interactive {shell} with the hook got "
                          f"CODENAME={m.group(1)!r}.")
        a: list[float] = []
        b: list[float] = []
        for i in range(bench.pairs):
            order = [(plain, a), (hooked, b)]
            for (argv, env), into in (order if i % 2 == 0 else order[::-1]):
                into.append(bench.interactive(argv, env, world.home, ["exit"])[0])
        added = median([y - x for x, y in zip(a, b, strict=True)])
        bench.rows.append(compare(
            f"2 {shell}", f"interactive {shell} to its first prompt and `exit`, on a pty: "
                          "rc file with the hook against without",
            "plain rc", median(a), "hook", median(b), bench.pairs,
            delta=f"{added:+.1f} ms = {added / bench.bare_ms:.2f}x (1)'s bare python"))
        world.remove()

# - 3: holders ------------------------------------------------------------------------------
