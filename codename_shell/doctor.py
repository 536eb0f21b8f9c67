"""`codename doctor`: everything that could make a name wrong, each with what to do about it.

It tells problems from housekeeping. FAIL (and exit 1) is for what needs a person: a name held
twice, an unsafe directory, a source that cannot be read, a broken config, a lock that stays
busy, a full disk, a fleet out of reach, a hook whose launcher is gone. What codename tidies
by itself (a shell that exited and gave its name back, a ghost the next claim reaps) and what
is only worth knowing (no hook yet, a prompt framework without a codename segment) is a note.
"""

from __future__ import annotations

import os
import sys

from codename_shell import config, hookcheck, liveness, paths
from codename_shell.errors import CodenameError
from codename_shell.holders import ns_token
from codename_shell.report import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.holders import Holder
    from codename_shell.sources import PresenceSource, Source
    from codename_shell.survey import Survey


class Report:
    """The checks' findings: printed as they come, or gathered for `--json`."""

    def __init__(self, as_json: bool = False) -> None:
        self.problems = 0
        self.as_json = as_json
        self.checks: list[dict[str, str]] = []

    # Details quote files others write (a roster's host, a path): shown printable, one line
    # each, never an escape sequence for the terminal to act on.
    def ok(self, what: str, detail: str) -> None:
        self._add("ok", what, detail)

    def note(self, what: str, detail: str) -> None:
        self._add("note", what, detail)

    def bad(self, what: str, detail: str, todo: str) -> None:
        self.problems += 1
        self._add("fail", what, detail, todo)

    def _add(self, status: str, what: str, detail: str, todo: str | None = None) -> None:
        entry = {"status": status, "check": what, "detail": printable(detail)}
        if todo is not None:
            entry["todo"] = printable(todo)
        self.checks.append(entry)
        if self.as_json:
            return
        shown = "FAIL" if status == "fail" else status
        print(f"  {shown:<5} {what:<13} {entry['detail']}")
        if todo is not None:
            print(f"{'':<22}what to do: {entry['todo']}")


def run(as_json: bool = False) -> int:
    out = Report(as_json)
    if not as_json:
        print("codename doctor")
    settings = _check_config(out)
    dirs_ok = _check_dirs(out)
    _check_disk(out)
    if dirs_ok:
        _check_lock(out)
        _check_sources(out, settings)
    hookcheck.check_hook(out)
    hookcheck.check_this_shell(out)
    hookcheck.check_prompt_frameworks(out)
    if as_json:
        from codename_shell.report import to_json

        print(to_json({"healthy": not out.problems, "problems": out.problems,
                       "checks": out.checks}))
    elif out.problems:
        print(f"{out.problems} problem{'s' if out.problems > 1 else ''} found")
    else:
        print("healthy")
    return 1 if out.problems else 0


def _check_config(out: Report) -> config.Settings:
    settings = config.load()
    if settings.fleet is not None:  # a keeper that died comes back (fleet.supervise)
        from codename_shell.fleet import supervise

        try:
            supervise(paths.runtime_dir())
        except CodenameError:
            pass  # an unsafe runtime dir: reported below
    theme, why = settings.theme_in_force()
    for message in settings.warnings:
        out.bad("config", message, f"edit {settings.path}")
    if not settings.warnings:
        where = settings.path if os.path.exists(settings.path) else f"{settings.path} (absent)"
        out.ok("config", where)
    out.ok("theme", f"{theme} ({why}), {len(settings.cast(theme))} names")
    return settings


def _check_dirs(out: Report) -> bool:
    base = os.environ.get("XDG_RUNTIME_DIR", "")
    if base and not paths._acceptable_runtime_base(base):
        problem = paths.directory_problem(base) or "it is not a private (0700) directory"
        out.bad("XDG_RUNTIME_DIR", f"{base}: {problem}",
                "point XDG_RUNTIME_DIR at a directory of yours with mode 0700")
    healthy = True
    for label, locate in (("state dir", paths.state_dir), ("runtime dir", paths.runtime_dir)):
        try:
            path = locate()
        except (OSError, CodenameError) as e:
            out.bad(label, str(e), "set XDG_RUNTIME_DIR to a private directory of yours")
            healthy = False
            continue
        if label == "runtime dir":
            why = paths.runtime_choice()[1]
            if why:  # someone may have taken /tmp/runtime-<uid> (see paths.runtime_choice)
                # Names still work; but a directory of the user's name that is not theirs
                # alone is worth a person's look (who made it?), so it is a problem.
                out.bad(label, f"the usual runtime dir is refused: {why}; presence files are "
                        f"kept in {path} (below the state dir) instead, and names work",
                        "set XDG_RUNTIME_DIR to a private (0700) directory of yours; if the "
                        "refused directory is yours, make it 0700 (else ask who made it)")
        if not os.path.exists(path):
            out.ok(label, f"{path} (created at the first claim)")
            continue
        unsafe = paths.directory_problem(path)
        if unsafe:
            out.bad(label, unsafe, f"chmod 700 {path}, or remove it if it is not yours")
            healthy = False
        else:
            out.ok(label, path)
    return healthy


