"""Rosters: JSON-lines files that other launchers keep of the names their jobs hold.

Each line is an object with `name` and optionally `pid`, `host` and `kind`. codename only
reads them. A row whose pid is of this host is checked against the real process (and ignored
once that process is gone); a row without a pid, or of another host, cannot be checked from
here and is trusted for as long as the roster lists it: the launcher vouches for it.

A roster is someone else's file, so it is read as hostile: only a regular file (a FIFO would
hang every shell start, /dev/zero would never end), at most ROSTER_MAX bytes, lines split at
"\\n" alone (JSON strings may hold a raw U+2028 or U+0085, which `str.splitlines` would take
for line ends, cutting a holder's row in two), and no line can raise. A big roster costs its
parse: `load()` lets the allocator pay it before taking the lock, and a parse is kept until
the file changes (see `rostercache`): a claim with a roster of 60 MB then costs about what one
without does, and `who` no JSON parse.
"""

from __future__ import annotations

import gc
import time

from codename_shell import casts, fileio, rostercache
from codename_shell import lean_os as os
from codename_shell.errors import printable
from codename_shell.holders import KINDS, MAX_STAMP, Holder
from codename_shell.liveness import host as this_host
from codename_shell.sources.base import Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.rostercache import Entry, Identity, Row

ROSTER_MAX = 64 << 20  # bytes; about 1,000,000 rows of a busy fleet
MAX_REPORTED = 10  # bad lines reported one by one; past this, one line counts the rest
#: A name's rows of this host are checked with one signal each up to this many; past it,
#: against one listing of /proc (a launcher that never prunes its roster lists thousands).
_SIGNALS = 64


class RosterSource(Source):
    writable = False

    def __init__(self, path: str, state_dir: str | None = None) -> None:
        super().__init__()
        self.path = path
        # The label is shown (`who`, `doctor`, error lines): printable, whatever the path holds.
        self.label = f"roster:{printable(path)}"
        self.missing = False
        #: Where its parse is kept between processes (see `rostercache`); None: nowhere.
        self.state_dir = state_dir
        self._loaded: list[Holder] | None = None

    def load(self, names: frozenset[str] | None = None, wanted: str | None = None) -> None:
        """Read the roster now; the next `holders()` returns these rows.

        For the allocator to call BEFORE taking its lock: a roster is written by another
        launcher, never under codename's lock, so reading it a moment earlier answers just as
        well, and a 1,000,000-line roster's parse then delays no other claim. `problems`,
        `blind` and `missing` are set here. The rows are handed over once: a later
        `holders()` reads the file again.

        With `names` (every cast's names, folded: what a claim may hand out) and `wanted` (a
        name asked for), only what a claim must know: for each name that folds to one of
        those (or to its overflow or host-qualified form), one row no pid of this host can
        check, and the rows whose pid runs here now (see `rostercache.index`). Any more rows
        of a name would not change whether it is held.
        """
        if names is None:
            self._loaded = self._read()
        else:
            self._loaded = self._claim_rows(names, wanted)

    def holders(self) -> list[Holder]:
        if self._loaded is not None:
            rows, self._loaded = self._loaded, None
            return rows
        return self._read()

    def _read(self) -> list[Holder]:
        rows, _ = self._rows()
        return self._holders(rows or [])

    def _rows(self) -> tuple[list[Row] | None, Identity | None]:
        """The roster's rows, from the cache or parsed (None when it cannot be read), and the
        version of the file they are (None when not known to be one version)."""
        self.problems = []
        self.blind = ""
        self.missing = False
        version = rostercache.identity(self.path) if self.state_dir else None
        if self.state_dir and version is not None:
            kept = rostercache.load_rows(self.state_dir, self.path, version)
            if kept is not None:
                rows, problems, _bad = kept
                self.problems = list(problems)
                return rows, version
        read_at = time.time_ns()
        try:
            data = fileio.read_regular(self.path, ROSTER_MAX)
        except FileNotFoundError:
            self.missing = True  # a launcher with no jobs yet: counts as empty
            return [], None
        except OSError as e:
            # Not read at all: it may list any name, so no name is handed out (see allocator).
            self.blind = f"{printable(self.path)}: unreadable ({printable(e.strerror)})"
            self.problems.append(f"{self.blind}; its holders are unknown")
            return None, None
        rows, bad = self._parse(data.decode("utf-8", errors="replace").removeprefix("\ufeff"))
        if not self.state_dir or version is None or not rostercache.settled(
                version, rostercache.identity(self.path), read_at):
            return rows, None
        rostercache.save_rows(self.state_dir, self.path, version, rows, self.problems, bad)
        return rows, version

    def _claim_rows(self, names: frozenset[str], wanted: str | None) -> list[Holder]:
        """What `load(names, wanted)` keeps (see there)."""
        here = this_host()
        version = rostercache.identity(self.path) if self.state_dir else None
        kept = None
        if self.state_dir and version is not None:
            kept = rostercache.load_index(self.state_dir, self.path, version, here, names)
        rows: list[Row] | None = None
        if kept is not None:
            entries, problems = kept
            self.problems, self.blind, self.missing = list(problems), "", False
        else:
            rows, version = self._rows()
            if rows is None:
                return []  # blind: the allocator refuses every name
            entries = rostercache.index(rows, here, names)
            if self.state_dir and version is not None:
                # With the problems: a claim warns of a roster's bad lines each time.
                rostercache.save_index(self.state_dir, self.path, version, here, names,
                                       entries, self.problems)
        if wanted is not None and not rostercache.relevant(casts.fold(wanted), names):
            # A name outside every cast (`--name Bob`): the one claim that reads every row.
            if rows is None:
                problems = self.problems
                rows, _ = self._rows()
                self.problems = problems
            entries = {**entries, **rostercache.index(rows or [], here,
                                                      frozenset({casts.fold(wanted)}))}
        return self._holders(_claimable(entries))

    def _holders(self, rows: list[Row]) -> list[Holder]:
        now, here, label = int(time.time()), this_host(), self.label
        enabled = gc.isenabled()
        gc.disable()  # ~1 M holders, none in a cycle: collections would double the time
        try:
            # An unverifiable row stays fresh while listed: its beat is "now".
            return [Holder(name, pid=pid, kind=kind, host=host or here, beat=now,
                           since=now if since is None else since, sources=[label])
                    for name, pid, kind, host, since in rows]
        finally:
            if enabled:
                gc.enable()

    def _parse(self, text: str) -> tuple[list[Row], int]:
        import json

        decode = json.JSONDecoder().raw_decode  # json.loads less its two regex passes a line
        found = []
        bad = 0
        enabled = gc.isenabled()
        gc.disable()  # a million small objects and no cycle among them
        try:
            for number, line in enumerate(text.split("\n"), 1):
                line = line.strip(" \t\r")  # JSON's blanks, never U+2028 or U+0085
                if not line:
                    continue
                try:
                    row, end = decode(line)
                    if end != len(line):
                        raise ValueError(f"extra data after the object (column {end + 1})")
                    found.append(_row(row))
                except (ValueError, TypeError, RecursionError) as e:
                    bad += 1
                    if bad <= MAX_REPORTED:
                        self.problems.append(f"{printable(self.path)}:{number}: bad roster "
                                             f"line skipped ({printable(e)})")
        finally:
            if enabled:
                gc.enable()
        if bad > MAX_REPORTED:
            self.problems.append(f"{printable(self.path)}: {bad - MAX_REPORTED} more bad "
                                 "roster lines skipped")
        return found, bad

    def describe(self) -> str:
        return f"{self.label}" + (" (missing: counts as empty)" if self.missing else "")


