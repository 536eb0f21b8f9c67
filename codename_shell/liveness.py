"""Is the process that claimed a name still the one running under its pid?

A pid alone is not an identity: pids are reused, and a reboot starts the count again. So a
holder records its pid, the process start time (clock ticks since boot, /proc/<pid>/stat
field 22), the boot id, the machine id, the host and the pid namespace. It is alive only if
that very process still runs and is not a zombie.

Only the host that wrote a row can check it: the same boot id (the same running kernel: a
random number no other machine has) and the same pid namespace. Not the hostname: it can
change under running processes. Nothing less will do: another machine may share the
hostname, and every machine's initial pid namespace reads `pid:[4026531836]`. A row written
elsewhere cannot be judged from here, so it is never reaped on time alone: its own host reaps
it when its process ends, or a person removes it (`codename reap --host NAME`). The one
exception is a row of an earlier boot of this very machine (same machine id and hostname,
written before this boot began): every process of that boot is gone.
"""

from __future__ import annotations

import stat
import sys
import time

from codename_shell import lean_os as os
from codename_shell.holders import Holder

ALIVE = "alive"
DEAD = "dead"
UNKNOWN = "unknown"  # cannot be checked from here: kept, never reaped on time alone

_LINUX = sys.platform.startswith("linux")
_cache: dict[str, str] = {}
_fds: dict[str, int] = {}


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


def machine_id() -> str:
    """This installation's id (systemd's machine-id), or "" where there is none.

    It tells an earlier boot of this machine from another machine, which a boot id cannot.
    Read once per process, and only when a row is written or an earlier boot is in question.
    """
    if "machine" not in _cache:
        _cache["machine"] = _read_machine_id() if _LINUX else _darwin_platform_uuid()
    return _cache["machine"]


def _read_machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            # Non-blocking and regular files only: a FIFO here must not hang a shell start.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            raw = os.read(fd, 64) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
        except OSError:
            raw = b""
        finally:
            os.close(fd)
        value = raw.decode("ascii", "replace").strip()
        # 32 hex digits; anything else ("uninitialized" early in a first boot, junk) proves
        # nothing, and it goes into a tab-separated row.
        if len(value) == 32 and all(c in "0123456789abcdef" for c in value):
            return value
    return ""


def boot_time() -> float:
    """When this boot began (seconds since the epoch), or 0.0 when unknown."""
    if _LINUX:
        return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    boot = boot_id()
    return float(boot) if boot.isdigit() else 0.0


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
        raw = _read_proc_stat(pid)
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


def _read_proc_stat(pid: int) -> bytes:
    """/proc/<pid>/stat in one read (the kernel writes it whole; it is well under 1 KiB).

    A claim reads one per holder, so the details count: os.open/os.read rather than open()
    (whose buffered reader adds an fstat, an lseek and a second read), relative to an open
    /proc (the lookup of "/proc" itself skipped): together ~2 µs a holder, ~2 ms of a
    claim among 1,000.
    """
    fd = os.open(f"{pid}/stat", os.O_RDONLY | os.O_CLOEXEC, dir_fd=_proc_fd())
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _proc_fd() -> int:
    fd = _fds.get("proc")
    if fd is None:
        fd = _fds["proc"] = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return fd


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
        return Holder("", pid=pid, boot=boot_id(), machine=machine_id(), host=host(),
                      ns=pid_namespace())
    if info is None or info.zombie:
        return None
    return Holder("", pid=pid, start=info.start, boot=boot_id(), machine=machine_id(),
                  host=host(), ns=pid_namespace(), tty_nr=info.tty_nr or None)


def status(holder: Holder, here: str | None = None, *, quick: bool = False) -> str:
    """ALIVE, DEAD or UNKNOWN for the process that claimed `holder`.

    `here`: this host's name, when the caller judges many holders at once (os.uname() once,
    not once a holder). `quick`: ask only whether its pid runs (`kill(pid, 0)`, ~0.4 µs),
    not which process runs under it (/proc/<pid>/stat, ~8.5 µs): DEAD is then as certain as
    ever (no process has that pid here), and ALIVE may be a zombie or another process under a
    reused pid, a ghost kept a while longer (see `allocator.Survey`), never a live holder
    judged dead.
    """
    if holder.pid is None:
        return UNKNOWN  # a roster row without a pid: its launcher vouches for it
    if not written_here(holder, here):
        return DEAD if earlier_boot(holder) else UNKNOWN
    if quick:
        return ALIVE if _pid_runs(holder.pid) else DEAD
    try:
        info = proc_info(holder.pid)
    except PermissionError:
        return _signal_check(holder.pid)
    if info is None or info.zombie:
        return DEAD
    if holder.start is not None and info.start != holder.start:
        return DEAD  # the pid was reused by another process
    return ALIVE


