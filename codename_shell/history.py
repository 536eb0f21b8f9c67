"""`codename log`: the ledger read back as history, so "who was Toby at three?" is one command.

The ledger (see sources/ledger.py) is written for the allocator: one row per claim, release,
reap, rename and heartbeat, and bounded by compaction. Compaction moves the closed history to
`ledger.log.1` (rotated to `.2`) and re-lists each open row in the live file as `claimed`,
stamped with the compaction time, under a `# codename ledger, compacted` header. Those
re-listings are not claims: read as history, they would show every live holder claiming its
name again at each compaction. So the files are read oldest first (.2, .1, live) and a
`claimed` row of a holder whose claim is already open is skipped; a re-listed row whose claim
went with a rotated-away file is shown at its own `since`, the time it really claimed.

Rows are in the order they were written, not the order things happened: a release is stamped
when the holder let go (a terminal's exit, a job's end), which the next claim may write much
later. History is sorted by each event's own time (stably: rows of one second keep their
order). From the events come *tenures*, one holder's hold on one name from its claim (or the
rename that gave it) to its release, reap or rename away: what `--at` and `--since` ask about.

A rename is one `renamed` event with the old name (`from=`); older ledgers wrote a `released`
and a `claimed` row of one process in one second, read here as that one event.

A torn row (a writer that died mid-write), a foreign line, or a row whose time cannot be
placed (year 1, year 9999 in a zone east of UTC) is skipped with a warning, never a crash:
this reads files a crash, a person, another tool or another host may have written.

200,000 rows must answer within a second (bench/history.py), so a row is read only as far as
history needs (its stamp, event, name, pid, start and host), by one regular expression over a
whole file (in C), and kept as a tuple: never parsed into a `Holder`, never an object until
it is shown. Stamps sort as text in the order of time; a moment becomes a number only to be
shown. (Each row read in Python cost ~5 µs: `log` took 5 s over 200,000 rows.)
"""

from __future__ import annotations

import os
import re
import time
from operator import itemgetter

from codename_shell import fileio
from codename_shell.holders import MAX_STAMP
from codename_shell.moments import clock, iso
from codename_shell.sources.ledger import EVENTS

FILES = ("ledger.log.2", "ledger.log.1", "ledger.log")  # oldest first
COMPACTED = "# codename ledger, compacted "
_READ_MAX = 256 << 20  # bytes read of one ledger file; the allocator keeps them far smaller
#: The times history places: two days inside the years 1970 to 9999, so that every one of
#: them is a date in every time zone (a zone is at most ±26 h from UTC).
EARLIEST = 2 * 86400
LATEST = MAX_STAMP - 2 * 86400
_CLOSING = ("released", "reaped")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

#: One event as history keeps it, a tuple (a class instance a row costs 200,000 rows a
#: quarter of a second): the ledger's line, its stamp (`2026-11-28T15:04:05Z`, UTC: stamps
#: sort as text in the order of time), event, name, pid, start and host as written, and
#: nothing (the slot `_ROWS` fills for a line it could not read whole: see `Reader`).
Row = tuple[str, str, str, str, str, str, str, str]
LINE, STAMP, EVENT, NAME, PID, START, HOST = range(7)
#: (name, pid, start, host): one process's hold on one name.
Key = tuple[str, ...]

# A row as codename writes it (Holder.to_row: full, kind, pid and start, then boot and
# machine before host), read whole in C: one `findall` over a file gives a Row per line,
# with the line in the last slot alone when it is any other line (a header, a rename, a
# reap, someone else's writing), which `_parse` then reads field by field.
_ROWS = re.compile(
    r"^(?:(([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-5][0-9]:[0-5][0-9]Z)\t"
    r"(claimed|released|heartbeat)\t([^\t\x00-\x1f]+)\tfull=[^\t\n]*\tkind=[^\t\n]*"
    r"\tpid=([1-9][0-9]{0,17})\tstart=([0-9]{1,18})(?:\t(?:boot|machine)=[^\t\n]*)*"
    r"\thost=([^\t\n]*)[^\n]*)|([^\n]*))$", re.M)


