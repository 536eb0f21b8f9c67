"""How holders are shown: a terminal table, JSON, and a Markdown table for a notes file.

Every field shown comes from a file someone else may write (a roster's host, a ledger row's
full name), so nothing reaches the terminal raw: `printable` (in `errors`, beside the messages
it mostly serves) is the one place that turns ESC, BEL, newlines and every other character a
terminal could act on into a visible escape. An OSC sequence in a host name would otherwise
retitle the window or write the clipboard (OSC 52).
"""

from __future__ import annotations

import time

from codename_shell import colours
from codename_shell.errors import printable as printable  # re-exported: cli, doctor use it

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.holders import Holder

COLUMNS = ("Name", "Full name", "Kind", "PID", "TTY", "Host", "Since", "Idle", "Doing", "Where",
           "Sources")
# A terminal too narrow for every column: the columns worth less than a command (up to the
# `_WANT` cells of it) go first; then the ones cut with `…` (down to `_SHRINK` cells); then, if
# still too narrow, the rest in this order. `Name` and `Doing` always stay.
_DROP_FIRST = ("Full name", "Sources", "Host")
_WANT = {"Doing": 32, "Where": 24}
_SHRINK = {"Doing": 12, "Where": 12}
_DROP = ("Since", "TTY", "Kind", "PID", "Where", "Idle")
# The roster in a notes file is read by people: pids, ttys and sources are `who`'s business.
ROSTER = ("Name", "Full name", "Kind", "Doing", "Where", "Idle", "Since", "Host")
_CODE = ("Doing", "Where")  # shown as `code` in Markdown: a command's `*` is not emphasis


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
        "colour": colours.of(h),
    }


def to_json(data: object) -> str:
    """JSON for a terminal or a program: the same values, with every character a terminal
    could act on written as a JSON escape (json.dumps leaves C1 controls and U+2028 raw)."""
    import json

    text = json.dumps(data, ensure_ascii=False, indent=2)
    if text.replace("\n", "").isprintable():
        return text
    # Outside strings json.dumps writes only printable characters and the indent's newlines.
    return "".join(ch if ch.isprintable() or ch == "\n" else _json_escape(ch) for ch in text)


def _json_escape(ch: str) -> str:
    raw = ch.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{int.from_bytes(raw[i:i + 2], 'big'):04x}"
                   for i in range(0, len(raw), 2))


def _local(stamp: int | None) -> time.struct_time | None:
    """`stamp` as local time, None when absent or beyond what the platform can show."""
    if stamp is None:
        return None
    try:
        return time.localtime(stamp)
    except (OverflowError, OSError, ValueError):
        return None  # a row's `since` of 1e20: shown as unknown, never a crash


def _iso(stamp: int | None) -> str | None:
    local = _local(stamp)
    return None if local is None else time.strftime("%Y-%m-%dT%H:%M:%S%z", local)


def _since(stamp: int | None) -> str:
    local = _local(stamp)
    if local is None:
        return "?"
    if local[:3] == _today():
        return time.strftime("%H:%M", local)
    return time.strftime("%b %d %H:%M", local)


_day: list[object] = [None, ()]


def _today() -> tuple[int, ...]:
    """Today's (year, month, day), looked up again only when the minute changes: a table of
    800,000 rows asked for it once a row."""
    minute = int(time.time()) // 60
    if _day[0] != minute:
        _day[0], _day[1] = minute, tuple(time.localtime()[:3])
    return _day[1]  # type: ignore[return-value]


def _cells(h: Holder) -> list[str]:
    # What the process is doing comes from other processes (command lines, directories):
    # hostile input like every other field, so it goes through `printable` too.
    from codename_shell.activity import tilde

    act = h.activity
    tty = h.tty.removeprefix("/dev/") if h.tty else "-"
    cells = [h.name, h.full, h.kind, str(h.pid or "-"), tty, h.host or "-", _since(h.since),
             _idle(act.idle if act else None), (act and act.doing) or "-",
             (act and tilde(act.cwd)) or "-", ", ".join(h.sources)]
    if "".join(cells).isprintable():  # the common case, one call instead of eleven
        return cells
    return [printable(c) for c in cells]


def activity_dict(h: Holder, current: bool) -> dict[str, object]:
    """The JSON fields `who` adds: `doing`, `cwd` ("" when unknown), `idle_seconds`, `current`."""
    from codename_shell.activity import Activity

    return {**(h.activity or Activity()).to_dict(), "current": current}


def table(holders: list[Holder], *, current: Holder | None = None,
          width: int | None = None, paint: bool = False) -> str:
    """The holders as aligned columns, `current` marked `*`, fitted to `width` cells if given;
    `paint`: each name in its colour (for a terminal: the caller decides, see `who`)."""
    return grid(COLUMNS, [_cells(h) for h in holders], width=width,
                marks=["*" if h is current else "" for h in holders], drop_first=_DROP_FIRST,
                drop=_DROP, want=_WANT, shrink=_SHRINK, cut_front=("Where",),
                paint=[colours.of(h) for h in holders] if paint else None)


def markdown(holders: list[Holder], columns: tuple[str, ...] = COLUMNS) -> str:
    def cell(text: str, header: str) -> str:
        if header in _CODE and text != "-":
            return _code(text).replace("|", "\\|")
        return text.replace("\\", "\\\\").replace("|", "\\|")

    at = [COLUMNS.index(c) for c in columns]
    head = "| " + " | ".join(columns) + " |\n"
    rule = "|" + "|".join("---" for _ in columns) + "|\n"
    body = "".join("| " + " | ".join(cell(row[i], COLUMNS[i]) for i in at) + " |\n"
                   for row in map(_cells, holders))
    return head + rule + body


