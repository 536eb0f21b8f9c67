"""What a prompt draw costs with the hook: 200 draws (Enter on an empty line, then wait for the
next prompt) in interactive bash, zsh and fish on a pty, with the hook against without.

What a user experiences is Enter to the next prompt with the rc file their system gave them,
so the rows with a target use the distribution's defaults as they are on this machine:
bash with /etc/skel/.bashrc (Debian's: a coloured `\\u@\\h:\\w` prompt with the title in PS1,
bash-completion), zsh with its global rc files and /etc/zsh/newuser.zshrc.recommended (what
zsh-newuser-install offers: `prompt adam1`, compinit), fish with its own default prompt and
title. The only addition is a marker at the end of the prompt, the same on both sides, for
the benchmark to see the prompt is drawn. The info rows repeat it with a bare marker prompt:
there a draw costs tens of microseconds, so the same added microseconds show as a bigger
ratio. Each draw is one round trip through the pty (the benchmark reads it as a terminal
would), timed from the first prompt on: the shell's start is not in it.
"""

from __future__ import annotations

import os
import select
import shlex
import shutil
import time

from bench.common import (
    Bench,
    BenchError,
    Row,
    World,
    compare,
    fish_config_home,
    log,
    median,
    open_pty,
    popen_on_pty,
    wait4,
)

FAMILY = "prompts"
WHAT = "prompt draws with the hook against without (distribution rc files, bare prompt)"
TARGET_DRAWS = 1.1  # issue 12
MARK = "BENCH-DRAWN>"
BASH_SKEL = "/etc/skel/.bashrc"
ZSH_NEWUSER = "/etc/zsh/newuser.zshrc.recommended"
FISH_DEFAULT = "$__fish_data_dir/functions/fish_prompt.fish"


def hook_line(shell: str, argv: list[str]) -> str:
    """The rc line that evaluates what ARGV prints, as each tool's documentation writes it."""
    cmd = " ".join(shlex.quote(a) for a in argv)
    return f"{cmd} | source\n" if shell == "fish" else f'eval "$({cmd})"\n'


def rc_files(bench: Bench, shell: str, world: World, hook: bool | str, typical: bool, *,
             tag: str = "", marked: bool = True) -> tuple[list[str], dict[str, str]] | None:
    """argv and env for `shell` with its rc file; None when the distribution file is missing.

    `hook`: True for codename's own line, a string for another rc line (`hook_line`), False
    for none. `marked`: the rc file puts the marker at the end of the prompt (a tool that
    draws the whole prompt itself, starship, puts it there from its own config instead).
    """
    if hook is True:
        hook = hook_line(shell, [bench.codename, "init", shell])
    line = hook or ""
    d = os.path.join(world.root, f"rc-{shell}-{'typical' if typical else 'bare'}-"
                                 f"{tag or int(bool(hook))}")
    os.makedirs(d, exist_ok=True)
    env = dict(world.env)
    if shell == "bash":
        if typical and not os.path.exists(BASH_SKEL):
            return None
        text = open(BASH_SKEL).read() if typical else ""  # noqa: SIM115 (read at once)
        if marked:
            text += f"\nPS1+='{MARK} '\n" if typical else f"PS1='{MARK} '\n"
        text += line
        rc = os.path.join(d, "bashrc")
        argv = [shutil.which("bash") or "bash", "--noprofile", "--rcfile", rc, "-i"]
    elif shell == "zsh":
        if typical and not os.path.exists(ZSH_NEWUSER):
            return None
        text = open(ZSH_NEWUSER).read() if typical else ""  # noqa: SIM115 (read at once)
        if marked:
            # adam1 builds its prompt anew in a precmd function: the marker goes in after it.
            text += (f"\n__bench_mark() {{ PROMPT+='{MARK} ' }}\n"
                     "precmd_functions+=(__bench_mark)\n" if typical else f"PROMPT='{MARK} '\n")
        elif typical:
            text += "\nprompt off\n"  # a theme's precmd would draw over the tool's prompt
        text += line
        rc = os.path.join(d, ".zshrc")
        env["ZDOTDIR"] = d
        argv = [shutil.which("zsh") or "zsh", "-i"] + ([] if typical else ["--no-globalrcs"])
    else:
        rc = fish_config_home(world, d, env)
        text = "set -g fish_greeting ''\n"
        if typical and marked:  # fish's own prompt, the marker after it
            text += (f"source {FISH_DEFAULT}\nfunctions -c fish_prompt __bench_prompt\n"
                     f"function fish_prompt; __bench_prompt; echo -n '{MARK} '; end\n")
        elif marked:
            text += f"function fish_prompt; echo -n '{MARK} '; end\n"
        text += line
        argv = [shutil.which("fish") or "fish", "-i"]
    with open(rc, "w") as f:
        f.write(text)
    return argv, env