def _row(row: object) -> Row:
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    name, pid, host = row.get("name"), row.get("pid"), row.get("host")
    if not isinstance(name, str) or not name.strip() or not name.isprintable():
        raise ValueError("no usable `name`")
    if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0):
        raise ValueError("`pid` must be a positive number")
    if host is not None and not isinstance(host, str):
        raise ValueError("`host` must be a string")
    kind = row.get("kind")
    return name, pid, kind if kind in KINDS else "job", host or None, _stamp(row.get("since"))


def _stamp(value: object) -> int | None:
    """A row's `since`, when it is a time that can be shown; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_STAMP:
        return value
    return None


def _claimable(entries: dict[str, Entry]) -> list[Row]:
    """Of an index's rows, those that hold their names now: the first unverifiable row of
    each name, and the rows whose pid runs here (the survey judges them further)."""
    out: list[Row] = []
    listing: set[int] | None = None
    for vouched, local in entries.values():
        if vouched is not None:
            out.append(vouched)
        if len(local) <= _SIGNALS:
            out += [row for pid, row in local.items() if _runs(pid)]
            continue
        if listing is None:
            listing = _processes()
        if not listing:
            out += [row for pid, row in local.items() if _runs(pid)]
        else:
            out += [local[pid] for pid in (local.keys() & listing)]
    return out


def _runs(pid: int) -> bool:
    """Whether a process has `pid` here (as liveness asks in a quick survey)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OverflowError:
        return False  # no pid is that large
    return True


def _processes() -> set[int]:
    """The pids of every process of this pid namespace, from one listing of /proc; an empty
    set when the listing may not show them all: a /proc of another pid namespace, or one
    mounted with hidepid (another user's processes hidden from us, but not from `kill`)."""
    try:
        if os.readlink("/proc/self") != str(os.getpid()):
            return set()
        if os.geteuid() != 0:
            with open("/proc/self/mountinfo", "rb") as f:
                for line in f:
                    fields = line.split(b" - ", 1)
                    if len(fields) == 2 and fields[0].split()[4:5] == [b"/proc"] \
                            and b"hidepid=" in fields[1] \
                            and not any(opt in fields[1] for opt in (b"hidepid=0", b"hidepid=off")):
                        return set()
        return {int(entry) for entry in os.listdir("/proc") if entry.isdigit()}
    except OSError:
        return set()
