"""The shared notes file: `codename note` signs a line with the writer's name, and
`codename roster --write` keeps a roster block in it current.

The file is shared by everything a person runs (terminals, agents, CI jobs), often at the same
moment, so two rules hold for every writer:

- A note is one line, written with one O_APPEND `write` of the whole line (its length checked),
  under an exclusive flock on the notes file: lines never interleave, tear or split.
- A roster rewrite is a temp file renamed over the file, under the same flock. Because that
  rename puts a new file (inode) at the path, a writer that locked the old one would append to
  a file nobody reads any more: so after taking the lock, each writer checks that the path still
  names the file it locked, and starts over if not. No line is lost to a rewrite.

The notes folder is often shared, so whoever else can write it may have put something there:
- A symlink is followed only when this user (or root) owns it, every link on the way checked,
  the last step opened with O_NOFOLLOW from the directory found (see `_Resolved`): someone
  else's `sync.md -> ~/.bashrc` is refused in one line, by `note` and `roster --write` alike.
  The user's own link (notes kept in a dotfiles repo, a synced folder) is theirs to make.
- A rewrite keeps the file's owner, group and mode, or is not made (see `write_roster`).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import time

from codename_shell import fileio
from codename_shell.errors import CodenameError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.config import Settings
    from codename_shell.holders import Holder

START = b"<!-- codename:roster -->"
END = b"<!-- /codename:roster -->"
LOCK_TIMEOUT = 10.0  # seconds; a note waits this long for other writers, then says so
_FOLD = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")  # what would end or garble a line
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|])")


def path(settings: Settings) -> str:
    """The notes file: CODENAME_NOTES, else `[notes] path` in config.toml."""
    chosen = os.environ.get("CODENAME_NOTES") or settings.notes
    if not chosen:
        raise CodenameError("no notes file: set `[notes] path = \"~/notes/sync.md\"` in "
                            f"{settings.path}, or CODENAME_NOTES")
    return os.path.expanduser(chosen)


# --- one note ---------------------------------------------------------------------------------

def fold(text: str) -> str:
    """`text` as one line: newlines, tabs and other control characters become single spaces."""
    return _FOLD.sub(" ", text).strip()


def line(holder: Holder, text: str, where: str, now: float | None = None) -> str:
    """`- 14:05 **Pam** (terminal, ~/src/billing): rebasing billing onto main`

    One line that always starts with `- ` and a time: whatever the text says, it can never be
    a roster marker line (markers count only as whole lines, see `find_block`).
    """
    stamp = time.strftime("%H:%M", time.localtime(now))
    name = _MARKDOWN.sub(r"\\\1", fold(holder.name))
    return f"- {stamp} **{name}** ({holder.kind}, {fold(where)}): {fold(text)}\n"


def append(target: str, text: str) -> None:
    """Append `text` (one whole line) to `target` in one write, under the notes lock."""
    directory = os.path.dirname(os.path.abspath(target))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise CodenameError(f"cannot create {directory}: {e.strerror}") from None
    data = text.encode("utf-8")
    with _locked(target) as held:
        fd = held.fd
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # a hand edit saved without a final newline: never join it
        try:
            written = os.write(fd, data)
        except OSError as e:
            written, error = -1, e.strerror
        else:
            error = f"only {written} of {len(data)} bytes could be written"
        if written != len(data):
            _undo(fd, size)
            raise CodenameError(f"{target}: the note was not written ({error})")


def _undo(fd: int, size: int) -> None:
    """Take a partial write back off (we hold the lock: the tail past `size` is ours)."""
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass


# --- the roster block -------------------------------------------------------------------------

def find_block(data: bytes) -> tuple[int, int | None] | None:
    """Where the roster block is in `data`, as line indexes of `data.split(b"\\n")`: the first
    start marker line, and the first end marker line after it (None when there is none).
    None when there is no start marker line.

    A marker counts only as a whole line (trailing blanks and a CR aside): a note quoting
    one, a table cell or a sentence never does, and `note` writes nothing that is one (see
    `line`). The end is the *first* one after the start, never a later one: a later end
    line (the user quoting the block's markers in a code block below it) keeps the text
    before it.
    """
    lines = data.split(b"\n")
    texts = [x.rstrip(b"\r \t") for x in lines]
    if START not in texts:
        return None
    first = texts.index(START)
    ends = [i for i in range(first + 1, len(texts)) if texts[i] == END]
    return first, ends[0] if ends else None


def with_roster(old: bytes, body: str) -> bytes:
    """`old` with the block between the markers replaced by `body`; added at the top if absent.

    Every byte outside the block is kept, so a second run with the same roster changes nothing.
    A start marker line with no end marker line after it (the end deleted by hand) gets its
    end put back: the roster and an end line go right after it, and every line that followed
    stays, below the block. The file then has a whole block, so later runs replace just that
    block; nothing the user wrote is deleted, and nothing is refused for ever.
    """
    block = body.encode("utf-8")
    found = find_block(old)
    if found is None:
        return START + b"\n" + block + END + b"\n" + (b"\n" + old if old else b"")
    lines = old.split(b"\n")
    first, close = found
    head = b"\n".join(lines[:first + 1]) + b"\n"  # up to the start line and its own newline
    if close is None:
        return head + block + END + b"\n" + b"\n".join(lines[first + 1:])
    return head + block + b"\n".join(lines[close:])


def write_roster(target: str, body: str) -> bool:
    """Rewrite `target`'s roster block atomically (the file's target when it is a symlink of
    this user's), keeping its owner, group and mode; False when it already said exactly that.

    The rewrite is a new file renamed over the old one, never an edit in place: a crash or a
    full disk half-way leaves the old file whole, and a reader sees the old file or the new.
    A new file is its writer's, though, and only root can give a file to another user: so a
    teammate rewriting a notes file that belongs to someone else would take it over (and its
    owner could no longer write it, with no setgid folder or shared group to save them). That
    rewrite is refused, with what to do instead; the file stays exactly as it was. (Notes
    still work: an append writes into the existing file and changes no owner.)
    """
    with _locked(target) as held:
        old = _read_all(held.fd)
        new = with_roster(old, body)
        if new == old:
            return False
        st = os.fstat(held.fd)
        if st.st_uid != os.geteuid() and os.geteuid() != 0:
            raise CodenameError(
                f"{held.real} belongs to {_user(st.st_uid)}: rewriting it would make it yours "
                f"and lock them out; ask them to run `codename roster --write`, or write the "
                f"roster to a file of yours (`codename roster --write FILE`)")
        _rewrite(held, new, st)
    return True


def _user(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _read_all(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 16, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _rewrite(held: _locked, data: bytes, st: os.stat_result) -> None:
    """A temp file beside the notes file, with its owner, group and mode, fsynced and renamed
    over it: readers see the old file or the new one (see `fileio.rewrite_keeping`)."""
    try:
        fileio.rewrite_keeping(held.dir_fd, held.name, data, st, temp_base=f".{held.name}")
    except fileio.OwnerNotKept as e:
        raise CodenameError(f"not rewriting {held.real}: {e}; the file is unchanged") from None
    except OSError as e:
        raise CodenameError(f"cannot rewrite {held.real}: {e.strerror}; the file is "
                            "unchanged") from None


# --- the lock ---------------------------------------------------------------------------------

class _locked:
    """An open, exclusively flocked descriptor (`fd`) of the notes file, which is still the
    file named `name` in the directory open at `dir_fd` (`real` is its path, for messages).

    The path is resolved without following anyone else's link (see `_Resolved`) and the file
    opened from that directory with O_NOFOLLOW: a link put there after the check is seen
    (ELOOP) and checked in turn. Opened O_NONBLOCK and checked to be a regular file: a FIFO
    or a device named as the notes file is refused instead of hanging the writer.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.fd = -1
        self.dir_fd = -1
        self.name = ""
        self.real = target

    def __enter__(self) -> _locked:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            where = _Resolved(self.target)
            try:
                fd = self._open(where)
                if fd >= 0:
                    try:
                        _flock(fd, deadline, self.target)
                        if _same_file(fd, where):
                            self.fd, self.dir_fd = fd, where.dir_fd
                            self.name, self.real = where.name, where.real
                            return self
                    except BaseException:
                        os.close(fd)
                        raise
                    os.close(fd)  # replaced while we waited (a roster rewrite): lock the new one
            except BaseException:
                where.close()
                raise
            where.close()
            if time.monotonic() >= deadline:
                raise CodenameError(f"{self.target} kept changing for {LOCK_TIMEOUT:.0f} s; "
                                    "try again")

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the descriptor releases the flock
        os.close(self.dir_fd)

    def _open(self, where: _Resolved) -> int:
        """The file, opened; -1 when a symlink took its place since it was resolved."""
        flags = (os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY
                 | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            # A shared file: the umask decides its mode.
            fd = os.open(where.name, flags, 0o666, dir_fd=where.dir_fd)
        except OSError as e:
            if e.errno == errno.ELOOP:
                return -1  # resolved again: the new link is checked like any other
            raise CodenameError(f"cannot open {where.real}: {e.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise CodenameError(f"{where.real} is not a regular file")
        return fd


class _Resolved:
    """`path` walked one name at a time from `/`, each directory opened from the one before:
    `dir_fd` is the directory that holds the last name (`name`); `real` the path walked.

    A symlink met on the way is followed only when this user or root owns it (root's own
    links, /var/run -> /run, gain an attacker nothing root could not do anyway); anyone
    else's, in a folder they can write, could send the write anywhere this user may write
    (`sync.md -> ~/.bashrc`), so it is refused in one line, whoever made it. Each directory is
    opened with O_NOFOLLOW | O_DIRECTORY: a directory swapped for a link after it was looked
    at fails to open instead of being followed unchecked.
    """

    MAX_LINKS = 40  # as the kernel's ELOOP limit

    def __init__(self, path: str) -> None:
        self.dir_fd = -1
        self.name = ""
        self.real = path
        try:
            self._walk(os.path.abspath(path))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def _walk(self, path: str) -> None:
        todo = list(reversed(path.split("/")))
        real: list[str] = []
        self.dir_fd = os.open("/", _DIR_FLAGS)
        links = 0
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                self._enter("..")
                if real:
                    real.pop()
                continue
            try:
                info = os.stat(part, dir_fd=self.dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                if any(x not in ("", ".") for x in todo):
                    raise CodenameError(f"cannot open {path}: a directory on the way "
                                        "is missing") from None
                info = None  # the notes file itself, not made yet: the open creates it
            except OSError as e:
                raise CodenameError(f"cannot open {path}: {e.strerror}") from None
            if info is not None and stat.S_ISLNK(info.st_mode):
                shown = "/" + "/".join([*real, part])
                if info.st_uid not in (os.geteuid(), 0):
                    raise CodenameError(
                        f"refusing to write through {shown}: a symlink owned by "
                        f"{_user(info.st_uid)}, not by you, may point at any file of yours; "
                        "remove it")
                links += 1
                if links > self.MAX_LINKS:
                    raise CodenameError(f"cannot open {path}: too many levels of symlinks")
                target = os.readlink(part, dir_fd=self.dir_fd)
                if target.startswith("/"):
                    self._enter("/")
                    real = []
                todo.extend(reversed(target.split("/")))
                continue
            if not any(x not in ("", ".") for x in todo):
                self.name = part
                self.real = "/" + "/".join([*real, part])
                return
            self._enter(part)
            real.append(part)
        raise CodenameError(f"{path} names a directory, not a notes file")

    def _enter(self, part: str) -> None:
        try:
            fd = os.open(part, _DIR_FLAGS, dir_fd=self.dir_fd)
        except OSError as e:
            raise CodenameError(f"cannot open {self.real}: {e.strerror}") from None
        os.close(self.dir_fd)
        self.dir_fd = fd


# O_PATH: a directory only passed through needs no read permission, as for a path lookup.
_DIR_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _flock(fd: int, deadline: float, target: str) -> None:
    delay = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise CodenameError(f"{target} stayed locked for {LOCK_TIMEOUT:.0f} s by "
                                    "another writer; try again") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        except OSError as e:  # a file system without locks: writing unlocked could lose lines
            raise CodenameError(f"{target}: cannot be locked ({e.strerror}); keep the notes "
                                "file on a file system that supports flock") from None


def _same_file(fd: int, where: _Resolved) -> bool:
    try:
        st = os.stat(where.name, dir_fd=where.dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def read_text(stdin_text: str | None, words: list[str]) -> str:
    """The note: the words given, else the text on stdin; a usage error when there is none."""
    text = fold(" ".join(words) if words else (stdin_text or ""))
    if not text:
        raise UsageError("nothing to note: codename note TEXT... (or the text on stdin)")
    return text
