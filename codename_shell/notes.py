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
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
import time

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
    """`- 14:05 **Pam** (terminal, ~/src/billing): rebasing billing onto main`"""
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
    with _locked(target) as fd:
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

def with_roster(old: bytes, body: str) -> bytes:
    """`old` with the block between the markers replaced by `body`; added at the top if absent.

    Every byte outside the block is kept, so a second run with the same roster changes nothing.
    """
    block = b"\n" + body.encode("utf-8")
    at = old.find(START)
    if at < 0:
        return START + block + END + b"\n" + (b"\n" + old if old else b"")
    inner = at + len(START)
    close = old.find(END, inner)
    if close < 0:
        raise CodenameError(f"a `{START.decode()}` line has no `{END.decode()}` after it; "
                            "add it (or remove both), then run this again")
    return old[:inner] + block + old[close:]


def write_roster(target: str, body: str) -> bool:
    """Rewrite `target`'s roster block atomically (the file's target when it is a symlink),
    keeping its mode; False when it already said exactly that."""
    real = os.path.realpath(target)
    with _locked(real) as fd:
        old = _read_all(fd)
        new = with_roster(old, body)
        if new == old:
            return False
        _replace(real, new, stat.S_IMODE(os.fstat(fd).st_mode))
    return True


def _read_all(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 16, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _replace(real: str, data: bytes, mode: int) -> None:
    """A temp file beside `real`, renamed over it: readers see the old file or the new one."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(real)}.", suffix=".tmp",
                               dir=os.path.dirname(real))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, mode)  # the user's mode exactly, not the one the umask would leave
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, real)
    except OSError as e:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CodenameError(f"cannot rewrite {real}: {e.strerror}") from None


# --- the lock ---------------------------------------------------------------------------------

class _locked:
    """An open, exclusively flocked descriptor of `target`, which is still the file at `target`.

    Opened O_NONBLOCK and checked to be a regular file: a FIFO or a device named as the notes
    file is refused instead of hanging the writer.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.fd = -1

    def __enter__(self) -> int:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            fd = self._open()
            try:
                _flock(fd, deadline, self.target)
                if _same_file(fd, self.target):
                    self.fd = fd
                    return fd
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # replaced while we waited (a roster rewrite): lock the new file

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the descriptor releases the flock

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        try:
            fd = os.open(self.target, flags, 0o666)  # a shared file: the umask decides
        except OSError as e:
            raise CodenameError(f"cannot open {self.target}: {e.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise CodenameError(f"{self.target} is not a regular file")
        return fd


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


def _same_file(fd: int, target: str) -> bool:
    try:
        st = os.stat(target)
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
