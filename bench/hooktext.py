"""What reading the hook's text costs each shell, and what a smaller one would save.

`eval "$(codename init bash)"` is a Python process and then bash reading the ~20 KB it
printed: every function of the hook is parsed at every shell start, whether that session ever
calls it. This family measures that second half on copies of the hook, leaving shell/ alone:

- `as printed`: the definitions as `codename init SHELL` prints them off a terminal (the whole
  hook, naming no one), without the closing block that installs the hook;
- `no comments`: the same with every comment line and blank line taken out;
- `lazy`: that, with each function a start, three prompt draws and the exit never called
  replaced by a one-line stub that would load it from a file on first use (the set found by
  tracing a real session: bash's DEBUG trap with functrace, zsh's DEBUG trap, fish --profile).

Each copy is evaluated 40 times in a row by a non-interactive shell (`eval "$text"`; fish:
`source FILE`), timed by the shell (bash and zsh `$EPOCHREALTIME`, fish `time`); µs per
evaluation, median over rounds in which the copies take turns. A copy that does not define
the same functions as the hook is a failure of the benchmark, not a figure.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

from bench.common import Bench, BenchError, World, log, median

FAMILY = "hooktext"
WHAT = "the hook's size and what its text costs each shell to read: as printed, stripped, lazy"
SHELLS = ("bash", "zsh", "fish")
EVALS = 40

_START = {"bash": re.compile(r"^([A-Za-z_][\w-]*)\(\) \{"),
          "zsh": re.compile(r"^([A-Za-z_][\w-]*)\(\) \{"),
          "fish": re.compile(r"^function ([^\s;]+)")}
_END = {"bash": "}", "zsh": "}", "fish": "end"}

# Evaluate FILE N times; print µs per evaluation.
TIMER = {
    "bash": 'text=$(<"$1")\ns=$EPOCHREALTIME\nfor ((i = 0; i < $2; i++)); do eval "$text"; done\n'
            'e=$EPOCHREALTIME\necho "$s $e"\n',
    "zsh": 'zmodload zsh/datetime\ntext=$(<"$1")\ns=$EPOCHREALTIME\n'
           'for ((i = 0; i < $2; i++)); do eval "$text"; done\ne=$EPOCHREALTIME\necho "$s $e"\n',
    "fish": 'set -l n $argv[2]\ntime begin\n    while test $n -gt 0\n        source $argv[1]\n'
            '        set n (math $n - 1)\n    end\nend\n',
}
_FISH_TIME = re.compile(r"Executed in\s+([\d.]+) (micros|millis|secs|mins)")
_UNIT_US = {"micros": 1.0, "millis": 1e3, "secs": 1e6, "mins": 6e7}


class Hook:
    """The hook's text cut into its top-level pieces: code, and function definitions."""

    def __init__(self, shell: str, text: str) -> None:
        self.shell = shell
        self.text = text
        lines = text.splitlines(keepends=True)
        # The closing block that installs the hook starts at the last top-level `if`.
        last_if = max((i for i, line in enumerate(lines) if line.startswith("if ")), default=-1)
        if last_if < 0:
            raise BenchError(f"the {shell} hook has no closing `if` block: cannot cut it")
        self.pieces: list[tuple[str | None, str]] = []  # (function name or None, text)
        i = 0
        while i < last_if:
            m = _START[shell].match(lines[i])
            if m is None:
                self.pieces.append((None, lines[i]))
                i += 1
                continue
            j = i
            one_line = shell != "fish" and lines[i].rstrip().endswith("}")
            while not one_line and j < last_if and lines[j].rstrip() != _END[shell]:
                j += 1
            self.pieces.append((m.group(1), "".join(lines[i:j + 1])))
            i = j + 1
        self.functions = [name for name, _ in self.pieces if name]

    def definitions(self, *, comments: bool = True, keep: set[str] | None = None) -> str:
        """The text before the install block; without comment lines; with the functions not
        in `keep` as stubs."""
        out = []
        for name, text in self.pieces:
            if name is not None and keep is not None and name not in keep:
                text = stub(self.shell, name)
            if not comments:
                text = "".join(line for line in text.splitlines(keepends=True)
                               if line.strip() and not line.lstrip().startswith("#"))
            out.append(text)
        return "".join(out)


def stub(shell: str, name: str) -> str:
    """A function that loads the real one from the rest of the hook on its first call."""
    if shell == "fish":
        return f"function {name}; __codename_load; {name} $argv; end\n"
    return f'{name}() {{ __codename_load; {name} "$@"; }}\n'


def measure(bench: Bench) -> None:
    for shell in SHELLS:
        if shutil.which(shell) is None:
            continue
        log(f"hook: what reading the {shell} hook's text costs …")
        world = World(bench, f"hooktext-{shell}")
        text = world.codename("init", shell).stdout  # off a terminal: the whole hook
        hook = Hook(shell, text)
        used = traced(bench, world, shell, hook)
        copies = {
            "as printed": hook.definitions(),
            "no comments": hook.definitions(comments=False),
            "lazy": hook.definitions(comments=False, keep=used),
        }
        paths = {}
        for key, body in copies.items():
            paths[key] = os.path.join(world.root, f"hook-{key.replace(' ', '-')}.{shell}")
            with open(paths[key], "w") as f:
                f.write(body)
        same_functions(bench, shell, paths, hook)
        us = time_copies(bench, shell, paths)
        lazy = sorted(set(hook.functions) - used)
        bench.tables.append((
            f"(H {shell}) the {shell} hook: {len(text.encode())} bytes as printed, "
            f"{len(hook.functions)} functions; reading its definitions (µs an evaluation, "
            f"median of {len(us['as printed'])} rounds of {EVALS})",
            ["copy", "bytes", "µs", "saves"],
            [[key, str(len(body.encode())), f"{median(us[key]):.0f}",
              f"{median(us['as printed']) - median(us[key]):+.0f} µs" if key != "as printed"
              else "—"] for key, body in copies.items()]))
        bench.notes.append(f"(H {shell}) functions a start, three draws and the exit never "
                           f"called (stubs in the lazy copy): {', '.join(lazy) or 'none'}.")
        world.remove()


