"""What each `codename` subcommand does; `cli` parses the arguments and reports errors."""

from __future__ import annotations

import os
import sys

from codename_shell import config, report
from codename_shell.allocator import Allocator
from codename_shell.errors import CodenameError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def _settings() -> config.Settings:
    settings = config.load()
    settings.theme_in_force()  # an unknown theme (schedule, CODENAME_THEME) warns: say it now
    for message in settings.warnings:
        print(f"codename: {message}", file=sys.stderr)
    settings.warnings.clear()
    return settings


def _pid(ns: argparse.Namespace) -> int:
    pid = ns.pid if ns.pid is not None else os.getppid()
    if pid <= 0:
        raise UsageError(f"--pid must be a positive number, not {pid}")
    return int(pid)


def _warn_sources(allocator: Allocator) -> None:
    for source in allocator.sources:
        if source.label.startswith("roster:"):
            for problem in source.problems:
                print(f"codename: warning: {problem}", file=sys.stderr)


def claim(ns: argparse.Namespace) -> int:
    allocator = Allocator(_settings())
    holder = allocator.claim(_pid(ns), kind=ns.kind, name=ns.name)
    _warn_sources(allocator)
    if ns.json:
        print(report.to_json(report.as_dict(holder)))
    else:
        print(holder.name)
    return 0


def release(ns: argparse.Namespace) -> int:
    for holder in Allocator(_settings()).release(_pid(ns)):
        print(f"released {holder.name}")
    return 0


def rename(ns: argparse.Namespace) -> int:
    from codename_shell import shells

    holder = Allocator(_settings()).rename(_pid(ns), ns.name)
    if ns.shell:
        sys.stdout.write(shells.assignments(ns.shell, {
            "CODENAME": holder.name, "CODENAME_FULL": holder.full}))
        print(f"codename: this terminal is now {holder.name}", file=sys.stderr)
    else:
        print(holder.name)
    return 0


def who(ns: argparse.Namespace) -> int:
    allocator = Allocator(_settings())
    live = allocator.survey().live
    _warn_sources(allocator)
    live.sort(key=lambda h: (h.since or 0, h.name))
    if ns.json:
        print(report.to_json([report.as_dict(h) for h in live]))
    elif ns.markdown:
        sys.stdout.write(report.markdown(live))
    else:
        sys.stdout.write(report.table(live) if live else "no live holders\n")
    return 0


def themes(ns: argparse.Namespace) -> int:
    settings = _settings()
    today, _ = settings.theme_in_force()
    rows = [{
        "name": theme,
        "title": settings.titles.get(theme, theme),
        "names": [short for short, _ in cast],
        "full_names": [full for _, full in cast],
        "size": len(cast),
        "builtin": theme not in settings.user_themes,
        "today": theme == today,
    } for theme, cast in sorted(settings.casts.items())]
    if ns.json:
        print(report.to_json(rows))
        return 0
    for row in rows:
        mark = "*" if row["today"] else " "
        origin = "" if row["builtin"] else "  (config.toml)"
        print(f"{mark} {row['name']:<12} {row['size']:>3} names  {row['title']}{origin}")
    print("* today's theme")
    return 0


def theme(ns: argparse.Namespace) -> int:
    settings = _settings()
    if ns.clear and ns.name:
        raise UsageError("give a theme name or --clear, not both")
    if ns.clear or ns.name:
        if ns.name and ns.name not in settings.casts:
            raise CodenameError(f"unknown theme {ns.name!r}; known themes: "
                                f"{', '.join(sorted(settings.casts))}")
        path = config.set_theme(ns.name)
        after, why = config.load().theme_in_force()
        print(f"new sessions draw from {after} ({why}; saved to {path})")
        if os.environ.get("CODENAME_THEME"):
            print("codename: note: CODENAME_THEME is set in this environment and wins",
                  file=sys.stderr)
        return 0
    current, why = settings.theme_in_force()
    print(f"{current} ({why})" if sys.stdout.isatty() else current)
    return 0


def reap(ns: argparse.Namespace) -> int:
    reaped = Allocator(_settings()).reap()
    for h in reaped:
        print(f"reaped {h.name} (pid {h.pid}, {h.kind}; {', '.join(h.sources)})")
    if not reaped:
        print("no ghosts")
    return 0


def doctor(ns: argparse.Namespace) -> int:
    from codename_shell import doctor as checks

    return checks.run()


def run(ns: argparse.Namespace) -> int:
    from codename_shell import runner

    argv = list(ns.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise UsageError("nothing to run: codename run [--name NAME] -- CMD [ARG...]")
    return runner.run(argv, name=ns.name, settings=_settings())


def heartbeat(ns: argparse.Namespace) -> int:
    holder = Allocator(_settings()).heartbeat(_pid(ns))
    print(f"{holder.name}: heartbeat refreshed")
    return 0
