"""Rosters: JSON-lines files that other launchers keep of the names their jobs hold.

Each line is an object with `name` and optionally `pid`, `host` and `kind`. codename only
reads them. A row whose pid is of this host is checked against the real process (and ignored
once that process is gone); a row without a pid, or of another host, cannot be checked from
here and is trusted for as long as the roster lists it: the launcher vouches for it.

A roster is someone else's file, so it is read as hostile: only a regular file (a FIFO would
hang every shell start, /dev/zero would never end), at most ROSTER_MAX bytes, lines split at
"\\n" alone (JSON strings may hold a raw U+2028 or U+0085, which `str.splitlines` would take
for line ends, cutting a holder's row in two), and no line can raise. A big roster costs its
parse: `load()` lets the allocator pay it before taking the lock.
"""

from __future__ import annotations

import time

from codename_shell import fileio
from codename_shell.errors import printable
from codename_shell.holders import KINDS, MAX_STAMP, Holder
from codename_shell.liveness import host as this_host
from codename_shell.sources.base import Source

ROSTER_MAX = 64 << 20  # bytes; about 1,000,000 rows of a busy fleet
MAX_REPORTED = 10  # bad lines reported one by one; past this, one line counts the rest


class RosterSource(Source):
    writable = False

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        # The label is shown (`who`, `doctor`, error lines): printable, whatever the path holds.
        self.label = f"roster:{printable(path)}"
        self.missing = False
        self._loaded: list[Holder] | None = None

    def load(self) -> None:
        """Read and parse the roster now; the next `holders()` returns these rows.

        For the allocator to call BEFORE taking its lock: a roster is written by another
        launcher, never under codename's lock, so reading it a moment earlier answers just as
        well, and a 1,000,000-line roster's parse then delays no other claim. `problems`,
        `blind` and `missing` are set here. The rows are handed over once: a later
        `holders()` reads the file again.
        """
        self._loaded = self._read()

    def holders(self) -> list[Holder]:
        if self._loaded is not None:
            rows, self._loaded = self._loaded, None
            return rows
        return self._read()

    def _read(self) -> list[Holder]:
        self.problems = []
        self.blind = ""
        self.missing = False
        try:
            data = fileio.read_regular(self.path, ROSTER_MAX)
        except FileNotFoundError:
            self.missing = True  # a launcher with no jobs yet: counts as empty
            return []
        except OSError as e:
            # Not read at all: it may list any name, so no name is handed out (see allocator).
            self.blind = f"{printable(self.path)}: unreadable ({printable(e.strerror)})"
            self.problems.append(f"{self.blind}; its holders are unknown")
            return []
        return self._parse(data.decode("utf-8", errors="replace").removeprefix("\ufeff"))

    def _parse(self, text: str) -> list[Holder]:
        import json

        decode = json.JSONDecoder().raw_decode  # json.loads less its two regex passes a line
        found = []
        bad = 0
        now, here = int(time.time()), this_host()
        for number, line in enumerate(text.split("\n"), 1):
            line = line.strip(" \t\r")  # JSON's blanks, never U+2028 or U+0085
            if not line:
                continue
            try:
                row, end = decode(line)
                if end != len(line):
                    raise ValueError(f"extra data after the object (column {end + 1})")
                found.append(self._holder(row, now, here))
            except (ValueError, TypeError, RecursionError) as e:
                bad += 1
                if bad <= MAX_REPORTED:
                    self.problems.append(f"{printable(self.path)}:{number}: bad roster line "
                                         f"skipped ({printable(e)})")
        if bad > MAX_REPORTED:
            self.problems.append(f"{printable(self.path)}: {bad - MAX_REPORTED} more bad "
                                 "roster lines skipped")
        return found

    def _holder(self, row: object, now: int, here: str) -> Holder:
        if not isinstance(row, dict):
            raise ValueError("not a JSON object")
        name, pid, host = row.get("name"), row.get("pid"), row.get("host")
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise ValueError("no usable `name`")
        if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0):
            raise ValueError("`pid` must be a positive number")
        if host is not None and not isinstance(host, str):
            raise ValueError("`host` must be a string")
        kind = row.get("kind")
        # An unverifiable row stays fresh while listed: its beat is "now".
        return Holder(name, pid=pid, kind=kind if kind in KINDS else "job", host=host or here,
                      beat=now, since=_stamp(row.get("since"), now), sources=[self.label])

    def describe(self) -> str:
        return f"{self.label}" + (" (missing: counts as empty)" if self.missing else "")


def _stamp(value: object, default: int) -> int:
    """A row's `since`, when it is a time that can be shown; `default` for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_STAMP:
        return value
    return default
