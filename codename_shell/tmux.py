"""Which tmux pane a holder runs in, and switching a tmux client to it (`where`, `attach`).

A pane is found by its terminal: a holder's controlling tty (recorded at its claim, and the
same device /proc shows) is the pty of exactly one pane, `#{pane_tty}`. Which tmux server to
ask comes from the holder's own environment ($TMUX in /proc/<pid>/environ, readable for the
user's own processes: the socket its pane belongs to), then the caller's $TMUX, then the
default socket. Nothing here runs at a shell start or a prompt: only these two commands start
tmux, and a tmux that is missing, hangs or answers oddly means "no pane known", never an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from codename_shell.errors import CodenameError, printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.holders import Holder

TIMEOUT = 5.0  # seconds one tmux command may take
ENVIRON_MAX = 1 << 20  # bytes of /proc/<pid>/environ read at most
# A pane's tty, id and place (`work:1.0`); the place last, since a session name may hold a tab.
_FORMAT = "#{pane_tty}\t#{pane_id}\t#{session_name}:#{window_index}.#{pane_index}"


class Pane:
    """A tmux pane: its id (`%3`), where it is (`work:1.0`) and its server's socket."""

    __slots__ = ("id", "socket", "target")

    def __init__(self, pane_id: str, target: str, socket: str) -> None:
        self.id = pane_id
        self.target = target
        self.socket = socket

    def to_dict(self) -> dict[str, str]:
        return {"pane": self.id, "target": self.target, "socket": self.socket}


def socket_of(tmux_env: str | None) -> str:
    """The server socket named by a $TMUX value (`/tmp/tmux-0/default,1234,0`), or ""."""
    if not tmux_env:
        return ""
    path = tmux_env.split(",", 1)[0]
    return path if path.startswith("/") else ""


def environ_of(pid: int) -> dict[str, str]:
    """The environment `pid` started with (/proc/<pid>/environ), or {} when unreadable."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read(ENVIRON_MAX)
    except OSError:
        return {}
    found = {}
    for entry in raw.split(b"\0"):
        key, eq, value = entry.partition(b"=")
        if eq and key in (b"TMUX", b"TMUX_PANE"):
            found[key.decode()] = value.decode("utf-8", "replace")
    return found


def pane_of(holder: Holder, sockets: list[str] | None = None) -> Pane | None:
    """The pane `holder` (a process of this host) runs in; None when it runs in none that
    can be found. `sockets`: the servers to ask (default: see the module docstring; "" is
    the default socket). Its terminal decides; a holder with no terminal known (a job
    started from a pane, say) is placed by its environment's $TMUX_PANE, on its own server."""
    if holder.pid is None:
        return None
    env = environ_of(holder.pid)
    own = socket_of(env.get("TMUX"))
    if sockets is None:
        sockets = [s for s in (own, socket_of(os.environ.get("TMUX"))) if s] + [""]
    by_env = env.get("TMUX_PANE", "") if not holder.tty.startswith("/dev/") else ""
    for socket in dict.fromkeys(sockets):
        for line in _run(socket, "list-panes", "-a", "-F", _FORMAT).splitlines():
            tty, tab, rest = line.partition("\t")
            pane_id, tab2, target = rest.partition("\t")
            if not (tab and tab2 and pane_id.startswith("%")):
                continue
            if tty == holder.tty or (by_env and socket == own and pane_id == by_env):
                return Pane(pane_id, target, socket or _default_socket())
    return None


def switch(pane: Pane) -> None:
    """Switch the tmux client of the caller (the one on the caller's session) to `pane`,
    whatever session and window it is in; CodenameError with tmux's reason otherwise."""
    target = pane.id
    result = _call(pane.socket, "switch-client", "-t", target, ";", "select-window", "-t",
                   target, ";", "select-pane", "-t", target)
    if result is None:
        raise CodenameError("tmux could not be run")
    if result.returncode != 0:
        why = (result.stderr.strip().splitlines() or ["it failed"])[0][:200]
        raise CodenameError(f"tmux could not switch to pane {printable(target)}: "
                            f"{printable(why)}")


def _default_socket() -> str:
    """The default server's socket, as tmux itself names it (TMUX_TMPDIR, the uid)."""
    base = os.environ.get("TMUX_TMPDIR") or "/tmp"
    return os.path.join(base, f"tmux-{os.getuid()}", "default")


def _run(socket: str, *args: str) -> str:
    """tmux's output, "" when it fails or is missing."""
    result = _call(socket, *args)
    if result is None or result.returncode != 0:
        return ""
    return result.stdout


def _call(socket: str, *args: str) -> subprocess.CompletedProcess[str] | None:
    binary = shutil.which("tmux")
    if binary is None:
        return None
    argv = [binary, *(["-S", socket] if socket else []), *args]
    env = dict(os.environ)
    if not socket:
        env.pop("TMUX", None)  # the default server, not the one the caller runs in
    try:
        return subprocess.run(argv, capture_output=True, text=True, errors="replace",
                              timeout=TIMEOUT, env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