def _code(text: str) -> str:
    """`text` as a Markdown code span, fenced by more backticks than it holds in a row."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _idle(seconds: float | None) -> str:
    """Idle time as `w` would put it, shorter: 8s, 12m, 3h05m, 2d."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d"


# --- aligned columns that fit a terminal -------------------------------------------------------

def terminal_width() -> int | None:
    """The width to fit: $COLUMNS, else the terminal's; None (no limit) when not on a terminal,
    as `ps` does, so a pipe or a file gets whole lines."""
    import os
    import shutil
    import sys

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def grid(headers: tuple[str, ...], rows: list[list[str]], *, width: int | None = None,
         marks: list[str] | None = None, drop_first: tuple[str, ...] = (),
         drop: tuple[str, ...] = (), want: dict[str, int] | None = None,
         shrink: dict[str, int] | None = None, cut_front: tuple[str, ...] = (),
         paint: list[int] | None = None) -> str:
    """Rows of printable cells as aligned columns under `headers`, no line wider than `width`.

    Too wide, it gives up the columns named in `drop_first`, in order, until the rest fit
    (the `want` ones counted at most that wide: one long command must not cost every other
    column); then the ones in `drop` while the rest, the `shrink` ones at their narrowest,
    still do not fit; then cuts the `shrink` columns with `…` (`cut_front` ones keep their
    end: a path's last part says the most); a line still too wide is cut at the edge. Widths
    are counted in terminal cells: a CJK name or an emoji takes two. `marks` (one or two cells
    per row) are set before each row; `paint` (a 256-colour index per row) colours each
    row's first cell, escapes added after the widths are counted.
    """
    shrink = shrink or {}
    lead = 2 if marks is not None else 0
    every = [list(headers), *rows]
    # Each cell's width, counted once: `who` with a roster of 800,000 rows spent half its
    # time counting every cell twice.
    sizes = [[len(c) if c.isascii() else cells(c) for c in r] for r in every]
    natural = [max(r[i] for r in sizes) for i in range(len(headers))]
    keep = list(range(len(headers)))

    def need(widths: dict[int, int]) -> int:
        return lead + sum(widths.values()) + 2 * (len(widths) - 1)

    if width is not None:
        for name in drop_first:
            if need({i: min(natural[i], (want or {}).get(headers[i], natural[i]))
                     for i in keep}) <= width:
                break
            if name in headers:
                keep.remove(headers.index(name))
        for name in drop:
            least = {i: min(natural[i], shrink.get(headers[i], natural[i])) for i in keep}
            if need(least) <= width:
                break
            if name in headers:
                keep.remove(headers.index(name))
    widths = {i: natural[i] for i in keep}
    if width is not None:
        over = need(widths) - width
        for floor in (shrink, dict.fromkeys(shrink, 1)):
            for i in keep:
                cut = min(over, widths[i] - floor.get(headers[i], widths[i]))
                if cut > 0:
                    widths[i] -= cut
                    over -= cut
    out = []
    colours_: list[int | None] = [None]  # the header's
    colours_ += paint if paint is not None else [None] * len(rows)
    for mark, row, size, colour in zip(["", *(marks or [""] * len(rows))], every, sizes,
                                       colours_, strict=True):
        # A cell that fits is padded, measured once (H5's who speed-up); one that does not is cut.
        fitted = [row[i] + " " * (widths[i] - size[i]) if size[i] <= widths[i]
                  else _fit(row[i], widths[i], headers[i] in cut_front) for i in keep]
        line = (mark.ljust(lead) + "  ".join(fitted)).rstrip()
        if width is not None and cells(line) > width:
            line = _cut(line, width, front=False)
        elif colour is not None and fitted:
            # The first cell's text in its colour, its padding outside: widths stay as counted.
            first = fitted[0].rstrip(" ")
            line = (mark.ljust(lead) + f"\x1b[38;5;{colour}m{first}\x1b[0m"
                    + line[lead + len(first):])
        out.append(line + "\n")
    return "".join(out)


def cells(text: str) -> int:
    """How many terminal cells `text` (printable) takes: wide East Asian characters and most
    emoji take two, combining marks none."""
    if text.isascii():
        return len(text)
    return sum(_char_cells(ch) for ch in text)


def _char_cells(ch: str) -> int:
    import unicodedata

    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def fit(text: str, width: int) -> str:
    """`text` (printable) padded to `width` terminal cells, or cut to it with `…`."""
    return _fit(text, width, False)


def _fit(text: str, width: int, front: bool) -> str:
    """`text` padded to `width` cells, or cut to it with `…`."""
    size = cells(text)
    if size > width:
        text = _cut(text, width, front)
        size = cells(text)
    return text + " " * (width - size)


def _cut(text: str, width: int, front: bool) -> str:
    """At most `width` cells of `text`, the cut marked `…` (at the start when `front`)."""
    if width <= 0:
        return ""
    room = width - 1
    chars = list(reversed(text)) if front else list(text)
    kept: list[str] = []
    used = 0
    for ch in chars:
        size = _char_cells(ch)
        if used + size > room:
            break
        kept.append(ch)
        used += size
    body = "".join(reversed(kept)) if front else "".join(kept)
    return "…" + body if front else body + "…"
