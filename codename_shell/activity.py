"""What each session is doing right now: the `Doing`, `Where` and `Idle` of `who`, and who "I" am.

Names exist so that a team reads "Pam is rebasing in ~/src/billing" instead of "pid 41590";
this module reads those facts from /proc. For a terminal, what runs now is its foreground job:
the process group its controlling terminal lets read input (/proc/<pid>/stat field `tpgid`),
named by that group leader's command line; at the prompt that is the shell itself. A job or a
spare is what it runs. Idle is measured as `w` measures it: a terminal device's access time
moves when the terminal is read, that is, on input.

Everything here is best effort and off the shell-start path (only `who`, `note` and `roster`
import it): a process that exits mid-read, another user's process, a vanished tty give
"unknown", never an error. What is read is another process's text (hostile input, too):
`report.printable` escapes it before any of it reaches a terminal.
"""

from __future__ import annotations

import os
import time

from codename_shell import liveness

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.holders import Holder

MAX_DEPTH = 64  # a process tree deeper than this is a loop or a pathology, not a session
_CMDLINE_MAX = 1 << 16  # bytes of a command line read; more is never shown anyway


class Activity:
    """What a holder was doing when looked at: its command, its directory, its idle time."""

    __slots__ = ("cwd", "doing", "idle")

    def __init__(self, doing: str = "", cwd: str = "", idle: float | None = None) -> None:
        #: What it runs now (a command line); "" when unknown.
        self.doing = doing
        #: Its working directory, absolute; "" when unknown.
        self.cwd = cwd
        #: Seconds since its terminal last saw input; None without a terminal or unknown.
        self.idle = idle

    def to_dict(self) -> dict[str, object]:
        idle = None if self.idle is None else int(self.idle)
        return {"doing": self.doing, "cwd": self.cwd, "idle_seconds": idle}

    @classmethod
    def from_dict(cls, data: object) -> Activity:
        """Read back `to_dict` (e.g. what another host reported to the fleet); junk is unknown."""
        if not isinstance(data, dict):
            return cls()
        doing, cwd, idle = data.get("doing"), data.get("cwd"), data.get("idle_seconds")
        seconds = None
        if isinstance(idle, int | float) and not isinstance(idle, bool) and idle >= 0:
            seconds = float(idle)
        return cls(doing if isinstance(doing, str) else "", cwd if isinstance(cwd, str) else "",
                   seconds)


def gather(holders: list[Holder], now: float | None = None) -> None:
    """Fill `activity` for each holder this host can look at.

    A holder of another host keeps whatever its source filled in (the fleet: what that host
    last reported), or None, which `who` shows as `-`.
    """
    now = time.time() if now is None else now
    for h in holders:
        if h.activity is None and _here(h):
            h.activity = observe(h, now)


def observe(holder: Holder, now: float | None = None) -> Activity | None:
    """What `holder`'s process (on this host) is doing; None once it is gone or not the same."""
    assert holder.pid is not None
    stat = _stat(holder.pid)
    if stat is None or (holder.start is not None and stat.start != holder.start):
        return None  # exited, or its pid now belongs to another process since the survey
    now = time.time() if now is None else now
    return Activity(_doing(holder, stat), _cwd(holder.pid), _idle(holder, stat, now))


def caller(holders: list[Holder], pid: int | None = None) -> Holder | None:
    """The holder nearest up the caller's process tree: itself, its parent, that one's parent…

    So a script or an agent run from a named terminal, or under `codename run` (whose job is
    the process that execs the command), acts as that name. Only holders of this host count.
    """
    mine: dict[int, list[Holder]] = {}
    for h in holders:
        if h.pid is not None and _here(h):
            mine.setdefault(h.pid, []).append(h)
    pid = os.getpid() if pid is None else pid
    for _ in range(MAX_DEPTH):
        try:
            info = liveness.proc_info(pid)
        except PermissionError:
            return None
        if info is None:
            return None
        for h in mine.get(pid, []):
            if h.start is None or h.start == info.start:
                return h
        if info.ppid <= 0 or info.ppid == pid:
            return None
        pid = info.ppid
    return None


def tilde(path: str) -> str:
    """`path` with the caller's home written `~`, as a shell prompt shows it."""
    home = os.path.expanduser("~").rstrip("/")
    if not home or not path:
        return path
    if path == home:
        return "~"
    if path.startswith(home + "/"):
        return "~" + path[len(home):]
    return path


# --- reading /proc ------------------------------------------------------------------------

class _Stat:
    __slots__ = ("comm", "pgrp", "start", "tpgid", "tty_nr")

    def __init__(self, comm: str, pgrp: int, tty_nr: int, tpgid: int, start: int) -> None:
        self.comm = comm
        self.pgrp = pgrp
        self.tty_nr = tty_nr
        self.tpgid = tpgid
        self.start = start


