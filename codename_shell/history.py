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
history needs (its time, event, name, pid, start and host), never parsed into a `Holder`.
"""

from __future__ import annotations

import os
import re
import time

from codename_shell import fileio
from codename_shell.errors import UsageError
from codename_shell.holders import MAX_STAMP
from codename_shell.sources.ledger import EVENTS

FILES = ("ledger.log.2", "ledger.log.1", "ledger.log")  # oldest first
COMPACTED = "# codename ledger, compacted "
_READ_MAX = 256 << 20  # bytes read of one ledger file; the allocator keeps them far smaller
_DURATION = re.compile(r"(?:(\d+)\s*([smhdw]))+")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: The times history places: two days inside the years 1970 to 9999, so that every one of
#: them is a date in every time zone (a zone is at most ±26 h from UTC).
EARLIEST = 2 * 86400
LATEST = MAX_STAMP - 2 * 86400
_CLOSING = ("released", "reaped")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

#: (name, pid, start, host): one process's hold on one name.
Key = tuple[str, int, str, str]


class Event:
    """One row of history: at `time`, the holder in `row` was `event` (claimed, released…)."""

    __slots__ = ("event", "key", "previous", "reason", "row", "seen", "time")

    def __init__(self, when: float, event: str, key: Key, row: str) -> None:
        self.time = when
        self.event = event
        self.key = key
        #: The ledger's line: stamp, event, then the holder's row (`name<TAB>key=value…`).
        self.row = row
        #: For `renamed`: the name the process held before ("" when the history lost it).
        self.previous = ""
        self.reason = ""
        #: For `reaped`: the last moment the holder was seen alive, when known.
        self.seen: float | None = None

    @property
    def name(self) -> str:
        return self.key[0]

    @property
    def pid(self) -> int:
        return self.key[1]

    @property
    def host(self) -> str:
        return self.key[3]

    @property
    def kind(self) -> str:
        return field(self.row, "kind") or "terminal"

    @property
    def tty(self) -> str:
        return field(self.row, "tty")

    @property
    def cwd(self) -> str:
        return field(self.row, "cwd")

    @property
    def why(self) -> str:
        """What a person reads beside it: a rename's old name, a reap's last sign of life."""
        parts = []
        if self.event == "renamed" and self.previous:
            parts.append(f"from {self.previous}")
        if self.seen is not None:
            parts.append(f"last seen {clock(self.seen)}")
        if self.reason:
            parts.append(self.reason)
        return "; ".join(parts)

    def to_dict(self) -> dict[str, object]:
        row: dict[str, object] = {"time": iso(self.time), "event": self.event, "name": self.name,
                                  "pid": self.pid, "host": self.host, "kind": self.kind}
        if self.event == "renamed":
            row["from"] = self.previous or None
            row["to"] = self.name
        if self.seen is not None:
            row["seen"] = iso(self.seen)
        if self.reason:
            row["reason"] = self.reason
        return row


class Reader:
    """Rows of one ledger (its files in order, or one fleet host's stream) into events."""

    def __init__(self) -> None:
        #: Lines that could not be read, each saying where: for stderr.
        self.warnings: list[str] = []
        self._open: set[Key] = set()

    def lines(self, lines: Iterable[str], where: str) -> list[Event]:
        """The events of `lines` (whole rows, in the order written); `where` names them in
        warnings (a path, or a fleet host)."""
        events: list[Event] = []
        relisted = ""  # the stamp of the compaction whose re-listed rows follow, if any
        for number, line in enumerate(lines, 1):
            if not line:
                continue
            if line[0] == "#":
                if line.startswith(COMPACTED):
                    relisted = line[len(COMPACTED):].split(";", 1)[0].strip()
                continue
            parsed = _quick(line) or _parse(line)
            if isinstance(parsed, str):
                self.warnings.append(f"{where}:{number}: line skipped ({parsed})")
                continue
            if relisted and parsed.event == "claimed" and line.startswith(relisted + "\t"):
                self._relisted(parsed, events)
                continue
            relisted = ""
            if self._track(parsed) and not _paired_rename(events, parsed):
                events.append(parsed)
        return events

    def _relisted(self, event: Event, events: list[Event]) -> None:
        """A row compaction re-listed: history only when its claim was rotated away."""
        if event.key in self._open:
            return
        self._open.add(event.key)
        since = _number(field(event.row, "since"))
        if since is not None and EARLIEST <= since <= LATEST:
            event.time = float(since)
        events.append(event)

    def _track(self, event: Event) -> bool:
        """Keep the set of open claims; False for a row that is not news (a repeated claim)."""
        key = event.key
        if event.event == "claimed":
            if key in self._open:
                return False  # a source healed by re-recording an open claim
            self._open.add(key)
        elif event.event in _CLOSING:
            self._open.discard(key)
        elif event.event == "renamed":
            # The row names the new name; the process's open claim, under its old name, closes.
            before = {k for k in self._open if k[1:] == key[1:]}
            if not event.previous and len(before) == 1:
                event.previous = next(iter(before))[0]
            self._open -= before
            self._open.add(key)
        return True


class History:
    """Every event of the ledger in `directory` (the state dir), oldest first."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._reader = Reader()

    @property
    def warnings(self) -> list[str]:
        return self._reader.warnings

    def events(self) -> list[Event]:
        found: list[Event] = []
        for name in FILES:
            found.extend(self._file(os.path.join(self.directory, name)))
        # Files hold their rows in write order; a stable sort keeps that order within a second
        # and puts each event at its own time: a release stamped at the exit it was noticed
        # after, a re-listed row whose claim was rotated away at its claim time.
        found.sort(key=_time)
        return found

    def _file(self, path: str) -> list[Event]:
        text = _read(path, self.warnings)
        if not text:
            return []
        lines = text.split("\n")
        if lines[-1]:
            self.warnings.append(f"{path}:{len(lines)}: a torn last line (a writer that died "
                                 "mid-write) was skipped")
        lines.pop()
        return self._reader.lines(lines, path)


def _time(event: Event) -> float:
    return event.time


def field(row: str, key: str) -> str:
    """The value of `key=` in a ledger row ("" when absent): found, not parsed whole."""
    at = row.find(f"\t{key}=")
    if at < 0:
        return ""
    at += len(key) + 2
    end = row.find("\t", at)
    return row[at:] if end < 0 else row[at:end]


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and text.isascii() and len(text) <= 18 else None


#: Events whose rows hold nothing but the holder (a rename's and a reap's have own fields).
_PLAIN = frozenset(("claimed", "released", "heartbeat"))


def _quick(line: str) -> Event | None:
    """The event of a row laid out as codename writes it (Holder.to_row: full, kind, pid and
    start first, host a few fields on), stamped in an hour `place` has seen; None for any
    other line, which `_parse` reads field by field. About a third of `_parse`'s time."""
    parts = line.split("\t", 10)
    if len(parts) < 10:
        return None
    stamp, event, name, _, _, pid, start, p7, p8, p9 = parts[:10]
    hour = _HOURS.get(stamp[:14])
    if hour is None or event not in _PLAIN or pid[:4] != "pid=" or start[:6] != "start=" \
            or not name or min(name) < " ":
        return None
    clock, pid, start = stamp[14:], pid[4:], start[6:]
    if clock[2:3] != ":" or clock[5:] != "Z" or not (
            clock[:2].isdigit() and clock[3:5].isdigit() and clock[:2] < "60" and
            clock[3:5] < "60" and pid.isdigit() and pid.isascii() and pid[0] != "0" and
            len(pid) < 19 and start.isdigit() and start.isascii() and len(start) < 19):
        return None
    if p9[:5] == "host=":
        host = p9[5:]
    elif p8[:5] == "host=":
        host = p8[5:]
    elif p7[:5] == "host=":
        host = p7[5:]
    else:
        return None
    return Event(hour + int(clock[:2]) * 60 + int(clock[3:5]), event,
                 (name, int(pid), start, host), line)


def _parse(line: str) -> Event | str:
    """The event a line records, or why it is not a row history can use."""
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
    pid = _number(field(row, "pid"))
    if pid is None or pid < 1:
        return f"bad pid {field(row, 'pid')[:20]!r}"
    start = field(row, "start")
    if start and _number(start) is None:
        return f"bad start {start[:20]!r}"
    e = Event(when, event, (name, pid, start, field(row, "host")), line)
    if event == "renamed":
        e.previous = field(row, "from")
        e.reason = field(row, "reason")
    elif event == "reaped":
        seen = place(field(row, "seen"))
        e.seen = None if isinstance(seen, str) else min(seen, when)
        e.reason = field(row, "reason")
    return e


_HOURS: dict[str, float] = {}  # "2026-11-28T15" -> that hour's timestamp, of stamps placed


def place(stamp: str) -> float | str:
    """The moment a row's stamp names, or why it cannot be placed in time.

    The ledger writes `2026-11-28T15:04:05Z`; each hour of those is parsed once and the rest
    added (most of what reading 200,000 rows costs was `datetime.fromisoformat`). Any other
    ISO 8601 stamp with a zone is read too (a person's or another tool's line).
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


def _paired_rename(events: list[Event], event: Event) -> bool:
    """An older ledger's rename: a release and a claim of one process in the same second.
    The claim becomes one `renamed` event in the release's place; True when it did."""
    if event.event != "claimed" or not events:
        return False
    before = events[-1]
    if (before.event == "released" and before.time == event.time
            and before.name != event.name and before.key[1:] == event.key[1:]):
        event.event, event.previous = "renamed", before.name
        events[-1] = event
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


# --- tenures: who held which name when --------------------------------------------------------

class Tenure:
    """One holder's hold on one name: from `start` (its claim, or the rename that gave it the
    name) to `end` (its release, reap, or rename away), None while it holds it."""

    __slots__ = ("before", "end", "start")

    def __init__(self, start: Event, before: Tenure | None = None) -> None:
        self.start = start
        self.end: Event | None = None
        #: The same process's tenure that a rename ended to begin this one.
        self.before = before

    @property
    def name(self) -> str:
        return self.start.name

    @property
    def cwd(self) -> str:
        """Where its process was when it claimed ("" when not recorded)."""
        first = self
        while first.before is not None:
            first = first.before
        return first.start.cwd

    def held_at(self, when: float) -> bool:
        return self.start.time <= when and (self.end is None or self.end.time > when)

    def to_dict(self) -> dict[str, object]:
        s, e = self.start, self.end
        row: dict[str, object] = {
            "name": s.name, "pid": s.pid, "host": s.host, "tty": s.tty or None, "kind": s.kind,
            "cwd": self.cwd or None, "claimed": iso(s.time),
            "released": None if e is None else iso(e.time),
            "end": None if e is None else e.event}
        if s.event == "renamed":
            row["from"] = s.previous or None
        if e is not None and e.event == "renamed":
            row["to"] = e.name
        if e is not None and e.seen is not None:
            row["seen"] = iso(e.seen)
        return row


def tenures(events: list[Event]) -> list[Tenure]:
    """Every tenure the events (in time order) show, in the order they began. A release
    whose claim history lost (rotated away before compaction re-listed it) starts none."""
    held: dict[Key, Tenure] = {}
    found: list[Tenure] = []
    for e in events:
        if e.event == "claimed":
            if e.key not in held:
                held[e.key] = Tenure(e)
                found.append(held[e.key])
        elif e.event in _CLOSING:
            if e.key in held:
                held.pop(e.key).end = e
        elif e.event == "renamed":
            before = None
            for k in [k for k in held if k[1:] == e.key[1:]]:
                before = held.pop(k)
                before.end = e
            held[e.key] = Tenure(e, before)
            found.append(held[e.key])
    return found


# --- choosing events ----------------------------------------------------------------------

def select(events: list[Event], name: str | None = None, since: float | None = None,
           now: float | None = None) -> list[Event]:
    """The events of `name` (as a reader sees it: case and Unicode form ignored) from `since`
    on: first the claims of the names held then (and not let go before it; none for a `since`
    still to come), then every event at `since` or later. Stamps are whole seconds, so
    `since` counts from its second."""
    chosen = events
    if since is not None:
        edge = float(int(since // 1))
        held = [t.start for t in tenures(events)
                if t.start.time < edge and (t.end is None or t.end.time >= edge)]
        if edge > (time.time() if now is None else now):
            held = []
        chosen = held + [e for e in events if e.time >= edge]
    if name is None:
        return chosen
    wanted = fold(name)
    # A rename belongs to the history of both names.
    return [e for e in chosen if fold(e.name) == wanted or (e.previous and fold(e.previous) ==
                                                            wanted)]


def held_at(events: list[Event], when: float, name: str | None = None) -> list[Tenure]:
    """The tenures live at `when` (of `name` only, when given), by name."""
    wanted = None if name is None else fold(name)
    found = [t for t in tenures(events) if t.held_at(when)
             and (wanted is None or fold(t.name) == wanted)]
    found.sort(key=lambda t: (fold(t.name), t.start.time))
    return found


_FOLDED: dict[str, str] = {}


def fold(name: str) -> str:
    """A name as a reader compares it: case and Unicode form ignored (kept: few names)."""
    folded = _FOLDED.get(name)
    if folded is None:
        import unicodedata

        if len(_FOLDED) > 4096:
            _FOLDED.clear()
        folded = _FOLDED[name] = unicodedata.normalize("NFC", name).casefold()
    return folded


def parse_since(text: str, now: float | None = None, option: str = "--since") -> float:
    """`--since`, `--at`: a duration back from now (90s, 30m, 2h, 1d, 1w, 1h30m), a time today
    (15:00), `today`, `yesterday`, or a date or date and time (2026-11-28, 2026-11-28T15:00)."""
    from datetime import UTC, datetime, timedelta

    now = time.time() if now is None else now
    spec = text.strip().lower()
    if _DURATION.fullmatch(spec):
        seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)\s*([smhdw])", spec))
        return now - seconds
    try:
        midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0,
                                                       microsecond=0)
        if spec in ("today", "yesterday"):
            return (midnight - timedelta(days=spec == "yesterday")).timestamp()
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", spec):
            clock = datetime.strptime(spec if spec.count(":") == 2 else spec + ":00", "%H:%M:%S")
            return midnight.replace(hour=clock.hour, minute=clock.minute,
                                    second=clock.second).timestamp()
        given = datetime.fromisoformat(text.strip())  # naive: local time
    except (ValueError, OverflowError, OSError):
        given = None
    if given is None:
        raise UsageError(f"{option} {text!r}: give a duration (90s, 30m, 2h, 1d, 1w), a time "
                         "(15:00), today, yesterday, or a date (2026-11-28, 2026-11-28T15:00)")
    try:
        return given.timestamp()
    except (ValueError, OverflowError, OSError):
        # Year 1 east of UTC, year 9999 west of it: a moment this zone cannot name, at the
        # very edge of time; read as UTC, hours from it at most.
        return given.replace(tzinfo=UTC).timestamp()


def iso(stamp: float) -> str:
    """ISO 8601 in local time, with its offset: 2026-11-28T15:04:05+01:00 (UTC, or "", for a
    moment this zone cannot show)."""
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(stamp).astimezone().isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        try:
            return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")
        except (ValueError, OverflowError, OSError):
            return ""


def local(stamp: float) -> str:
    """`2026-11-28 15:04:05`, local time ("?" for a moment this zone cannot show)."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
    except (ValueError, OverflowError, OSError):
        return "?"


def clock(stamp: float) -> str:
    """`15:04:05`, local time."""
    return local(stamp)[11:] or "?"
