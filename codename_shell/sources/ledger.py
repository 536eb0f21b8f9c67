"""The ledger: the assignment log in the state dir, one human-readable row per event.

    2026-11-28T09:14:03Z  claimed   Pam  full=Pam Beesly  kind=terminal  pid=4242 …
    2026-11-28T11:02:40Z  released  Pam  …

It outlives the runtime dir: a holder whose presence file vanished (a wiped /run/user, a tmp
cleaner) but whose process lives keeps its name because the ledger still has its open row.

Crash-safe: rows are appended whole; a torn last row (a crash mid-write) is skipped, and the
next append drops it (closed off with a newline, it would read as a whole row). Bounded: once
the live file holds many closed rows it is compacted to its open rows (atomically), and the
closed history moves to `ledger.log.1` (rotated to `.2` past a size), so a claim reads a file
proportional to the live holders, never the whole history.

Heartbeats too: a long-lived spare that runs `codename heartbeat` every minute for a year
writes half a million rows, which once made every claim parse them (2.4 s at 200,000) and,
past LEDGER_MAX, refuse. A heartbeat counts as a closed row and compacts like a claim does;
compaction keeps only each holder's latest heartbeat (its beat is in the re-listed `claimed`
row, its last `heartbeat` row stays for `codename log`), and a compaction that would archive
nothing but superseded heartbeats archives nothing. So a years-old spare costs a claim what
none does. A ledger past LEDGER_MAX (left by an older codename) is read in pieces and
compacted by the next claim or `reap`, never refused for ever.
"""

from __future__ import annotations

import errno
import stat
import time

from codename_shell import fileio
from codename_shell import lean_os as os
from codename_shell.errors import printable
from codename_shell.holders import Holder, RowError
from codename_shell.sources.base import Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

_Key = tuple[str, "int | None", "int | None", str]

EVENTS = ("claimed", "released", "reaped", "renamed", "heartbeat")
STAMP = "%Y-%m-%dT%H:%M:%SZ"  # a row's time: UTC, whole seconds
# Closed rows kept in the live file before compaction. Every claim reads and parses the live
# file whole, so each closed row kept costs every claim ~4 µs: at 256 a shell start paid up
# to ~1 ms for history (bench row 4b), at 32 at most ~0.15 ms; the price is rewriting the
# (small) live file and appending to ledger.log.1 once every ~30 claims instead of ~250.
COMPACT_AFTER = 32
# Bytes read in one piece; compaction keeps the file near the live holders' rows. A larger
# one (an older codename's heartbeats) is read in pieces of _PIECE and compacted at once.
LEDGER_MAX = 64 << 20
_PIECE = 4 << 20
COMPACTED = "# codename ledger, compacted "  # the header of a compacted file (history reads it)
MAX_REPORTED = 10  # unreadable rows reported one by one; past this, one line counts the rest
ARCHIVE_MAX = 1 << 20  # bytes of history in ledger.log.1 before it rotates to .2


class Entry:
    """A ledger row to append: `event` of `holder`, which happened at `at` (None: now), with
    `fields` more, each `key=value` (one line, no tab): the ledger's own, never the holder's.

    What history reads from them (history.py): `from=` (a rename's old name), `seen=` (a
    reaped holder's last sign of life, stamped like the row), `cwd=` (where a claim was made)
    and `reason=`. A release is stamped when the holder let go (a terminal's exit), which may
    be before rows appended earlier: history sorts by time, the file keeps the write order.
    """

    __slots__ = ("at", "event", "fields", "holder")

    def __init__(self, event: str, holder: Holder, *, at: float | None = None,
                 fields: tuple[str, ...] = ()) -> None:
        self.event = event
        self.holder = holder
        self.at = at
        self.fields = fields

    def line(self, now: str) -> str:
        stamp = now if self.at is None else stamp_of(self.at)
        return "\t".join((stamp, self.event, self.holder.to_row(), *self.fields))


def stamp_of(at: float) -> str:
    """A row's stamp for the moment `at` (seconds since the epoch)."""
    return time.strftime(STAMP, time.gmtime(int(at)))


def one_line(text: str) -> str:
    """`text` fit for a field's value: one line, no tab, no control character."""
    return " ".join("".join(c if c >= " " and c != "\x7f" else " " for c in text).split())


