"""Tenures: one holder's hold on one name, from its claim (or the rename that gave it the
name) to its release, reap or rename away: what `log --at` and `log --since` ask about,
made from history's rows (history.py) only where a question needs them.
"""

from __future__ import annotations

import time

from codename_shell.history import (
    EARLIEST,
    EVENT,
    HOST,
    LATEST,
    LINE,
    NAME,
    PID,
    STAMP,
    Event,
    Key,
    Row,
    field,
    fold,
    stamp_of,
)
from codename_shell.moments import iso


class Tenure:
    """One holder's hold on one name: from `first` (its claim, or the rename that gave it the
    name) to `last` (its release, reap, or rename away), None while it holds it."""

    __slots__ = ("before", "first", "last")

    def __init__(self, first: Row, before: Tenure | None = None) -> None:
        self.first = first
        self.last: Row | None = None
        #: The same process's tenure that a rename ended to begin this one.
        self.before = before

    @property
    def start(self) -> Event:
        return Event(self.first)

    @property
    def end(self) -> Event | None:
        return None if self.last is None else Event(self.last)

    @property
    def name(self) -> str:
        return self.first[NAME]

    @property
    def cwd(self) -> str:
        """Where its process was when it claimed ("" when not recorded)."""
        first = self
        while first.before is not None:
            first = first.before
        return field(first.first[LINE], "cwd")

    def held_at(self, stamp: str) -> bool:
        """Whether it held its name in the second `stamp` (a Row's stamp) began."""
        return self.first[STAMP] <= stamp and (self.last is None or self.last[STAMP] > stamp)

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
        seen = None if e is None else e.seen
        if seen is not None:
            row["seen"] = iso(seen)
        return row


def tenures(rows: list[Row]) -> list[Tenure]:
    """Every tenure the rows (in time order) show, in the order they began. A release
    whose claim history lost (rotated away before compaction re-listed it) starts none."""
    held: dict[Key, Tenure] = {}
    found: list[Tenure] = []
    for row in rows:
        event = row[EVENT]
        if event == "claimed":
            key = row[NAME:HOST + 1]
            if key not in held:
                held[key] = Tenure(row)
                found.append(held[key])
        elif event == "released" or event == "reaped":
            ended = held.pop(row[NAME:HOST + 1], None)
            if ended is not None:
                ended.last = row
        elif event == "renamed":
            before = None
            for k in [k for k in held if k[1:] == row[PID:HOST + 1]]:
                before = held.pop(k)
                before.last = row
            held[row[NAME:HOST + 1]] = Tenure(row, before)
            found.append(held[row[NAME:HOST + 1]])
    return found


def open_at(rows: list[Row], edge: str, *, inclusive: bool) -> list[Tenure]:
    """The tenures open at the second `edge` (a Row's stamp), with their ends if any: begun
    by then (`inclusive`: in that second too) and not ended by then. As `tenures`, but a
    tenure is made only for those: a dict entry a claim, not an object (200,000 rows)."""
    # key -> (its first row, the tenure a rename ended to begin it)
    held: dict[Key, tuple[Row, Tenure | None]] = {}
    at = len(rows)
    for i, row in enumerate(rows):
        stamp = row[STAMP]
        if stamp > edge or (stamp == edge and not inclusive):
            at = i
            break
        event = row[EVENT]
        if event == "claimed":
            key = row[NAME:HOST + 1]
            if key not in held:
                held[key] = (row, None)
        elif event == "released" or event == "reaped":
            held.pop(row[NAME:HOST + 1], None)
        elif event == "renamed":
            before = None
            for k in [k for k in held if k[1:] == row[PID:HOST + 1]]:
                before = Tenure(*held.pop(k))
                before.last = row
            held[row[NAME:HOST + 1]] = (row, before)
    made = [Tenure(first, before) for first, before in held.values()]
    waiting = {t.first[NAME:HOST + 1]: t for t in made}
    for row in rows[at:]:  # how each ended, if it has
        if not waiting:
            break
        if row[EVENT] == "released" or row[EVENT] == "reaped":
            t = waiting.pop(row[NAME:HOST + 1], None)
            if t is not None:
                t.last = row
        elif row[EVENT] == "renamed":
            for k in [k for k in waiting if k[1:] == row[PID:HOST + 1]]:
                waiting.pop(k).last = row
    made.sort(key=lambda t: t.first[STAMP])
    return made


def edge_of(moment: float) -> str:
    """The stamp of the second `moment` falls in (held within what stamps can say)."""
    return stamp_of(min(max(moment, EARLIEST - 1), LATEST + 1))


# --- choosing events ------------------------------------------------------------------------

def select(rows: list[Row], name: str | None = None, since: float | None = None,
           now: float | None = None) -> list[Event]:
    """The events of `name` (as a reader sees it: case and Unicode form ignored) from `since`
    on: first the claims of the names held then (and not let go before it; none for a `since`
    still to come), then every event at `since` or later. Stamps are whole seconds, so
    `since` counts from its second."""
    chosen = rows
    if since is not None:
        edge = edge_of(since)
        held = [t.first for t in open_at(rows, edge, inclusive=False)]
        if since // 1 > (time.time() if now is None else now):
            held = []
        chosen = held + [r for r in rows if r[STAMP] >= edge]
    if name is not None:
        wanted = fold(name)
        spelt = {n for n in {r[NAME] for r in chosen} if fold(n) == wanted}  # folded once each
        # A rename belongs to the history of both names.
        chosen = [r for r in chosen if r[NAME] in spelt or (
            r[EVENT] == "renamed" and fold(field(r[LINE], "from")) == wanted)]
    return [Event(r) for r in chosen]


def held_at(rows: list[Row], when: float, name: str | None = None) -> list[Tenure]:
    """The tenures live at `when` (of `name` only, when given), by name."""
    wanted = None if name is None else fold(name)
    found = [t for t in open_at(rows, edge_of(when), inclusive=True)
             if wanted is None or fold(t.name) == wanted]
    found.sort(key=lambda t: (fold(t.name), t.first[STAMP]))
    return found


