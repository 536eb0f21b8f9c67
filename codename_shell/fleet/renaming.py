"""Changing a holder's name on this host, for the keeper: its presence file (what its prompt
reads) and its ledger row, both or neither; and the keeper's log.

A mixin of the keeper (fleet/keeper.py): what it reads of the keeper's state is declared here.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.fleet.lease import Timing
    from codename_shell.holders import Holder
    from codename_shell.sources import LedgerSource, PresenceSource

LOG_NAME = "keeper.log"
LOG_MAX = 256 << 10  # bytes of keeper.log before it moves to keeper.log.1


class Renaming:
    """Renames a holder of this host, and logs what the keeper does."""

    state_dir: str
    timing: Timing
    presence: PresenceSource
    ledger: LedgerSource
    #: ledger rows written while the allocator lock was busy, to append once it is had.
    pending: list[tuple[Holder, str]]

    def rename(self, h: Holder, name: str, full: str, reason: str) -> Holder | None:
        """Rewrite `h`'s presence file and ledger row with its new name; None when `h` no
        longer holds its old name (released, or renamed by someone else meanwhile), or when
        the new name cannot be recorded (a full disk: logged, and the caller tries again at
        a later tick; the keeper itself goes on)."""
        from codename_shell.errors import LockTimeout
        from codename_shell.holders import Holder as Row
        from codename_shell.lock import Lock
        from codename_shell.recording import record_rows

        new = Row.from_row(h.to_row(), "presence")
        new.name, new.full = name, full
        new.sources = list(h.sources)
        try:
            try:
                with Lock(self.state_dir, timeout=self.timing.guard * 0.8):
                    self.flush_pending()
                    if not self.still(h):
                        return None
                    # Presence file and ledger row, both or neither, as a claim writes them.
                    record_rows(self.presence, self.ledger, new,
                                lambda: self.ledger.rename(new, reason))
            except LockTimeout:
                # The presence file is what the prompt shows and must change in time; the
                # ledger row (an append, serialized by the lock) waits for the lock.
                if not self.still(h):
                    return None
                self.presence.record(new)
                self.pending.append((new, reason))
        except OSError as e:
            self.log(f"{h.name} (pid {h.pid}) could not be renamed {name} here "
                     f"({_oserror(e)}); trying again")
            return None
        self.log(f"{h.name} (pid {h.pid}) is now {name}: {reason}")
        return new

    def still(self, h: Holder) -> bool:
        """Whether `h`'s presence file still names it (or is gone while its ledger row lives)."""
        from codename_shell import fileio

        try:
            text = fileio.read_regular(self.presence.path_for(h), 1 << 16, nofollow=True)
        except FileNotFoundError:
            return "ledger" in h.sources
        except OSError:
            return False
        first = text.decode("utf-8", "replace").split("\n", 1)[0]
        return first.split("\t", 1)[0] == h.name

    def flush_pending(self) -> None:
        """Ledger rows that waited for the lock (held by the caller). One that cannot be
        written (a full disk) waits on, for the next time the lock is had."""
        while self.pending:
            holder, reason = self.pending[0]
            try:
                self.ledger.rename(holder, reason)
            except OSError as e:
                self.log(f"the ledger row of {holder.name} (pid {holder.pid}) waits: "
                         f"{_oserror(e)}")
                return
            self.pending.pop(0)

    def log(self, message: str) -> None:
        """One line in keeper.log in the state dir (never a password: URLs are `shown`).

        Opened as errors.log is (crashlog): never through a symlink, never blocking on a
        FIFO someone put there, a regular file only, 0600."""
        import stat

        from codename_shell.errors import printable

        path = os.path.join(self.state_dir, LOG_NAME)
        try:
            if os.lstat(path).st_size > LOG_MAX:
                os.replace(path, path + ".1")
        except OSError:
            pass
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                         | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    os.write(fd, f"{stamp} {printable(message)}\n".encode("utf-8", "replace"))
            finally:
                os.close(fd)
        except OSError:
            pass


def _oserror(e: OSError) -> str:
    from codename_shell.errors import printable

    return printable(f"{e.filename}: {e.strerror}" if e.filename else e.strerror or e)