def written_here(holder: Holder, here: str | None = None) -> bool:
    """Whether `holder`'s pid means something in our /proc: the same running kernel (boot id)
    and pid namespace as ours.

    The hostname is no part of it when the row has a boot id: a boot id is the kernel's own
    random number, which no other machine has, and the hostname can change under running
    processes (DHCP, `hostnamectl`), or differ between namespaces that share one /proc. Only
    a row without a boot id (a roster's) falls back to its hostname. A field the row leaves
    empty (a roster names no namespace) is not held against it.
    """
    if holder.boot:
        same_kernel = holder.boot == boot_id()
    else:
        same_kernel = not holder.host or holder.host == (here or host())
    return same_kernel and (not holder.ns or holder.ns == pid_namespace())


def earlier_boot(holder: Holder) -> bool:
    """Whether `holder` is of an earlier boot of this very machine, so its process is gone.

    Another boot id alone proves nothing (another machine has one too), and a row without a
    machine id (written before codename recorded one, possibly by an older codename on another
    machine that still writes such rows) cannot be placed: it is kept.
    """
    if not holder.boot or holder.boot == boot_id() or not holder.machine:
        return False
    if holder.host != host() or holder.machine != machine_id():
        return False
    # Cloned images can share a machine id; a row written since this boot began cannot be of
    # an earlier one, whatever its ids say.
    return max(holder.since or 0, holder.beat or 0) < boot_time()


def elsewhere(holder: Holder) -> str:
    """Where `holder`'s row was written, said for a person, when it cannot be checked here."""
    if holder.host and holder.host != host():
        return f"host {holder.host}"
    if holder.boot and holder.boot != boot_id():
        if not holder.machine:
            return "this hostname, another boot (a row without a machine id)"
        if holder.machine != machine_id():
            return "this hostname, another machine"
        return "this machine, an earlier boot (written after this boot began)"
    if holder.ns and holder.ns != pid_namespace():
        return f"this hostname, another pid namespace ({holder.ns})"
    return "this host (its /proc entry cannot be read)"


def _signal_check(pid: int) -> str:
    """DEAD when no process has `pid`; UNKNOWN when one does but cannot be inspected."""
    return UNKNOWN if _pid_runs(pid) else DEAD


def _pid_runs(pid: int) -> bool:
    """Whether any process has `pid` here (one signal-less kill: no /proc file read)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process runs under it
    except OverflowError:
        return False  # a row's pid past what a pid can be: no process has it
    return True


def is_live(holder: Holder, here: str | None = None) -> bool:
    """The allocator's rule: a holder is live unless it is known to be dead.

    One that cannot be checked from here is kept however old its heartbeat: only its own host
    can tell it is gone, and handing its name out on a guess is how two Tobys happen.
    """
    return status(holder, here) != DEAD


def silence(holder: Holder, now: float | None = None) -> int:
    """Seconds since `holder` last showed a sign of life here (its claim or a heartbeat)."""
    return max(0, int((now or time.time()) - (holder.beat or holder.since or 0)))


def tty_name(tty_nr: int | None) -> str:
    """/proc's tty_nr as a device path: the holder's controlling terminal, shown by `who`."""
    if not tty_nr:
        return ""
    major = (tty_nr >> 8) & 0xFFF
    minor = (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)
    if 136 <= major <= 143:
        return f"/dev/pts/{(major - 136) * 256 + minor}"
    if major == 4 and minor < 64:
        return f"/dev/tty{minor}"
    return f"tty {major}:{minor}"


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


def _darwin_platform_uuid() -> str:
    import subprocess

    try:
        out = subprocess.run(["ioreg", "-rd1", "-c", "IOPlatformExpertDevice"],
                             capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return platform_uuid(out)


def platform_uuid(ioreg: str) -> str:
    """The IOPlatformUUID in `ioreg -rd1 -c IOPlatformExpertDevice` output, or ""."""
    for line in ioreg.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == '"IOPlatformUUID"':
            value = value.strip().strip('"')
            if value and all(c in "0123456789ABCDEFabcdef-" for c in value):
                return value
    return ""
