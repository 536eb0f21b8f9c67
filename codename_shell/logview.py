"""`codename log`: the ledger's history as a person asks for it: the events (`--since`,
`--name`), who held what at a moment (`--at`), and a timeline (`--timeline`), this host's
and, with a fleet, every host's (fleet/events.py).
"""

from __future__ import annotations

import os
import sys

from codename_shell import history, historycache, moments, report, tenures
from codename_shell.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def log(ns: argparse.Namespace) -> int:
    import time

    from codename_shell import history, paths

    if ns.at is not None and (ns.since is not None or ns.timeline):
        raise UsageError("--at is one moment: not with --since or --timeline")
    if ns.timeline and ns.json:
        raise UsageError("--timeline draws the history: not with --json")
    now = time.time()
    since = moments.parse_since(ns.since, now) if ns.since is not None else None
    at = moments.parse_since(ns.at, now, "--at") if ns.at is not None else None
    ledger = history.History(paths.state_dir())
    # The earliest moment the question is about: what came before it is needed only as far
    # as it says who held what then (historycache.py).
    moment = at if at is not None else since if since is not None else \
        now - TIMELINE if ns.timeline else None
    events = historycache.events(
        ledger, None if moment is None else tenures.edge_of(min(moment, now)))
    warnings = list(ledger.warnings)
    if at is not None or ns.timeline:
        # Who held a name is a question about the whole fleet, as `who` and `where` are.
        events = _fleet_history(events, warnings)
    for warning in warnings[:LOG_WARNINGS]:
        print(f"codename: warning: {report.printable(warning)}", file=sys.stderr)
    if len(warnings) > LOG_WARNINGS:
        print(f"codename: warning: … and {len(warnings) - LOG_WARNINGS} more unreadable "
              "lines skipped", file=sys.stderr)
    if at is not None:
        return _log_at(tenures.held_at(events, at, ns.name), at, ns)
    if ns.timeline:
        return _log_timeline(events, now - TIMELINE if since is None else since, now, ns.name)
    chosen = tenures.select(events, ns.name, since, now)
    if ns.json:
        print(report.to_json([e.to_dict() for e in chosen]))
    elif not chosen:
        print("no events")
    else:
        rows = [[report.printable(c) for c in (
            moments.local(e.time), e.event, e.name, e.kind, str(e.pid), e.host or "-",
            e.why)] for e in chosen]
        sys.stdout.write(report.grid(LOG_COLUMNS, rows, width=report.terminal_width(),
                                     drop_first=("Host",), drop=("Kind", "PID"),
                                     shrink={"Reason": 12}))
    return 0


def _fleet_history(events: list[history.Row], warnings: list[str]) -> list[history.Row]:
    """This host's events, with every other host's from the fleet's stream when there is a
    fleet (fleet/events.py); the fleet unreadable: this host's alone, and one warning."""
    from codename_shell import command_config, paths

    settings = command_config.settings()
    if settings.fleet is None:
        return events
    from codename_shell.fleet import events as stream

    rows, problem = stream.read(settings, paths.state_dir())
    if problem:
        warnings.insert(0, f"{problem}; other hosts' history is not shown")
    merged, unreadable = stream.merge(events, rows)
    warnings += unreadable
    return merged


def _log_at(held: list[tenures.Tenure], at: float, ns: argparse.Namespace) -> int:
    if ns.json:
        print(report.to_json([t.to_dict() for t in held]))
        return 0

    when = moments.local(at)
    if not held:
        who = report.printable(ns.name) if ns.name is not None else "every name"
        print(f"{who} was free at {when}")
        return 0
    from codename_shell.activity import tilde

    rows = [[report.printable(c) for c in (
        t.name, str(t.start.pid), t.start.host or "-", t.start.tty or "-", t.start.kind,
        tilde(t.cwd) or "-", moments.local(t.start.time), _until(t))] for t in held]
    print(f"held at {when}:")
    sys.stdout.write(report.grid(AT_COLUMNS, rows, width=report.terminal_width(),
                                 drop_first=("Host", "TTY"), drop=("Kind", "Where"),
                                 shrink={"Where": 12, "Until": 12}, cut_front=("Where",)))
    return 0


def _until(t: tenures.Tenure) -> str:
    """How a tenure ended, as a person reads it: `15:24:26 released`, `held now`…"""

    end = t.end
    if end is None:
        return "still held"
    said = f"{moments.local(end.time)} {end.event}"
    if end.event == "renamed":
        said += f" to {end.name}"
    if end.seen is not None:
        said += f" (last seen {moments.clock(end.seen)})"
    return said


def _log_timeline(events: list[history.Row], since: float, now: float,
                  name: str | None) -> int:
    from codename_shell import history, liveness, timeline

    stamp, event = history.STAMP, history.EVENT
    # From the first claim at the earliest: a --since of year 1 draws no millennia of nothing.
    first = next((r[stamp] for r in events if r[event] in ("claimed", "renamed")), None)
    start = since if first is None else max(since, history.seconds(first))
    # The names held when the window opens, then every tenure begun in it.
    edge = history.stamp_of(min(start, now))
    spans = tenures.open_at(events, edge, inclusive=False) + tenures.tenures(
        [r for r in events if r[stamp] >= edge])
    if name is not None:
        spans = [t for t in spans if history.fold(t.name) == history.fold(name)]
    width = report.terminal_width()
    colour = width is not None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    sys.stdout.write(timeline.draw(spans, start, now, width=width, colour=colour,
                                   local_host=liveness.host()))
    return 0


LOG_COLUMNS = ("Time", "Event", "Name", "Kind", "PID", "Host", "Reason")
AT_COLUMNS = ("Name", "PID", "Host", "TTY", "Kind", "Where", "Claimed", "Until")
LOG_WARNINGS = 5  # unreadable lines named one by one; past that, counted
TIMELINE = 8 * 3600  # seconds `--timeline` draws without --since
