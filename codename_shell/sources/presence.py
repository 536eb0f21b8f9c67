"""Presence: one file per holder in the runtime dir, written atomically, mode 0600.

The file is named after the holder's identity (`<pid>-<start>`), so a shell can give its name
back at exit with a shell builtin alone: it empties its own file (`: >| file`). An empty
presence file therefore means "released"; the next claim removes it and closes the ledger row.
"""

from __future__ import annotations

import os

from codename_shell import fileio
from codename_shell.holders import Holder, RowError
from codename_shell.sources.base import Source


class PresenceSource(Source):
    label = "presence"
    writable = True

    def __init__(self, directory: str) -> None:
        super().__init__()
        self.directory = directory
        #: (pid, start) of the files a shell emptied on exit: clean releases.
        self.released: list[tuple[int, int | None]] = []

    @staticmethod
    def filename(pid: int | None, start: int | None) -> str:
        return f"{pid}-{start if start is not None else 'x'}"

    def path_for(self, holder: Holder) -> str:
        return os.path.join(self.directory, self.filename(holder.pid, holder.start))

    def holders(self) -> list[Holder]:
        self.problems = []
        self.released = []
        found: list[Holder] = []
        try:
            entries = os.listdir(self.directory)
        except FileNotFoundError:
            return found  # a wiped runtime dir: the ledger still knows who lives
        for entry in entries:
            if "." in entry:
                continue  # temp files mid-rename, and a bash hook's `<pid>-<start>.exit` scratch
            holder = self._read(entry)
            if holder is not None:
                found.append(holder)
        return found

    def _read(self, entry: str) -> Holder | None:
        path = os.path.join(self.directory, entry)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError as e:
            self.problems.append(f"{path}: unreadable ({e.strerror}); remove it")
            return None
        if not text.strip():
            ident = _ident_from_filename(entry)
            if ident is not None:
                self.released.append(ident)
            return None
        try:
            holder = Holder.from_row(text.splitlines()[0], self.label)
        except RowError as e:
            self.problems.append(f"{path}: unreadable row ({e}); `codename reap` removes it")
            return None
        try:
            holder.beat = max(holder.beat or 0, int(os.stat(path).st_mtime))
        except OSError:
            pass
        return holder

    def record(self, holder: Holder) -> None:
        fileio.write_atomic(self.path_for(holder), (holder.to_row() + "\n").encode("utf-8"))

    def forget(self, holder: Holder, event: str) -> None:
        self.remove(holder.pid, holder.start)

    def remove(self, pid: int | None, start: int | None) -> None:
        path = os.path.join(self.directory, self.filename(pid, start))
        for leftover in (path, f"{path}.exit"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass

    def remove_unreadable(self) -> list[str]:
        """Delete files `holders()` could not read; return their paths."""
        removed = []
        for problem in self.problems:
            path = problem.split(": ", 1)[0]
            try:
                os.unlink(path)
                removed.append(path)
            except OSError:
                pass
        return removed

    def describe(self) -> str:
        return f"presence ({self.directory})"


def _ident_from_filename(entry: str) -> tuple[int, int | None] | None:
    pid, _, start = entry.partition("-")
    try:
        return int(pid), (None if start == "x" else int(start))
    except ValueError:
        return None
