"""How holders are shown: a terminal table, JSON, and a Markdown table for a notes file."""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.holders import Holder

COLUMNS = ("NAME", "FULL NAME", "KIND", "PID", "TTY", "HOST", "SINCE", "SOURCES")


def as_dict(h: Holder) -> dict[str, object]:
    return {
        "name": h.name,
        "full": h.full,
        "kind": h.kind,
        "pid": h.pid,
        "tty": h.tty or None,
        "host": h.host,
        "since": _iso(h.since),
        "theme": h.theme or None,
        "sources": list(h.sources),
    }


def to_json(data: object) -> str:
    import json

    return json.dumps(data, ensure_ascii=False, indent=2)


def _iso(stamp: int | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(stamp))


def _since(stamp: int | None) -> str:
    if stamp is None:
        return "?"
    if time.localtime(stamp)[:3] == time.localtime()[:3]:
        return time.strftime("%H:%M", time.localtime(stamp))
    return time.strftime("%b %d %H:%M", time.localtime(stamp))


def _cells(h: Holder) -> list[str]:
    return [h.name, h.full, h.kind, str(h.pid or "-"), h.tty or "-", h.host or "-",
            _since(h.since), ", ".join(h.sources)]


def table(holders: list[Holder]) -> str:
    rows = [list(COLUMNS)] + [_cells(h) for h in holders]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in rows
    )


def markdown(holders: list[Holder]) -> str:
    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|")

    head = "| " + " | ".join(c.title() for c in COLUMNS) + " |\n"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|\n"
    body = "".join("| " + " | ".join(cell(c) for c in _cells(h)) + " |\n" for h in holders)
    return head + rule + body