class Event:
    """One event as a person reads it: at `time`, the holder of `row` was `event`…"""

    __slots__ = ("row",)

    def __init__(self, row: Row) -> None:
        self.row = row

    @property
    def time(self) -> float:
        return seconds(self.row[STAMP])

    @property
    def event(self) -> str:
        return self.row[EVENT]

    @property
    def name(self) -> str:
        return self.row[NAME]

    @property
    def pid(self) -> int:
        return int(self.row[PID])

    @property
    def host(self) -> str:
        return self.row[HOST]

    @property
    def kind(self) -> str:
        return field(self.row[LINE], "kind") or "terminal"

    @property
    def tty(self) -> str:
        return field(self.row[LINE], "tty")

    @property
    def cwd(self) -> str:
        return field(self.row[LINE], "cwd")

    @property
    def previous(self) -> str:
        """For `renamed`: the name the process held before ("" when history lost it)."""
        return field(self.row[LINE], "from") if self.event == "renamed" else ""

    @property
    def reason(self) -> str:
        return field(self.row[LINE], "reason")

    @property
    def seen(self) -> float | None:
        """For `reaped`: the last moment the holder was seen alive, when known."""
        if self.event != "reaped":
            return None
        seen = place(field(self.row[LINE], "seen"))
        return None if isinstance(seen, str) else min(seen, self.time)

    @property
    def why(self) -> str:
        """What a person reads beside it: a rename's old name, a reap's last sign of life."""
        parts = []
        if self.previous:
            parts.append(f"from {self.previous}")
        seen = self.seen
        if seen is not None:
            parts.append(f"last seen {clock(seen)}")
        if self.reason:
            parts.append(self.reason)
        return "; ".join(parts)

    def to_dict(self) -> dict[str, object]:
        row: dict[str, object] = {"time": iso(self.time), "event": self.event, "name": self.name,
                                  "pid": self.pid, "host": self.host, "kind": self.kind}
        if self.event == "renamed":
            row["from"] = self.previous or None
            row["to"] = self.name
        seen = self.seen
        if seen is not None:
            row["seen"] = iso(seen)
        if self.reason:
            row["reason"] = self.reason
        return row


class Reader:
    """The lines of one ledger (its files in order, or one fleet host's stream) as Rows."""

    def __init__(self) -> None:
        #: Lines that could not be read, each saying where: for stderr.
        self.warnings: list[str] = []
        self._open: set[Key] = set()

    def lines(self, lines: Iterable[str], where: str) -> list[Row]:
        """The events of `lines` (whole lines without their newline, in the order written);
        `where` names them in warnings (a path, or a fleet host)."""
        return self.text("\n".join(lines), where)

    def text(self, text: str, where: str) -> list[Row]:
        """The events of `text`, whole lines joined by newlines (none after the last)."""
        found = _ROWS.findall(text)
        rows: list[Row] = []
        opened = self._open
        add, discard, keep = opened.add, opened.discard, rows.append
        relisted = ""  # the stamp of the compaction whose re-listed rows follow, if any
        hour = "\0"  # the last hour of a quick row's stamp that was placed (none yet)
        # The hot loop of `log`: slots by number (LINE 0, STAMP 1, EVENT 2, NAME:HOST+1 3:7).
        for number, row in enumerate(found, 1):
            if row[0]:
                # Each hour of the quick rows' stamps is placed once (rows come mostly in
                # time order): one that names no moment (2026-02-30T10, year 1) makes its
                # rows lines skipped.
                if not row[1].startswith(hour):
                    if row[1][:14] not in _HOURS and \
                            isinstance(place(row[1][:14] + "00:00Z"), str):
                        self.warnings.append(f"{where}:{number}: line skipped "
                                             f"({place(row[1])})")
                        continue
                    hour = row[1][:14]
            else:
                line = row[-1]
                if not line:
                    continue
                if line[0] == "#":
                    if line.startswith(COMPACTED):
                        relisted = line[len(COMPACTED):].split(";", 1)[0].strip()
                    continue
                parsed = _parse(line)
                if isinstance(parsed, str):
                    self.warnings.append(f"{where}:{number}: line skipped ({parsed})")
                    continue
                row = parsed
            event = row[2]
            if relisted:
                if event == "claimed" and row[0].startswith(relisted + "\t"):
                    self._relisted(row, rows)
                    continue
                relisted = ""
            if event == "claimed":
                key = row[3:7]
                if key in opened:
                    continue  # a source healed by re-recording an open claim
                add(key)
                if rows and rows[-1][1] == row[1] and rows[-1][2] == "released" \
                        and _paired_rename(rows, row):
                    continue
            elif event == "released" or event == "reaped":
                discard(row[3:7])
            elif event == "renamed":
                row = self._renamed(row)
            keep(row)
        return rows

    def _relisted(self, row: Row, rows: list[Row]) -> None:
        """A row compaction re-listed: history only when its claim was rotated away, then at
        its own `since`, the time it claimed."""
        key = row[NAME:HOST + 1]
        if key in self._open:
            return
        self._open.add(key)
        since = _number(field(row[LINE], "since"))
        if since is not None and EARLIEST <= since <= LATEST:
            row = (row[LINE], stamp_of(since), *row[EVENT:])  # type: ignore[assignment]
        rows.append(row)

    def _renamed(self, row: Row) -> Row:
        """The row names the new name; the process's open claim, under its old name, closes.
        A rename row without its old name (the keeper's) gets it from the claim it closes."""
        key = row[NAME:HOST + 1]
        before = {k for k in self._open if k[1:] == key[1:]}
        self._open -= before
        self._open.add(key)
        if len(before) == 1 and not field(row[LINE], "from"):
            old = next(iter(before))[0]
            return (f"{row[LINE]}\tfrom={old}", *row[STAMP:])  # type: ignore[return-value]
        return row


