"""`codename init SHELL`: the one Python process a shell start pays for.

It claims a name for the shell that evaluates its output (its parent) and prints the hook
with the values filled in. It imports only what that needs (no argparse, json, tomllib or
platformdirs in the common case), and it never makes a shell fail to start: on any problem
it prints one line on stderr and no code.
"""

from __future__ import annotations

import sys

from codename_shell import lean_os as os
from codename_shell import liveness, paths, shells
from codename_shell.errors import CodenameError, printable
from codename_shell.holders import ns_token, parse_ident

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

    from codename_shell.config import Settings

USAGE = "usage: codename init bash|zsh|fish"
_LINUX = sys.platform.startswith("linux")


def main(args: list[str]) -> int:
    if len(args) != 1 or args[0] not in shells.SHELLS:
        print(USAGE, file=sys.stderr)
        return 2
    shell = args[0]
    try:
        # Before anything is read or created: see paths.home_problem.
        problem = paths.home_problem()
        if problem:
            if interactive_terminal():  # a tool reading the env wants no name and no line
                print(f"codename: {problem}; this shell has no name", file=sys.stderr)
            return 0
        code = hook_code(shell)
        if code:
            sys.stdout.write(code)
    except KeyboardInterrupt:
        return interrupted()
    except CodenameError as e:
        print(f"codename: {printable(e)}; this shell has no name", file=sys.stderr)
        return 0
    except Exception as e:  # the shell must start whatever went wrong
        from codename_shell.crashlog import log_exception

        log = log_exception()
        print(f"codename: internal error ({type(e).__name__}: {e}); details in {log}",
              file=sys.stderr)
        return 0
    return 0


def start(args: list[str]) -> NoReturn:
    """`codename init ARGS` as a starting shell runs it, and out: the interpreter's teardown
    is time the shell waits for and nobody needs (~0.5 ms), so this leaves with os._exit
    once the hook is written. Every way codename starts calls this for `init`."""
    try:
        code = main(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        code = interrupted()
    except BrokenPipeError:
        code = 0  # the reader left (`codename init bash | head`): nothing more to say
    try:
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(code)


INTERRUPTED = "codename: interrupted; this shell has no name"


def interrupted() -> int:
    """Ctrl-C during a shell start (a person tired of waiting on a busy lock): a shell with no
    name and one line, never a traceback, however often Ctrl-C is pressed from here on."""
    ignore_interrupts()
    # Whatever of the hook is still buffered must not reach the shell: it has no name.
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    except OSError:
        pass
    print(INTERRUPTED, file=sys.stderr)
    return 0


def ignore_interrupts() -> None:
    # _signal, not signal: it is loaded at interpreter start, and `signal` imports enum.
    import _signal  # type: ignore[import-not-found]  # no stub: the C half of `signal`

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)


def interactive_terminal() -> bool:
    """Whether a name is wanted: a person at a real terminal, not a tool reading the env."""
    if os.getenv("TERM") == "dumb" or os.getenv("VSCODE_RESOLVING_ENVIRONMENT") is not None:
        return False
    return os.isatty(0)


def shell_pid() -> tuple[int, str]:
    """The shell that evaluates our output (pid and command name): normally our parent.

    Two kinds of process can stand in between, and claiming for either would give the name
    to a process that is gone a moment later (a ghost, whose name the next terminal gets too):
    a launcher that ran us without `exec` (a wrapper script named codename), and a copy of the
    shell forked for `$(codename init …)` that did not `exec` us (bash forks so when an ERR
    trap is set or stderr is redirected, zsh when traps or hook functions are defined).
    """
    pid = os.getppid()
    me = _stat(pid)
    for _ in range(4):
        parent = _stat(me[1]) if me is not None else None
        if me is None or parent is None:
            break
        if me[0].startswith("codename") or _forked_copy(pid, me, me[1], parent):
            pid, me = me[1], parent
            continue
        break
    return pid, me[0] if me is not None else ""


