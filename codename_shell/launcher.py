"""How codename starts: `run()`, the entry point of every way it is started, and the launcher
script install.sh writes, which starts it faster than pip's console-script wrapper can.

`run()` is what pip's (or pipx's, or uv's) wrapper calls and what `python -m codename_shell`
calls. For `init`, which a starting shell waits on, it goes to `hook.start` (not to the
argparse CLI), which leaves with `os._exit` once the hook is out.

The launcher (`python -m codename_shell.launcher PATH` writes it for the running interpreter)
does the one thing a wrapper cannot: for `init` it starts Python with `-S`, without `site`, and
puts codename's own directories, found here when it is written, on sys.path itself. `site`
reads every `.pth` file of the environment and runs what they say (setuptools'
`_distutils_hack`, editable installs' hooks) and `sitecustomize`: ~1 ms of a shell start on
this machine's figures (see bench/README.md). Every other command runs `site` as usual, so a
command sees the same environment as under pip's wrapper. `-P` keeps the script's own
directory (~/.local/bin, maybe hundreds of entries) off sys.path: faster, and nothing placed
there can stand in for a module.
"""

from __future__ import annotations

import os
import sys


def run() -> int:
    """Run `codename` with sys.argv; `init` never returns (see `hook.start`)."""
    init = sys.argv[1:2] == ["init"]
    try:
        if init:
            # The process lives a few milliseconds and makes no garbage worth collecting:
            # the collector's passes while init's modules load cost ~0.2 ms.
            import gc

            gc.disable()
            from codename_shell.hook import start

            start(sys.argv[2:])
        from codename_shell.cli import main

        return main()
    except KeyboardInterrupt:
        return interrupted(init)


def interrupted(init: bool) -> int:
    """Ctrl-C while codename loads (`hook` and `cli` handle their own once loaded): no
    traceback, and a starting shell gets one line and no name. No more Ctrl-C from here: the
    way out must not be cut short."""
    import _signal  # type: ignore[import-not-found]  # no stub: the C half of `signal`

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    if init:
        from codename_shell.hook import interrupted

        return interrupted()
    return 130


# The launcher script after its `#!` line. {path} is a Python list of directories. For `init`
# it goes to `hook.start` directly: `run` is one module more (~0.1 ms) to say the same.
BODY = """\
# codename's launcher, written by `python -m codename_shell.launcher PATH` (see its docstring).
import sys

init = sys.argv[1:2] == ["init"]
try:
    if init:
        # Started with -S for a shell start: codename's own directories instead of `site`,
        # and no garbage collector (see codename_shell/launcher.py).
        sys.path += {path}
        import gc

        gc.disable()
        from codename_shell.hook import start
    else:
        import site

        site.main()
        from codename_shell.launcher import run
except KeyboardInterrupt:  # before codename could catch it: no traceback all the same
    import _signal

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    if not init:
        sys.exit(130)
    from codename_shell.hook import interrupted

    sys.exit(interrupted())
if init:
    start(sys.argv[2:])
sys.exit(run())
"""

FLAGS = "-SP"  # no `site` (the script runs it for every command but init), no script dir
_SHEBANG_MAX = 127  # the kernel's limit on some systems; longer lines are cut


def shebang(python: str) -> str:
    """A `#!` line for `python`; through /bin/sh when the path cannot stand in a `#!` line."""
    if python.isprintable() and " " not in python and len(python) + len(FLAGS) + 3 <= _SHEBANG_MAX:
        return f"#!{python} {FLAGS}\n"
    # A script that is valid sh and valid Python (as pip's own wrappers do it): sh execs the
    # interpreter on this file; Python reads the first lines as a string and moves on.
    quoted = '"' + "".join("\\" + c if c in '"$`\\' else c for c in python) + '"'
    return f"#!/bin/sh\n'''exec' {quoted} {FLAGS} \"$0\" \"$@\"\n' '''\n"


def search_path() -> list[str]:
    """The directories init imports from: the one holding codename_shell (site-packages, or
    the checkout of an editable install) first, then the site directories this interpreter
    uses, where a dependency init may need lives (platformdirs, off Linux)."""
    import site

    found = [installed_parent()]
    candidates = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        candidates.append(site.getusersitepackages())
    for directory in candidates:
        if directory in sys.path and directory not in found:
            found.append(directory)
    return found


def installed_parent() -> str:
    """The directory the interpreter imports codename_shell from when run from anywhere: its
    site-packages, or an editable install's checkout (put on sys.path by a .pth file).

    Not simply where this module was imported from: `python -m codename_shell.launcher`
    typed in a checkout (as install.sh is run, from the README) imports the checkout's copy,
    because -m puts the current directory first. A launcher naming that directory would run
    the checkout's code at every shell start, and a typo or a `git pull` there would break
    every new shell."""
    from importlib.machinery import PathFinder

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # sys.path[0] is the entry -m, -c or a script's directory put first, unless -P (or -I)
    # left it out; PYTHONPATH's follow, a setting of this moment (the launcher honours
    # PYTHONPATH as it is when it runs); then the interpreter's own and the site directories.
    passing = {os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
               if p}
    entries = [p for p in (sys.path if sys.flags.safe_path else sys.path[1:])
               if os.path.abspath(p) not in passing]
    spec = PathFinder.find_spec("codename_shell", entries)
    if spec is None or spec.origin is None:
        return here  # imported by a finder of its own (an editable install's hook)
    return os.path.dirname(os.path.dirname(os.path.abspath(spec.origin)))


def script(python: str) -> str:
    return shebang(python) + BODY.format(path=repr(search_path()))


def write(path: str, python: str) -> None:
    from codename_shell import fileio

    # Private until complete, whatever the umask: a file others could open for writing, even
    # for a moment, could be changed after it became the `codename` every shell start runs.
    # A new file (fileio.create_temp: O_EXCL, O_NOFOLLOW, a name no one can guess), fsynced
    # before the rename: after a power cut, the old launcher or the new, never an empty one.
    fd, tmp = fileio.create_temp(path, 0o600)
    try:
        fileio.write_all(fd, script(python).encode("utf-8"), tmp)
        os.fchmod(fd, 0o755)
        fileio.sync(fd, tmp)
        os.replace(tmp, path)
    except BaseException:
        os.close(fd)
        fileio.discard(tmp)
        raise
    os.close(fd)
    fileio.sync_directory(os.path.dirname(path) or ".")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m codename_shell.launcher PATH", file=sys.stderr)
        return 2
    write(argv[0], sys.executable)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
