"""Small file operations that must never leave a half-written file behind."""

from __future__ import annotations

import os


def write_atomic(path: str, data: bytes, mode: int = 0o600,
                 keep_mode_of: str | None = None) -> None:
    """Write a temp file beside `path`, then rename it over: readers see old or new, never half."""
    if keep_mode_of:
        try:
            mode = os.stat(keep_mode_of).st_mode & 0o777
        except OSError:
            pass
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def append_line(path: str, line: str) -> None:
    """Append one row; a torn last row left by a crash is dropped first, never joined.

    Merely closing a torn row off with a newline would turn it into a complete-looking row
    (a claim cut before its start time reads as a claim by whatever process has that pid).
    Callers serialize appends (the allocator lock), so the tail is a dead writer's, not a
    concurrent one's.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            tail = os.pread(fd, min(size, _TAIL), size - min(size, _TAIL))
            cut = tail.rfind(b"\n")
            if cut >= 0 or len(tail) == size:
                os.ftruncate(fd, size - len(tail) + cut + 1)
            else:  # a torn row longer than _TAIL: no row of ours; fence it off instead
                os.write(fd, b"\n")
        os.write(fd, line.encode("utf-8") + b"\n")
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
