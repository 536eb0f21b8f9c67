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

KINDS = ("terminal", "spare", "job")
_INT_FIELDS = ("pid", "start", "since", "beat", "tty_nr")


class RowError(ValueError):
    """A row that cannot be read back as a holder."""


class Holder:
    """A name held by a process, as one source knows it."""

    __slots__ = (
        "beat", "boot", "full", "host", "kind", "name", "ns", "pid", "since", "sources", "start",
        "theme", "tty", "tty_nr",
    )

    def __init__(
        self, name: str, *, pid: int | None, full: str = "", kind: str = "terminal",
        start: int | None = None, boot: str = "", host: str = "", ns: str = "",
        tty: str = "", tty_nr: int | None = None, since: int | None = None,
        beat: int | None = None, theme: str = "", sources: Iterable[str] = (),
    ) -> None:
        now = int(time.time())
        self.name = name
        self.full = full or name
        self.kind = kind
        self.pid = pid
        self.start = start
        self.boot = boot
        self.host = host
        self.ns = ns
        self.tty = tty
        self.tty_nr = tty_nr
        self.since = since if since is not None else now
        self.beat = beat if beat is not None else self.since
        self.theme = theme
        self.sources = list(sources)

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
        return self.start == other.start and self.boot == other.boot

    def to_row(self) -> str:
        fields = [self.name]
        for key in ("full", "kind", "pid", "start", "boot", "host", "ns", "tty", "tty_nr",
                    "since", "beat", "theme"):
            value = getattr(self, key)
            if value is not None and value != "":
                fields.append(f"{key}={value}")
        return "\t".join(fields)

    @classmethod
    def from_row(cls, row: str, source: str) -> Holder:
        parts = row.rstrip("\n").split("\t")
        name = parts[0]
        if not name or any(ch < " " for ch in name):
            raise RowError("no name")
        values: dict[str, str] = {}
        for part in parts[1:]:
            key, sep, value = part.partition("=")
            if not sep:
                raise RowError(f"field {part!r} is not key=value")
            values[key] = value
        ints: dict[str, int | None] = {}
        try:
            for key in _INT_FIELDS:
                ints[key] = int(values[key]) if values.get(key) else None
        except ValueError as e:
            raise RowError(str(e)) from None
        if ints["pid"] is None:
            raise RowError("no pid")
        kind = values.get("kind", "terminal")
        return cls(
            name, pid=ints["pid"], full=values.get("full", ""), kind=kind,
            start=ints["start"], boot=values.get("boot", ""), host=values.get("host", ""),
            ns=values.get("ns", ""), tty=values.get("tty", ""), tty_nr=ints["tty_nr"],
            since=ints["since"], beat=ints["beat"], theme=values.get("theme", ""),
            sources=[source],
        )

    def __repr__(self) -> str:
        return f"Holder({self.name!r}, pid={self.pid}, kind={self.kind}, sources={self.sources})"
