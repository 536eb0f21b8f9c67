"""The hook on a real user's machine: rc files with lines after codename's (`PROMPT_COMMAND=`,
`unset`, a prompt framework initialised last), strict options such as noclobber, and what
`codename doctor` says about the hook of the very shell it is typed in.

Each test is a report from a user of what they saw, recreated in real shells (terminals.py).
"""

from __future__ import annotations

import pytest
from conftest import World
from terminals import (
    SHELLS,
    OpenTerminal,
    Terminal,
    emptied_by_the_hook,
    holders,
    presence_file,
    titles,
    write_rc,
)

from codename_shell.shells import quote


def shows(name: str, prompt: str = "P> ") -> str:
    return f"[{name}] {prompt}"


def titles_since(t: Terminal, mark: int) -> list[str]:
    return titles(t.transcript.getvalue()[mark:])


def doctor_line(t: Terminal) -> tuple[str, int]:
    """`codename doctor` typed at the terminal's prompt: its `this shell` line, and its exit
    status."""
    shown = t.run("codename doctor; echo doctor-status=$status" if t.shell == "fish"
                  else "codename doctor; echo doctor-status=$?")
    (line,) = [line for line in shown.splitlines() if " this shell " in line]
    status = int(shown.rpartition("doctor-status=")[2].split()[0])
    return line.strip(), status


def renamed_elsewhere(world: World, t: Terminal, name: str) -> None:
    r = world.run("rename", "--pid", str(t.pid), name)
    assert r.returncode == 0, r.stderr


# --- a later rc line that sets PROMPT_COMMAND (bash) ------------------------------------------

LATER_PROMPT_COMMAND = {
    "scalar": "PROMPT_COMMAND='history -a'\n",
    "prepended": 'PROMPT_COMMAND="history -a; $PROMPT_COMMAND"\n',
    "exported": 'export PROMPT_COMMAND="history -a${PROMPT_COMMAND:+; $PROMPT_COMMAND}"\n',
}


@pytest.mark.parametrize("later", LATER_PROMPT_COMMAND)
def test_a_prompt_command_set_after_the_hook_line_keeps_the_hook(
        world: World, terminal: OpenTerminal, later: str) -> None:
    """`PROMPT_COMMAND='history -a'` after codename's line (a very common line) took the hook
    away: a rename from elsewhere never reached the prompt, the title or $CODENAME, a new
    terminal got the freed name while this one still showed it, and doctor said `ok`."""
    world.write_config("title = true\n")
    write_rc(world, "bash", after=LATER_PROMPT_COMMAND[later])
    t = terminal("bash")
    assert t.ask('"$CODENAME"') == "Michael"

    renamed_elsewhere(world, t, "Jim")
    mark = len(t.transcript.getvalue())
    assert t.run("").endswith(shows("Jim"))
    assert titles_since(t, mark)[-1] == "Jim"
    assert t.ask('"$CODENAME"') == "Jim"
    # Michael is free again: a new terminal gets it, and only that one shows it.
    other = terminal("bash")
    assert other.ask('"$CODENAME"') == "Michael"
    assert t.run("").endswith(shows("Jim"))
    assert holders(world) == {t.pid: "Jim", other.pid: "Michael"}
    # The user's own line still does its work at every prompt.
    t.run("echo history-marker")
    t.run("")
    assert "echo history-marker" in (world.home / ".bash_history").read_text()
    line, status = doctor_line(t)
    assert status == 0 and line.startswith("ok ") and "Jim" in line, line


REMOVED = {
    "unset": "unset PROMPT_COMMAND\n",
    "array": "PROMPT_COMMAND=('history -a')\n",
}


@pytest.mark.parametrize("later", REMOVED)
def test_doctor_names_the_rc_line_that_removed_the_bash_hook_and_puts_it_back(
        world: World, terminal: OpenTerminal, later: str) -> None:
    """Where bash cannot keep the hook (`unset PROMPT_COMMAND`, an array assigned anew),
    doctor typed in that shell looks at its live PROMPT_COMMAND, not at a variable: it fails,
    names the line, and the terminal has its hook again from then on."""
    rc = write_rc(world, "bash", after="alias ll='ls -l'\n" + REMOVED[later])
    number = rc.read_text().splitlines().index(REMOVED[later].strip()) + 1
    t = terminal("bash")
    assert t.ask('"$CODENAME"') == "Michael"

    line, status = doctor_line(t)

    assert status == 1
    assert line.startswith("FAIL ") and "prompt hook" in line, line
    assert f"~/.bashrc:{number}" in line and REMOVED[later].strip() in line, line
    assert "last" in t.screen()  # what to do: keep codename's line last
    renamed_elsewhere(world, t, "Jim")
    assert t.run("").endswith(shows("Jim"))
    assert t.ask('"$CODENAME"') == "Jim"
    assert doctor_line(t)[0].startswith("ok ")


