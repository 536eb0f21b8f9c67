"""`codename doctor`: everything that could make a name wrong, each with what to do about it."""

from __future__ import annotations

import os
import sys

from codename_shell import config, liveness, paths
from codename_shell.errors import CodenameError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.allocator import Survey
    from codename_shell.holders import Holder


class Report:
    def __init__(self) -> None:
        self.problems = 0

    def ok(self, what: str, detail: str) -> None:
        print(f"  ok    {what:<13} {detail}")

    def note(self, what: str, detail: str) -> None:
        print(f"  note  {what:<13} {detail}")

    def bad(self, what: str, detail: str, todo: str) -> None:
        self.problems += 1
        print(f"  FAIL  {what:<13} {detail}\n{'':<22}what to do: {todo}")


def run() -> int:
    out = Report()
    print("codename doctor")
    settings = _check_config(out)
    dirs_ok = _check_dirs(out)
    if dirs_ok:
        _check_sources(out, settings)
    if out.problems:
        print(f"{out.problems} problem{'s' if out.problems > 1 else ''} found")
        return 1
    print("healthy")
    return 0


def _check_config(out: Report) -> config.Settings:
    settings = config.load()
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


def _check_sources(out: Report, settings: config.Settings) -> None:
    from codename_shell.allocator import Allocator

    allocator = Allocator(settings)
    survey = allocator.survey()
    for source in allocator.sources:
        rows = [h for h in survey.holders if source.label in h.sources]
        live = [h for h in rows if h in survey.live]
        label = source.label.split(":", 1)[0]  # a roster's path is in its detail
        detail = f"{source.describe()}: {_count(len(rows), 'row')}, {len(live)} live"
        todo = ("fix that line where the roster's launcher writes it" if not source.writable
                else "`codename reap` removes unreadable rows")
        for problem in source.problems:
            out.bad(label, problem, todo)
        if not source.problems:
            out.ok(label, detail)
    _check_ghosts(out, survey)
    _check_unknown(out, survey, settings.ttl)
    _check_duplicates(out, survey)


def _check_ghosts(out: Report, survey: Survey) -> None:
    ours = [g for g in survey.ghosts if {"presence", "ledger"} & set(g.sources)]
    for ghost in ours:
        out.bad("ghost", f"{ghost.name}: pid {ghost.pid} is gone ({', '.join(ghost.sources)})",
                "`codename reap` (the next claim reaps it too)")
    if not ours:
        out.ok("ghosts", "none")


def _check_unknown(out: Report, survey: Survey, ttl: int) -> None:
    for h in survey.live:
        if liveness.status(h) == liveness.UNKNOWN:
            where = f"host {h.host}" if h.host != liveness.host() else "this host"
            vouch = ("vouched for by its roster while listed" if all(
                s.startswith("roster:") for s in h.sources)
                else f"trusted while its heartbeat is fresh ({ttl} s)")
            out.note("unverifiable", f"{h.name}: pid {h.pid} on {where} cannot be checked "
                     f"from here; {vouch}")


def _check_duplicates(out: Report, survey: Survey) -> None:
    duplicates = survey.duplicates()
    for name, holders in duplicates.items():
        who = "; ".join(_describe(h) for h in holders)
        out.bad("DUPLICATE", f"{name} is held by {len(holders)} live holders: {who}",
                "two launchers handed out the same name; give one of them another name "
                "(`codename rename --pid PID`, or fix the roster's launcher) so notes stay "
                "unambiguous")
        print(f"!!! {name} is held twice: every note that says {name} is now ambiguous",
              file=sys.stderr)
    if not duplicates:
        out.ok("duplicates", "none: every live name has one holder")


def _describe(h: Holder) -> str:
    return f"pid {h.pid} ({h.kind}, {', '.join(h.sources)})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
