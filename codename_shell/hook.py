"""`codename init SHELL`: the one Python process a shell start pays for.

It claims a name for the shell that evaluates its output (its parent) and prints the hook
with the values filled in. It imports only what that needs (no argparse, json, tomllib or
platformdirs in the common case), and it never makes a shell fail to start: on any problem
it prints one line on stderr and no code.
"""

from __future__ import annotations

import os
import sys

from codename_shell import liveness, shells
from codename_shell.errors import CodenameError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.config import Settings

USAGE = "usage: codename init bash|zsh|fish"


def main(args: list[str]) -> int:
    if len(args) != 1 or args[0] not in shells.SHELLS:
        print(USAGE, file=sys.stderr)
        return 2
    shell = args[0]
    try:
        code = hook_code(shell)
    except CodenameError as e:
        print(f"codename: {e}; this shell has no name", file=sys.stderr)
        return 0
    except Exception as e:  # the shell must start whatever went wrong
        log = _log_exception()
        print(f"codename: internal error ({type(e).__name__}: {e}); details in {log}",
              file=sys.stderr)
        return 0
    if code:
        sys.stdout.write(code)
    return 0


def interactive_terminal() -> bool:
    """Whether a name is wanted: a person at a real terminal, not a tool reading the env."""
    if os.environ.get("TERM", "") == "dumb" or "VSCODE_RESOLVING_ENVIRONMENT" in os.environ:
        return False
    return os.isatty(0)


def shell_pid(shell: str) -> int:
    """The shell evaluating our output: normally our parent; a wrapper in between is skipped."""
    pid = os.getppid()
    candidate = pid
    for _ in range(3):
        comm = _comm(candidate)
        if comm is None:
            break
        if comm.lstrip("-").startswith(shell):
            return candidate
        info = liveness.proc_info(candidate)
        if info is None:
            break
        candidate = info.ppid
    return pid


def _comm(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _runs_a_command(pid: int) -> bool:
    """`bash -c …`, `fish -c …`: a shell that will run one command and leave."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")[1:]
    except OSError:
        return False
    for arg in argv:
        if arg in (b"-c", b"--command") or (arg.startswith(b"-") and not arg.startswith(b"--")
                                              and b"c" in arg):
            return True
        if not arg.startswith(b"-"):
            return False
    return False


def inherited(pid: int) -> tuple[str, str, str] | None:
    """The name this shell keeps from its environment, if any.

    A nested shell (bash inside bash, `poetry shell`, `nix-shell`) runs on the same terminal
    as the holder of the $CODENAME it inherited: it keeps that name and gives nothing back on
    exit. A new terminal (a tmux pane, a VS Code terminal, a window started from a named
    shell) inherits the variable too but runs on another terminal: it claims its own.
    """
    name, ident = os.environ.get("CODENAME"), os.environ.get("CODENAME_ID", "")
    holder_pid, _, start = ident.partition("-")
    if not name or not holder_pid.isdigit() or not start.isdigit():
        return None
    if int(holder_pid) == pid:
        return None  # we are the holder (`exec bash`, a re-sourced rc): claim returns our name
    try:
        holder, me = liveness.proc_info(int(holder_pid)), liveness.proc_info(pid)
    except PermissionError:
        return None
    if holder is None or me is None or holder.zombie or holder.start != int(start):
        return None
    if not me.tty_nr or holder.tty_nr != me.tty_nr:
        return None
    return name, os.environ.get("CODENAME_FULL") or name, ident


def hook_code(shell: str) -> str:
    if not interactive_terminal():
        return ""
    pid = shell_pid(shell)
    if _runs_a_command(pid):
        return ""
    from codename_shell import config

    settings = config.load()
    problems = settings.warnings
    try:
        kept = inherited(pid)
        if kept is not None:
            name, full, ident = kept
            return _render(shell, settings, name, full, ident, presence="", owner=False)
        from codename_shell.allocator import Allocator

        allocator = Allocator(settings)
        holder = allocator.claim(pid, kind="terminal")
        problems = problems + [p for s in allocator.sources if s.label.startswith("roster:")
                               for p in s.problems]
        ident = f"{holder.pid}-{holder.start if holder.start is not None else 'x'}"
        return _render(shell, settings, holder.name, holder.full, ident,
                       presence=allocator.presence.path_for(holder), owner=True)
    finally:
        _warn(problems)


def _render(shell: str, settings: Settings, name: str, full: str, ident: str, *,
            presence: str, owner: bool) -> str:
    return shells.render(shell, {
        "NAME": name,
        "FULL": full,
        "ID": ident,
        "PRESENCE": presence,
        "OWNER": "1" if owner else "0",
        "BIN": launcher(),
        "THEMES": " ".join(sorted(settings.casts)),
        "PROMPT": "1" if settings.prompt else "0",
        "TITLE": "1" if settings.title else "0",
    })


def launcher() -> list[str]:
    """How the hook calls codename back: an absolute path, never a PATH or shim lookup."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.isabs(argv0) and os.path.basename(argv0).startswith("codename") \
            and os.access(argv0, os.X_OK):
        return [argv0]
    return [sys.executable, "-m", "codename_shell"]


def _warn(messages: list[str]) -> None:
    # At most one line reaches a starting shell; `codename doctor` lists the rest.
    if messages:
        more = f" (and {len(messages) - 1} more: run `codename doctor`)" if len(messages) > 1 else ""
        print(f"codename: {messages[0]}{more}", file=sys.stderr)


def _log_exception() -> str:
    import traceback

    from codename_shell import paths

    path = os.path.join(paths.state_dir(), "errors.log")
    try:
        paths.ensure_private_dir(paths.state_dir())
        with open(path, "a", encoding="utf-8") as f:
            f.write(traceback.format_exc())
    except (OSError, CodenameError):
        return "(the state dir is not writable)"
    return path