class History:
    """Every event of the ledger in `directory` (the state dir), oldest first."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._reader = Reader()

    @property
    def warnings(self) -> list[str]:
        return self._reader.warnings

    @property
    def opened(self) -> set[Key]:
        """The claims open where the reading stands (see Reader)."""
        return self._reader._open

    def events(self) -> list[Row]:
        """Every event, in time order."""
        return in_order(self.rotated() + self.live())

    def rotated(self) -> list[Row]:
        """The rows of the rotated files (`.2` then `.1`), in the order written: read first."""
        found: list[Row] = []
        for name in FILES[:-1]:
            found.extend(self._file(os.path.join(self.directory, name)))
        return found

    def resume(self, opened: set[Key], warnings: list[str]) -> None:
        """Go on as if the rotated files had just been read, leaving `opened` open and giving
        `warnings` (historycache.py keeps what they gave)."""
        self._reader._open = set(opened)
        self.warnings.extend(warnings)

    def live(self) -> list[Row]:
        """The rows of the live file, in the order written: read after the rotated ones."""
        return self._file(os.path.join(self.directory, FILES[-1]))

    def _file(self, path: str) -> list[Row]:
        text = _read(path, self.warnings)
        if not text:
            return []
        end = text.rfind("\n")
        if end < len(text) - 1:
            self.warnings.append(f"{path}:{text.count(chr(10)) + 1}: a torn last line (a "
                                 "writer that died mid-write) was skipped")
        return self._reader.text(text[:max(end, 0)], path) if end >= 0 else []


def in_order(rows: list[Row]) -> list[Row]:
    """`rows` sorted by time. Files hold their rows in write order; a stable sort keeps that
    order within a second and puts each event at its own time: a release stamped at the exit
    it was noticed after, a re-listed row whose claim was rotated away at its claim time."""
    rows.sort(key=itemgetter(STAMP))
    return rows


def field(line: str, key: str) -> str:
    """The value of `key=` in a ledger line ("" when absent): found, not parsed whole."""
    at = line.find(f"\t{key}=")
    if at < 0:
        return ""
    at += len(key) + 2
    end = line.find("\t", at)
    return line[at:] if end < 0 else line[at:end]


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and text.isascii() and len(text) <= 18 else None


def _parse(line: str) -> Row | str:
    """The row of a line the quick reading (`_ROWS`) did not take, or why it is none."""
    stamp, _, rest = line.partition("\t")
    event, _, row = rest.partition("\t")
    if event not in EVENTS:
        return f"not a ledger event: {event[:20]!r}" if rest else "not a ledger row"
    when = place(stamp)
    if isinstance(when, str):
        return when
    name = row.partition("\t")[0]
    if not name or min(name) < " ":
        return "no name"
    pid = _number(field(line, "pid"))
    if pid is None or pid < 1:
        return f"bad pid {field(line, 'pid')[:20]!r}"
    start = field(line, "start")
    if start and _number(start) is None:
        return f"bad start {start[:20]!r}"
    return (line, stamp_of(when), event, name, str(pid), start, field(line, "host"), "")


def stamp_of(moment: float) -> str:
    """A moment as the ledger stamps it, which sorts as text in the order of time."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(moment // 1)))


