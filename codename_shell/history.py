"""`codename log`: the ledger read back as history, so "who was Toby at three?" is one command.

The ledger (see sources/ledger.py) is written for the allocator: one row per claim, release,
reap, rename and heartbeat, and bounded by compaction. Compaction moves the closed history to
`ledger.log.1` (rotated to `.2`) and re-lists each open row in the live file as `claimed`,
stamped with the compaction time, under a `# codename ledger, compacted` header. Those
re-listings are not claims: read as history, they would show every live holder claiming its
name again at each compaction. So the files are read oldest first (.2, .1, live) and a
`claimed` row of a holder whose claim is already open is skipped; a re-listed row whose claim
went with a rotated-away file is shown at its own `since`, the time it really claimed.

A torn row (a writer that died mid-write) or a foreign line is skipped with a warning, never
a crash: this reads files a crash, a person or another tool may have written.
"""

from __future__ import annotations

import os
import re
import time

from codename_shell import fileio
from codename_shell.errors import UsageError
from codename_shell.holders import Holder, RowError
from codename_shell.sources.ledger import EVENTS

FILES = ("ledger.log.2", "ledger.log.1", "ledger.log")  # oldest first
COMPACTED = "# codename ledger, compacted "
_READ_MAX = 256 << 20  # bytes read of one ledger file; the allocator keeps them far smaller
_DURATION = re.compile(r"(?:(\d+)\s*([smhdw]))+")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

_Key = tuple[str, int | None, int | None, str]


class Event:
    """One row of history: at `time`, `holder` was `event` (claimed, released…)."""

    __slots__ = ("event", "holder", "previous", "reason", "time")

    def __init__(self, time: float, event: str, holder: Holder, reason: str = "") -> None:
        self.time = time
        self.event = event
        self.holder = holder
        self.reason = reason
        #: For `renamed`: the name the process held before, when the history shows it.
        self.previous = ""

    @property
    def why(self) -> str:
        """The reason as a person reads it, a rename's old name first."""
        return "; ".join(x for x in (self.previous and f"from {self.previous}", self.reason) if x)

    def to_dict(self) -> dict[str, object]:
        h = self.holder
        row: dict[str, object] = {"time": iso(self.time), "event": self.event, "name": h.name,
                                  "pid": h.pid, "host": h.host, "kind": h.kind}
        if self.previous:
            row["previous"] = self.previous
        if self.reason:
            row["reason"] = self.reason
        return row


