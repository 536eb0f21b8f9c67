"""Small file operations that must never leave a half-written file behind, and never hang
or run away reading a file that is not a file (a FIFO, a device) or far too big."""

from __future__ import annotations

import errno
import stat
import time

from codename_shell import lean_os as os


def write_atomic(path: str, data: bytes, mode: int = 0o600,
                 keep_mode_of: str | None = None, *, durable: bool = True) -> None:
    """Write a temp file beside `path`, then rename it over: readers see old or new, never half.

    Every byte is checked written: on a full disk this raises (OSError, ENOSPC) and leaves
    `path` as it was and no temp file behind. The temp file is fsynced before the rename and
    the directory after it, so that a power cut leaves the old file or the new one, never an
    empty one under the new name (ext4 and xfs commit a rename before the data it names).

    `durable=False` leaves the two fsyncs out (~0.3 ms each on a disk): for a file whose
    reader checks it and can do without it (rowcache's checksummed cache), the atomic rename
    is all that is needed; a power cut may then leave it empty or damaged, never half-read.
    """
    if keep_mode_of:
        try:
            mode = os.stat(keep_mode_of).st_mode & 0o777
        except OSError:
            pass
    commit_temp(write_temp(path, data, mode, durable=durable), path, sync_dir=durable)


# Every temp file is a new file under a name no one else can have made first: O_EXCL (which
# also fails on a symlink already there, dangling or not) and O_NOFOLLOW (said outright, so
# that no link is ever opened, whatever a file system makes of O_EXCL). The name is
# unpredictable too, so in a directory others can write (a shared notes folder) nobody can
# put a file or a link in its way to make the write fail or land elsewhere.
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def create_temp(base: str, mode: int = 0o600, dir_fd: int | None = None) -> tuple[int, str]:
    """A new, empty file `<base>.<random>.<pid>.tmp` opened for writing, and its name.

    `base` is a path, or a name in the directory open at `dir_fd`. The pid at the end lets
    `stale_temps` tell a dead writer's leftovers; 48 random bits make the name unguessable.
    """
    for _ in range(8):
        tmp = f"{base}.{os.urandom(6).hex()}.{os.getpid()}.tmp"
        try:
            return os.open(tmp, _TEMP_FLAGS, mode, dir_fd=dir_fd), tmp
        except FileExistsError:
            continue  # one in 2**48 by chance: another name
    raise FileExistsError(errno.EEXIST, "no free temp file name", base)


def write_temp(path: str, data: bytes, mode: int = 0o600, *, durable: bool = True) -> str:
    """`data`, whole and fsynced (unless not `durable`), in a new temp file beside `path`;
    the temp file's path.

    The first half of `write_atomic`, for a caller that must write something else between
    the two halves (the allocator: presence file, ledger row, then the rename). Raises OSError
    with the temp file removed when any of it cannot be written. (The fsync costs nothing on
    the tmpfs where presence files live.)
    """
    fd, tmp = create_temp(path, mode)
    try:
        try:
            write_all(fd, data, tmp)
            if durable:
                sync(fd, tmp)
        finally:
            os.close(fd)  # may report a write error too (NFS reports them at close)
    except BaseException:
        discard(tmp)
        raise
    return tmp


def commit_temp(tmp: str, path: str, *, sync_dir: bool = False) -> None:
    """Rename `write_temp`'s file over `path`; on failure the temp file goes and `path` stays.

    `sync_dir`: fsync the directory too, so that the rename itself survives a power cut
    (config.toml, the ledger, the notes; presence files, on a tmpfs, need not).
    """
    try:
        os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        raise
    if sync_dir:
        sync_directory(os.path.dirname(path) or ".")


def sync(fd: int, path: str) -> None:
    """fsync `fd`: its data is on disk before anything names it. A file system that cannot
    sync at all (EINVAL: some FUSE and special file systems) has nothing more to give."""
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise OSError(e.errno, e.strerror, path) from None


def sync_directory(directory: str, dir_fd: int | None = None) -> None:
    """fsync a directory after a rename in it (the rename is done: this only makes it last).

    Best effort: a directory that cannot be opened for reading or synced leaves the rename
    as durable as the file system makes it anyway, and the write did succeed.
    """
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class OwnerNotKept(OSError):
    """A rewrite that would change the file's owner, group or mode: refused, file untouched."""

    def __str__(self) -> str:
        return str(self.strerror)


