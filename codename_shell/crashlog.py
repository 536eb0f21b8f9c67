"""Where an unexpected failure's traceback goes: `errors.log` in the state dir, never a terminal.

It lives apart from `errors` because it needs `paths` (to find the state dir), and `paths`
raises the errors `errors` defines: the lower layer must not know the upper one. Only the
last line of defence imports it (`cli`, `hook`, the fleet's keeper), and only on a failure.
"""

from __future__ import annotations

import os
import stat
import traceback

from codename_shell import paths
from codename_shell.errors import CodenameError


def log_exception() -> str:
    """Append the current traceback to errors.log in the state dir; return where it went.

    Tracebacks never reach a terminal (a shell start least of all); this is where they go.
    """
    try:
        state = paths.ensure_private_dir(paths.state_dir())
        path = os.path.join(state, "errors.log")
        _append(path, traceback.format_exc())
    except (OSError, CodenameError):
        return "(the state dir is not writable)"
    return path


def _append(path: str, text: str) -> None:
    """Append to a private regular file: never through a symlink (it could point at any file
    of the user's), never blocking on a FIFO, 0600 whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                 | os.O_CLOEXEC, 0o600)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path} is not a regular file")
        if info.st_mode & 0o077:
            os.fchmod(fd, 0o600)
        data = memoryview(text.encode("utf-8", "replace"))
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)