def traced(bench: Bench, world: World, shell: str, hook: Hook) -> set[str]:
    """The hook's functions a real session calls: a start, three prompt draws, `exit`."""
    trace = os.path.join(world.root, f"trace-{shell}")
    d = os.path.join(world.root, f"rc-trace-{shell}")
    os.makedirs(d, exist_ok=True)
    env = dict(world.env)
    cn = shlex.quote(bench.codename)
    if shell == "bash":
        rc = os.path.join(d, "bashrc")
        text = (f"PS1='BENCH-PROMPT> '\nset -T\ntrap 'printf \"%s\\n\" \"${{FUNCNAME[0]-}}\" "
                f">>{shlex.quote(trace)}' DEBUG\neval \"$({cn} init bash)\"\n")
        argv = [bench.bash, "--noprofile", "--rcfile", rc, "-i"]
    elif shell == "zsh":
        rc = os.path.join(d, ".zshrc")
        text = (f"PROMPT='BENCH-PROMPT> '\ntrap 'print -r -- \"${{funcstack[1]-}}\" "
                f">>{shlex.quote(trace)}' DEBUG\neval \"$({cn} init zsh)\"\n")
        env["ZDOTDIR"] = d
        argv = [shutil.which("zsh") or "zsh", "--no-globalrcs", "-i"]
    else:
        from bench.common import fish_config_home

        rc = fish_config_home(world, d, env)
        text = (f"set -g fish_greeting ''\nfunction fish_prompt; echo -n 'BENCH-PROMPT> '; end\n"
                f"{cn} init fish | source\n")
        argv = [shutil.which("fish") or "fish", "--profile-startup", trace + ".start",
                "--profile", trace, "-i"]
    with open(rc, "w") as f:
        f.write(text)
    bench.interactive(argv, env, world.home, ["", "", "", "exit"], timeout=60)
    if shell == "fish":  # the rc file's profile, then the session's
        called = set()
        for path in (trace + ".start", trace):
            with open(path, encoding="utf-8", errors="replace") as f:
                called |= {m.group(1) for m in re.finditer(r"^\d+\t\d+\t-*> (\S+)", f.read(),
                                                           re.M)}
    else:
        with open(trace, encoding="utf-8", errors="replace") as f:
            called = {line.strip() for line in f}
    used = called & set(hook.functions)
    if not used:
        raise BenchError(f"tracing a {shell} session found none of the hook's functions")
    return used


def same_functions(bench: Bench, shell: str, paths: dict[str, str], hook: Hook) -> None:
    """Each copy defines every function of the hook (as itself or as a stub)."""
    lister = {"bash": 'source "$1"; compgen -A function',
              "zsh": 'source "$1"; print -l ${(k)functions}',
              "fish": "source $argv[1]; functions -a -n | string split , ; true"}[shell]
    for key, path in paths.items():
        argv = _shell(shell) + (["-c", lister, "x", path] if shell != "fish"
                                else ["-c", lister, path])
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=bench.base_env)
        names = set(r.stdout.split())
        missing = set(hook.functions) - names
        if r.returncode != 0 or missing:
            raise BenchError(f"the {shell} hook's `{key}` copy does not define "
                             f"{sorted(missing)} (exit {r.returncode}: {r.stderr[-300:]!r})")


def _shell(shell: str) -> list[str]:
    path = shutil.which(shell) or shell
    return {"bash": [path, "--norc", "--noprofile"], "zsh": [path, "-f"],
            "fish": [path, "--no-config"]}[shell]


def time_copies(bench: Bench, shell: str, paths: dict[str, str]) -> dict[str, list[float]]:
    timer = os.path.join(bench.tmp, f"hooktimer.{shell}")
    with open(timer, "w") as f:
        f.write(TIMER[shell])

    def run(path: str) -> float:
        r = subprocess.run([*_shell(shell), timer, path, str(EVALS)], capture_output=True,
                           text=True, timeout=120, env=bench.base_env)
        if r.returncode != 0:
            raise BenchError(f"timing the {shell} hook's text: {r.stderr[-300:]!r}")
        if shell == "fish":
            m = _FISH_TIME.search(r.stderr)
            if m is None:
                raise BenchError(f"fish's `time` said nothing: {r.stderr[-300:]!r}")
            return float(m.group(1)) * _UNIT_US[m.group(2)] / EVALS
        s, e = (float(x.replace(",", ".")) for x in r.stdout.split()[-2:])
        return (e - s) * 1e6 / EVALS

    for path in paths.values():
        run(path)  # warm
    us: dict[str, list[float]] = {k: [] for k in paths}
    order = list(paths)
    for i in range(max(5, bench.pairs // 2)):
        for key in (order if i % 2 == 0 else order[::-1]):
            us[key].append(run(paths[key]))
    return us
