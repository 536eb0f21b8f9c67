"""The errors codename raises on purpose; `cli` turns each into one line and an exit code.

The bottom layer: it imports nothing of codename's. (Where a traceback goes is `crashlog`'s.)
`printable` lives here, beside the messages it mostly serves: a message that quotes a file's
bytes must not reach a terminal raw, and every module that writes one imports this one anyway
(the shell start would otherwise load all of `report` for it, ~0.1 ms).
"""

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


def printable(text: object) -> str:
    """`text` as it may be shown on a terminal: each character that is not printable (ESC,
    BEL, newline, C1 controls, U+2028, bidi overrides) written as an escape such as `\\x1b`.

    The escapes are themselves printable, so applying it twice changes nothing.
    """
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in s)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
