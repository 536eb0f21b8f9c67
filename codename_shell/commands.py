"""What each `codename` subcommand does; `cli` parses the arguments and reports errors."""

from __future__ import annotations

import os
import sys

from codename_shell import config, report
from codename_shell.allocator import Allocator
from codename_shell.command_config import settings as _settings
from codename_shell.errors import CodenameError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from codename_shell.holders import Holder


def _pid(ns: argparse.Namespace) -> int:
    pid = ns.pid if ns.pid is not None else os.getppid()
    if pid <= 0:
        raise UsageError(f"--pid must be a positive number, not {pid}")
    return int(pid)


def _warn_sources(allocator: Allocator) -> None:
    for source in allocator.sources:
        if source.label.startswith(("roster:", "fleet")):
            for problem in source.problems:
                print(f"codename: warning: {report.printable(problem)}", file=sys.stderr)


# A name printed below may be one a row holds (the same process asking again, a release): rows
# are files, and a damaged or forged one can carry a DEL or a C1 control (CSI) that the row
# reader lets through. So every name goes out through `printable`, as in `who`.

def claim(ns: argparse.Namespace) -> int:
    allocator = Allocator(_settings())
    holder = allocator.claim(_pid(ns), kind=ns.kind, name=ns.name)
    _warn_sources(allocator)
    if ns.json:
        print(report.to_json(report.as_dict(holder)))
    else:
        print(report.printable(holder.name))
    return 0


def release(ns: argparse.Namespace) -> int:
    for holder in Allocator(_settings()).release(_pid(ns)):
        print(f"released {report.printable(holder.name)}")
    return 0


def rename(ns: argparse.Namespace) -> int:
    from codename_shell import shells

    holder = Allocator(_settings()).rename(_pid(ns), ns.name)
    if ns.shell:
        sys.stdout.write(shells.assignments(ns.shell, {
            "CODENAME": holder.name, "CODENAME_FULL": holder.full}))
        print(f"codename: this terminal is now {report.printable(holder.name)}", file=sys.stderr)
    else:
        print(report.printable(holder.name))
    return 0


def _live(settings: config.Settings) -> list[Holder]:
    """The live holders, oldest first, each with what it is doing (`activity`)."""
    import gc

    from codename_shell import activity

    # A roster of a million rows makes a million holders, none in a cycle; collecting
    # through them again and again cost `who` about a third of its time. The command ends
    # soon after.
    gc.disable()

    allocator = Allocator(settings)
    if allocator.fleet is not None:
        allocator.fleet.source.listing = True  # every host's holders, not just this one's
    live = allocator.survey().live
    _warn_sources(allocator)
    live.sort(key=lambda h: (h.since or 0, h.name))
    activity.gather(live)
    return live


def who(ns: argparse.Namespace) -> int:
    from codename_shell import activity

    settings = _settings()
    live = _live(settings)
    me = activity.caller(live)
    if ns.host is not None:
        live = [h for h in live if h.host == ns.host]
    if ns.json:
        print(report.to_json([{**report.as_dict(h), **report.activity_dict(h, h is me)}
                              for h in live]))
    elif ns.markdown:
        sys.stdout.write(report.markdown(live))
    elif ns.names:
        # One a line, as completion scripts read them; printable, as everything shown.
        sys.stdout.write("".join(f"{report.printable(h.name)}\n" for h in live))
    elif live:
        sys.stdout.write(report.table(live, current=me, width=report.terminal_width(),
                                      paint=_paint(settings)))
    else:
        sys.stdout.write("no live holders\n")
    return 0


def _paint(settings: config.Settings) -> bool:
    """Whether names are shown in their colours: on a terminal only (never into a pipe or a
    file), unless NO_COLOR is set (https://no-color.org: to anything not empty) or
    `[prompt] colour = false`."""
    return settings.colour and not os.environ.get("NO_COLOR") and sys.stdout.isatty()


def _find(settings: config.Settings, name: str) -> tuple[Holder, Allocator, list[Holder]]:
    """The live holder of `name`, the allocator that found it, and this host's live holders.
    This host's sources first; with a fleet, when none of them has it, every host's (one
    round trip). Nobody holds it: CodenameError, exit 1."""
    from codename_shell import reach

    allocator = Allocator(settings)
    live = allocator.survey().live
    holder = reach.match(live, name)
    if holder is None and allocator.fleet is not None:
        allocator.fleet.source.listing = True  # every host's holders
        holder = reach.match(allocator.survey().live, name)
    _warn_sources(allocator)
    if holder is None:
        raise CodenameError(f"no live holder of {report.printable(name)}")
    return holder, allocator, live


def where(ns: argparse.Namespace) -> int:
    from codename_shell import reach

    holder, _, _ = _find(_settings(), ns.name)
    found = reach.Whereabouts(holder)
    if ns.json:
        print(report.to_json(found.to_dict()))
    else:
        sys.stdout.write(found.lines())
    return 0


def attach(ns: argparse.Namespace) -> int:
    from codename_shell import reach

    holder, _, _ = _find(_settings(), ns.name)
    pane = reach.attach(holder)
    print(report.printable(f"attached to {holder.name}: pane {pane.id} ({pane.target})"))
    return 0


