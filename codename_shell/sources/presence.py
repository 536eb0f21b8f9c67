"""Presence: one file per holder in the runtime dir, written atomically, mode 0600.

The file is named after the holder's identity (`<pid>-<start>-<pid namespace>`), so a shell can
give its name back at exit with a shell builtin alone: it empties its own file (`: >| file`).
An empty presence file therefore means "released"; the next claim removes it and closes the
ledger row.
"""

from __future__ import annotations

import errno
import stat
import time

from codename_shell import fileio
from codename_shell import lean_os as os
from codename_shell.errors import printable
from codename_shell.holders import MAX_STAMP, Holder, RowError, ident, parse_ident
from codename_shell.sources.base import Source

PRESENCE_MAX = 64 << 10  # bytes; a row is a few hundred
# A file's times move in ticks of the kernel's coarse clock (up to 10 ms): a file changed
# again within the tick in which it was read keeps the times it had when read. So a version
# is known for later surveys only if it had not changed for this long when it was read (git
# calls the others "racily clean" and reads them again too).
SETTLED_NS = 1_000_000_000
#: A presence file as a survey read it: st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns of
#: the version read, and its row.
Snapshot = tuple[int, int, int, int, int, str]


class PresenceSource(Source):
    label = "presence"
    writable = True

    def __init__(self, directory: str) -> None:
        super().__init__()
        self.directory = directory
        #: (pid, start, pid namespace number) of the files a shell emptied on exit: clean
        #: releases.
        self.released: list[tuple[int, int | None, str]] = []
        #: When each of those let go: its emptied file's mtime (the exit's `: >| file`).
        self.let_go: dict[tuple[int, int | None, str], float] = {}
        #: Entries holding no readable row (junk, a FIFO, a symlink): `reap` removes them.
        self.unreadable: list[str] = []
        #: Temp files whose writer died mid-write (see fileio.stale_temps).
        self.stale_temps: list[str] = []
        #: The rows an earlier survey read, by entry, with the identity of the file version
        #: it read them from (see `_unchanged`); given by `rowcache`.
        self.known: dict[str, Snapshot] = {}
        #: What `holders()` found, for `rowcache` to keep: files not changed lately.
        self.snapshot: dict[str, Snapshot] = {}
        #: How many settled files `holders()` had to read (not known, or changed since): what
        #: a new cache would save the next survey.
        self.reads = 0

    @staticmethod
    def filename(pid: int | None, start: int | None, ns: str = "") -> str:
        return ident(pid, start, ns)

    def path_for(self, holder: Holder) -> str:
        return os.path.join(self.directory, holder.ident)

    def last_seen(self, holder: Holder) -> float:
        """The latest sign of life of `holder` this source can give: its heartbeat, its presence
        file's mtime (merged into `beat` when read) and its `.seen` file's (its shell's last
        look at its name, see the hooks); for a reaped holder's ledger row."""
        seen = float(holder.beat or 0)
        try:
            seen = max(seen, os.stat(self.path_for(holder) + ".seen",
                                     follow_symlinks=False).st_mtime)
        except OSError:
            pass  # none: a job, a spare, a nested shell's holder, or removed already
        return seen

    def holders(self) -> list[Holder]:
        self.problems = []
        self.released = []
        self.let_go = {}
        self.unreadable = []
        self.stale_temps = []
        self.snapshot = {}
        self.reads = 0
        found: list[Holder] = []
        try:
            # Entries are opened relative to the directory: one lookup of its path, not one
            # per holder.
            dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return found  # a wiped runtime dir: the ledger still knows who lives
        temps = []
        try:
            entries = os.listdir(dir_fd)
            settled = time.time_ns() - SETTLED_NS
            for entry in entries:
                if "." in entry:
                    # A temp file mid-rename, a hook's `.seen` or `.exit` scratch (two for
                    # each terminal): only the temps are looked at again, below.
                    if entry.endswith(".tmp"):
                        temps.append(entry)
                    continue
                holder = self._unchanged(dir_fd, entry) or self._read(dir_fd, entry, settled)
                if holder is not None:
                    found.append(holder)
        finally:
            os.close(dir_fd)
        self.stale_temps = fileio.stale_temps(self.directory, temps)
        return found

    def _unchanged(self, dir_fd: int, entry: str) -> Holder | None:
        """The holder of `entry` as an earlier survey read it, when the file is that very
        version still; else None (and `_read` reads it).

        A file's version is its inode, size, mtime and ctime: a rewrite (a rename over it)
        is another inode, an edit in place changes the size or the times, and ctime no one
        can set back. One lstat (~1 µs) instead of an open, fstat, read and close (~4.5 µs):
        ~3.5 ms of a claim among 1,000 holders (bench row 3). Only versions that had settled
        when they were read are known (see SETTLED_NS).
        """
        seen = self.known.get(entry)
        if seen is None:
            return None
        try:
            st = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            return None  # gone, or unreadable: `_read` says which
        if not stat.S_ISREG(st.st_mode) or \
                (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) != seen[:5]:
            return None
        try:
            holder = Holder.from_row(seen[5], self.label)
        except RowError:
            return None  # kept by other code than this: `_read` judges the file itself
        holder.beat = max(holder.beat or 0, min(int(st.st_mtime), MAX_STAMP))
        self.snapshot[entry] = seen
        return holder

    def _read(self, dir_fd: int, entry: str, settled: int) -> Holder | None:
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
                self.let_go[emptied] = info.st_mtime
            return None
        # A row ends at "\n" alone: a full name may hold U+2028, which splitlines cuts at.
        row = text.split("\n", 1)[0]
        try:
            holder = Holder.from_row(row, self.label)
        except RowError as e:
            self._problem(os.path.join(self.directory, entry), f"unreadable row ({e})",
                          junk=True)
            return None
        holder.beat = max(holder.beat or 0, min(int(info.st_mtime), MAX_STAMP))
        if info.st_ctime_ns < settled:
            self.snapshot[entry] = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns,
                                    info.st_ctime_ns, row)
            self.reads += 1
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
        # The hook's files go too, and the messages left for it (inbox.py).
        for leftover in (path, f"{path}.exit", f"{path}.seen", f"{path}.inbox",
                         f"{path}.shown", f"{path}.looked"):
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
