"""`codename doctor`'s checks of the hook: which rc files run it (and whether its launcher is
there), whether the shell doctor runs in still runs it at each prompt (its live hook, not a
variable: a later rc line may have taken it away, and which line is said), and the prompt
frameworks that should show the name themselves.
"""

from __future__ import annotations

import os
import sys

from codename_shell import paths
from codename_shell.errors import CodenameError
from codename_shell.holders import parse_ident
from codename_shell.report import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.doctor import Report


def check_hook(out: Report) -> None:
    """Which shells' rc files run `codename init`; a hook whose launcher is gone fails."""
    from codename_shell import rcfile, shells

    where: list[str] = []
    for shell in shells.SHELLS:
        for path in rcfile.rc_files(shell):
            found, launchers = rcfile.hook_in(path, shell)
            if not found:
                continue
            where.append(f"{shell} ({_tilde(path)})")
            for launcher in launchers:
                if not os.access(launcher, os.X_OK):
                    out.bad("hook", f"{_tilde(path)} runs {launcher}, which is not there: "
                            "shells start without a name",
                            "run install.sh again (or `install.sh --uninstall` to take the "
                            "hook out)")
    if where:
        out.ok("hook", ", ".join(where))
    else:
        out.note("hook", "no rc file runs `codename init`, so new terminals get no name: run "
                 "./install.sh, or add the line the README gives for your shell")


def check_this_shell(out: Report) -> None:
    """Whether the shell doctor is typed in holds a name ($CODENAME_ID names its presence
    file) and whether its prompt still runs the hook, which only the shell can see: its
    `codename` function says so in CODENAME_HOOK_STATE (see `_hook_state`)."""
    state = _hook_state()
    if state is not None and not state[2]:
        _hook_lost(out, state[0], state[1])
        return
    ident = os.environ.get("CODENAME_ID", "")
    if ident:
        parsed = parse_ident(ident)
        if parsed is None:
            out.note("this shell", f"CODENAME_ID={printable(ident)!r} is not an id codename "
                     "gives")
            return
        pid = parsed[0]
        name = _presence_name(ident)
        if state is None:
            # Typed by path, `command codename`, or run by a script: $CODENAME_ID says the
            # hook ran once, not that the prompt still runs it.
            held = f"holds {name}" if name else "holds no name now"
            out.note("this shell", f"{held} (pid {pid}, says $CODENAME_ID); whether its "
                     "prompt still follows the name only the shell can tell: type `codename "
                     "doctor` at its prompt")
        elif name:
            out.ok("this shell", f"hooked: {name} (held by pid {pid})")
        else:
            out.note("this shell", f"hooked, but holds no name now (pid {pid} gave it back); "
                     "a new terminal gets one")
        return
    shell = _parent_shell()
    if shell is None:
        return  # run by a script or a program, not typed in a shell
    from codename_shell import rcfile

    kind, parent = shell
    hooked = any(rcfile.hook_in(path, kind)[0] for path in rcfile.rc_files(kind))
    why = ("it started before the hook was installed, or did not read its rc file: open a "
           "new terminal" if hooked else f"no rc file of {kind} runs the hook: run ./install.sh")
    out.note("this shell", f"{kind} (pid {parent}) is not hooked: {why}")


def _hook_state() -> tuple[str, tuple[int, ...], bool] | None:
    """(shell, version, whether its next prompt runs the hook), as the `codename` function of
    the shell doctor was typed in puts it: `bash 5.2 live`; None when not told."""
    from codename_shell import shells

    words = os.environ.get("CODENAME_HOOK_STATE", "").split()
    if len(words) != 3 or words[0] not in shells.SHELLS or words[2] not in ("live", "gone"):
        return None
    version = tuple(int(part) for part in words[1].split(".")[:2] if part.isdigit())
    return words[0], version, words[2] == "live"


# Lines that take a prompt hook away when they run after codename's. bash 5.1 and later
# keep it through a plain `PROMPT_COMMAND=...` (it lives above element [0]: see
# shell/codename.bash, __codename_hook_prompt), not through `unset` or a new array.
_TAKE_AWAY = {
    "bash": r"\bunset\b.*\b(PROMPT_COMMAND|precmd_functions)\b"
            r"|\b(PROMPT_COMMAND|precmd_functions)=\(",
    "zsh": r"\bunset\b.*\bprecmd_functions\b|(^|[^+\w])precmd_functions=|add-zsh-hook +-d +precmd",
    "fish": r"functions +(-e|--erase)\b.*__codename",
}
_TAKE_AWAY_OLD_BASH = r"|(^|[^+\w])PROMPT_COMMAND="  # before 5.1, any assignment
_HOOK_VARIABLE = {"bash": "PROMPT_COMMAND", "zsh": "precmd_functions",
                  "fish": "the fish_prompt event"}