DISK_LOW = 1 << 20  # bytes free below which the disk under a codename dir counts as full
INODES_LOW = 64  # free inodes, likewise (each presence file and temp file takes one)


def _check_disk(out: Report) -> None:
    """A full (or nearly full) disk under the state or runtime dir: every claim is refused.

    Nothing is recorded half (see `Allocator._record`), but no name is handed out either
    until there is room, and a shell starts without one.
    """
    for label, locate in (("state dir", paths.state_dir), ("runtime dir", paths.runtime_dir)):
        try:
            path = locate()
        except (OSError, CodenameError):
            continue  # _check_dirs said why
        where = path
        while not os.path.exists(where) and os.path.dirname(where) != where:
            where = os.path.dirname(where)  # not created yet: the disk it will be on
        try:
            fs = os.statvfs(where)
        except OSError as e:
            out.bad("disk", f"{label} {printable(path)}: cannot check ({printable(e.strerror)})",
                    "check that the disk is mounted and readable")
            continue
        free, inodes = fs.f_bavail * fs.f_frsize, fs.f_favail
        if free < DISK_LOW or (fs.f_files and inodes < INODES_LOW):
            out.bad("disk", f"{label} {printable(path)} is on a full disk: {_bytes(free)} and "
                    f"{inodes} inodes free",
                    "free some space on that disk (or point XDG_STATE_HOME / XDG_RUNTIME_DIR "
                    "elsewhere): until then every claim is refused and shells start without "
                    "a name")
        else:
            out.ok("disk", f"{label}: {_bytes(free)} free")


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _check_sources(out: Report, settings: config.Settings) -> None:
    from codename_shell.allocator import Allocator

    allocator = Allocator(settings)
    if allocator.fleet is not None:
        allocator.fleet.source.listing = True
    survey = allocator.survey()
    for source in allocator.sources:
        rows = [h for h in survey.holders if source.label in h.sources]
        live = [h for h in rows if h in survey.live]
        label = source.label.split(":", 1)[0]  # a roster's path is in its detail
        detail = f"{source.describe()}: {_count(len(rows), 'row')}, {len(live)} live"
        todo = _todo(source)
        for problem in source.problems:
            out.bad(label, problem, todo)
        if not source.problems:
            out.ok(label, detail)
    _check_ghosts(out, survey, allocator.presence)
    _check_unknown(out, survey, settings.ttl)
    _check_duplicates(out, survey)
    if allocator.fleet is not None:
        from codename_shell.fleet import health

        health.check(out, allocator.fleet, settings, survey.live)


def _check_ghosts(out: Report, survey: Survey, presence: PresenceSource) -> None:
    """Rows of holders that are gone: housekeeping the next claim does, never a problem.

    A shell that exits empties its presence file (no process may run then) and leaves its
    ledger row open; one killed with -9 leaves both. The next claim closes or reaps them.
    """
    released = set(presence.released)
    ours = [g for g in survey.ghosts if {"presence", "ledger"} & set(g.sources)]
    for ghost in ours:
        if "presence" not in ghost.sources and \
                (ghost.pid, ghost.start, ns_token(ghost.ns)) in released:
            out.note("exited", f"{ghost.name}: {_pid(ghost)} exited and gave its name back; "
                     "the next claim closes its ledger row")
        else:
            out.note("ghost", f"{ghost.name}: {_pid(ghost)} is gone without giving its name "
                     f"back ({', '.join(ghost.sources)}); the next claim reaps it "
                     "(or `codename reap` now)")
    if not ours:
        out.ok("ghosts", "none")