_HOURS: dict[str, float] = {}  # "2026-11-28T15:" -> that hour's timestamp, of stamps placed


def place(stamp: str) -> float | str:
    """The moment a row's stamp names, or why it cannot be placed in time.

    The ledger writes `2026-11-28T15:04:05Z`; each hour of those is parsed once and the rest
    added. Any other ISO 8601 stamp with a zone is read too (a person's or another tool's).
    """
    if len(stamp) == 20 and stamp[19] == "Z" and stamp[16] == ":":
        hour = _HOURS.get(stamp[:14])
        if hour is not None:
            minutes, seconds = stamp[14:16], stamp[17:19]
            if minutes.isdigit() and seconds.isdigit() and minutes < "60" and seconds < "60":
                return hour + int(minutes) * 60 + int(seconds)
    from datetime import datetime

    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return f"bad time {stamp[:40]!r}"
    if when.tzinfo is None:
        return f"a time without a time zone {stamp[:40]!r}"
    try:
        moment = when.timestamp()
    except (OverflowError, ValueError, OSError):
        moment = float("nan")
    if not EARLIEST <= moment <= LATEST:
        return f"a time that cannot be placed {stamp[:40]!r}"
    if len(stamp) == 20 and stamp[19] == "Z" and stamp[13] == ":" and stamp.isascii():
        _HOURS[stamp[:14]] = moment - when.minute * 60 - when.second
    return moment


def seconds(stamp: str) -> float:
    """The moment of a stamp history keeps (placed when it was read)."""
    moment = place(stamp)
    return float("nan") if isinstance(moment, str) else moment


def _paired_rename(rows: list[Row], row: Row) -> bool:
    """An older ledger's rename: a release and a claim of one process in the same second.
    The claim becomes one `renamed` event in the release's place; True when it did."""
    before = rows[-1]
    if before[NAME] != row[NAME] and before[PID:HOST + 1] == row[PID:HOST + 1]:
        rows[-1] = (f"{row[LINE]}\tfrom={before[NAME]}", row[STAMP], "renamed",
                    *row[NAME:])  # type: ignore[assignment]
        return True
    return False


def _read(path: str, warnings: list[str]) -> str:
    """The file's text; "" when absent. Not a regular file (a FIFO): a warning, never a hang."""
    try:
        data = fileio.read_regular(path, _READ_MAX, nofollow=True)
    except FileNotFoundError:
        return ""
    except OSError as e:
        warnings.append(f"{path}: unreadable ({e.strerror}); its history is not shown")
        return ""
    return data.decode("utf-8", "replace")


_FOLDED: dict[str, str] = {}


def fold(name: str) -> str:
    """A name as the allocator compares it (`casts.fold`: NFKC and casefold), kept: few names.
    `--name` with Pam in fullwidth letters is Pam's history, as such a `claim --name` is
    refused while Pam lives."""
    folded = _FOLDED.get(name)
    if folded is None:
        from codename_shell import casts

        if len(_FOLDED) > 4096:
            _FOLDED.clear()
        folded = _FOLDED[name] = casts.fold(name)
    return folded