def _here(h: Holder) -> bool:
    return h.pid is not None and liveness.written_here(h)


def _stat(pid: int) -> _Stat | None:
    """The fields of /proc/<pid>/stat this module needs (liveness reads the others)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: it ends at the last ')'.
    end = raw.rfind(b")")
    fields = raw[end + 2:].split()
    try:
        return _Stat(raw[raw.find(b"(") + 1:end].decode("utf-8", "replace"), int(fields[2]),
                     int(fields[4]), int(fields[5]), int(fields[19]))
    except (IndexError, ValueError):
        return None


def _doing(holder: Holder, stat: _Stat) -> str:
    """A terminal's foreground command; a job's (or a spare's without a terminal) own one."""
    assert holder.pid is not None
    if holder.kind != "job" and stat.tty_nr and stat.tpgid > 0:
        if stat.tpgid == stat.pgrp:
            return stat.comm  # the shell itself, waiting at its prompt: just `bash`
        leader = _group_leader(stat.tpgid)
        if leader is not None:
            return _command(leader)
    return _command(holder.pid)


def _group_leader(pgrp: int) -> int | None:
    """The process leading group `pgrp`, or any member once the leader has exited."""
    if os.path.exists(f"/proc/{pgrp}"):
        return pgrp
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in sorted((e for e in entries if e.isdigit()), key=int):
        stat = _stat(int(entry))
        if stat is not None and stat.pgrp == pgrp:
            return int(entry)
    return None


def _command(pid: int) -> str:
    """The command line of `pid`, as `ps` shows it (codename's own as it was typed, see
    `typed`); `[comm]` when it has none (a zombie)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(_CMDLINE_MAX)
    except OSError:
        raw = b""
    args = raw.rstrip(b"\0").split(b"\0") if raw.strip(b"\0") else []
    if args:
        return " ".join(typed([a.decode("utf-8", "replace") for a in args], pid))
    stat = _stat(pid)
    return f"[{stat.comm}]" if stat is not None else ""


def typed(args: list[str], pid: int) -> list[str]:
    """`args` as the user typed them when they are codename's own launcher run by Python.

    Typing `codename who` runs a script whose `#!` line names an interpreter, so the process's
    command line is the interpreter's: `/venv/bin/python -SP /home/pam/.local/bin/codename
    who` (install.sh's launcher) or `/venv/bin/python /venv/bin/codename who` (pip's wrapper).
    Shown as `codename who`: the script's name and its arguments. Only codename's own scripts
    (found by what they import) are told apart so; any other command line is shown as it is.
    """
    if len(args) < 2 or not os.path.basename(args[0]).startswith("python"):
        return args
    at = 1
    while at < len(args) and args[at].startswith("-") and args[at] != "-":
        flag = args[at]
        if "c" in flag or "m" in flag or flag.startswith("--"):
            return args  # -c CODE, -m MODULE (`python -m codename_shell` is what was typed)
        at += 2 if flag in ("-X", "-W", "-Q") else 1
    if at >= len(args) or not _launcher(args[at], pid):
        return args
    return [os.path.basename(args[at]), *args[at + 1:]]


_LAUNCHER_HEAD = 4096  # bytes of a script read to tell codename's launcher: it is ~1.5 KB


def _launcher(script: str, pid: int) -> bool:
    """Whether `script` (as process `pid` was given it) is codename's launcher or pip's
    wrapper for it: a small script that runs `codename_shell.launcher`."""
    from codename_shell import fileio

    path = script if script.startswith("/") else f"/proc/{pid}/cwd/{script}"
    try:
        head = fileio.read_regular(path, 1 << 20)[:_LAUNCHER_HEAD]
    except OSError:
        return False
    return head.startswith(b"#!") and b"codename_shell.launcher" in head


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""  # another user's process, or gone


def _idle(holder: Holder, stat: _Stat, now: float) -> float | None:
    """Seconds since the holder's terminal last saw input (its device's atime, as `w` reads it)."""
    if not stat.tty_nr:
        return None
    device = _tty_device(holder, stat.tty_nr)
    if device is None:
        return None
    return max(0.0, now - device.st_atime)


def _tty_device(holder: Holder, tty_nr: int) -> os.stat_result | None:
    """The device file of terminal `tty_nr`: the path the claim recorded, or one of the
    process's standard streams, whichever really is that device (a recorded path may be stale)."""
    assert holder.pid is not None
    major = (tty_nr >> 8) & 0xFFF
    minor = (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)
    candidates = [holder.tty] if holder.tty.startswith("/dev/") else []
    for fd in (0, 1, 2):
        try:
            candidates.append(os.readlink(f"/proc/{holder.pid}/fd/{fd}"))
        except OSError:
            pass
    for path in candidates:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if os.major(st.st_rdev) == major and os.minor(st.st_rdev) == minor:
            return st
    return None
