"""The ledger: the assignment log in the state dir, one human-readable row per event.

    2026-11-28T09:14:03Z  claimed   Pam  full=Pam Beesly  kind=terminal  pid=4242 …
    2026-11-28T11:02:40Z  released  Pam  …

It outlives the runtime dir: a holder whose presence file vanished (a wiped /run/user, a tmp
cleaner) but whose process lives keeps its name because the ledger still has its open row.

Crash-safe: rows are appended whole; a torn last row (a crash mid-write) is skipped, and the
next append drops it (closed off with a newline, it would read as a whole row). Bounded: once
the live file holds many closed rows it is compacted to its open rows (atomically), and the
closed history moves to `ledger.log.1` (rotated to `.2` past a size), so a claim reads a file
proportional to the live holders, never the whole history.
"""

from __future__ import annotations

import os
import time

from codename_shell import fileio
from codename_shell.holders import Holder, RowError
from codename_shell.sources.base import Source

EVENTS = ("claimed", "released", "reaped", "heartbeat")
COMPACT_AFTER = 256  # closed rows kept in the live file before compaction
ARCHIVE_MAX = 1 << 20  # bytes of history in ledger.log.1 before it rotates to .2


class LedgerSource(Source):
    label = "ledger"
    writable = True

    def __init__(self, directory: str) -> None:
        super().__init__()
        self.path = os.path.join(directory, "ledger.log")
        self._rows = 0
        self._open: dict[tuple[str, int | None, int | None, str], Holder] = {}

    def holders(self) -> list[Holder]:
        self.problems = []
        self._open = {}
        self._rows = 0
        text = fileio.read_text(self.path)
        if not text:
            return []
        lines = text.split("\n")
        # The text after the last newline is a row whose writer died mid-write: skip it.
        torn = lines.pop()
        if torn:
            self.problems.append(f"{self.path}: a torn last row was skipped (a crash mid-write); "
                                 "harmless, the next claim drops it")
        for number, line in enumerate(lines, 1):
            if line and not line.startswith("#"):
                self._rows += 1
                self._apply(line, number)
        return list(self._open.values())

    def _apply(self, line: str, number: int) -> None:
        _stamp, _, rest = line.partition("\t")
        event, _, row = rest.partition("\t")
        try:
            if event not in EVENTS:
                raise RowError(f"unknown event {event!r}")
            holder = Holder.from_row(row, self.label)
        except RowError as e:
            self.problems.append(f"{self.path}:{number}: unreadable row ({e}); skipped")
            return
        self._track(event, holder)

    def _track(self, event: str, holder: Holder) -> None:
        key = (holder.name, holder.pid, holder.start, holder.host)
        if event == "claimed":
            self._open[key] = holder
        elif event == "heartbeat":
            if key in self._open:
                self._open[key].beat = holder.beat
        else:
            self._open.pop(key, None)

    def record(self, holder: Holder) -> None:
        self._append("claimed", holder)

    def forget(self, holder: Holder, event: str) -> None:
        self._append(event, holder)

    def beat(self, holder: Holder) -> None:
        self._append("heartbeat", holder)

    def _append(self, event: str, holder: Holder) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        fileio.append_line(self.path, f"{stamp}\t{event}\t{holder.to_row()}")
        self._rows += 1
        self._track(event, holder)

    def compact_if_needed(self) -> bool:
        """Rewrite the live file to just its open rows once closed rows pile up.

        Called under the allocator lock, after `holders()` and reaping, so every open row
        left is a live holder.
        """
        live = list(self._open.values())
        if self._rows <= COMPACT_AFTER + 2 * len(live):
            return False
        old = fileio.read_text(self.path) or ""
        self._archive(old)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        rows = [f"# codename ledger, compacted {stamp}; history in ledger.log.1\n"]
        rows += [f"{stamp}\tclaimed\t{h.to_row()}\n" for h in live]
        fileio.write_atomic(self.path, "".join(rows).encode("utf-8"))
        self._rows = len(live)
        return True

    def _archive(self, text: str) -> None:
        archive = self.path + ".1"
        try:
            if os.stat(archive).st_size > ARCHIVE_MAX:
                os.replace(archive, self.path + ".2")
        except FileNotFoundError:
            pass
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]  # the torn row is dropped, not archived
        fd = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)

    def describe(self) -> str:
        return f"ledger ({self.path})"
