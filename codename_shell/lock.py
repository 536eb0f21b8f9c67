"""The allocator's lock: one exclusive flock on `lock` in the state dir around every
read-decide-write of names on this host.

Whoever takes it writes who it is at the start of the lock file. A waiter gives up only when
the holder makes no progress for LOCK_TIMEOUT: a queue moving from holder to holder is
progress, and so is a holder that is runnable, waits on the disk or gains CPU time (a burst of
1,000 claims on 2 cores starves holders, which are not stuck). The kernel drops the lock when
a process dies, so a `kill -9` mid-claim cannot wedge the next one.
"""

from __future__ import annotations

import fcntl
import time

from codename_shell import lean_os as os
from codename_shell.errors import LockTimeout, printable

LOCK_TIMEOUT = 2.0  # seconds a holder may go without progress; past this a shell start gives up
# Seconds of waiting in all, however the queue moves: never a hang. A burst of 1,000 claims
# on 2 cores (tmux-resurrect starting every pane at once) keeps the lock moving for over a
# minute, and the kernel's queue is not first come, first served: a claim may wait the burst out.
LOCK_LIMIT = 300.0
_POLL = 0.01  # seconds between looks at a busy lock while the wait is short, at most
# Past that, the looks thin out, to at most one in _POLL_LONG s: 1,000 waiters looking every
# 10 ms would take much of 2 cores from the holder they wait for. With many waiters someone
# looks within a fraction of a millisecond anyway; with few, the lock idles at most that long.
_LONG_WAIT = 0.1  # seconds
_POLL_LONG = 0.1  # seconds
_RECORD = 32  # bytes at the start of the lock file: "<pid> <nonce>" of its latest holder


class Lock:
    """An exclusive flock on `lock` in the state dir, waited for while its holders move on.

    Every read-decide-write of names happens inside it, so two claims can never both see a
    name as free. Whoever takes it writes who it is (pid and a nonce) at the start of the
    file. A waiter gives up (LockTimeout) only when the holder makes no progress for `timeout`
    seconds: a stuck process, not a long queue nor a starved one. Progress is a new holder (a
    queue of 1,000 claims passes the lock from holder to holder), or a holder that is
    runnable, running or waiting on the disk, or one whose CPU time grew: on 2 cores under a
    burst of 1,000 claims a holder may wait seconds for a CPU, and waiting for a CPU is not
    being stuck. Asleep, stopped, and no CPU time spent for `timeout` seconds is (a `flock`
    that sleeps, a SIGSTOPped claim). `limit` bounds the whole wait all the same (LOCK_LIMIT;
    a caller that passes `timeout` alone waits at most that long in all). flock is released
    by the kernel when its process dies, so a kill -9 at any point cannot wedge the next
    claim, and the record a dead holder leaves is only ever read while someone else holds
    the lock.
    """

    def __init__(self, state_dir: str, timeout: float | None = None,
                 limit: float | None = None) -> None:
        self.path = os.path.join(state_dir, "lock")
        self.timeout = LOCK_TIMEOUT if timeout is None else timeout
        if limit is None:
            # A caller that names its own timeout has a deadline of its own (the fleet's
            # keeper renews leases in time): it waits that long in all, as before.
            limit = LOCK_LIMIT if timeout is None else timeout
        self.limit = max(self.timeout, limit)
        self.fd = -1

    def __enter__(self) -> Lock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            self._wait(fd)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self._sign()
        return self

    def _wait(self, fd: int) -> None:
        began = changed = time.monotonic()
        holder = b""
        delay = 0.0005
        # The holder's (pid, CPU ticks) when last looked at, and when to look again: only
        # once its record has stood for half the timeout (a slow holder, not a queue).
        seen_busy: tuple[int, int] | None = None
        probe_at = began + self.timeout / 2
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            now = time.monotonic()
            seen = _holder_record(fd)
            if seen != holder:
                # Another holder than last time: the queue moves.
                holder, changed, seen_busy = seen, now, None
                probe_at = now + self.timeout / 2
            elif now >= probe_at:
                probe_at = now + self.timeout / 4
                busy = _holder_activity(fd)
                if busy is not None:
                    pid, ticks, running = busy
                    if running or (seen_busy is not None and seen_busy != (pid, ticks)):
                        changed = now  # starved or working: slow, not stuck
                    seen_busy = (pid, ticks)
            if now - changed >= self.timeout:
                raise LockTimeout(f"{printable(self.path)} stayed locked by one process for "
                                  f"{self.timeout:.0f} s without progress; is a codename "
                                  "process stuck? (`codename doctor`)")
            if now - began >= self.limit:
                raise LockTimeout(f"{printable(self.path)} stayed busy for {self.limit:.0f} s, "
                                  "passed from claim to claim without reaching this one")
            # A jitter of ±50% from the clock's own digits (no `random` at a shell start):
            # waiters that began together do not keep looking together.
            time.sleep(delay * (0.5 + time.monotonic_ns() % 1024 / 1024))
            waited = now - began
            delay = min(delay * 2, _POLL if waited < _LONG_WAIT else min(_POLL_LONG, waited / 10))

    def _sign(self) -> None:
        """Say who holds the lock now, for the waiters to tell progress from a stuck holder."""
        record = f"{os.getpid()} {time.monotonic_ns()}".encode().ljust(_RECORD - 1) + b"\n"
        try:
            os.pwrite(self.fd, record, 0)
        except OSError:
            # A full disk, if the file is new (overwriting its first block needs no room).
            # Waiters then see the previous record stay, and judge the holder by its CPU.
            pass

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the only descriptor releases the flock


def _holder_record(fd: int) -> bytes:
    """The record the lock's latest holder wrote (b"" when there is none or it is unreadable)."""
    try:
        return os.pread(fd, _RECORD, 0)
    except OSError:
        return b""


def _holder_activity(fd: int) -> tuple[int, int, bool] | None:
    """(pid, CPU ticks spent, runnable or running now) of the process holding the flock on
    `fd`'s file, or None when that cannot be told (not Linux, a holder not visible here).

    The holder comes from the kernel's own table, /proc/locks, not from the record: a holder
    that has not signed yet (it is starved between its flock and its write), or a process
    that is not codename (`flock(1)`), leaves another process's record in place.
    """
    try:
        st = os.fstat(fd)
        table = _read_small("/proc/locks")
    except OSError:
        return None
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    inode = f":{st.st_ino}"
    pids: list[tuple[bool, int]] = []
    for line in table.split(b"\n"):
        # "1: FLOCK  ADVISORY  WRITE 1785 fe:00:2179292 0 EOF"; "1: -> FLOCK …" waits.
        fields = line.decode("ascii", "replace").split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].endswith(inode) \
                and fields[4].isdigit() and int(fields[4]) > 0:
            pids.append((fields[5] == device, int(fields[4])))
    if not pids:
        return None
    # An overlay shows its upper file's device here, not the one fstat gives: the inode
    # decides, the device only breaks a tie.
    pid = max(pids)[1]
    try:
        stat = _read_small(f"/proc/{pid}/stat")
    except OSError:
        return None
    after = stat[stat.rfind(b")") + 2:].split()
    try:
        # State, then utime and stime (fields 3, 14 and 15 of proc(5)). Runnable (R) or
        # waiting on the disk (D): it will go on by itself.
        return pid, int(after[11]) + int(after[12]), after[0] in (b"R", b"D")
    except (IndexError, ValueError):
        return None


def _read_small(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)