class LedgerSource(Source):
    label = "ledger"
    writable = True

    def __init__(self, directory: str) -> None:
        super().__init__()
        self.path = os.path.join(directory, "ledger.log")
        self._rows = 0
        #: Rows `holders()` could not read: `drop_unreadable` moves them to the archive.
        self.unreadable = 0
        self._open: dict[_Key, Holder] = {}
        #: The latest `heartbeat` row of each holder, as written: compaction keeps it.
        self._beats: dict[_Key, str] = {}
        #: The line numbers of each holder's `heartbeat` rows: what compaction leaves out of
        #: the archive, found without parsing rows again.
        self._beat_lines: dict[_Key, list[int]] = {}
        self._lines = 0  # the number of the file's last whole line
        #: Past LEDGER_MAX when last read: read in pieces, and compacted at once.
        self.oversized = False

    def holders(self) -> list[Holder]:
        self.problems = []
        self.blind = ""
        self._open = {}
        self._beats = {}
        self._beat_lines = {}
        self._lines = 0
        self._rows = 0
        self.unreadable = 0
        self.oversized = False
        text = self._read()
        if self.oversized:
            torn = self._read_pieces()
        elif not text:
            return []
        else:
            # Rows end at "\n" alone: a full name may hold U+2028, which splitlines would cut at.
            lines = text.split("\n")
            # The text after the last newline is a row whose writer died mid-write: skip it.
            torn = lines.pop()
            self._scan(lines, 1)
            self._lines = len(lines)
        if torn:
            self.problems.append(f"{printable(self.path)}: a torn last row was skipped (a crash "
                                 "mid-write); harmless, the next claim drops it")
        if self.unreadable > MAX_REPORTED:
            self.problems.append(f"{printable(self.path)}: {self.unreadable - MAX_REPORTED} "
                                 "more unreadable rows skipped")
        return list(self._open.values())

    def _read_pieces(self) -> str:
        """Parse an oversized ledger a piece at a time (see `_pieces`); the torn last row."""
        number = 1
        torn = ""
        try:
            for lines, rest in _pieces(self.path):
                self._scan(lines, number)
                number += len(lines)
                torn = rest
            self._lines = number - 1
        except OSError as e:
            self.blind = f"{printable(self.path)}: unreadable ({printable(e.strerror)})"
            self.problems.append(f"{self.blind}; move it aside if it is not codename's ledger")
            self._open = {}
        return torn

    def _scan(self, lines: list[str], first: int) -> None:
        """Take whole rows, the first of them line number `first`."""
        opened, label, from_row = self._open, self.label, Holder.from_row
        for number, line in enumerate(lines, first):
            if not line or line[0] == "#":
                continue
            self._rows += 1
            # Most rows of a live file are "claimed" rows: taken here without the two calls
            # of `_apply` and `_track` (~0.5 µs a row, ~0.5 ms of a claim among 1,000).
            stamp_event_row = line.split("\t", 2)
            if len(stamp_event_row) == 3 and stamp_event_row[1] == "claimed":
                try:
                    holder = from_row(stamp_event_row[2], label)
                except RowError:
                    pass  # `_apply` says what is wrong with it
                else:
                    opened[(holder.name, holder.pid, holder.start, holder.host)] = holder
                    continue
            self._apply(line, number)

    def _read(self) -> str:
        """The ledger's text; "" when absent or oversized (then `oversized` is set). One that
        cannot be read makes the source blind: its open rows may be live holders whose
        presence files are gone."""
        try:
            data = fileio.read_regular(self.path, LEDGER_MAX, nofollow=True)
        except FileNotFoundError:
            return ""
        except fileio.TooLarge:
            self.oversized = True
            return ""
        except OSError as e:
            self.blind = f"{printable(self.path)}: unreadable ({printable(e.strerror)})"
            self.problems.append(f"{self.blind}; move it aside if it is not codename's ledger")
            return ""
        return data.decode("utf-8", errors="replace")

    def _apply(self, line: str, number: int) -> None:
        _stamp, _, rest = line.partition("\t")
        event, _, row = rest.partition("\t")
        try:
            if event not in EVENTS:
                raise RowError(f"unknown event {event[:40]!r}")
            holder = Holder.from_row(row, self.label)
        except RowError as e:
            self.unreadable += 1
            if self.unreadable <= MAX_REPORTED:
                self.problems.append(f"{printable(self.path)}:{number}: unreadable row "
                                     f"({printable(e)}); skipped")
            return
        if event == "heartbeat":
            self._beat_lines.setdefault(
                (holder.name, holder.pid, holder.start, holder.host), []).append(number)
        self._track(event, holder, line)

    def _track(self, event: str, holder: Holder, line: str = "") -> None:
        key = (holder.name, holder.pid, holder.start, holder.host)
        if event == "claimed":
            self._open[key] = holder
        elif event == "heartbeat":
            if key in self._open:
                self._open[key].beat = holder.beat
                self._beats[key] = line
        elif event == "renamed":
            # The row names the new name: the process's open row, whatever it was called
            # before, closes and this one opens (the fleet's keeper renames; see fleet/keeper).
            for other in [k for k in self._open if k[1:] == key[1:]]:
                del self._open[other]
                self._beats.pop(other, None)
            self._open[key] = holder
        else:
            self._open.pop(key, None)
            self._beats.pop(key, None)

    def record(self, holder: Holder) -> None:
        self._append("claimed", holder)

    def forget(self, holder: Holder, event: str) -> None:
        self._append(event, holder)

    def beat(self, holder: Holder) -> None:
        self._append("heartbeat", holder)

    def rename(self, holder: Holder, reason: str) -> int:
        """`holder`'s process now holds `holder.name`, for `reason` (one line, no tab); the
        ledger's size before the row, for `undo` (see `recording.record_rows`)."""
        return self.append([Entry("renamed", holder, fields=(f"reason={one_line(reason)}",))])

    def _append(self, event: str, holder: Holder) -> None:
        self.append([(event, holder)])

    def append(self, rows: Sequence[tuple[str, Holder] | Entry]) -> int:
        """Append rows, all of them or none; the ledger's size before them.

        A row is `(event, holder)`, stamped now, or an `Entry`, which may say when it
        happened and carry more fields. A disk too full for them raises OSError and leaves
        the file as it was (see `fileio.append_lines`). `undo(mark)` takes them back out when
        a write that had to follow them failed.
        """
        now = time.strftime(STAMP, time.gmtime())
        entries = [row if isinstance(row, Entry) else Entry(*row) for row in rows]
        lines = [entry.line(now) for entry in entries]
        mark = fileio.append_lines(self.path, lines)
        for entry, line in zip(entries, lines, strict=True):
            self._rows += 1
            self._lines += 1
            holder = entry.holder
            if entry.event == "heartbeat":
                self._beat_lines.setdefault(
                    (holder.name, holder.pid, holder.start, holder.host), []).append(self._lines)
            self._track(entry.event, holder, line)
        return mark

    def undo(self, mark: int) -> None:
        """Cut the rows appended since `mark`: as if never written (truncating needs no space).

        The rows stay counted in this object's view of the file; the caller gives up after an
        undo, and the next `holders()` reads the file afresh.
        """
        fileio.truncate_to(self.path, mark)

    def compact_if_needed(self) -> bool:
        """Rewrite the live file to just its open rows once closed rows pile up.

        Called under the allocator lock, after `holders()` and reaping, so every open row
        left is a live holder. Temp files of writers killed mid-write go too.
        """
        fileio.remove_all(fileio.stale_temps(os.path.dirname(self.path)))
        if self.blind:
            return False
        if self._rows <= COMPACT_AFTER + 2 * len(self._open) and not self.oversized:
            return False
        return self._compact()

    def drop_unreadable(self) -> int:
        """`codename reap`: compact now if rows could not be read; how many were dropped.

        Only the open, readable rows stay in the live file; the unreadable ones move to the
        archive with the rest of the history (kept for a person to look at, never read again).
        Called under the allocator lock, after `holders()` and reaping, like compaction.
        """
        dropped = self.unreadable
        if not dropped or self.blind or not self._compact():
            return 0
        self.unreadable = 0
        return dropped

    def _compact(self) -> bool:
        live = list(self._open.values())
        try:
            if self.oversized:
                history = self._history(_lines_of(_pieces(self.path)))
            else:
                old = fileio.read_regular(self.path, LEDGER_MAX, nofollow=True)
                lines = old.decode("utf-8", errors="replace").split("\n")
                lines.pop()  # the torn row, or "": dropped, not archived
                history = self._history(lines)
        except OSError:
            return False  # gone, replaced or grown since it was read: leave it to the next claim
        stamp = time.strftime(STAMP, time.gmtime())
        rows = [f"{COMPACTED}{stamp}; history in ledger.log.1\n"]
        rows += [f"{stamp}\tclaimed\t{h.to_row()}\n" for h in live]
        # Each open holder's latest heartbeat row, after every re-listed row (history.py takes
        # the `claimed` rows right after the header for re-listings): `log` still shows it.
        beats = list(self._beats.values())
        rows += [f"{line}\n" for line in beats]
        # A disk too full to compact on leaves both files as they were: the claim that got
        # here is recorded already, and the next one compacts when there is room.
        try:
            mark = self._archive(history)
        except OSError:
            return False
        try:
            fileio.write_atomic(self.path, "".join(rows).encode("utf-8"))
        except OSError:
            if mark is not None:  # the history stays in the live file: archived once only
                _truncate_quietly(self.path + ".1", mark)
            return False
        self._rows = len(live) + len(beats)
        self.oversized = False
        return True

    def _history(self, lines: Iterable[str]) -> list[str]:
        """The rows of the live file that go to the archive: all but heartbeats that a later
        one supersedes, or that the live file keeps (an open holder's latest). [] when only
        a compaction's header and re-listed rows would be left: no news to archive.

        `lines` are the file's whole lines as `holders()` numbered them (from 1).
        """
        # An open holder's latest heartbeat row is the one the live file keeps (`_beats`).
        superseded = {number for key, numbers in self._beat_lines.items()
                      for number in (numbers if key in self._beats else numbers[:-1])}
        kept: list[str] = []
        news = False
        relisted = ""  # the stamp of the compaction whose re-listed rows follow
        for number, line in enumerate(lines, 1):
            if number in superseded:
                continue
            if line.startswith(COMPACTED):
                relisted = line[len(COMPACTED):].split(";", 1)[0].strip()
            elif relisted and line.startswith(f"{relisted}\tclaimed\t"):
                pass  # a re-listing: archived beside its header, news only with other rows
            elif line and line[0] != "#":
                relisted = ""
                news = True
            kept.append(line)
        return kept if news else []

    def _archive(self, rows: list[str]) -> int | None:
        """Append `rows` to ledger.log.1, all or none; its size before them (None when there
        was nothing to append)."""
        archive = self.path + ".1"
        try:
            if os.stat(archive).st_size > ARCHIVE_MAX:
                os.replace(archive, self.path + ".2")
        except FileNotFoundError:
            pass
        if not rows:
            return None
        return fileio.append_lines(archive, ["\n".join(rows)])

    def describe(self) -> str:
        return f"ledger ({self.path})"


def _pieces(path: str) -> Iterator[tuple[list[str], str]]:
    """An oversized ledger's whole rows, a piece of about _PIECE bytes at a time, each with
    the text after its last row so far (at the end: the torn last row, or "").

    Read like `fileio.read_regular` reads (never through a symlink, a regular file only),
    without its bound: the file is codename's own, in a private directory, and bounded by
    nothing but an older codename's heartbeats.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise fileio.NotRegular(errno.EINVAL, "not a regular file", path)
        rest = b""
        while True:
            chunk = os.read(fd, _PIECE)
            if not chunk:
                break
            rows = (rest + chunk).split(b"\n")
            rest = rows.pop()
            yield [row.decode("utf-8", errors="replace") for row in rows], \
                rest.decode("utf-8", errors="replace")
        if rest:
            yield [], rest.decode("utf-8", errors="replace")
    finally:
        os.close(fd)


def _lines_of(pieces: Iterator[tuple[list[str], str]]) -> Iterator[str]:
    for lines, _rest in pieces:
        yield from lines


def _truncate_quietly(path: str, size: int) -> None:
    try:
        fileio.truncate_to(path, size)
    except OSError:
        pass  # a copy of history archived twice is untidy, not wrong
