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
