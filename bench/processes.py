"""Under strace -f: a prompt redraw starts no process, an exit no Python process.

The shells run under `strace -f -e trace=execve,fork,vfork,clone,clone3`; the typed session is
`/bin/true bench-phase-redraw`, three empty lines, `/bin/true bench-phase-exit`, `exit`. The
two marker execs split the trace into start, redraws and exit; process creations (threads
excluded) and Python execs are counted in each, with and without the hook.
"""

from __future__ import annotations

import os
import re
import shutil

from bench.common import Bench, BenchError, Row, World, log

FAMILY = "processes"
WHAT = "processes a prompt redraw or an exit starts (strace)"


def measure(bench: Bench) -> None:
    """A prompt redraw starts no process, an exit no Python process: counted by strace -f.

    The typed session is: a marker command, three empty lines (prompt redraws), a second
    marker, `exit`. The markers are `/bin/true bench-phase-…` (an external command, so
    its execve shows in the trace and splits it into start, redraws and exit).
    """
    strace = shutil.which("strace")
    if strace is None:
        bench.notes.append("(7) prompt redraw / exit: skipped, strace is not installed "
                          "(apt-get install -y strace, then rerun).")
        bench.rows.append(Row("7", "prompt redraws and exit under strace: skipped, no "
                                  "strace", "—", "—"))
        return
    log("7. processes started by prompt redraws and by exit (strace -f) …")
    true = shutil.which("true") or "/bin/true"
    redraws = 3
    typed = [f"{true} bench-phase-redraw", *[""] * redraws, f"{true} bench-phase-exit",
             "exit"]
    for shell in ("bash", "zsh", "fish"):
        if shutil.which(shell) is None:
            continue
        world = World(bench, f"strace-{shell}")
        found = {}
        for hook in (False, True):
            argv, env = bench.shell_argv(shell, world, hook)
            trace = os.path.join(world.root, f"strace-{hook}.log")
            cmd = [strace, "-f", "-qq", "-e", "trace=execve,fork,vfork,clone,clone3",
                   "-e", "signal=none", "-o", trace, "--", *argv]
            bench.interactive(cmd, env, world.home, typed, timeout=60)
            found[hook] = phases(bench, trace)
        plain, hooked = found[False], found[True]
        bench.rows.append(Row(
            f"7 {shell}", f"{shell} under strace -f: processes started by "
                          f"{redraws + 1} prompt draws",
            f"no hook {plain['redraw'][0]}", f"hook {hooked['redraw'][0]}", "—",
            f"{hooked['redraw'][0] - plain['redraw'][0]:+d} process(es)",
            "0 (no process at all)", redraws + 1,
            hooked["redraw"][0] == 0))
        bench.rows.append(Row(
            f"7 {shell}", f"{shell} under strace -f: Python processes started at exit "
                          f"(all processes at exit in brackets)",
            f"no hook {plain['exit'][1]} ({plain['exit'][0]})",
            f"hook {hooked['exit'][1]} ({hooked['exit'][0]})", "—",
            f"{hooked['exit'][1] - plain['exit'][1]:+d} python", "0 Python", 1,
            hooked["exit"][1] == 0))
        bench.notes.append(
            f"(7) {shell}: the hook's start runs {hooked['start'][1]} Python process(es) "
            f"(init) and {hooked['start'][0] - plain['start'][0]:+d} process(es) in all "
            f"over the plain rc; traces: start/redraw/exit processes "
            f"{plain['start'][0]}/{plain['redraw'][0]}/{plain['exit'][0]} without the hook, "
            f"{hooked['start'][0]}/{hooked['redraw'][0]}/{hooked['exit'][0]} with it.")
        world.remove()

def phases(bench: Bench, trace: str) -> dict[str, tuple[int, int]]:
    """(processes created, Python processes executed) per phase of an `strace -f` log.

    The phases are split at the execve of the two marker commands; the fork that starts
    the second marker is not counted as a redraw's.
    """
    interp = os.path.realpath(bench.interp)
    counts = {"start": [0, 0], "redraw": [0, 0], "exit": [0, 0]}
    phase = "start"
    with open(trace, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.search(r'\bexecve\("([^"]*)", \[(.*?)\]', line)
            if m and "bench-phase-redraw" in m.group(2):
                phase = "redraw"
                continue
            if m and "bench-phase-exit" in m.group(2):
                counts["redraw"][0] -= 1  # the marker's own fork
                phase = "exit"
                continue
            if re.search(r"\b(fork|vfork|clone3?)\(", line) and "CLONE_THREAD" not in line:
                counts[phase][0] += 1
            if m and " = -1 " not in line:
                path = m.group(1)
                if ("python" in os.path.basename(path) or path == bench.codename
                        or os.path.realpath(path) == interp):
                    counts[phase][1] += 1
    if phase != "exit":
        raise BenchError(f"{trace}: the phase markers are missing")
    return {k: (v[0], v[1]) for k, v in counts.items()}

# - importtime ------------------------------------------------------------------------------