def draws(argv: list[str], env: dict[str, str], cwd: str, count: int,
          timeout: float = 60.0) -> float:
    """Microseconds a draw, over `count` draws: Enter on an empty line, then the next prompt."""
    master, slave = open_pty()
    p = popen_on_pty(argv, env, cwd, slave, None, None)
    os.close(slave)
    out = bytearray()
    marker = MARK.encode()
    seen = searched = 0
    deadline = time.monotonic() + timeout

    def wait_prompt(n: int) -> None:
        nonlocal seen, searched
        while seen < n:
            found = out.find(marker, searched)
            if found >= 0:
                seen += 1
                searched = found + len(marker)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"{argv[0]} drew no prompt: {bytes(out[-400:])!r}")
            if select.select([master], [], [], left)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise BenchError(f"{argv[0]} left early: {bytes(out[-400:])!r}")
                out.extend(chunk)

    try:
        wait_prompt(1)
        t0 = time.perf_counter()
        for i in range(count):
            os.write(master, b"\n")
            wait_prompt(i + 2)
        us = (time.perf_counter() - t0) / count * 1e6
        os.write(master, b"exit\n")
        wait4(p.pid, timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return us


def measure(bench: Bench) -> None:
    count = 40 if bench.args.quick else 200
    pairs = max(3, bench.pairs // 3)
    for shell in ("bash", "zsh", "fish"):
        if shutil.which(shell) is None:
            bench.rows.append(Row(f"8 {shell}", f"prompt draws in {shell}: not installed",
                                  "—", "—"))
            continue
        world = World(bench, f"draws-{shell}")
        for typical in (True, False):
            plain = rc_files(bench, shell, world, False, typical)
            hooked = rc_files(bench, shell, world, True, typical)
            key = f"8 {shell}" + ("" if typical else " bare")
            if plain is None or hooked is None:
                bench.rows.append(Row(key, f"prompt draws in {shell} with the distribution's "
                                           "rc file: skipped, not on this machine", "—", "—"))
                continue
            kind = "distribution rc" if typical else "bare prompt"
            log(f"prompts: {count} draws in {shell} ({kind}), with the hook against without …")
            for argv, env in (plain, hooked, plain, hooked):  # warm (fish writes files)
                draws(argv, env, world.home, 5)
            a: list[float] = []
            b: list[float] = []
            for i in range(pairs):
                order = [(plain, a), (hooked, b)]
                for (argv, env), into in (order if i % 2 == 0 else order[::-1]):
                    into.append(draws(argv, env, world.home, count))
            what = (f"a prompt draw in interactive {shell} on a pty (Enter, wait for the "
                    "prompt; a draw's median over " + f"{count}), " +
                    ("the distribution's rc file" if typical else "a bare marker prompt") +
                    ": with the hook against without")
            bench.rows.append(compare(key, what, "no hook", median(a), "hook", median(b),
                                      pairs, limit=TARGET_DRAWS if typical else None,
                                      unit="µs", delta=f"{median(b) - median(a):+.0f} µs"))
        world.remove()
