"""The `codename` launcher install.sh puts in place of pip's console-script wrapper.

pip's wrapper imports `re` to tidy sys.argv[0], a few milliseconds at every shell start for
nothing; this one imports only what codename needs, and for `init`, which a starting shell
waits on, skips interpreter teardown once its output is out. Usage:

    python -m codename_shell.launcher PATH     # write the launcher for this interpreter
"""

from __future__ import annotations

import os
import sys

BODY = """\
import sys

from codename_shell.cli import main

if sys.argv[1:2] == ["init"]:
    # A shell start waits for this process: skip interpreter teardown once output is out.
    import os

    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(main())
"""

_SHEBANG_MAX = 127  # the kernel's limit on some systems; longer lines are cut


def shebang(python: str) -> str:
    """A `#!` line for `python`; through /bin/sh when the path cannot stand in a `#!` line."""
    if python.isprintable() and " " not in python and len(python) + 2 <= _SHEBANG_MAX:
        return f"#!{python}\n"
    # A script that is valid sh and valid Python (as pip's own wrappers do it): sh execs the
    # interpreter on this file; Python reads the first lines as a string and moves on.
    quoted = '"' + "".join("\\" + c if c in '"$`\\' else c for c in python) + '"'
    return f"#!/bin/sh\n'''exec' {quoted} \"$0\" \"$@\"\n' '''\n"


def write(path: str, python: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(shebang(python) + BODY)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m codename_shell.launcher PATH", file=sys.stderr)
        return 2
    write(argv[0], sys.executable)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
