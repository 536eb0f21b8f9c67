"""What an earlier claim read, kept for the next one: `rows.cache` in the state dir.

A claim among many holders spends most of its time on two things it did the claim before,
for the same holders (bench row 3): reading each presence file (~4.5 µs: open, fstat, read,
close) and parsing each row (~3 µs; a holder's presence file and ledger row hold the same
text). So this keeps, with marshal,
- each row's parsed fields, keyed by its whole text: what a text parses to is a function of
  that text alone, not a fact about the world that could go stale;
- each presence file's row, with the identity of the version it was read from (see
  `PresenceSource._unchanged`): a later claim reads a file again unless one lstat shows that
  very version still there.
Whether a holder lives is not kept: it is judged afresh at every claim. The cache belongs to
the code that wrote it (this version of codename, its holders.py and presence.py as they are
on disk): any other ignores it, and writes its own once it has had to read enough. A cache
that cannot be read or written costs speed, never a name.
"""

from __future__ import annotations

import marshal
import sys

from codename_shell import __version__, fileio, holders
from codename_shell import lean_os as os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.sources.presence import PresenceSource, Snapshot

NAME = "rows.cache"
CACHE_MAX = 64 << 20  # bytes; it holds the rows of the live holders, as the ledger does
#: A claim that had to parse or read at least this many rows itself writes the cache anew.
#: Fewer (the rows written since, the ledger's closed rows before it is compacted) cost less
#: to read again than a write of every row.
REWRITE_AFTER = 64
_FIELDS = 15  # len(holders.Fields): part of the key, for a change of what a row parses to
_SHARED = {2, 5, 6, 7, 12, 13}  # kind, boot, host, ns, theme, machine (see holders._parse)


def load(state_dir: str) -> dict[str, Snapshot]:
    """Give `holders` the rows the cache holds, and return its presence files (for
    `PresenceSource.known`), when this very code wrote it; else an empty dict."""
    key = _key()
    if key is None:
        return {}
    try:
        cached = marshal.loads(fileio.read_regular(os.path.join(state_dir, NAME), CACHE_MAX,
                                                   nofollow=True))
        if not (isinstance(cached, tuple) and len(cached) == 3 and cached[0] == key
                and isinstance(cached[2], bytes) and cached[1] == _checksum(cached[2])):
            return {}
        rows, files = marshal.loads(cached[2])
    except (OSError, ValueError, EOFError, TypeError, ImportError):
        return {}  # none yet, or damaged (or no zlib): everything is read as if there were none
    if not (isinstance(rows, dict) and isinstance(files, dict)):
        return {}
    holders.adopt_parsed(rows)
    return files


def save(state_dir: str, presence: PresenceSource) -> None:
    """Keep what this process read, if it had to read or parse enough of it itself."""
    rows, parsed_here = holders.parsed_rows()
    if max(parsed_here, presence.reads) < REWRITE_AFTER:
        return
    key = _key()
    if key is None:
        return
    # The strings most rows share (boot and machine ids, host, namespace, kind, theme) made
    # one object each: marshal then writes each once, and loading makes it once (~30% less
    # to read and build at every claim among many holders).
    kept = {text: tuple(sys.intern(value) if type(value) is str and i in _SHARED else value
                        for i, value in enumerate(fields)) for text, fields in rows.items()}
    try:
        payload = marshal.dumps((kept, presence.snapshot))
        # Not durable: the checksum tells a cache a power cut damaged, which is then ignored
        # like a missing one, so the two fsyncs of a durable write (~0.6 ms on a disk, at
        # each rewrite) would buy nothing.
        fileio.write_atomic(os.path.join(state_dir, NAME),
                            marshal.dumps((key, _checksum(payload), payload)), durable=False)
    except (OSError, ValueError, ImportError):
        pass  # a full disk: the next claim reads everything, as before there was a cache


def _checksum(payload: bytes) -> int:
    """A CRC-32 of what the cache holds. Fields the cache gives are believed without parsing
    their row again, for the presence file and the ledger row alike: a cache damaged in a way
    that still loads (a flipped bit in a pid) could otherwise make a live holder look dead in
    both sources at once. zlib is loaded only here, where there is a cache (~0.4 ms)."""
    import zlib

    return zlib.crc32(payload)


def _key() -> tuple[int, str, int, int, int, int] | None:
    """Who wrote it: codename's version, and the size and mtime of the two files whose code
    turns a file into a row and a row into fields (an edit, a reinstall)."""
    from codename_shell.sources import presence  # loaded already: the allocator uses it

    try:
        rows, files = os.stat(holders.__file__ or ""), os.stat(presence.__file__ or "")
    except OSError:
        return None
    return (_FIELDS, __version__, rows.st_size, rows.st_mtime_ns, files.st_size,
            files.st_mtime_ns)
