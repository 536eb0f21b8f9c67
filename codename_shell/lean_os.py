"""`os` for the modules a shell start loads, without the cost of importing `os`.

`os` is a thin layer over the built-in `posix` module (`os.open` *is* `posix.open`), but
importing it builds `os.environ`'s mapping class and, for that, the ~25 abstract base classes
of `_collections_abc`: 0.87 ms of a ~9 ms shell start on this machine, more than the whole
margin between `codename init` and a bare `python -c pass` (bench/README.md, row 1e). So the
modules `init` loads import this instead, as `from codename_shell import lean_os as os`, and
read as if it were `os`: posix's own functions and constants, plus the few `os.path`
functions and the environment lookup they use, written over them with `os`'s semantics for
what codename passes. Commands other than `init` may load the real `os` as well (argparse
does); both then work side by side, and `getenv` reads the real `os.environ`.
"""

from __future__ import annotations

import posix as _posix
import sys as _sys
from posix import *  # noqa: F403  the very functions and constants `os` re-exports
from posix import _exit as _exit  # a leading underscore: not in the * above
from posix import getcwd, lstat, stat, stat_result  # named: used below

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# posix's `environ` is a bytes mapping, a snapshot of the start: `os.environ.get("HOME")` on
# it would quietly find nothing. Gone, so that such a line fails at once; see `getenv`.
del environ  # noqa: F821  (star-imported above)

devnull = "/dev/null"
sep = "/"


def getenv(key: str) -> str | None:
    """`os.environ.get(key)`.

    Once `os` is loaded, its `environ` is the truth: a test (or a library) may have changed it,
    and a change there never reaches `posix.environ`. Before that, the environment this
    process started with, decoded as `os` decodes it.
    """
    real = _sys.modules.get("os")
    if real is not None:
        return real.environ.get(key)  # type: ignore[no-any-return]
    # As os.fsencode and os.fsdecode do: the locale's encoding (ISO-8859-1 for a legacy
    # locale), never UTF-8 alone, or a shell start would look for its files at other bytes
    # than every other command.
    encoding, errors = _sys.getfilesystemencoding(), _sys.getfilesystemencodeerrors()
    value = _posix.environ.get(key.encode(encoding, errors))
    return None if value is None else value.decode(encoding, errors)


def child_environ() -> dict[str, str] | dict[bytes, bytes]:
    """The environment for a child process (posix_spawn takes either kind): `os.environ` once
    `os` is loaded, else this process's environment as it started."""
    real = _sys.modules.get("os")
    return dict(real.environ) if real is not None else dict(_posix.environ)


class path:
    """The `os.path` functions codename's init path uses, as posixpath defines them."""

    @staticmethod
    def join(first: str, *rest: str) -> str:
        joined = first
        for part in rest:
            if part.startswith("/"):
                joined = part
            elif not joined or joined.endswith("/"):
                joined += part
            else:
                joined += "/" + part
        return joined

    @staticmethod
    def dirname(p: str) -> str:
        head = p[:p.rfind("/") + 1]
        if head and head != "/" * len(head):
            head = head.rstrip("/")
        return head

    @staticmethod
    def basename(p: str) -> str:
        return p[p.rfind("/") + 1:]

    @staticmethod
    def isabs(p: str) -> bool:
        return p.startswith("/")

    @staticmethod
    def normpath(p: str) -> str:
        if not p:
            return "."
        # POSIX lets exactly two leading slashes mean something else; three or more are one.
        lead = 2 if p.startswith("//") and not p.startswith("///") else int(p.startswith("/"))
        parts: list[str] = []
        for part in p.split("/"):
            if part in ("", "."):
                continue
            if part != ".." or (not lead and not parts) or (parts and parts[-1] == ".."):
                parts.append(part)
            elif parts:
                parts.pop()
        return "/" * lead + "/".join(parts) or "."

    @staticmethod
    def abspath(p: str) -> str:
        return path.normpath(p if p.startswith("/") else path.join(getcwd(), p))

    @staticmethod
    def expanduser(p: str) -> str:
        """`~` and `~/…` from $HOME, as posixpath does; anything rarer (`~user`, no HOME)
        is posixpath's own to answer, and loads `os` for it."""
        if not p.startswith("~"):
            return p
        home = getenv("HOME")
        if home is None or (len(p) > 1 and p[1] != "/"):
            import posixpath

            return posixpath.expanduser(p)
        return (home.rstrip("/") + p[1:]) or "/"

    @staticmethod
    def realpath(p: str) -> str:
        import posixpath  # never on a shell start: config writes use it

        return posixpath.realpath(p)

    @staticmethod
    def exists(p: str) -> bool:
        return _mode(stat, p) is not None

    @staticmethod
    def lexists(p: str) -> bool:
        return _mode(lstat, p) is not None

    @staticmethod
    def isdir(p: str) -> bool:
        return _mode(stat, p) == 0o040000  # stat.S_IFDIR


def _mode(how: Callable[[str], stat_result], p: str) -> int | None:
    """The file type bits of `p` as `how` (stat, lstat) sees it; None where it sees nothing."""
    try:
        return how(p).st_mode & 0o170000
    except (OSError, ValueError):
        return None
