"""Small file operations that must never leave a half-written file behind."""

from __future__ import annotations

import os


def write_atomic(path: str, data: bytes, mode: int = 0o600, keep_mode_of: str | None = None) -> None:
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
    """Append one row; a torn last row left by a crash is closed off first, never joined."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        size = os.fstat(fd).st_size
        prefix = b""
        if size and os.pread(fd, 1, size - 1) != b"\n":
            prefix = b"\n"
        os.write(fd, prefix + line.encode("utf-8") + b"\n")
    finally:
        os.close(fd)


def read_text(path: str) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None
