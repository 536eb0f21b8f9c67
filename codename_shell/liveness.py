"""Is the process that claimed a name still the one running under its pid?

A pid alone is not an identity: pids are reused, and a reboot starts the count again. So a
holder records its pid, the process start time (clock ticks since boot, /proc/<pid>/stat
field 22), the boot id and the host. It is alive only if that very process still runs and is
not a zombie. Where that cannot be checked (another host, another pid namespace, a /proc we
may not read) the holder is trusted while its heartbeat is fresh.
"""

from __future__ import annotations

import os
import sys
import time

from codename_shell.holders import Holder

ALIVE = "alive"
DEAD = "dead"
UNKNOWN = "unknown"  # cannot be checked from here; judged by heartbeat

_LINUX = sys.platform.startswith("linux")
_cache: dict[str, str] = {}


class ProcInfo:
    """What /proc (or ps) says about one running process."""

    __slots__ = ("comm", "pgrp", "ppid", "start", "state", "tty_nr")

    def __init__(self, comm: str, state: str, ppid: int, pgrp: int, tty_nr: int,
                 start: int) -> None:
        self.comm = comm
        self.state = state
        self.ppid = ppid
        self.pgrp = pgrp
        self.tty_nr = tty_nr
        self.start = start

    @property
    def zombie(self) -> bool:
        return self.state in ("Z", "X", "x")


def host() -> str:
    return os.uname().nodename


def boot_id() -> str:
    if "boot" not in _cache:
        _cache["boot"] = _read_boot_id()
    return _cache["boot"]


def _read_boot_id() -> str:
    if _LINUX:
        try:
            with open("/proc/sys/kernel/random/boot_id") as f:
                return f.read().strip()
        except OSError:
            return ""
    return _darwin_boot_time()


def pid_namespace() -> str:
    if "ns" not in _cache:
        try:
            _cache["ns"] = os.readlink("/proc/self/ns/pid")
        except OSError:
            _cache["ns"] = ""
    return _cache["ns"]


def proc_info(pid: int) -> ProcInfo | None:
    """The process `pid` as the kernel sees it, or None when no such process exists.

    Raises PermissionError when it exists but cannot be inspected.
    """
    if pid <= 0:
        return None
    if not _LINUX:
        return _ps_info(pid)
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: it ends at the last ')'.
    end = raw.rfind(b")")
    comm = raw[raw.find(b"(") + 1:end].decode("utf-8", "replace")
    fields = raw[end + 2:].split()
    try:
        return ProcInfo(comm, fields[0].decode(), int(fields[1]), int(fields[2]),
                        int(fields[4]), int(fields[19]))
    except (IndexError, ValueError):
        return None


def identify(pid: int) -> Holder | None:
    """A holder skeleton (identity fields only) for a running, non-zombie process."""
    try:
        info = proc_info(pid)
    except PermissionError:
        info = None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return Holder("", pid=pid, boot=boot_id(), host=host(), ns=pid_namespace())
    if info is None or info.zombie:
        return None
    return Holder("", pid=pid, start=info.start, boot=boot_id(), host=host(),
                  ns=pid_namespace(), tty_nr=info.tty_nr or None)


def status(holder: Holder) -> str:
    """ALIVE, DEAD or UNKNOWN for the process that claimed `holder`."""
    if holder.pid is None:
        return UNKNOWN
    if holder.host and holder.host != host():
        return UNKNOWN
    if holder.boot and holder.boot != boot_id():
        return DEAD  # same host, earlier boot: every process of that boot is gone
    if holder.ns and pid_namespace() and holder.ns != pid_namespace():
        return UNKNOWN  # its pid means nothing in our namespace
    try:
        info = proc_info(holder.pid)
    except PermissionError:
        return UNKNOWN
    if info is None or info.zombie:
        return DEAD
    if holder.start is not None and info.start != holder.start:
        return DEAD  # the pid was reused by another process
    return ALIVE


def is_live(holder: Holder, ttl: int, now: float | None = None) -> bool:
    """The allocator's rule: alive, or unknowable with a heartbeat younger than `ttl` seconds."""
    verdict = status(holder)
    if verdict == UNKNOWN:
        return fresh(holder, ttl, now)
    return verdict == ALIVE


def fresh(holder: Holder, ttl: int, now: float | None = None) -> bool:
    return (now or time.time()) - (holder.beat or 0) < ttl


# --- macOS and other systems without /proc: best effort through ps, never a crash ----------

def _ps_info(pid: int) -> ProcInfo | None:
    import subprocess

    try:
        out = subprocess.run(
            ["ps", "-o", "stat=,ppid=,lstart=", "-p", str(pid)],
            capture_output=True, text=True, timeout=5,
        ).stdout.split(None, 2)
    except (OSError, subprocess.SubprocessError):
        raise PermissionError(pid) from None
    if len(out) < 3:
        return None
    try:
        start = int(time.mktime(time.strptime(out[2].strip(), "%a %b %d %H:%M:%S %Y")))
        ppid = int(out[1])
    except ValueError:
        raise PermissionError(pid) from None
    return ProcInfo("", out[0][:1], ppid, 0, 0, start)


def _darwin_boot_time() -> str:
    import subprocess

    try:
        out = subprocess.run(["sysctl", "-n", "kern.boottime"], capture_output=True,
                             text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    # "{ sec = 1700000000, usec = 0 } Tue Nov 14 ..." -> "1700000000"
    return out.split("sec =", 1)[-1].split(",", 1)[0].strip() if "sec =" in out else ""