def tell(ns: argparse.Namespace) -> int:
    from codename_shell import activity, reach

    words = list(ns.text)
    if words[:1] == ["--"]:
        words = words[1:]
    text = " ".join(words) if words else (_stdin_text() or "")
    holder, allocator, live = _find(_settings(), ns.name)
    me = activity.caller(live)
    if me is None:
        raise CodenameError("no name to sign the message with: no process above this one holds "
                            "a name (run it in a named terminal, or under `codename run`)")
    token = None
    if allocator.fleet is not None:
        token = allocator.fleet.source.tokens.get((holder.name, holder.host, holder.pid,
                                                   holder.start))
    waiting = reach.tell(holder, me, text, state_dir=allocator.state_dir,
                         presence=allocator.presence.path_for(holder), fleet_token=token,
                         fleet=allocator.fleet)
    more = f" ({waiting} waiting)" if waiting > 1 else ""
    print(report.printable(f"left for {holder.name}, shown above its next prompt{more}"))
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
    if ns.names:
        # One a line, as completion scripts read them; a name is printable (config.py).
        sys.stdout.write("".join(f"{row['name']}\n" for row in rows))
        return 0
    for row in rows:
        mark = "*" if row["today"] else " "
        origin = "" if row["builtin"] else "  (config.toml)"
        line = f"{mark} {row['name']:<12} {row['size']:>3} names  {row['title']}{origin}"
        print(report.printable(line))
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
        from codename_shell import config_edit

        path = config_edit.set_theme(ns.name)
        after, why = config.load().theme_in_force()
        done = f"saved to {path}" if ns.name else f"the theme line removed from {path}"
        print(report.printable(f"new sessions draw from {after} ({why}; {done})"))
        if os.environ.get("CODENAME_THEME"):
            print("codename: note: CODENAME_THEME is set in this environment and wins",
                  file=sys.stderr)
        return 0
    current, why = settings.theme_in_force()
    print(report.printable(f"{current} ({why})" if sys.stdout.isatty() else current))
    return 0


def reap(ns: argparse.Namespace) -> int:
    from codename_shell import liveness

    if ns.host is not None and not ns.host.strip():
        raise UsageError("--host needs the name of a host (as `codename doctor` shows it)")
    allocator = Allocator(_settings())
    reaped = allocator.reap(host=ns.host)
    # A ghost is dead by /proc's word; a row removed for --host is one nobody here could check.
    ghosts = [h for h in reaped if liveness.status(h) == liveness.DEAD]
    show = report.printable  # rows are anyone's writing: nothing reaches the terminal raw
    for h in reaped:
        if h in ghosts:
            print(f"reaped {show(h.name)} (pid {h.pid}, {h.kind}; {', '.join(h.sources)})")
            continue
        # The same hostname as ours: the pid namespace says which of its sides it was.
        ns_note = f" {show(h.ns)}" if h.host == liveness.host() and h.ns else ""
        print(f"removed {show(h.name)} (pid {h.pid} on host {show(h.host)}{ns_note}, {h.kind}; "
              f"{', '.join(h.sources)})")
    for h in allocator.reap_kept:
        print(f"kept {show(h.name)} (pid {h.pid}, {_namespace(h)}; {', '.join(h.sources)}): "
              "alive or not is for its own side to say; a claim there reaps it once its "
              "process ends")
    if not reaped:
        print("no ghosts")
    if ns.host is not None and len(ghosts) == len(reaped) and not allocator.reap_kept:
        print(f"no rows of host {show(ns.host)} that cannot be checked from here")
    if allocator.fleet_reaped:
        count = allocator.fleet_reaped
        print(f"gave back {count} fleet name{'s' if count > 1 else ''} of host {show(ns.host)}")
    return 0


def _namespace(h: Holder) -> str:
    """Where a row of this very kernel that cannot be checked from here lives, for a person."""
    from codename_shell import liveness

    if liveness.written_here(h):
        return "this pid namespace, its /proc entry unreadable"
    return report.printable(f"another pid namespace of this machine, {h.ns or 'unnamed'}, "
                            f"hostname {h.host or '?'}")


def doctor(ns: argparse.Namespace) -> int:
    from codename_shell import doctor as checks

    return checks.run(as_json=ns.json)


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
    print(f"{report.printable(holder.name)}: heartbeat refreshed")
    return 0


def note(ns: argparse.Namespace) -> int:
    from codename_shell import activity, notes

    words = list(ns.text)
    if words[:1] == ["--"]:
        words = words[1:]
    text = notes.read_text(None if words else _stdin_text(), words)
    settings = _settings()
    target = notes.path(settings)
    allocator = Allocator(settings)
    live = allocator.survey().live
    _warn_sources(allocator)
    me = activity.caller(live)
    if me is None:
        raise CodenameError("no name to sign the note with: no process above this one holds a "
                            "name (run it in a named terminal, or under `codename run`)")
    try:
        where = activity.tilde(os.getcwd())
    except OSError:
        where = "?"  # a directory deleted under the writer
    line = notes.line(me, text, where)
    notes.append(target, line)
    sys.stdout.write(report.printable(line.rstrip("\n")) + "\n")
    return 0


def _stdin_text() -> str | None:
    """The note piped in; None when stdin is a terminal (a person would wait for nothing)."""
    if sys.stdin is None or sys.stdin.isatty():
        return None
    return sys.stdin.buffer.read(NOTE_MAX).decode("utf-8", "replace")


NOTE_MAX = 1 << 16  # bytes of a note read from stdin; a note is a line, not a file


def roster(ns: argparse.Namespace) -> int:
    from codename_shell import notes

    settings = _settings()
    live = _live(settings)
    body = report.markdown(live, report.ROSTER)
    if ns.write is None:
        sys.stdout.write(body)
        return 0
    target = os.path.expanduser(ns.write) if ns.write else notes.path(settings)
    changed = notes.write_roster(target, body)
    count = f"{len(live)} session{'s' if len(live) != 1 else ''}"
    print(f"{'wrote' if changed else 'already up to date:'} the roster ({count}) in "
          f"{report.printable(target)}")
    return 0


def log(ns: argparse.Namespace) -> int:
    from codename_shell import logview

    return logview.log(ns)
