"""`codename init` decides whom to name from the process tree and the shell's arguments."""

from __future__ import annotations

import pytest

from codename_shell.hook import argv_runs_commands

ONE_SHOT = [
    ("bash", ["-c", "ls"]),
    ("bash", ["-ic", "ls"]),
    ("bash", ["-lc", "ls"]),
    ("bash", ["script.sh"]),
    ("bash", ["--noprofile", "--rcfile", "rc", "script.sh"]),
    ("bash", ["-O", "extglob", "script.sh"]),
    ("bash", ["--", "script.sh"]),
    ("zsh", ["-c", "ls"]),
    ("zsh", ["-o", "vi", "script.zsh"]),
    ("fish", ["-c", "ls"]),
    ("fish", ["--command=ls"]),
    ("fish", ["--command", "ls"]),
    ("fish", ["script.fish"]),
]
INTERACTIVE = [
    ("bash", []),
    ("bash", ["-i"]),
    ("bash", ["-l"]),
    ("bash", ["--login"]),
    ("bash", ["--noprofile", "--rcfile", "/home/me/.bashrc", "-i"]),
    ("bash", ["--rcfile", "-c", "-i"]),  # an rc file that happens to be named -c
    ("bash", ["-O", "extglob"]),
    ("bash", ["-o", "vi", "-i"]),
    ("bash", ["-i", "script.sh"]),  # -i: interactive even with a script
    ("bash", ["-s", "arg"]),  # commands from stdin: the terminal decides
    ("zsh", ["-i"]),
    ("zsh", ["-o", "vi"]),
    ("fish", ["-i"]),
    ("fish", ["-l"]),
    ("fish", ["-C", "set x 1", "-i"]),
    ("fish", ["--init-command", "-c"]),
    ("fish", ["--private"]),
]


@pytest.mark.parametrize(("shell", "argv"), ONE_SHOT)
def test_a_shell_that_runs_a_command_or_a_script_is_not_a_terminal(
        shell: str, argv: list[str]) -> None:
    assert argv_runs_commands([a.encode() for a in argv], shell)


@pytest.mark.parametrize(("shell", "argv"), INTERACTIVE)
def test_a_shell_started_for_a_person_is_a_terminal(shell: str, argv: list[str]) -> None:
    assert not argv_runs_commands([a.encode() for a in argv], shell)