def _forked_copy(pid: int, me: tuple[str, int, int], ppid: int,
                 parent: tuple[str, int, int]) -> bool:
    """Whether `pid` is a subshell forked from its parent shell rather than a shell of its own.

    A fork keeps the parent's command name, command line and process group. A nested
    interactive shell, even one started with the very same command line, runs with job
    control and so leads a process group of its own.
    """
    if me[0] != parent[0] or me[2] != parent[2] or me[2] == pid:
        return False
    mine = _cmdline(pid)
    return mine is not None and mine == _cmdline(ppid)


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(command name, parent pid, process group) of `pid`, or None."""
    if not _LINUX:
        return None  # without /proc, asking `ps` would cost more than the walk can save
    try:
        info = liveness.proc_info(pid)
    except PermissionError:
        return None
    return (info.comm, info.ppid, info.pgrp) if info is not None else None


def _cmdline(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return None


# Per shell, the options that take the next argument as their value.
_VALUE_OPTIONS = {
    "bash": {b"--rcfile", b"--init-file", b"-o", b"+o", b"-O", b"+O"},
    "zsh": {b"-o", b"+o"},
    "fish": {b"-C", b"--init-command", b"-d", b"--debug", b"-o", b"--debug-output",
             b"-f", b"--features", b"-p", b"--profile", b"--profile-startup"},
}


def _runs_commands(pid: int, comm: str, shell: str) -> bool:
    """`bash -c …`, `bash script.sh`, `fish -c …`: a shell that runs commands and leaves."""
    raw = _cmdline(pid)
    if raw is None:
        return False
    argv = raw.split(b"\0")
    if argv and not argv[-1]:
        argv.pop()  # the terminating NUL
    # Read the arguments as the shell that got them would (`codename init zsh` may run in bash).
    return argv_runs_commands(argv[1:], next((s for s in _VALUE_OPTIONS if comm.startswith(s)),
                                             shell))


def argv_runs_commands(argv: list[bytes], shell: str) -> bool:
    """Whether a shell started with these arguments runs a command or a script, then leaves.

    The arguments are read the way the shell reads them, so the value of an option
    (`--rcfile FILE`) is not taken for a script, nor a value that looks like `-c` for -c.
    """
    takes_value = _VALUE_OPTIONS.get(shell, set())
    interactive = False
    args = iter(argv)
    for arg in args:
        if arg in (b"--", b"-"):
            return next(args, None) is not None and not interactive  # a script follows
        if arg == b"--command" or arg.startswith(b"--command="):
            return True
        if arg.startswith(b"--"):
            interactive = interactive or arg == b"--interactive"
        elif arg[:1] in (b"-", b"+") and len(arg) > 1:
            flags = arg[1:]
            if arg[:1] == b"-" and b"c" in flags:
                return True
            if arg[:1] == b"-" and b"s" in flags:
                return False  # commands from stdin: a terminal there means a person
            interactive = interactive or (arg[:1] == b"-" and b"i" in flags)
        else:
            return not interactive  # the first operand is a script to run
        if arg in takes_value or (arg[:1] in (b"-", b"+") and not arg.startswith(b"--")
                                  and arg[:1] + arg[-1:] in takes_value):
            next(args, None)
    return False


def inherited(pid: int) -> tuple[str, str, str] | None:
    """The name this shell keeps from its environment, if any.

    A nested shell (bash inside bash, `poetry shell`, `nix-shell`) runs on the same terminal
    as the holder of the $CODENAME it inherited: it keeps that name and gives nothing back on
    exit. A new terminal (a tmux pane, a VS Code terminal, a window started from a named
    shell) inherits the variable too but runs on another terminal: it claims its own.
    """
    name, ident = os.getenv("CODENAME"), os.getenv("CODENAME_ID") or ""
    parsed = parse_ident(ident)
    if not name or parsed is None or parsed[1] is None:
        return None
    holder_pid, start, ns = parsed
    if ns and ns != ns_token(liveness.pid_namespace()):
        return None  # a holder of another pid namespace: its pid means nothing here
    if holder_pid == pid:
        return None  # we are the holder (`exec bash`, a re-sourced rc): claim returns our name
    try:
        holder, me = liveness.proc_info(holder_pid), liveness.proc_info(pid)
    except PermissionError:
        return None
    if holder is None or me is None or holder.zombie or holder.start != start:
        return None
    if not me.tty_nr or holder.tty_nr != me.tty_nr:
        return None
    return name, os.getenv("CODENAME_FULL") or name, ident


def hook_code(shell: str) -> str:
    """The hook for `shell`: with this shell's name filled in when a person's terminal runs it,
    else the same script naming no one (read, linted or cached; sourced later in a terminal,
    it asks for that terminal's name itself). A shell running commands gets nothing."""
    if not interactive_terminal():
        return _static_hook(shell)
    pid, comm = shell_pid()
    if _runs_commands(pid, comm, shell):
        return ""
    from codename_shell import config

    settings = config.load()
    kept = inherited(pid)
    if kept is not None:
        name, full, ident = kept
        # A nested shell follows its holder's presence file: the holder's name is its name.
        code = _render(shell, settings, name, full, ident, presence=_holder_presence(ident),
                       owner=False)
        _warn(settings.warnings)
        return code
    from codename_shell.allocator import Allocator

    allocator = Allocator(settings)
    # A refusal raised here is the one line the shell shows; warnings wait for success.
    holder = allocator.claim(pid, kind="terminal")
    ident = holder.ident
    presence = allocator.presence.path_for(holder)
    _make_scratch(f"{presence}.seen")  # fish too: see shell/codename.fish, __codename_unchanged
    if shell != "fish":  # fish captures output without a file
        _make_scratch(f"{presence}.exit")
    try:
        code = _render(shell, settings, holder.name, holder.full, ident, presence=presence,
                       owner=True)
    except BaseException:
        # No hook means no prompt and no exit hook to give the name back: a shell that starts
        # without a name must not hold one (`who` would list it until it exits).
        allocator.release(pid)
        raise
    _warn(settings.warnings + [p for s in allocator.sources
                               if s.label.startswith(("roster:", "fleet")) for p in s.problems])
    return code


def _static_hook(shell: str) -> str:
    """The hook with no name in it, for `codename init SHELL` run off a terminal. It claims
    nothing; config problems are left to `doctor` (this runs in scripts too, quietly)."""
    from codename_shell import config

    return _render(shell, config.load(), "", "", "", presence="", owner=False)


def _holder_presence(ident: str) -> str:
    """The presence file of the holder `ident` (see `holders.ident`), or "" if none can be named."""
    try:
        return os.path.join(paths.runtime_dir(), ident)
    except CodenameError:
        return ""  # an unsafe runtime dir: keep the inherited name, follow nothing


def _make_scratch(path: str) -> None:
    """Create one of the hook's files beside its presence file, 0600 whatever the umask. The
    hook only ever writes into them when they exist, so it never makes a file with the
    umask's mode. `<presence>.exit`: bash passes its EXIT trap through it, zsh the titles it
    puts the name in. `<presence>.seen`: its mtime says when the shell last read its presence
    file, so that a prompt reads it only when it changed since."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    except OSError:
        return  # the hook pays a fork (bash), leaves titles alone (zsh), reads at every prompt
    try:
        os.fchmod(fd, 0o600)  # one left by an older version may be 0644
    except OSError:
        pass
    os.close(fd)


def _render(shell: str, settings: Settings, name: str, full: str, ident: str, *,
            presence: str, owner: bool) -> str:
    return shells.render(shell, {
        "NAME": name,
        "FULL": full,
        "ID": ident,
        "PRESENCE": presence,
        "OWNER": "1" if owner else "0",
        "BIN": launcher(),
        "PROMPT": "1" if settings.prompt else "0",
        "TITLE": "1" if settings.title else "0",
        **_fleet_values(settings, presence),
    })


def _fleet_values(settings: Settings, presence: str) -> dict[str, str | list[str]]:
    """With a fleet: the holder's lease file, which its prompt checks at every draw, the host
    qualifier it shows when the lease may have lapsed, and how it starts a keeper that died
    (see fleet/lease.py). Without one, or naming no holder, none: a prompt checks nothing."""
    if settings.fleet is None or not presence:
        return {"LEASE": "", "QUALIFIER": "", "KEEPER": []}
    from codename_shell.fleet import directory, keeper_argv, lease, node

    return {
        "LEASE": lease.path(directory(os.path.dirname(presence)), os.path.basename(presence)),
        "QUALIFIER": node.qualify("", node.node_id(paths.state_dir())),
        "KEEPER": keeper_argv(),
    }


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
        more = ""
        if len(messages) > 1:
            more = f" (and {len(messages) - 1} more: run `codename doctor`)"
        # printable: a config key may hold an ESC
        print(f"codename: {printable(messages[0])}{more}", file=sys.stderr)