def test_doctor_names_the_zshrc_line_that_emptied_precmd_functions(
        world: World, terminal: OpenTerminal) -> None:
    later = "precmd_functions=(my_precmd)\n"
    rc = write_rc(world, "zsh", after="my_precmd() { : }\n" + later)
    number = rc.read_text().splitlines().index(later.strip()) + 1
    t = terminal("zsh")
    assert t.ask('"$CODENAME"') == "Michael"

    line, status = doctor_line(t)

    assert status == 1
    assert line.startswith("FAIL ") and f"~/.zshrc:{number}" in line, line
    renamed_elsewhere(world, t, "Jim")
    assert t.run("").endswith(shows("Jim"))
    assert "my_precmd" in t.ask('"${precmd_functions[*]}"').split()


@pytest.mark.parametrize("shell", SHELLS)
def test_doctor_in_a_hooked_shell_checks_its_live_hook(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    line, status = doctor_line(t)
    assert status == 0 and line.startswith("ok ") and "Michael" in line, line


def test_doctor_run_outside_the_shell_s_own_function_does_not_vouch_for_its_hook(
        world: World, terminal: OpenTerminal) -> None:
    """By its path, `codename doctor` cannot see the shell's hook: it says so, and does not
    call the shell hooked on the word of $CODENAME_ID."""
    write_rc(world, "bash", after="unset PROMPT_COMMAND\n")
    t = terminal("bash")
    shown = t.run("command codename doctor")
    (line,) = [line for line in shown.splitlines() if " this shell " in line]
    assert line.split()[0] == "note" and "Michael" in line and "hooked" not in line, line


# --- a prompt framework initialised after the hook ----------------------------------------

def test_starship_initialised_after_the_hook_shows_the_name_from_the_first_prompt(
        world: World, terminal: OpenTerminal) -> None:
    from test_shells import STARSHIP_CHAR, STARSHIP_PROMPT, starship

    exe = starship()
    write_rc(world, "bash", after=f'eval "$({quote(exe, "bash")} init bash)"\n')
    t = terminal("bash", env={"STARSHIP_CONFIG": str(world.config / "starship.toml")},
                 prompt=STARSHIP_PROMPT)

    for shown in (t.startup, t.run(""), t.run("true")):
        line = shown.splitlines()[-1]
        assert line.startswith("[Michael] ") and STARSHIP_CHAR in line, shown[-300:]
        assert shown.count("Michael") == 1, shown[-300:]


def test_a_fish_prompt_defined_at_the_prompt_gets_the_name_from_the_next_codename_command(
        world: World, terminal: OpenTerminal) -> None:
    """A fish_prompt defined after the start (`fish_config prompt choose`, a framework set up
    at the prompt) replaces the wrapper that shows the name. The next `codename` command puts
    the name back into the new prompt, as bash and zsh get their hook back."""
    write_rc(world, "fish")
    t = terminal("fish")
    assert t.ask('"$CODENAME"') == "Michael"
    # Typed so that the line echoed as it is typed holds no `P> ` (the harness waits for it).
    assert t.run("function fish_prompt; printf 'new P'; printf '> '; end").endswith("new P> ")
    assert "[Michael]" not in t.run("")  # what the user's own definition did

    after = t.run("codename who >/dev/null")

    assert after.endswith(shows("Michael", "new P> ")), after[-200:]
    assert t.run("").endswith(shows("Michael", "new P> "))


# --- strict options -------------------------------------------------------------------------

NOCLOBBER = {"bash": "set -o noclobber\n", "zsh": "setopt no_clobber\n"}


@pytest.mark.parametrize("shell", NOCLOBBER)
def test_noclobber_in_the_rc_file_still_gives_the_name_back_at_exit(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    """With noclobber, `: > file` fails on a file that exists: the exit hook must write with
    `>|`, or the shell leaves a ghost holding its name."""
    write_rc(world, shell, NOCLOBBER[shell])
    t = terminal(shell)
    assert t.ask('"$CODENAME"') == "Michael"
    presence = presence_file(world, t.ask('"$CODENAME_ID"'))
    renamed_elsewhere(world, t, "Jim")  # the seen-file and prompt paths write too
    assert t.run("").endswith(shows("Jim"))

    assert t.exit() == 0

    assert emptied_by_the_hook(presence)
    assert "cannot overwrite" not in t.screen()


# --- the title after a release --------------------------------------------------------------

TITLE_WITHOUT_NAME = {"bash": "", "zsh": "", "fish": "~"}


@pytest.mark.parametrize("shell", SHELLS)
def test_a_release_clears_the_name_from_the_window_title(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    world.write_config("title = true\n")
    write_rc(world, shell)
    t = terminal(shell)
    assert t.ask('"$CODENAME"') == "Michael"

    mark = len(t.transcript.getvalue())
    t.run("codename release")

    after = titles_since(t, mark)
    assert after and after[-1] == TITLE_WITHOUT_NAME[shell], after
