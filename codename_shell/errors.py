"""The errors codename raises on purpose; `cli` turns each into one line and an exit code."""

from __future__ import annotations


class CodenameError(Exception):
    """A problem the user can act on: printed as one line, exit code 1."""

    exit_code = 1


class UsageError(CodenameError):
    """The command line itself is wrong: exit code 2."""

    exit_code = 2


class UnsafeDirectory(CodenameError):
    """A state or runtime directory that someone else could tamper with."""


class LockTimeout(CodenameError):
    """The allocator lock stayed busy: a shell start must not hang on it."""


class ConfigError(CodenameError):
    """config.toml (or a cast in it) cannot be used as written."""


def log_exception() -> str:
    """Append the current traceback to errors.log in the state dir; return where it went.

    Tracebacks never reach a terminal (a shell start least of all); this is where they go.
    """
    import os
    import traceback

    from codename_shell import paths

    try:
        state = paths.ensure_private_dir(paths.state_dir())
        path = os.path.join(state, "errors.log")
        with open(path, "a", encoding="utf-8") as f:
            f.write(traceback.format_exc())
    except (OSError, CodenameError):
        return "(the state dir is not writable)"
    return path
