"""What `log` read of the rotated ledger files, kept for the next one: `history.cache`.

`ledger.log.2` and `.1` change only when compaction rotates them, and most questions are
about a moment after their last row: `--at 15:00`, `--since 2h`, `--timeline`. Of those files
such a question needs only who still held a name when `.1` ends: the rows of each process
that then held one (its claim, the renames that led to it). Every other process claimed and
let go before the moment asked about, so it changes no answer. So the first `log` that reads
them whole keeps, with marshal:
- the identity of both files (device, inode, size, mtime): compaction writes a new `.1`;
- the latest stamp among their rows: an answer for a moment at or before it reads them whole;
- the reading's state when `.1` ends (history.Reader's open claims), those processes' rows
  and the warnings the files gave, which every answer from them shows again.

200,000 rows over two rotations then cost a question about today the live file alone
(bench/history.py). A cache that cannot be read, written or believed costs that speed,
never an answer: the files are read whole, as if there were none.
"""

from __future__ import annotations

import marshal
import os
from operator import itemgetter

from codename_shell import __version__, fileio
from codename_shell.history import FILES, HOST, PID, STAMP, History, Key, Row, in_order

NAME = "history.cache"
CACHE_MAX = 16 << 20  # bytes: the open holders' rows; a cache that would be larger is not kept
FORMAT = 1  # of what is kept; a change makes every older cache one to ignore
SLOTS = 8  # of a Row
ROTATED = FILES[:2]

Identity = tuple[int | str | tuple[int, ...] | None, ...]


def events(ledger: History, after: str | None = None) -> list[Row]:
    """Every event of `ledger` in time order, or, for a question about the second `after`
    (a stamp) or later, every event it needs: of the rotated files, the summary when one is
    kept for them as they are and all their rows precede `after`."""
    key = identity(ledger.directory)
    if key is None:
        return ledger.events()
    kept = load(ledger.directory, key)
    if kept is not None and after is not None and kept.last < after:
        ledger.resume(kept.opened, kept.warnings)
        return in_order(kept.carry + ledger.live())
    rotated = ledger.rotated()
    if kept is None and identity(ledger.directory) == key:  # not rotated while being read
        save(ledger.directory, key, Summary.of(rotated, ledger.opened, ledger.warnings))
    return in_order(rotated + ledger.live())


class Summary:
    """The rotated files as far as a question about a moment after `last` needs them."""

    __slots__ = ("carry", "last", "opened", "warnings")

    def __init__(self, last: str, opened: set[Key], carry: list[Row],
                 warnings: list[str]) -> None:
        self.last, self.opened, self.carry, self.warnings = last, opened, carry, warnings

    @classmethod
    def of(cls, rows: list[Row], opened: set[Key], warnings: list[str]) -> Summary:
        """The summary of the rows a reading of the rotated files gave, in the order read,
        with the reader's open claims and warnings when the last of them ends."""
        processes = {key[1:] for key in opened}
        process = itemgetter(slice(PID, HOST + 1))
        carry = [row for row in rows if process(row) in processes]
        last = max(map(itemgetter(STAMP), rows), default="")
        return cls(last, set(opened), carry, list(warnings))


def identity(directory: str) -> Identity | None:
    """What the rotated files are now; None when there are none (nothing to keep)."""
    found: list[int | str | tuple[int, ...] | None] = [FORMAT, __version__]
    for name in ROTATED:
        try:
            st = os.lstat(os.path.join(directory, name))
        except FileNotFoundError:
            found.append(None)
            continue
        except OSError:
            return None
        found.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode))
    return None if found[2:] == [None, None] else tuple(found)


def load(directory: str, key: Identity) -> Summary | None:
    """The summary kept for the rotated files as `key` says they are, else None."""
    try:
        kept = marshal.loads(fileio.read_regular(os.path.join(directory, NAME), CACHE_MAX,
                                                 nofollow=True))
        if not (isinstance(kept, tuple) and len(kept) == 3 and kept[0] == key
                and isinstance(kept[2], bytes) and kept[1] == _checksum(kept[2])):
            return None
        last, opened, carry, warnings = marshal.loads(kept[2])
    except (OSError, ValueError, EOFError, TypeError, ImportError):
        return None  # none yet, or damaged: the files are read whole
    if not (isinstance(last, str) and isinstance(opened, (set, frozenset))
            and isinstance(carry, list) and isinstance(warnings, list)
            and all(type(row) is tuple and len(row) == SLOTS for row in carry)):
        return None
    return Summary(last, set(opened), carry, warnings)


def save(directory: str, key: Identity, summary: Summary) -> None:
    """Keep `summary` for the rotated files as `key` says they were when read."""
    try:
        payload = marshal.dumps((summary.last, summary.opened, summary.carry,
                                 summary.warnings))
        if len(payload) > CACHE_MAX // 2:
            return
        # Not durable: the checksum tells one a power cut damaged, ignored like a missing one.
        fileio.write_atomic(os.path.join(directory, NAME),
                            marshal.dumps((key, _checksum(payload), payload)), durable=False)
    except (OSError, ValueError, ImportError):
        pass  # a full disk, a read-only state dir: the next `log` reads the files whole


def _checksum(payload: bytes) -> int:
    """A CRC-32 of what is kept: a cache damaged in a way that still loads (a flipped bit in a
    pid) would otherwise give a wrong answer, not a slow one."""
    import zlib

    return zlib.crc32(payload)
