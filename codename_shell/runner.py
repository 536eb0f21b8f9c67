"""`codename run -- CMD`: a job that holds a name for exactly as long as it runs.

The job itself (not a wrapper) is the holder: codename forks, claims a name for the child's
pid while the child waits on a pipe, hands it the name, and only then execs CMD. So `who`
shows the job's real pid, and a kill -9 of the job frees its name at the next claim.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from codename_shell.allocator import Allocator
from codename_shell.errors import CodenameError, printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.config import Settings

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
SI_KERNEL = 0x80  # Linux: sent by the kernel, e.g. Ctrl-C on the terminal


def run(argv: list[str], *, name: str | None, settings: Settings) -> int:
    allocator = Allocator(settings)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {*FORWARDED, signal.SIGCHLD})
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the job: wait for its name, then become CMD
        os.close(ready_w)
        _child(argv, ready_r, old_mask)
    os.close(ready_r)
    try:
        holder = allocator.claim(pid, kind="job", name=name)
    except BaseException:
        os.close(ready_w)  # the child sees EOF and leaves without running CMD
        os.waitpid(pid, 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        raise
    ident = holder.ident
    os.write(ready_w, f"{holder.name}\0{holder.full}\0{ident}".encode())
    os.close(ready_w)
    ended: float | None = None
    try:
        status = _wait(pid)
        ended = time.time()  # the ledger says when the job ended, not when its row was written
    finally:
        try:
            allocator.release(pid, at=ended)
        except CodenameError as e:
            print(printable(f"codename: could not release {holder.name}: {e}"), file=sys.stderr)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    return status


def _child(argv: list[str], ready: int, mask: set[signal.Signals | int]) -> None:
    chunks = []
    while chunk := os.read(ready, 4096):
        chunks.append(chunk)
    if not chunks:
        os._exit(1)
    name, full, ident = b"".join(chunks).decode().split("\0")
    # The job is its own holder: a CODENAME_PID/ID inherited from a named terminal would point
    # `codename rename --pid $CODENAME_PID` and nested shells at the terminal, not the job.
    env = {**os.environ, "CODENAME": name, "CODENAME_FULL": full,
           "CODENAME_PID": str(os.getpid()), "CODENAME_ID": ident}
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        print(printable(f"codename: cannot run {argv[0]}: {e.strerror}"), file=sys.stderr)
        os._exit(127 if isinstance(e, FileNotFoundError) else 126)


def _wait(pid: int) -> int:
    """Wait for the job, passing on signals meant for it; return its exit status."""
    if not hasattr(signal, "sigwaitinfo"):
        return _wait_portable(pid)
    while True:
        info = signal.sigwaitinfo({*FORWARDED, signal.SIGCHLD})
        if info.si_signo == signal.SIGCHLD:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                code = os.waitstatus_to_exitcode(status)
                return 128 - code if code < 0 else code  # killed by signal N: 128 + N
            continue
        # Ctrl-C on the terminal already reached the job (same process group); a signal sent
        # to codename alone (kill, a supervisor) is passed on.
        if info.si_code != SI_KERNEL:
            try:
                os.kill(pid, info.si_signo)
            except ProcessLookupError:
                pass


def _wait_portable(pid: int) -> int:
    """Without sigwaitinfo (macOS): pass every signal on; the job may see Ctrl-C twice."""
    for signo in FORWARDED:
        signal.signal(signo, lambda signo, _frame: os.kill(pid, signo))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, set(FORWARDED))
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
