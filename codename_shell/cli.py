"""The `codename` command line: argparse, and the one place errors become messages.

`codename init` skips argparse entirely (see `hook`): it runs at every shell start.
"""

from __future__ import annotations

import os
import sys

from codename_shell.errors import CodenameError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["init"]:
        from codename_shell import hook

        return hook.main(args[1:])
    try:
        parser = build_parser()
        ns = parser.parse_args(args)
        if not getattr(ns, "command", None):
            parser.print_help()
            return 2
        result: int = ns.func(ns)
        return result
    except CodenameError as e:
        print(f"codename: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `codename who | head`: the reader left; not an error worth a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # the last line of defence: one line, the traceback to a file
        from codename_shell.errors import log_exception

        print(f"codename: internal error ({type(e).__name__}: {e}); details in "
              f"{log_exception()}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    import argparse

    from codename_shell import __version__, commands

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            # One line, like every other error; the usage is one --help away.
            print(f"codename: {message} (see `{self.prog} --help`)", file=sys.stderr)
            raise SystemExit(2)

    p = Parser(prog="codename", description="A distinct human code name for every terminal.")
    p.add_argument("--version", action="version", version=f"codename {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def cmd(name: str, func: object, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=func)
        return sp

    sp = cmd("init", None, "print the hook for SHELL (eval it in your rc file)")
    sp.add_argument("shell", choices=["bash", "zsh", "fish"])

    sp = cmd("claim", commands.claim, "claim a name for a process (default: the caller)")
    sp.add_argument("--pid", type=int, help="the holder (default: the parent process)")
    sp.add_argument("--kind", choices=["terminal", "spare", "job"], default="terminal")
    sp.add_argument("--name", help="ask for this name; refused if someone holds it")
    sp.add_argument("--json", action="store_true", help="print one JSON object")

    sp = cmd("release", commands.release, "give up a process's name")
    sp.add_argument("--pid", type=int, help="the holder (default: the parent process)")

    sp = cmd("rename", commands.rename, "give a holder another free name")
    sp.add_argument("name", nargs="?", help="the name wanted (default: the next free one)")
    sp.add_argument("--pid", type=int, help="the holder (default: the parent process)")
    sp.add_argument("--shell", choices=["bash", "zsh", "fish"],
                    help="print code that updates $CODENAME in that shell")

    sp = cmd("who", commands.who, "list the live holders")
    fmt = sp.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON array")
    fmt.add_argument("--markdown", action="store_true", help="a table for a notes file")

    sp = cmd("themes", commands.themes, "list the casts")
    sp.add_argument("--json", action="store_true")

    sp = cmd("theme", commands.theme, "show the theme in force, or set it for new sessions")
    sp.add_argument("name", nargs="?")
    sp.add_argument("--clear", action="store_true", help="go back to the schedule")

    cmd("reap", commands.reap, "remove ghost rows of dead holders")
    cmd("doctor", commands.doctor, "check directories, config and every source")

    sp = cmd("run", commands.run, "run CMD as a named job; exits with its status")
    sp.add_argument("--name", help="ask for this name")
    sp.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]")

    sp = cmd("heartbeat", commands.heartbeat, "refresh a holder's heartbeat")
    sp.add_argument("--pid", type=int, help="the holder (default: the parent process)")
    return p