class History:
    """Every event of the ledger in `directory` (the state dir), oldest first."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        #: Lines that could not be read, each saying where: for stderr.
        self.warnings: list[str] = []
        self._open: set[_Key] = set()

    def events(self) -> list[Event]:
        found: list[Event] = []
        for name in FILES:
            found.extend(self._file(os.path.join(self.directory, name)))
        # Files hold their rows in write order; a stable sort keeps that order within a second
        # and puts a re-listed row whose claim was rotated away at its claim time.
        found.sort(key=lambda e: e.time)
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
        events: list[Event] = []
        relisted = ""  # the stamp of the compaction whose re-listed rows follow, if any
        for number, line in enumerate(lines, 1):
            if not line:
                continue
            if line.startswith("#"):
                if line.startswith(COMPACTED):
                    relisted = line[len(COMPACTED):].split(";", 1)[0].strip()
                continue
            parsed = _parse(line)
            if isinstance(parsed, str):
                self.warnings.append(f"{path}:{number}: unreadable line skipped ({parsed})")
                continue
            stamp, event = parsed
            if relisted and event.event == "claimed" and stamp == relisted:
                self._relisted(event, events)
                continue
            relisted = ""
            if self._track(event):
                _pair_rename(events, event)
                events.append(event)
        return events

    def _relisted(self, event: Event, events: list[Event]) -> None:
        """A row compaction re-listed: history only when its claim was rotated away."""
        key = _key(event.holder)
        if key in self._open:
            return
        self._open.add(key)
        if event.holder.since:
            event.time = float(event.holder.since)
        events.append(event)

    def _track(self, event: Event) -> bool:
        """Keep the set of open claims; False for a row that is not news (a repeated claim)."""
        key = _key(event.holder)
        if event.event == "claimed":
            if key in self._open:
                return False  # a source healed by re-recording an open claim
            self._open.add(key)
        elif event.event in ("released", "reaped"):
            self._open.discard(key)
        elif event.event == "renamed":
            # The row names the new name; the process's open claim, under its old name, closes.
            before = {k for k in self._open if k[1:] == key[1:]}
            if len(before) == 1:
                event.previous = next(iter(before))[0]
            self._open -= before
            self._open.add(key)
        return True


def _key(h: Holder) -> _Key:
    return (h.name, h.pid, h.start, h.host)


def _parse(line: str) -> tuple[str, Event] | str:
    """(the row's stamp as written, its event), or why the line is not a ledger row."""
    from datetime import datetime

    stamp, _, rest = line.partition("\t")
    kind, _, row = rest.partition("\t")
    if kind not in EVENTS:
        return f"not a ledger event: {kind[:20]!r}" if rest else "not a ledger row"
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return f"bad time {stamp[:40]!r}"
    if when.tzinfo is None:
        return f"time without a time zone {stamp[:40]!r}"
    try:
        holder = Holder.from_row(row, "ledger")
    except RowError as e:
        return str(e)
    reason = next((f[len("reason="):] for f in row.split("\t")[1:] if f.startswith("reason=")),
                  "")
    return stamp, Event(when.timestamp(), kind, holder, reason)


def _pair_rename(events: list[Event], event: Event) -> None:
    """A release and a claim of one process in the same second are a rename: say so on both."""
    if event.event != "claimed" or not events:
        return
    before = events[-1]
    if (before.event == "released" and before.time == event.time
            and before.holder.name != event.holder.name
            and _key(before.holder)[1:] == _key(event.holder)[1:]
            and not before.reason and not event.reason):
        before.reason = f"renamed to {event.holder.name}"
        event.reason = f"renamed from {before.holder.name}"


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


# --- choosing events ----------------------------------------------------------------------

def select(events: list[Event], name: str | None = None,
           since: float | None = None) -> Iterator[Event]:
    """The events of `name` (as a reader sees it: case and Unicode form ignored) since `since`."""
    wanted = _fold(name) if name is not None else None
    for e in events:
        if since is not None and e.time < since:
            continue
        names = (e.holder.name, e.previous) if e.previous else (e.holder.name,)
        if wanted is not None and wanted not in map(_fold, names):
            continue  # a rename belongs to the history of both names
        yield e


def _fold(name: str) -> str:
    """As the allocator compares names (`casts.fold`: NFKC and casefold): `--name` with Pam in
    fullwidth letters is Pam's history, as such a `claim --name` is refused while Pam lives."""
    from codename_shell import casts

    return casts.fold(name)


def parse_since(text: str, now: float | None = None) -> float:
    """`--since`: a duration back from now (90s, 30m, 2h, 1d, 1w, 1h30m), a time today (15:00),
    `today`, `yesterday`, or a date or date and time (2026-11-28, 2026-11-28T15:00)."""
    from datetime import datetime, timedelta

    now = time.time() if now is None else now
    spec = text.strip().lower()
    if _DURATION.fullmatch(spec):
        seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)\s*([smhdw])", spec))
        return now - seconds
    midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if spec in ("today", "yesterday"):
        return (midnight - timedelta(days=spec == "yesterday")).timestamp()
    try:
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", spec):
            clock = datetime.strptime(spec if spec.count(":") == 2 else spec + ":00", "%H:%M:%S")
            return midnight.replace(hour=clock.hour, minute=clock.minute,
                                    second=clock.second).timestamp()
        return datetime.fromisoformat(text.strip()).timestamp()  # naive: local time
    except (ValueError, OverflowError, OSError):
        raise UsageError(f"--since {text!r}: give a duration (90s, 30m, 2h, 1d, 1w), a time "
                         "(15:00), today, yesterday, or a date (2026-11-28, 2026-11-28T15:00)"
                         ) from None


def iso(stamp: float) -> str:
    """ISO 8601 in local time, with its offset: 2026-11-28T15:04:05+01:00."""
    from datetime import datetime

    return datetime.fromtimestamp(stamp).astimezone().isoformat(timespec="seconds")


def local(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
