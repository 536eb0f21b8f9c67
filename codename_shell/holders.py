"""A holder (a process that holds a name), and the one-line row presence files and the
ledger share.

A row is tab-separated: the name, then `key=value` fields, e.g.

    Pam<TAB>full=Pam Beesly<TAB>kind=terminal<TAB>pid=4242<TAB>start=918273<TAB>boot=…<TAB>host=box…

Names and full names never hold tabs or newlines (casts refuse them), so rows stay one line
and readable with `column -t -s$'\\t'`.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from codename_shell.activity import Activity

KINDS = ("terminal", "spare", "job")
#: The last second of the year 9999: past it a timestamp is junk (and time.localtime fails).
MAX_STAMP = 253402300799
# A row's numbers. Out of range, an identity number (pid >= 1, start >= 0) makes the row junk:
# no process has it. A time or a tty number is only held within its range: dropping the row
# instead would forget a holder that may be alive.
_INT_KEYS = ("pid", "start", "since", "beat", "tty_nr")
_TTY_NR_MAX = 2**32 - 1


class RowError(ValueError):
    """A row that cannot be read back as a holder."""


class Holder:
    """A name held by a process, as one source knows it."""

    __slots__ = (
        "activity", "beat", "boot", "colour", "full", "host", "kind", "machine", "name", "ns",
        "pid", "since", "sources", "start", "theme", "tty", "tty_nr",
    )

    def __init__(
        self, name: str, *, pid: int | None, full: str = "", kind: str = "terminal",
        start: int | None = None, boot: str = "", host: str = "", ns: str = "",
        tty: str = "", tty_nr: int | None = None, since: int | None = None,
        beat: int | None = None, theme: str = "", sources: Iterable[str] = (),
        machine: str = "", colour: int | None = None,
    ) -> None:
        now = int(time.time())
        self.name = name
        self.full = full or name
        self.kind = kind
        self.pid = pid
        self.start = start
        self.boot = boot
        # The machine id (see liveness.machine_id): tells an earlier boot of this machine from
        # another machine of the same hostname. Rows written before it was recorded have none.
        self.machine = machine
        self.host = host
        self.ns = ns
        self.tty = tty
        self.tty_nr = tty_nr
        self.since = since if since is not None else now
        self.beat = beat if beat is not None else self.since
        self.theme = theme
        self.sources = list(sources)
        #: Its colour (a 256-colour index, see `colours`), chosen when it claimed and kept
        #: for its life; None in rows written before colours were kept, and in rosters.
        self.colour = colour
        #: What it is doing (`who`'s Doing, Where, Idle): read from /proc for a holder of this
        #: host (see `activity.gather`); a source that knows more about another host's holder
        #: (the fleet: what that host last reported) may fill it in. Never part of a row.
        self.activity: Activity | None = None

    @property
    def ident(self) -> str:
        """Its presence file's name and $CODENAME_ID: `<pid>-<start>-<pid namespace>`."""
        return ident(self.pid, self.start, self.ns)

    @property
    def identity(self) -> tuple[str, int | None, int | None]:
        """What tells two processes apart across reboots and pid reuse."""
        return (self.host, self.pid, self.start)

    def same_process(self, other: Holder) -> bool:
        if self.host != other.host or self.pid != other.pid:
            return False
        # A roster row carries no start time: its pid on this host is all it can say.
        if self.start is None or other.start is None:
            return True
        # Another pid namespace is another host: its pid and start time can match ours.
        return self.start == other.start and self.boot == other.boot and self.ns == other.ns

    def to_row(self) -> str:
        fields = [self.name]
        for key in ("full", "kind", "pid", "start", "boot", "machine", "host", "ns", "tty",
                    "tty_nr", "since", "beat", "theme", "colour"):
            value = getattr(self, key)
            if value is not None and value != "":
                fields.append(f"{key}={value}")
        return "\t".join(fields)

    @classmethod
    def from_row(cls, row: str, source: str) -> Holder:
        """The holder a row describes, as `source` knows it; RowError when it cannot be read.

        A row is parsed once per process however often it is read, and once at all while
        `rowcache` keeps it: a claim reads each holder's row twice (its presence file, its
        ledger row: the same text), and parsing is most of what a row costs (~3 µs; ~3 ms of
        a claim among 1,000 holders). Each call still makes a new Holder: merging rows
        changes them.
        """
        fields = _parsed.get(row)
        if fields is None:
            fields = _parse(row)
            if len(_parsed) >= _PARSED_MAX:
                _parsed.clear()  # a long-lived process (the keeper) sees rows come and go
                _used.clear()
            _parsed[row] = fields
            _counts[0] += 1
        _used[row] = fields
        # The slots are set straight from the fields, as __init__ would set them: its keyword
        # arguments cost ~0.7 µs a row more, ~1.4 ms of a claim among 1,000 holders.
        holder = _new(cls)
        (holder.name, holder.full, holder.kind, holder.pid, holder.start, holder.boot,
         holder.host, holder.ns, holder.tty, holder.tty_nr, since, beat, holder.theme,
         holder.machine, holder.colour) = fields
        holder.since = int(time.time()) if since is None else since
        holder.beat = holder.since if beat is None else beat
        holder.sources = [source]
        holder.activity = None
        return holder

    def __repr__(self) -> str:
        return f"Holder({self.name!r}, pid={self.pid}, kind={self.kind}, sources={self.sources})"


