"""Presence: one file per holder in the runtime dir, written atomically, mode 0600.

The file is named after the holder's identity (`<pid>-<start>-<pid namespace>`), so a shell can
give its name back at exit with a shell builtin alone: it empties its own file (`: >| file`).
An empty presence file therefore means "released"; the next claim removes it and closes the
ledger row.
"""

from __future__ import annotations

import errno
import os

from codename_shell import fileio
from codename_shell.errors import printable
from codename_shell.holders import MAX_STAMP, Holder, RowError, ident, parse_ident
from codename_shell.sources.base import Source

PRESENCE_MAX = 64 << 10  # bytes; a row is a few hundred


class PresenceSource(Source):
    label = "presence"
    writable = True

    def __init__(self, directory: str) -> None:
        super().__init__()
        self.directory = directory
        #: (pid, start, pid namespace number) of the files a shell emptied on exit: clean
        #: releases.
        self.released: list[tuple[int, int | None, str]] = []
        #: Entries holding no readable row (junk, a FIFO, a symlink): `reap` removes them.
        self.unreadable: list[str] = []
        #: Temp files whose writer died mid-write (see fileio.stale_temps).
        self.stale_temps: list[str] = []

    @staticmethod
    def filename(pid: int | None, start: int | None, ns: str = "") -> str:
        return ident(pid, start, ns)

    def path_for(self, holder: Holder) -> str:
        return os.path.join(self.directory, holder.ident)

    def holders(self) -> list[Holder]:
        self.problems = []
        self.released = []
        self.unreadable = []
        self.stale_temps = []
        found: list[Holder] = []
        try:
            # Entries are opened relative to the directory: one lookup of its path, not one
            # per holder.
            dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return found  # a wiped runtime dir: the ledger still knows who lives
        try:
            entries = os.listdir(dir_fd)
            for entry in entries:
                if "." in entry:
                    continue  # temp files mid-rename, a bash hook's `<pid>-<start>.exit` scratch
                holder = self._read(dir_fd, entry)
                if holder is not None:
                    found.append(holder)
        finally:
            os.close(dir_fd)
        self.stale_temps = fileio.stale_temps(self.directory, entries)
        return found

    def _read(self, dir_fd: int, entry: str) -> Holder | None:
        try:
            # Our own file in our own directory: a symlink or a FIFO here was not put by
            # codename; never follow or wait on it (see fileio.read_entry).
            data, info = fileio.read_entry(dir_fd, self.directory, entry, PRESENCE_MAX)
        except FileNotFoundError:
            return None  # released and removed since the listing
        except OSError as e:
            path = os.path.join(self.directory, entry)
            self._problem(path, f"unreadable ({e.strerror})", junk=_junk_error(e))
            return None
        text = data.decode("utf-8", errors="replace")
        if not text.strip():
            emptied = parse_ident(entry)
            if emptied is not None:
                self.released.append(emptied)
            return None
        try:
            # A row ends at "\n" alone: a full name may hold U+2028, which splitlines cuts at.
            holder = Holder.from_row(text.split("\n", 1)[0], self.label)
        except RowError as e:
            self._problem(os.path.join(self.directory, entry), f"unreadable row ({e})",
                          junk=True)
            return None
        holder.beat = max(holder.beat or 0, min(int(info.st_mtime), MAX_STAMP))
        return holder

    def _problem(self, path: str, what: str, *, junk: bool) -> None:
        """Note an entry that holds no readable row; `junk` ones are `remove_unreadable`'s."""
        todo = "`codename reap` removes it" if junk else "check it"
        self.problems.append(f"{printable(path)}: {printable(what)}; {todo}")
        if junk:
            self.unreadable.append(path)

    def record(self, holder: Holder) -> None:
        """Write `holder`'s presence file whole, or raise OSError and change nothing."""
        self.commit(self.stage(holder), holder)

    def stage(self, holder: Holder) -> str:
        """`holder`'s row written whole to a temp file beside its presence file; its path.

        Readers skip it (a dot in the name) until `commit` renames it into place: the
        allocator appends the ledger row in between, so that a disk too full for either
        leaves neither (see `Allocator._record`). Raises OSError with nothing left behind.
        """
        self.remove_stale_temps()  # a claim's survey found them: tidy up while we write
        return fileio.write_temp(self.path_for(holder),
                                 (holder.to_row() + "\n").encode("utf-8"))

    def commit(self, tmp: str, holder: Holder) -> None:
        """Rename `stage`'s temp file into place: `holder` now holds its name here.

        Then its mtime is set to now: a shell reads its presence file again only when the
        file is newer than its last read (`<file>.seen`, see the hooks), and a rename keeps
        the mtime the temp file got when written, which may be before that read.
        """
        path = self.path_for(holder)
        fileio.commit_temp(tmp, path)
        try:
            os.utime(path, follow_symlinks=False)
        except OSError:
            pass  # removed since (a release): a missing file is a change the shell sees

    def forget(self, holder: Holder, event: str) -> None:
        self.remove(holder.pid, holder.start, holder.ns)

    def remove(self, pid: int | None, start: int | None, ns: str = "") -> None:
        path = os.path.join(self.directory, self.filename(pid, start, ns))
        for leftover in (path, f"{path}.exit", f"{path}.seen"):  # the hook's files go too
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass

    def remove_unreadable(self) -> list[str]:
        """Delete the entries `holders()` found to hold no readable row, and the temp files
        of writers that died; return their paths.

        The paths were kept as data when read: parsed back out of the problem messages, a
        file named `<pid>-<start>: junk` would send a live holder's file to the bin.
        """
        return fileio.remove_all(self.unreadable + self.stale_temps)

    def remove_stale_temps(self) -> list[str]:
        """Delete the temp files of dead writers `holders()` found (the lock held)."""
        removed, self.stale_temps = fileio.remove_all(self.stale_temps), []
        return removed

    def describe(self) -> str:
        return f"presence ({self.directory})"


def _junk_error(e: OSError) -> bool:
    """Whether an entry that could not be read is junk to remove, not a passing failure.

    Not a file, too big, or not ours to read: none holds a row codename wrote. Out of
    descriptors or memory, or an I/O error, says nothing about the file: it is left alone.
    """
    return isinstance(e, (fileio.NotRegular, fileio.TooLarge)) or \
        e.errno in (errno.EACCES, errno.EPERM, errno.ELOOP, errno.EISDIR)
