"""The `codename` command line: argparse, and the one place errors become messages.

The parser built here is the one definition of the command line: `--help`, `codename help`,
the typo suggestions and the shell completions (`completions.py`) are all read off it, so a
new command or option shows up in each of them without being listed again anywhere.

`codename init` skips argparse entirely (see `hook`): it runs at every shell start.
"""

from __future__ import annotations

import os
import sys

from codename_shell.errors import CodenameError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

SHELL_NAMES = ("bash", "zsh", "fish")
KINDS = ("terminal", "spare", "job")
DESCRIPTION = "A distinct human code name for every terminal."


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["init"]:
        from codename_shell import hook

        return hook.main(args[1:])
    try:
        parser = build_parser()
        if not args:
            # Like git: a short usage on stdout, and no error, for someone finding their way.
            sys.stdout.write(short_usage(parser))
            return 0
        _check_command(parser, args)
        _asked[:] = args[:1]
        ns = parser.parse_args(args)
        if getattr(ns, "func", None) is None:  # options alone, e.g. `codename --`
            sys.stderr.write(short_usage(parser))
            return 2
        result: int = ns.func(ns)
        return result
    except CodenameError as e:
        from codename_shell.report import printable  # a message may quote a file's bytes

        print(f"codename: {printable(e)}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `codename who | head`: the reader left; not an error worth a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # the last line of defence: one line, the traceback to a file
        from codename_shell.crashlog import log_exception
        from codename_shell.errors import printable  # the message may quote a row

        print(printable(f"codename: internal error ({type(e).__name__}: {e}); details in "
                        f"{log_exception()}"), file=sys.stderr)
        return 1


# --- the parser -------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    import argparse

    from codename_shell import __version__, commands

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            # One line, like every other error; the usage is one --help away, or the option
            # meant, for a typo (`--jsn`).
            print(f"codename: {message}{_option_hint(self, message)}", file=sys.stderr)
            raise SystemExit(2)

    p = Parser(prog="codename", description=DESCRIPTION, epilog=epilog(),
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-V", "--version", action="version", version=f"codename {__version__}",
                   help="print codename's version and exit")
    sub = p.add_subparsers(title="commands", dest="command", metavar="COMMAND",
                           parser_class=Parser)

    def cmd(name: str, func: object, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=func)
        return sp

    def pid_option(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--pid", type=int, help="the holder (default: the parent process)")

    sp = cmd("init", None, "print the hook for SHELL (eval it in your rc file)")
    sp.add_argument("shell", choices=SHELL_NAMES, help="the shell that evaluates the hook")

    sp = cmd("claim", commands.claim, "claim a name for a process (default: the caller)")
    pid_option(sp)
    sp.add_argument("--kind", choices=KINDS, default="terminal",
                    help="what the holder is (default: terminal)")
    sp.add_argument("--name", help="ask for this name; refused if someone holds it")
    sp.add_argument("--json", action="store_true", help="print one JSON object")

    sp = cmd("release", commands.release, "give up a process's name")
    pid_option(sp)

    sp = cmd("rename", commands.rename, "give a holder another free name")
    sp.add_argument("name", nargs="?", help="the name wanted (default: the next free one)")
    pid_option(sp)
    sp.add_argument("--shell", choices=SHELL_NAMES,
                    help="print code that updates $CODENAME in that shell")

    sp = cmd("who", commands.who, "list the live holders")
    fmt = sp.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON array")
    fmt.add_argument("--markdown", action="store_true", help="a table for a notes file")
    fmt.add_argument("--names", action="store_true",
                     help="only the names, one a line (for scripts and completions)")
    sp.add_argument("--host", help="only the holders of host NAME (as the HOST column shows it)")

    sp = cmd("themes", commands.themes, "list the casts")
    fmt = sp.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON array, one object per theme")
    fmt.add_argument("--names", action="store_true",
                     help="only the theme names, one a line (for scripts and completions)")

    sp = cmd("theme", commands.theme, "show the theme in force, or set it for new sessions")
    arg = sp.add_argument("name", nargs="?", help="the theme new sessions draw from")
    complete(arg, "theme")
    sp.add_argument("--clear", action="store_true", help="go back to the schedule")

    sp = cmd("reap", commands.reap, "remove ghost rows of dead holders")
    sp.add_argument("--host", metavar="NAME",
                    help="also remove host NAME's rows that cannot be checked from here "
                         "(a host or container gone for good)")

    sp = cmd("doctor", commands.doctor,
             "check directories, config, the hook and every source; say what to do")
    sp.add_argument("--json", action="store_true",
                    help="one JSON object: every check with its status, detail and fix")

    sp = cmd("run", commands.run, "run CMD as a named job; exits with its status")
    sp.add_argument("--name", help="ask for this name")
    arg = sp.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]",
                          help="the command to run, after `--`")
    complete(arg, "executable")

    sp = cmd("heartbeat", commands.heartbeat, "refresh a holder's heartbeat")
    pid_option(sp)

    sp = cmd("note", commands.note,
             "append one line to the notes file, signed with the name above you")
    sp.add_argument("text", nargs=argparse.REMAINDER, metavar="TEXT...",
                    help="the note (default: the text on stdin)")

    sp = cmd("where", commands.where,
             "where NAME's session is: host, pid, tty, tmux pane, directory, since")
    complete(sp.add_argument("name", metavar="NAME", help="the name (case does not matter)"),
             "name")
    sp.add_argument("--json", action="store_true", help="one JSON object")

    sp = cmd("attach", commands.attach,
             "inside tmux: switch this client to the pane of NAME's session")
    complete(sp.add_argument("name", metavar="NAME", help="the name (case does not matter)"),
             "name")

    sp = cmd("tell", commands.tell,
             "leave TEXT for NAME's terminal: shown once above its next prompt, signed "
             "with the name above you")
    complete(sp.add_argument("name", metavar="NAME", help="the name (case does not matter)"),
             "name")
    sp.add_argument("text", nargs=argparse.REMAINDER, metavar="TEXT...",
                    help="the message (default: the text on stdin)")

    sp = cmd("roster", commands.roster, "print the live sessions as a Markdown table")
    arg = sp.add_argument("--write", nargs="?", const="", metavar="FILE",
                          help="replace the roster block in FILE (default: the notes file) "
                               "instead")
    complete(arg, "file")

    sp = cmd("log", commands.log, "the ledger's history: every claim, release, reap, rename")
    sp.add_argument("--name", help="only this name's events (case does not matter)")
    sp.add_argument("--since", metavar="WHEN",
                    help="events from WHEN on (2h, 30m, 1d, 15:00, today, 2026-11-28), after "
                         "the claims of the names held then")
    sp.add_argument("--at", metavar="WHEN",
                    help="who held each name at WHEN (with --name: that name), fleet-wide")
    sp.add_argument("--timeline", action="store_true",
                    help="draw who held each name when (the last 8 h, or --since), fleet-wide")
    sp.add_argument("--json", action="store_true", help="a JSON array of events (with --at: "
                                                        "of holders)")

    sp = cmd("help", show_help, "show the help of COMMAND, or of codename")
    arg = sp.add_argument("topic", nargs="?", metavar="COMMAND", help="the command to explain")
    complete(arg, "command")

    sp = cmd("completions", print_completions,
             "print the completion script for SHELL (install.sh installs it)")
    sp.add_argument("shell", choices=SHELL_NAMES, help="the shell to complete in")
    return p


