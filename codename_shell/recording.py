"""Recording a holder's rows: its presence file and its ledger rows, both or neither, whatever
write fails (a full disk); and the one line a failed write becomes for the user.
"""

from __future__ import annotations

import errno

from codename_shell import fileio
from codename_shell.errors import CodenameError, printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from codename_shell.holders import Holder
    from codename_shell.sources import LedgerSource, PresenceSource


def record_rows(presence: PresenceSource, ledger: LedgerSource, holder: Holder,
                append: Callable[[], int]) -> None:
    """`holder`'s presence file and the ledger rows `append` writes, both or neither (see
    `Allocator._record`); `append` returns the ledger's size before its rows. The fleet's
    keeper renames with it too."""
    tmp = presence.stage(holder)
    try:
        mark = append()
        try:
            presence.commit(tmp, holder)
        except BaseException:
            ledger.undo(mark)
            raise
    except BaseException:
        fileio.discard(tmp)
        raise


class Recording:
    """Turns a write that failed under the lock (a full disk) into one line for the user.

    The writes themselves leave nothing half done (see `Allocator._record`); this only says
    what was not recorded and why, instead of an internal error.
    """

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, e: BaseException | None, tb: object) -> None:
        # Only a file's error: a fleet's socket error (an OSError too) is the fleet's to say.
        if isinstance(e, OSError) and e.filename:
            raise not_recorded(e, self.what) from None


def not_recorded(e: OSError, what: str) -> CodenameError:
    where = printable(e.filename)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return CodenameError(f"no space left on the disk of {where}: {what} was not recorded; "
                             "free some space there (`codename doctor` checks)")
    return CodenameError(f"{where}: {printable(e.strerror)}; {what} was not recorded")