def _hook_lost(out: Report, shell: str, version: tuple[int, ...]) -> None:
    """The shell doctor is typed in no longer runs the hook at its prompt: a line of its rc
    file after codename's took it away. Name the line when one is there to see."""
    import re

    from codename_shell import rcfile

    pattern = _TAKE_AWAY[shell]
    if shell == "bash" and version < (5, 1):
        pattern += _TAKE_AWAY_OLD_BASH
    hooked = [path for path in rcfile.rc_files(shell) if rcfile.hook_in(path, shell)[0]]
    found = [f"{_tilde(path)}:{number} `{line.strip()[:80]}`" for path in hooked
             for number, line in rcfile.after_hook(path, shell) if re.search(pattern, line)]
    variable = _HOOK_VARIABLE[shell]
    if found:
        why = f"{', '.join(found)} runs after codename's line and took it out of {variable}"
    else:
        why = (f"{variable} was replaced after codename's line had run (by a later line of "
               "the rc file, or a file it sources)")
    back = " (put back in this terminal now)" if shell != "fish" else ""
    rc = _tilde(hooked[0]) if hooked else "your rc file"
    out.bad("this shell", f"{shell} (pid {os.getppid()}) lost its prompt hook: {why}, so a "
            "rename or release made elsewhere never reaches its prompt, title or $CODENAME"
            f"{back}",
            f"keep codename's line last in {rc} (below anything that sets {variable}); until "
            "then every new terminal loses the hook the same way")


def _presence_name(ident: str) -> str:
    from codename_shell import fileio

    try:
        data = fileio.read_regular(os.path.join(paths.runtime_dir(), ident), 1 << 16,
                                   nofollow=True)
    except (OSError, CodenameError):
        return ""
    return data.decode("utf-8", "replace").split("\n", 1)[0].split("\t", 1)[0].strip()


def _parent_shell() -> tuple[str, int] | None:
    """(bash|zsh|fish, pid) when doctor was typed at an interactive shell's prompt."""
    from codename_shell import shells

    if not (sys.stdin is not None and sys.stdin.isatty()):
        return None
    pid = os.getppid()
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            comm = f.read().strip().lstrip("-")
    except OSError:
        return None
    return (comm, pid) if comm in shells.SHELLS else None


def check_prompt_frameworks(out: Report) -> None:
    """starship, powerlevel10k or tide drawing the prompt: how to show the name natively."""
    from codename_shell import rcfile, shells

    home = os.path.expanduser("~")
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    snippet = "the README's snippet (Prompt frameworks)"
    rcs = [p for shell in shells.SHELLS for p in rcfile.rc_files(shell)]
    if any("starship init" in _code(p) for p in rcs):
        toml = os.environ.get("STARSHIP_CONFIG") or os.path.join(config, "starship.toml")
        if "env_var.CODENAME" in _code(toml):
            out.ok("starship", f"{_tilde(toml)} shows $CODENAME as a module")
        else:
            out.note("starship", "draws your prompt, and codename puts [Name] in front of its "
                     f"last line; for a starship module instead, add {snippet} "
                     f"`[env_var.CODENAME]` to {_tilde(toml)}")
    p10k = os.path.join(os.environ.get("ZDOTDIR") or home, ".p10k.zsh")
    if os.path.isfile(p10k):
        if "codename" in _code(p10k):
            out.ok("powerlevel10k", f"{_tilde(p10k)} places the codename segment")
        else:
            out.note("powerlevel10k", "the zsh hook adds a `codename` segment first on the "
                     "left; to place it yourself, put `codename` in "
                     f"POWERLEVEL9K_LEFT_PROMPT_ELEMENTS in {_tilde(p10k)} ({snippet})")
    functions = os.path.join(config, "fish", "functions")
    try:
        tide = [f for f in os.listdir(functions) if f.startswith("_tide_")]
    except OSError:
        tide = []
    if tide:
        if "_tide_item_codename.fish" in tide:
            out.ok("tide", "the codename item is defined (_tide_item_codename)")
        else:
            out.note("tide", f"draws your fish prompt; for a codename item, run {snippet} "
                     "once (it defines _tide_item_codename)")


def _code(path: str) -> str:
    """A small text file's lines that are not comments ('' when absent or unreadable)."""
    from codename_shell import fileio

    try:
        text = fileio.read_regular(path, 1 << 20).decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("#"))


def _tilde(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if home != "/" and path.startswith(home + "/") else path