def complete(action: argparse.Action, what: str) -> None:
    """Say what completes this argument beyond its choices: `theme` (the themes config.toml
    has, asked of `codename themes --names` when that argument is completed), `name` (a live
    name, asked of `codename who --names`), `command` (a codename command), `executable` (a
    program on the PATH) or `file`. See completions.py."""
    action.complete = what  # type: ignore[attr-defined]


def commands_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each subcommand's name and parser, in the order they were defined."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def summaries(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each subcommand's one-line help."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


# --- help that helps ---------------------------------------------------------------------------

EXAMPLES = (
    ("codename who", "the live sessions, and what each is doing"),
    ("codename rename Jim", "this terminal becomes Jim"),
    ("codename theme parks", "new terminals draw from the parks cast"),
    ("codename run -- make test", "run a job under a name of its own"),
    ("codename where pam", "where Pam's session runs: host, tty, tmux pane, directory"),
    ("codename tell pam 'pushed, go ahead'", "a line above Pam's next prompt, signed by you"),
    ("codename doctor", "check everything, and say what to do"),
)

ENVIRONMENT = (
    ("CODENAME_THEME", "the theme for sessions started here (wins over config.toml)"),
    ("CODENAME_FLEET_URL", "the fleet's Redis url (wins over [fleet] url in config.toml)"),
    ("CODENAME_NOTES", "the notes file of `note` and `roster --write` (wins over [notes])"),
    ("CODENAME_PROMPT", "0: no [Name] prefix in this shell's prompt"),
    ("NO_COLOR", "set: no colours in the prompt prefix or in `who`"),
    ("XDG_CONFIG_HOME", "where config.toml is (codename/ below it)"),
    ("XDG_STATE_HOME", "where the ledger and the lock are (codename/ below it)"),
    ("XDG_RUNTIME_DIR", "where the presence files are (codename/ below it)"),
    ("CODENAME, CODENAME_FULL", "set by codename in a named shell: its name, its full name"),
)