def rewrite_keeping(dir_fd: int, name: str, data: bytes, st: os.stat_result,
                    temp_base: str | None = None) -> None:
    """Replace the file `name` in the directory open at `dir_fd` (whose fstat is `st`) with
    `data`, keeping its owner, group and mode: readers see the old file or the new one.

    A temp file in the same directory (`temp_base`, default `name`, names it) gets `st`'s
    owner and group (fchown: root may give a file to anyone, a user only to a group of
    theirs) and then its mode (fchmod after fchown, which clears set-id bits), is checked to
    have them, fsynced and renamed over `name`, then the directory is fsynced. What cannot be
    kept raises OwnerNotKept before the file is touched; any failure removes the temp file.
    ACLs and extended attributes are not copied.
    """
    fd, tmp = create_temp(temp_base or name, 0o600, dir_fd)
    try:
        write_all(fd, data, name)
        mine = os.fstat(fd)
        if (mine.st_uid, mine.st_gid) != (st.st_uid, st.st_gid):
            try:
                os.fchown(fd, st.st_uid, st.st_gid)
            except PermissionError:
                raise OwnerNotKept(errno.EPERM, f"it belongs to uid {st.st_uid} and gid "
                                   f"{st.st_gid}, which this user cannot give a new file",
                                   name) from None
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
        now = os.fstat(fd)
        if (now.st_uid, now.st_gid, stat.S_IMODE(now.st_mode)) != \
                (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)):
            raise OwnerNotKept(errno.EPERM, f"its mode {stat.S_IMODE(st.st_mode):04o} "
                               "cannot be kept by this user", name)
        sync(fd, name)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    try:
        os.close(fd)
    except OSError:
        pass  # synced and renamed already: what close could report was reported by fsync
    sync_directory(".", dir_fd)


def discard(tmp: str) -> None:
    """Remove a temp file that will not be renamed into place (gone already is fine)."""
    try:
        os.unlink(tmp)
    except OSError:
        pass


def write_all(fd: int, data: bytes, path: str) -> None:
    """Write every byte of `data` to `fd`, or raise OSError naming `path`.

    `os.write` may write less than asked (a disk that fills up mid-write writes what fits);
    unchecked, that is a torn row reported as success. A write that makes no progress is a
    full disk (ENOSPC).
    """
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
            view = view[written:]
    except OSError as e:
        if e.filename is None:  # os.write's errors name no file: the message must
            raise OSError(e.errno, e.strerror, path) from None
        raise


def append_line(path: str, line: str) -> None:
    """Append one row, whole or not at all (see `append_lines`)."""
    append_lines(path, [line])


def append_lines(path: str, lines: list[str]) -> int:
    """Append rows, all of them or none; the file's size before them (for `truncate_to`).

    A torn last row left by a crash is dropped first, never joined: merely closing it off
    with a newline would turn it into a complete-looking row (a claim cut before its start
    time reads as a claim by whatever process has that pid). A short or failed write (a full
    disk) truncates the file back to that size, which needs no free space, and raises
    OSError: no torn row of ours is ever left, and rows that belong together (a rename's
    `released` and `claimed`) are never half there. Callers serialize appends (the allocator
    lock), so the tail is a dead writer's, not a concurrent one's.
    """
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        mark = _drop_torn_tail(fd, path)
        try:
            write_all(fd, data, path)
        except BaseException:
            _cut(fd, mark)
            raise
    except BaseException:
        os.close(fd)
        raise
    try:
        os.close(fd)
    except OSError:
        truncate_to(path, mark)  # a write error reported at close (NFS): undo, then say so
        raise
    return mark


def _drop_torn_tail(fd: int, path: str) -> int:
    """Cut a dead writer's torn last row off the file open at `fd`; the size left."""
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return size
    tail = os.pread(fd, min(size, _TAIL), size - min(size, _TAIL))
    cut = tail.rfind(b"\n")
    if cut >= 0 or len(tail) == size:
        size = size - len(tail) + cut + 1
        os.ftruncate(fd, size)
        return size
    write_all(fd, b"\n", path)  # a torn row longer than _TAIL: no row of ours; fence it off
    return size + 1


def _cut(fd: int, size: int) -> None:
    """Undo a failed append. Should even this fail, what is left is a torn row (no final
    newline: readers skip it and the next append drops it), after whole rows at most."""
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass


def truncate_to(path: str, size: int) -> None:
    """Cut `path` back to `size` bytes: undoes `append_lines` when a later write failed."""
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)


_TAIL = 1 << 16  # how far back append_line looks for the start of a torn row


def read_text(path: str) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


# --- reading files others may have replaced with something that is not a file ---------------

class NotRegular(OSError):
    """A path that is a FIFO, a device, a socket or a directory: never read, never waited on."""

    def __str__(self) -> str:
        return str(self.strerror)  # "a FIFO, not a file": the path is in the caller's message


class TooLarge(OSError):
    """A regular file larger than its reader is willing to read."""

    def __str__(self) -> str:
        return str(self.strerror)


_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK:
          "a block device", stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory",
          stat.S_IFLNK: "a symlink"}


