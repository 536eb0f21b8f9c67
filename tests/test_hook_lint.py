"""The hook scripts as code: they pass each shell's linter, as written in shell/ and as
`codename init` prints them with hostile values filled in, and every value comes back as the
very text that went in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from conftest import REPO, World, require
from terminals import SHELLS, TIMEOUT, Terminal

from codename_shell import shells

NASTY = "it's \"$(touch pwned)\" `touch pwned` ${HOME} %F{red} \\w \\ ; | & * ~ #!\n(x) {y} 🚒"
VALUES: dict[str, str | list[str]] = {
    "NAME": NASTY,
    "FULL": "Full " + NASTY,
    "ID": "4242-918273",
    "PRESENCE": "",  # set per test: a path in the test's directory
    "OWNER": "1",
    "BIN": ["/opt/it's a \"dir\"/$(x)/codename", "-m", "codename_shell"],
    "PROMPT": "1",
    "TITLE": "1",
    "LEASE": "/run/" + NASTY + ".lease",
    "QUALIFIER": "@" + NASTY,
    "KEEPER": ["/usr/bin/python3", "-c", NASTY],
}
# The values read back after sourcing the script, in the order the readers print them.
ORDER = ["NAME", "FULL", "ID", "PRESENCE", "OWNER", "BIN", "PROMPT", "TITLE", "LEASE",
         "QUALIFIER", "KEEPER"]
READ_BACK = {
    "bash": "printf '%s\\0' \"$__codename_name\" \"$__codename_full\" \"$__codename_id\" "
            "\"$__codename_presence\" \"$__codename_owner\" \"${__codename_bin[@]}\" "
            "\"$__codename_show_prompt\" \"$__codename_show_title\" \"$__codename_lease\" "
            "\"$__codename_qualifier\" \"${__codename_keeper[@]}\"",
    "fish": "printf '%s\\0' $__codename_name $__codename_full $__codename_id "
            "$__codename_presence $__codename_owner $__codename_bin "
            "$__codename_show_prompt $__codename_show_title $__codename_lease "
            "$__codename_qualifier $__codename_keeper",
}
READ_BACK["zsh"] = READ_BACK["bash"]


def lint(shell: str, path: Path, *, rendered: bool = False) -> subprocess.CompletedProcess[str]:
    # In rendered code, SC2016 ("expressions don't expand in single quotes") points at the
    # hostile values themselves: not expanding them is the whole point.
    exclude = ["--exclude=SC2016"] if rendered else []
    argv = {
        "bash": [require("shellcheck"), "--shell=bash", "--severity=style", *exclude, str(path)],
        "zsh": [require("zsh"), "-n", str(path)],
        "fish": [require("fish"), "--no-execute", str(path)],
    }[shell]
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)


ROW = "Pam\tfull=Pam Beesly\tkind=terminal\tpid=4242\n"


def rendered(tmp_path: Path, shell: str, **more: str) -> tuple[Path, dict[str, str | list[str]]]:
    values = {**VALUES, "PRESENCE": str(tmp_path / "presence dir" / "4242-918273"), **more}
    (tmp_path / "presence dir").mkdir(exist_ok=True)
    Path(str(values["PRESENCE"])).write_text(ROW)
    path = tmp_path / f"hook.{shell}"
    path.write_text(shells.render(shell, values))
    return path, values


@pytest.mark.parametrize("shell", SHELLS)
def test_the_hook_script_as_written_passes_the_linter(shell: str) -> None:
    r = lint(shell, REPO / "shell" / f"codename.{shell}")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("shell", SHELLS)
def test_the_rendered_hook_with_hostile_values_passes_the_linter(
        tmp_path: Path, shell: str) -> None:
    path, _ = rendered(tmp_path, shell)
    r = lint(shell, path, rendered=True)
    assert r.returncode == 0, r.stdout + r.stderr


SOURCE = {
    "bash": ["--norc", "--noprofile", "-c", 'source "$0"; {read}'],
    "zsh": ["-f", "-c", 'source "$0"; {read}'],
    "zsh-odd-options": ["-f", "-c", "setopt rc_quotes ksh_arrays sh_word_split nounset err_exit;"
                                    ' source "$0"; {read}'],
    "fish": ["--no-config", "-c", "source $HOOK; {read}"],
}


@pytest.mark.parametrize("variant", SOURCE)
def test_every_value_reaches_the_shell_as_the_same_text_and_runs_nothing(
        tmp_path: Path, variant: str) -> None:
    shell = variant.split("-")[0]
    path, values = rendered(tmp_path, shell)
    argv = [require(shell), *(a.replace("{read}", READ_BACK[shell]) for a in SOURCE[variant])]
    work, home = tmp_path / "cwd", tmp_path / "home"
    work.mkdir()
    home.mkdir()

    r = subprocess.run([*argv, str(path)], capture_output=True, text=True, cwd=work,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(home), "HOOK": str(path)},
                       timeout=TIMEOUT)

    assert r.returncode == 0, r.stderr
    expected: list[str] = []
    for key in ORDER:
        value = values[key]
        expected += value if isinstance(value, list) else [value]
    assert r.stdout.split("\0")[:-1] == expected
    assert r.stderr == ""
    assert list(work.iterdir()) == []  # nothing ran: no `pwned`, no stray file
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["cwd", "home", f"hook.{shell}", "presence dir"])
    # Sourced by a shell that is not the holder (pid 4242): another shell's name, left alone.
    assert Path(str(values["PRESENCE"])).read_text() == ROW


@pytest.mark.parametrize("shell", SHELLS)
def test_what_codename_init_prints_for_a_hostile_cast_passes_the_linter(
        world: World, shell: str) -> None:
    names = ["it's \"$(touch pwned)\" `id` %F{red} \\w ; | & *", "Dwight"]
    world.write_config(tomli_w.dumps({"theme": "evil", "themes": {"evil": {"names": names}}}))
    rc = world.home / "plain.bashrc"
    rc.write_text("PS1='P> '\n")
    t = Terminal(world, "bash", argv=[require("bash"), "--noprofile", "--rcfile", str(rc), "-i"])
    try:
        t.run(f"codename init {shell} > hook.{shell} 2> init.err")
    finally:
        t.close()
    out = world.home / f"hook.{shell}"
    code = out.read_text()

    assert (world.home / "init.err").read_text() == ""
    assert shells.quote(names[0], shell) in code  # it claimed, and filled in the name
    r = lint(shell, out, rendered=True)
    assert r.returncode == 0, r.stdout + r.stderr


GIVE_BACK = {
    "bash": ["--norc", "--noprofile", "-c", 'read -r _; source "$0"'],
    "zsh": ["-f", "-c", 'read -r _; source "$0"'],
    "fish": ["--no-config", "-c", "read _; source $argv[1]"],
}


@pytest.mark.parametrize("shell", SHELLS)
def test_a_holder_that_is_not_interactive_gives_its_name_straight_back_and_makes_no_file(
        tmp_path: Path, shell: str) -> None:
    """Sourced by the very shell it named (its pid), but a shell that is not interactive: the
    hook empties the presence file. Once that file is gone (a release removed it), it makes
    none (a file it made would have the umask's mode, and no ledger row behind it)."""
    for present in (True, False):
        shell_proc = subprocess.Popen(
            [require(shell), *GIVE_BACK[shell], str(tmp_path / f"hook.{shell}")],
            stdin=subprocess.PIPE, text=True, cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        _, values = rendered(tmp_path, shell, ID=f"{shell_proc.pid}-918273",
                             PRESENCE=str(tmp_path / "presence dir" / f"{shell_proc.pid}-918273"))
        presence = Path(str(values["PRESENCE"]))
        if not present:
            presence.unlink()
        shell_proc.communicate("go\n", timeout=TIMEOUT)
        assert shell_proc.returncode == 0
        if present:
            assert presence.read_text() == ""
        else:
            assert not presence.exists()


@pytest.mark.parametrize("shell", SHELLS)
def test_init_off_a_terminal_prints_a_hook_that_parses_and_claims_nothing(
        world: World, shell: str) -> None:
    r = subprocess.run([sys.executable, "-m", "codename_shell", "init", shell],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, env=world.env,
                       cwd=world.home, timeout=TIMEOUT)

    assert r.returncode == 0 and r.stderr == ""
    assert "__codename_install" in r.stdout  # the whole hook, not an empty answer
    hook = world.home / f"hook.{shell}"
    hook.write_text(r.stdout)
    if shell == "bash":
        assert subprocess.run([require("bash"), "-n", str(hook)], timeout=TIMEOUT).returncode == 0
    linted = lint(shell, hook, rendered=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert not world.presence_dir.exists() or list(world.presence_dir.iterdir()) == []
    assert not world.ledger.exists() or "claimed" not in world.ledger.read_text()