def _check_unknown(out: Report, survey: Survey, ttl: int) -> None:
    for h in survey.live:
        if liveness.status(h) != liveness.UNKNOWN:
            continue
        who = f"{h.name}: " + (f"pid {h.pid}" if h.pid is not None else "an entry")
        if h.sources == ["fleet"]:
            continue  # vouched for by its lease: the fleet lines count them per host
        if all(s.startswith("roster:") for s in h.sources):
            where = (f"host {h.host}" if h.host and h.host != liveness.host()
                     else "this host")
            out.note("unverifiable", f"{who} on {where} cannot be checked from here; vouched "
                     "for by its roster while listed")
            continue
        # Information, not a fault: such a holder is kept until its own host (hostname, boot,
        # pid namespace) sees it end, since no time without a heartbeat proves it gone here.
        # (Report.note makes every detail printable.)
        quiet = liveness.silence(h)
        heard = "last heartbeat " + (f"{quiet // 60} min" if quiet >= 120 else f"{quiet} s") + (
            f" ago, quiet for over heartbeat_ttl ({ttl} s)" if quiet >= ttl else " ago")
        if h.boot and h.boot == liveness.boot_id():
            # This very kernel: another pid namespace of this machine (a container or
            # `unshare -p` sharing $HOME, whatever its hostname), or a process here whose
            # /proc entry we may not read. Its own side checks it; `reap --host` by a
            # hostname would remove live terminals (and keeps these rows: see Allocator.reap).
            where = ("this pid namespace (its /proc entry cannot be read)"
                     if liveness.written_here(h) else
                     f"another pid namespace of this machine ({h.ns or 'unnamed'}, hostname "
                     f"{h.host or '?'})")
            out.note("unverifiable", f"{who} in {where} cannot be checked from here; checked "
                     f"by its own side, where a claim reaps it once its process ends ({heard})")
            continue
        out.note("unverifiable", f"{who} on {liveness.elsewhere(h)} cannot be "
                 f"checked from here; kept until its own host sees it end ({heard}); if that "
                 f"host is gone for good: `codename reap --host {h.host}`")


def _check_duplicates(out: Report, survey: Survey) -> None:
    duplicates = survey.duplicates()
    for name, holders in duplicates.items():
        who = "; ".join(_describe(h) for h in holders)
        out.bad("DUPLICATE", f"{name} is held by {len(holders)} live holders: {who}",
                "two launchers handed out the same name; give one of them another name "
                "(`codename rename --pid PID`, or fix the roster's launcher) so notes stay "
                "unambiguous")
        print(printable(f"!!! {name} is held twice: every note that says {name} is now "
                        "ambiguous"), file=sys.stderr)
    if not duplicates:
        out.ok("duplicates", "none: every live name has one holder")


def _describe(h: Holder) -> str:
    return f"{_pid(h)} ({h.kind}, {', '.join(h.sources)})"


def _pid(h: Holder) -> str:
    """`pid 4242`, or what a roster row without a pid is (never `pid None`)."""
    return f"pid {h.pid}" if h.pid is not None else "an entry without a pid"


def _todo(source: Source) -> str:
    """What to do about a source's problems: its rows' fix, or the file's when unreadable."""
    if source.label == "fleet":
        return "check that Redis runs there, and the url and password in [fleet]"
    if source.blind:
        if source.writable:
            return "move it aside: codename reads it only as a regular file of its own"
        return "make it a regular file (its launcher writes it), or remove it from config.toml"
    if not source.writable:
        return "fix that line where the roster's launcher writes it"
    return "`codename reap` removes unreadable rows and files"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- the lock -------------------------------------------------------------------------------

LOCK_TRY = 1.0  # seconds doctor waits for the lock; a claim holds it for milliseconds


def _check_lock(out: Report) -> None:
    """Take the allocator's lock once, briefly: one that stays busy stalls every claim."""
    from codename_shell.errors import LockTimeout
    from codename_shell.lock import Lock

    state = paths.state_dir()
    lock = os.path.join(state, "lock")
    if not os.path.isdir(state):
        out.ok("lock", f"{lock} (created at the first claim)")
        return
    try:
        with Lock(state, timeout=LOCK_TRY):
            pass
    except LockTimeout:
        out.bad("lock", f"{lock} stayed busy for {LOCK_TRY:.0f} s{_lock_holder(lock)}: every "
                "claim waits for it, and shells start without a name",
                f"end the stuck process holding it (`fuser -v {lock}` names it)")
    except OSError as e:
        out.bad("lock", f"{lock}: cannot be opened ({e.strerror})",
                f"remove {lock} if it is not a regular file of yours; the next claim makes it "
                "anew")
    else:
        out.ok("lock", f"{lock}: free")


def _lock_holder(lock: str) -> str:
    """` (pid N)`: who took the lock last, as its holder wrote at the start of the file."""
    try:
        with open(lock, "rb") as f:
            record = f.read(32).split()
    except OSError:
        return ""
    return f" (taken by pid {int(record[0])})" if record and record[0].isdigit() else ""