def epilog() -> str:
    """The end of `codename --help`: examples, the config file, the environment."""
    from codename_shell import paths

    def rows(pairs: tuple[tuple[str, str], ...]) -> str:
        width = max(len(left) for left, _ in pairs) + 2
        return "".join(f"  {left:<{width}}{right}\n" for left, right in pairs)

    try:
        config = paths.config_file()
    except (OSError, CodenameError):
        config = "$XDG_CONFIG_HOME/codename/config.toml"
    return (f"examples:\n{rows(EXAMPLES)}\n"
            f"config file:\n  {config}\n\n"
            f"environment:\n{rows(ENVIRONMENT)}\n"
            "`codename help COMMAND` shows a command's options.")


def short_usage(parser: argparse.ArgumentParser) -> str:
    """What bare `codename` prints: the commands, one line each, and where to read more."""
    helps = summaries(parser)
    width = max(len(name) for name in helps) + 2
    lines = "".join(f"  {name:<{width}}{text}\n" for name, text in helps.items())
    return (f"usage: codename [-h] [-V] COMMAND [ARG...]\n\n{DESCRIPTION}\n\n"
            f"commands:\n{lines}\n"
            "`codename help COMMAND` for a command's options; `codename --help` for examples,\n"
            "the config file and the environment variables.\n")


# --- the two commands about the CLI itself: they need the parser -----------------------------

def show_help(ns: argparse.Namespace) -> int:
    """`codename help [COMMAND]`."""
    parser = build_parser()
    if ns.topic is None:
        parser.print_help()
        return 0
    unknown_command(parser, ns.topic)
    commands_of(parser)[ns.topic].print_help()
    return 0


def print_completions(ns: argparse.Namespace) -> int:
    """`codename completions SHELL`: the script generated from the parser."""
    from codename_shell import completions, completions_bash, completions_zsh_fish

    top, commands = completions.spec(build_parser())
    write = {"bash": completions_bash.write, "zsh": completions_zsh_fish.write_zsh,
             "fish": completions_zsh_fish.write_fish}[ns.shell]
    sys.stdout.write(write(top, commands))
    return 0


#: The command word being parsed, for `_option_hint`.
_asked: list[str] = []


def _option_hint(parser: argparse.ArgumentParser, message: str) -> str:
    """`; did you mean '--json'?` for an option that is not one of `parser`'s but is near one;
    else where to look."""
    import difflib

    prefix = "unrecognized arguments: "
    if message.startswith(prefix):
        wanted = [w for w in message[len(prefix):].split() if w.startswith("-")]
        known = [o for action in parser._actions for o in action.option_strings]
        command = commands_of(parser).get(_asked[0]) if _asked else None
        if command is not None:  # argparse says it of the top parser: the command's own
            known += [o for action in command._actions for o in action.option_strings]
        bare = {o.lstrip("-"): o for o in known}  # `--` alone would make any two look alike
        for word in wanted:
            near = difflib.get_close_matches(word.split("=", 1)[0].lstrip("-"), list(bare),
                                             n=1, cutoff=0.6)
            if near:
                return f"; did you mean {bare[near[0]]!r}?"
    return f" (see `{parser.prog} --help`)"


def _check_command(parser: argparse.ArgumentParser, args: list[str]) -> None:
    """A first word that is no command: say the nearest one instead of listing them all."""
    word = args[0]
    if word.startswith("-"):
        return
    unknown_command(parser, word)


def unknown_command(parser: argparse.ArgumentParser, word: str) -> None:
    """Raise UsageError naming the command nearest to `word`, when `word` is not one."""
    import difflib

    names = list(commands_of(parser))
    if word in names:
        return
    from codename_shell.report import printable

    near = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]!r}?" if near else " (see `codename help`)"
    raise UsageError(f"unknown command {printable(word)!r}{hint}")
