"""The shell-start path stays lean: `codename init` through the launcher install.sh writes
imports none of the modules that would make every new terminal pay for what only other
commands need.

This is a structural check (which modules load), not a timing one: the speed itself is
measured by the benchmark (`python -m bench`) and reported in the README.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import World
from terminals import Terminal, rc_path

# Each costs milliseconds at import, and none is needed to claim a name and print a hook.
HEAVY = {"re", "json", "tomllib", "tomli_w", "argparse", "platformdirs", "shellingham",
         "dataclasses", "typing", "enum", "signal", "subprocess", "shlex", "contextlib",
         "pathlib", "warnings"}
# `os` and what it brings: 0.87 ms of a ~9 ms start; init's modules use lean_os instead.
OS = {"os", "posixpath", "_collections_abc"}


def test_init_on_a_terminal_imports_no_heavy_module(world: World) -> None:
    rc = rc_path(world, "bash")
    rc.write_text("PS1='P> '\n")  # no hook: the test runs init itself, as the rc line would
    trace = world.root / "importtime.txt"
    out = world.root / "hook.txt"
    launcher = world.root / "codename"
    assert world.run_module("codename_shell.launcher", str(launcher)).returncode == 0
    # The parsed config and casts are cached at the first run; every later start is this one.
    assert world.run("themes").returncode == 0
    term = Terminal(world, "bash")
    try:
        # -SP as the launcher's `#!` line has it (naming the interpreter bypasses that line).
        term.run(f"{sys.executable} -SP -X importtime {launcher} init bash >{out} 2>{trace}")
        holders = json.loads(world.run("who", "--json").stdout)
    finally:
        term.close()
    imported = {line.split("|")[-1].strip() for line in trace.read_text().splitlines()
                if line.startswith("import time:") and "|" in line}
    # The run really was the hot path: it claimed a name for the shell and printed its hook.
    assert "__codename_name=" in out.read_text()
    assert [h["pid"] for h in holders] == [term.pid]
    assert "codename_shell.allocator" in imported
    assert not HEAVY & imported, sorted(HEAVY & imported)
    assert not OS & imported, sorted(OS & imported)


def test_the_launcher_runs_from_a_path_a_shebang_cannot_hold(world: World) -> None:
    # pip's wrappers go through /bin/sh for such paths; ours must too, or the command is dead.
    odd = world.root / "it's a \"dir\" $HOME `x`"
    odd.mkdir()
    python = odd / "python"
    python.symlink_to(sys.executable)
    launcher = odd / "codename"
    r = subprocess.run([str(python), "-m", "codename_shell.launcher", str(launcher)],
                       env=world.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert launcher.read_text().startswith("#!/bin/sh\n")
    r = subprocess.run([str(launcher), "--version"], env=world.env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("codename ")


def test_the_launcher_uses_a_plain_shebang_where_it_can(world: World) -> None:
    launcher = world.root / "codename"
    assert world.run_module("codename_shell.launcher", str(launcher)).returncode == 0
    assert launcher.read_text().splitlines()[0] == f"#!{sys.executable} -SP"
    assert launcher.stat().st_mode & 0o111
    r = subprocess.run([str(launcher), "--version"], env=world.env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("codename "), r.stderr


def imported(verbose: str) -> set[str]:
    """The modules a `PYTHONVERBOSE=1` run says it imported."""
    return {line.split("'")[1] for line in verbose.splitlines() if line.startswith("import '")}


def test_the_launcher_skips_site_for_init_only(world: World) -> None:
    # `site` reads every .pth file and runs sitecustomize: a shell start does without, and
    # finds codename through the directories the launcher was written with (no PYTHONPATH).
    launcher = world.root / "codename"
    assert world.run_module("codename_shell.launcher", str(launcher)).returncode == 0
    env = {k: v for k, v in world.env.items() if k != "PYTHONPATH"}
    env["PYTHONVERBOSE"] = "1"
    init = subprocess.run([str(launcher), "init", "bash"], env=env, capture_output=True,
                          text=True, timeout=60, cwd="/", stdin=subprocess.DEVNULL)
    assert init.returncode == 0 and "__codename_name=" in init.stdout, init.stderr[-2000:]
    assert "codename_shell.hook" in imported(init.stderr)
    assert not {"site", "sitecustomize", "codename_shell.cli", "codename_shell.launcher"} \
        & imported(init.stderr)
    # Every other command sees the environment pip's wrapper would give it: site and all.
    themes = subprocess.run([str(launcher), "themes"], env=env, capture_output=True,
                            text=True, timeout=60, cwd="/", stdin=subprocess.DEVNULL)
    assert themes.returncode == 0 and "office" in themes.stdout, themes.stderr[-2000:]
    assert {"site", "codename_shell.cli"} <= imported(themes.stderr)
