"""What a roster held when it was last parsed, kept until the file changes.

A roster of 60 MB (~800,000 lines) cost every shell start its JSON parse: 6.4 s, and `who` 26 s.
Nothing in a roster's rows changes while the file does not, so a parse is kept in the state dir
(`roster-<id>.rows`, with marshal), keyed like rows.cache keys a presence file: the roster's
path and the identity of the version parsed (device, inode, size, mtime and ctime; a rewrite
is a new inode, an edit changes the size or the times, and no one can set a ctime back). A
version younger than a second when it was read is not kept: two changes within one tick of
the kernel's clock leave the same times.

A claim needs far less than every row: only whether each name it may hand out is held. So
beside the rows is an index (`roster-<id>.index`) of the rows whose name folds to a name of a
cast (or to one of its overflow or host-qualified forms), made for those casts: a claim reads
it instead of the rows, and its cost does not grow with the roster. Whether a holder lives is
never kept: a claim asks at each look.

The files belong to the code that wrote them (codename's version, the size and mtime of the
modules that parse and fold) and carry a CRC-32 of what they hold; any other, or a damaged
one, is ignored and written anew. A cache that cannot be read or written costs speed, never
a name.
"""

from __future__ import annotations

import marshal

from codename_shell import __version__, casts, fileio
from codename_shell import lean_os as os

#: A roster row as parsed: name, pid, kind, host as written (None: this host), since (None:
#: unknown, shown as the time it was read).
Row = tuple[str, "int | None", str, "str | None", "int | None"]
#: A name's rows in an index: one a pid cannot be checked for (None if none), and those of
#: this host by pid.
Entry = tuple["Row | None", dict[int, Row]]
Identity = tuple[int, int, int, int, int]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CACHE_MAX = 256 << 20  # bytes; the rows of a roster of 64 MiB take about half that
SETTLED_NS = 1_000_000_000  # a version this much older than its read is kept


def identity(path: str) -> Identity | None:
    """The version of the file at `path` (following links, as a roster is read), or None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def settled(before: Identity | None, after: Identity | None, read_at_ns: int) -> bool:
    """Whether a parse may be kept: the file did not change while it was read, and its
    last change was at least a second before the read began."""
    return before is not None and before == after and before[4] <= read_at_ns - SETTLED_NS


def load_rows(state_dir: str, path: str,
              version: Identity) -> tuple[list[Row], list[str], int] | None:
    """(rows, problems, bad lines) of `path` at `version` when kept; else None."""
    kept = _load(_file(state_dir, path, ".rows"), (path, version))
    if not (isinstance(kept, tuple) and len(kept) == 3):
        return None
    rows, problems, bad = kept
    if not (isinstance(rows, list) and isinstance(problems, list) and isinstance(bad, int)):
        return None
    return rows, problems, bad


def save_rows(state_dir: str, path: str, version: Identity, rows: list[Row],
              problems: list[str], bad: int) -> None:
    _save(_file(state_dir, path, ".rows"), (path, version), (rows, problems, bad))


def load_index(state_dir: str, path: str, version: Identity, here: str,
               names: frozenset[str]) -> tuple[dict[str, Entry], list[str]] | None:
    """The index of `path` at `version` made for `names` (see `index`) on host `here`, and
    the roster's problems (its bad lines)."""
    kept = _load(_file(state_dir, path, ".index"), (path, version, here, sorted(names)))
    if not (isinstance(kept, tuple) and len(kept) == 2 and isinstance(kept[0], dict)
            and isinstance(kept[1], list)):
        return None
    return kept[0], kept[1]


def save_index(state_dir: str, path: str, version: Identity, here: str,
               names: frozenset[str], entries: dict[str, Entry], problems: list[str]) -> None:
    _save(_file(state_dir, path, ".index"), (path, version, here, sorted(names)),
          (entries, problems))


def index(rows: list[Row], here: str, names: frozenset[str]) -> dict[str, Entry]:
    """The rows a claim may have to know of: those whose name folds to one of `names` (folded
    cast names), or to one of its overflow (`Pam 2`) or host-qualified (`Pam@box~3f2a`)
    forms, by folded name. Of the rows no pid of this host can check, the first is enough:
    it holds its name however many more there are."""
    entries: dict[str, Entry] = {}
    fold = casts.fold
    for row in rows:
        folded = fold(row[0])
        if not relevant(folded, names):
            continue
        entry = entries.get(folded)
        if entry is None:
            entry = entries[folded] = (None, {})
        pid, host = row[1], row[3]
        if pid is None or (host is not None and host != here):
            if entry[0] is None:
                entries[folded] = (row, entry[1])
        else:
            entry[1].setdefault(pid, row)
    return entries


def relevant(folded: str, names: frozenset[str]) -> bool:
    """Whether a folded name is one of `names`, or an overflow or host-qualified form of one."""
    forms = {folded, folded[:folded.find("@")], folded[:folded.rfind("@")]} \
        if "@" in folded else (folded,)
    return any(form in names or _unnumbered(form) in names for form in forms)


def _unnumbered(folded: str) -> str:
    """`pam 2` -> `pam` (casts.overflow_name's form, folded: its digits are ASCII)."""
    head, _, number = folded.rpartition(" ")
    return head if head and number.isdigit() else folded


def _file(state_dir: str, path: str, suffix: str) -> str:
    import zlib

    tag = zlib.crc32(path.encode("utf-8", "surrogateescape"))
    return os.path.join(state_dir, f"roster-{tag:08x}{suffix}")


def _key() -> tuple[Any, ...] | None:
    """Who wrote it: codename's version, and the modules that parse a roster (sources/roster.py,
    by its path: it imports this one) and fold names."""
    code = os.path.dirname(__file__)
    try:
        files = [os.stat(path) for path in (os.path.join(code, "sources", "roster.py"),
                                            casts.__file__ or "", __file__)]
    except OSError:
        return None
    return (1, __version__, *((f.st_size, f.st_mtime_ns) for f in files))


def _load(where: str, about: tuple[Any, ...]) -> object:
    import zlib

    key = _key()
    try:
        kept = marshal.loads(fileio.read_regular(where, CACHE_MAX, nofollow=True))
        if not (isinstance(kept, tuple) and len(kept) == 3 and kept[0] == (key, about)
                and isinstance(kept[2], bytes) and kept[1] == zlib.crc32(kept[2])):
            return None
        return marshal.loads(kept[2])
    except (OSError, ValueError, EOFError, TypeError):
        return None


def _save(where: str, about: tuple[Any, ...], value: Any) -> None:
    import zlib

    key = _key()
    if key is None:
        return
    try:
        payload = marshal.dumps(value)
        fileio.write_atomic(where, marshal.dumps(((key, about), zlib.crc32(payload), payload)))
    except (OSError, ValueError):
        pass  # a full disk: the next claim parses the roster, as before there was a cache
