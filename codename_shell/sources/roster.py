"""Rosters: JSON-lines files that other launchers keep of the names their jobs hold.

Each line is an object with `name` and optionally `pid`, `host` and `kind`. codename only
reads them. A row whose pid is of this host is checked against the real process (and ignored
once that process is gone); a row without a pid, or of another host, cannot be checked from
here and is trusted for as long as the roster lists it: the launcher vouches for it.
"""

from __future__ import annotations

import time

from codename_shell.holders import KINDS, Holder
from codename_shell.liveness import host as this_host
from codename_shell.sources.base import Source


class RosterSource(Source):
    writable = False

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.label = f"roster:{path}"
        self.missing = False

    def holders(self) -> list[Holder]:
        import json

        self.problems = []
        self.blind = ""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            self.missing = True  # a launcher with no jobs yet: counts as empty
            return []
        except OSError as e:
            self.blind = f"{self.path}: unreadable ({e.strerror})"
            self.problems.append(f"{self.blind}; its holders are unknown")
            return []
        found = []
        now = int(time.time())
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                found.append(self._holder(json.loads(line), now))
            except (ValueError, TypeError) as e:
                self.problems.append(f"{self.path}:{number}: bad roster line skipped ({e})")
        return found

    def _holder(self, row: object, now: int) -> Holder:
        if not isinstance(row, dict):
            raise ValueError("not a JSON object")
        name, pid, host = row.get("name"), row.get("pid"), row.get("host")
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise ValueError("no usable `name`")
        if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0):
            raise ValueError("`pid` must be a positive number")
        if host is not None and not isinstance(host, str):
            raise ValueError("`host` must be a string")
        kind = row.get("kind") if row.get("kind") in KINDS else "job"
        # An unverifiable row stays fresh while listed: its beat is "now".
        return Holder(name, pid=pid, kind=str(kind), host=host or this_host(), beat=now,
                      since=_int(row.get("since"), now), sources=[self.label])

    def describe(self) -> str:
        return f"{self.label}" + (" (missing: counts as empty)" if self.missing else "")


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