def read_regular(path: str, limit: int, *, nofollow: bool = False) -> bytes:
    """The bytes of `path`, which must be a regular file of at most `limit` bytes.

    Every file codename reads at a shell start or under the allocator lock goes through here,
    because a FIFO would block the open or the read forever, /dev/stdin would eat what the
    user types and /dev/zero would never end. So: O_NONBLOCK (opening a FIFO or a tty does
    not wait), O_NOFOLLOW where the file is codename's own (a symlink there is not ours),
    fstat on the open descriptor (no swap between check and read) and at most `limit` bytes
    (a regular file's size bounds the time its read takes). Raises FileNotFoundError,
    NotRegular, TooLarge or another OSError.
    """
    # Looked at before it is opened too: opening a device can act (a serial line, a tape).
    _check_regular(path, os.lstat(path) if nofollow else os.stat(path), limit)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_NOFOLLOW if nofollow else 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if nofollow and e.errno == errno.ELOOP:
            raise NotRegular(e.errno, "a symlink, not a file", path) from None
        raise
    try:
        _check_regular(path, os.fstat(fd), limit)
        chunks: list[bytes] = []
        left = limit + 1  # one byte more tells a file that grew past `limit` while read
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise TooLarge(errno.EFBIG, f"larger than {_size(limit)}", path)
        return data
    finally:
        os.close(fd)


_ENTRY_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC


def read_entry(dir_fd: int, directory: str, name: str,
               limit: int) -> tuple[bytes, os.stat_result]:
    """`read_regular` for an entry `name` of `directory`, which only this user can write
    (open at `dir_fd`), with the fstat of what was read.

    Only this user (or root) can put anything in such a directory, so the lstat
    `read_regular` does before opening (a device whose open acts) tells nothing new: the
    open does not follow a symlink nor wait on a FIFO, and fstat still refuses anything but
    a regular file before a byte is read. One read: a regular file reads short only at its
    end. A claim reads one entry per holder (the presence files): ~3 µs a holder saved, the
    entry's path only made for an error message.
    """
    try:
        fd = os.open(name, _ENTRY_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        path = os.path.join(directory, name)
        if e.errno == errno.ELOOP:
            raise NotRegular(e.errno, "a symlink, not a file", path) from None
        raise OSError(e.errno, e.strerror, path) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            _check_regular(os.path.join(directory, name), st, limit)  # raises
        data = os.read(fd, limit + 1)
        if len(data) > limit:
            raise TooLarge(errno.EFBIG, f"larger than {_size(limit)}",
                           os.path.join(directory, name))
        return data, st
    finally:
        os.close(fd)


def _check_regular(path: str, st: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise NotRegular(errno.EINVAL, f"{kind}, not a file", path)
    if st.st_size > limit:
        raise TooLarge(errno.EFBIG, f"larger than {_size(limit)}", path)


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n >> 20} MiB"
    return f"{n >> 10} KiB" if n >= 1 << 10 else f"{n} bytes"


# --- what a killed writer leaves behind ------------------------------------------------------

TEMP_GRACE = 60  # seconds a temp file is left alone, whatever its writer's pid says


def stale_temps(directory: str, entries: list[str] | None = None) -> list[str]:
    """The temp files of `write_atomic` (`<file>.<random>.<pid>.tmp`; older versions wrote
    `<file>.<pid>.tmp`) in `directory` whose writer died.

    A kill -9 between the write and the rename leaves one behind, and nothing else ever
    removes it. One is stale when its writer's pid runs no process and it is older than
    TEMP_GRACE (a pid reused by a new writer of the same file makes a fresh one). Cheap: only
    names ending in `.tmp` cost a syscall or two. `entries` saves a listdir already done.
    """
    if entries is None:
        try:
            entries = os.listdir(directory)
        except OSError:
            return []
    now = time.time()
    stale = []
    for entry in entries:
        if not entry.endswith(".tmp"):
            continue  # most: a runtime dir holds three entries for each terminal's name
        base, _, pid = entry[:-4].rpartition(".")
        if base and pid.isdigit() and _writer_gone(int(pid)):
            path = os.path.join(directory, entry)
            try:
                if now - os.lstat(path).st_mtime >= TEMP_GRACE:
                    stale.append(path)
            except OSError:
                pass
    return stale


def _writer_gone(pid: int) -> bool:
    if not 0 < pid < 2**31:
        return False  # not a pid: not a temp file of ours
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it runs, as another user
    return False


def remove_all(paths: list[str]) -> list[str]:
    """Unlink each of `paths` (never following a symlink); the ones actually removed."""
    removed = []
    for path in paths:
        try:
            os.unlink(path)
            removed.append(path)
        except OSError:
            pass
    return removed
