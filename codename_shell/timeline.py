"""`codename log --timeline`: who held each name when, one row per name, as wide as the terminal.

    Name      09:00     10:00     11:00     12:00     13:00     14:00     15:00     16:00
    Michael   ====4242=========...........#####5120###########################
    Toby      ..........=====7781========......................====9015=======

Each cell is a slice of the window (`--since`, 8 hours by default, up to now); a name's cells
are `=` or `#` while someone held it (the two alternate, so one holder handing over to the
next shows), with the holder's pid written in where it fits, and `.` while it was free. Plain
ASCII for the bars (a box-drawing block is one cell or two depending on the terminal's
font), names padded in terminal cells (a CJK name takes two a character), no line wider than
the terminal (80 columns when piped), and colour only on a terminal: piped, it is text.
"""

from __future__ import annotations

import time

from codename_shell import report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.tenures import Tenure

WINDOW = 8 * 3600  # seconds drawn when no --since is given
PIPED_WIDTH = 80
NAME_MAX = 16  # cells of the name column at most; a longer name is cut with …
FREE, HELD = ".", "=#"
#: Steps between the time labels, the shortest that leaves room for each label.
_STEPS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800,
          7 * 86400, 30 * 86400, 365 * 86400)
_PAINT = (36, 33)  # 256-colour indexes behind the two held patterns on a terminal


def draw(tenures: list[Tenure], start: float, end: float, *, width: int | None = None,
         colour: bool = False, local_host: str = "") -> str:
    """The timeline of `tenures` from `start` to `end` (seconds since the epoch)."""
    width = max(40, width or PIPED_WIDTH)
    shown = [t for t in tenures if t.start.time < end and (t.end is None or t.end.time > start)]
    if not shown or end <= start:
        return "no name was held then\n"
    rows: dict[str, list[Tenure]] = {}
    for t in shown:
        rows.setdefault(t.name, []).append(t)  # in the order the names were first taken
    label = min(NAME_MAX, max(report.cells(report.printable(n)) for n in rows))
    label = max(label, 4)
    bar = width - label - 1
    step = (end - start) / bar
    lines = [report.fit("Name", label) + " " + _axis(start, end, bar)]
    for name, held in rows.items():
        cells = [FREE] * bar
        paint: list[int | None] = [None] * bar
        for i, t in enumerate(held):
            first = max(0, int((t.start.time - start) / step))
            last = bar - 1 if t.end is None else min(bar - 1, int((t.end.time - start) / step))
            if t.end is not None and last > first and (t.end.time - start) / step == last:
                last -= 1  # ends right at a cell's edge: that cell is the next holder's
            pattern = HELD[i % 2]
            for c in range(first, last + 1):
                cells[c], paint[c] = pattern, i % 2
            tag = str(t.start.pid)
            if t.start.host and local_host and t.start.host != local_host:
                tag += "@" + t.start.host
            tag = report.printable(tag)
            if last - first + 1 >= len(tag) + 4 and tag.isascii():
                at = first + 2
                cells[at:at + len(tag)] = list(tag)
        lines.append(report.fit(report.printable(name), label) + " " + _bar(cells, paint, colour))
    cell = f"{step / 60:.0f} min" if step >= 60 else f"{step:.0f} s"
    legend = (f"{HELD[0]}{HELD[1]} held (by pid)  {FREE} free  {_duration(end - start)} to "
              f"{time.strftime('%H:%M', time.localtime(end))}, {cell} a cell")
    lines.append(report.fit(legend, width).rstrip())
    return "".join(line.rstrip() + "\n" for line in lines)


def _bar(cells: list[str], paint: list[int | None], colour: bool) -> str:
    if not colour:
        return "".join(cells)
    out, current = [], None
    for ch, p in zip(cells, paint, strict=True):
        if p != current:
            out.append("\x1b[0m" if p is None else f"\x1b[30;48;5;{_PAINT[p]}m")
            current = p
        out.append(ch)
    if current is not None:
        out.append("\x1b[0m")
    return "".join(out)


def _axis(start: float, end: float, bar: int) -> str:
    """Time labels over the bar, each at the cell of its moment; as many as fit."""
    per_cell = (end - start) / bar
    long = end - start > 86400
    size = 11 if long else 5  # "11-28 15:00" or "15:00"
    step = next((s for s in _STEPS if s / per_cell >= size + 2), None)
    axis = [" "] * bar
    if step is None:
        return ""
    offset = time.localtime(start).tm_gmtoff
    first = ((int(start) + offset) // step + 1) * step - offset  # the first round moment
    moment = first
    while moment < end:
        at = int((moment - start) / per_cell)
        text = time.strftime("%m-%d %H:%M" if long else "%H:%M", time.localtime(moment))
        if at + len(text) <= bar:
            axis[at:at + len(text)] = list(text)
        moment += step
    return "".join(axis)


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min"