# What `_parse` made of each row text this process has read or `rowcache` gave it (see
# `Holder.from_row`); of those, the rows read since (what rowcache keeps next), and how many
# this process parsed itself.
Fields = tuple[str, str, str, "int | None", "int | None", str, str, str, str, "int | None",
               "int | None", "int | None", str, str, "int | None"]
_parsed: dict[str, Fields] = {}
_used: dict[str, Fields] = {}
_counts = [0]
_new = object.__new__
_PARSED_MAX = 16384  # rows; a claim among 5,000 holders reads 10,000 (5,000 distinct)


def parsed_rows() -> tuple[dict[str, Fields], int]:
    """The rows this process has read, parsed, and how many of them it had to parse itself."""
    return _used, _counts[0]


def adopt_parsed(rows: dict[str, Fields]) -> None:
    """Take rows parsed by an earlier process (`rowcache`): `from_row` parses them no more."""
    _parsed.update(rows)


def _parse(row: str) -> Fields:
    parts = row.rstrip("\n").split("\t")
    name = parts[0]
    if not name or min(name) < " ":  # min: a control character, checked in C
        raise RowError("no name")
    fields = parts[1:]
    try:
        # Each field split at its first "=", all in C: ~1.5 µs a row less than a loop.
        values = dict(map(str.split, fields, ("=",) * len(fields), (1,) * len(fields)))
    except ValueError:
        bad = next(part for part in fields if "=" not in part)
        raise RowError(f"field {bad!r} is not key=value") from None
    get = values.get
    try:
        # One comprehension, the ranges checked after: a call per field cost ~0.4 µs a row
        # more. A 5,000-digit number is a ValueError too, not a slow parse.
        pid, start, since, beat, tty_nr = [int(text) if text else None
                                           for text in map(get, _INT_KEYS)]
    except ValueError as e:
        raise RowError(str(e)) from None
    if pid is None:
        raise RowError("no pid")
    if pid < 1 or (start is not None and start < 0):
        raise RowError(f"pid={pid} start={start} is out of range")
    return (name, get("full") or name, get("kind", "terminal"), pid, start, get("boot", ""),
            get("host", ""), get("ns", ""), get("tty", ""), _within(tty_nr, _TTY_NR_MAX),
            _within(since, MAX_STAMP), _within(beat, MAX_STAMP), get("theme", ""),
            get("machine", ""), _colour(get("colour")))


def _colour(text: str | None) -> int | None:
    """A row's colour: a 256-colour index, else none (an odd value never makes a row junk:
    the holder it describes may be alive)."""
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 3:
        return None
    value = int(text)
    return value if value <= 255 else None


def _within(value: int | None, high: int) -> int | None:
    return value if value is None or 0 <= value <= high else min(max(value, 0), high)


def ns_token(ns: str) -> str:
    """The number of a pid namespace (`pid:[4026531836]` -> `4026531836`), or ""."""
    token = ns[ns.find("[") + 1:ns.rfind("]")] if "[" in ns else ns
    return token if token.isdigit() else ""


def ident(pid: int | None, start: int | None, ns: str = "") -> str:
    """A holder's id: its presence file's name, its $CODENAME_ID.

    The pid namespace is part of it: two namespaces sharing one runtime dir can each have a
    holder with the same pid and start tick (two containers started together), and one file
    for both would let one shell's prompt show, and its exit give back, the other's name.
    """
    base = f"{pid}-{start if start is not None else 'x'}"
    token = ns_token(ns)
    return f"{base}-{token}" if token else base


def parse_ident(text: str) -> tuple[int, int | None, str] | None:
    """(pid, start, namespace number) from an id `ident` made; None when it is not one."""
    parts = text.split("-")
    if len(parts) not in (2, 3) or not parts[0].isdigit():
        return None
    start, token = parts[1], parts[2] if len(parts) == 3 else ""
    if not (start.isdigit() or start == "x") or (len(parts) == 3 and not token.isdigit()):
        return None
    return int(parts[0]), None if start == "x" else int(start), token

