"""install.sh on a temporary HOME: one marked block per rc file, twice the same as once, and
`--uninstall` puts every file back as it was.

To stay fast these runs install a wheel built once per session, without reaching an index
(CODENAME_INSTALL_SOURCE and CODENAME_PIP_ARGS, documented in install.sh); everything else
is the path users take: a private venv, a launcher in ~/.local/bin, the rc file edits.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from conftest import IN_CI, REPO, World, require
from terminals import SHELLS, TIMEOUT, Terminal, visible, wait_until

from codename_shell.shells import quote

SCRIPT = REPO / "install.sh"
BEGIN, END = "# >>> codename >>>", "# <<< codename <<<"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                        "--wheel-dir", str(out), str(REPO)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    (built,) = out.glob("codename_shell-*.whl")
    return built


class Installer:
    def __init__(self, world: World, wheel: Path, home: Path) -> None:
        self.world = world
        self.home = home
        self.env = {
            **world.env,
            "HOME": str(home),
            "SHELL": "/bin/sh",  # not a shell codename hooks: nothing to guess from
            "CODENAME_INSTALL_METHOD": "venv",  # the same on machines that have pipx
            "CODENAME_INSTALL_SOURCE": str(wheel),
            "CODENAME_PIP_ARGS": "--no-index --no-deps",
        }
        self.env.pop("PYTHONPATH", None)
        self.env.pop("XDG_DATA_HOME", None)

    @property
    def venv(self) -> Path:
        return self.home / ".local" / "share" / "codename" / "venv"

    @property
    def launcher(self) -> Path:
        return self.home / ".local" / "bin" / "codename"

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run install.sh with its stdin closed, as from a script or `curl | sh`."""
        r = subprocess.run(["sh", "-c", 'exec "$0" "$@" <&-', str(SCRIPT), *args],
                           capture_output=True, text=True, env=self.env, cwd=self.home,
                           timeout=600, stdin=subprocess.DEVNULL)
        return r


@pytest.fixture
def install(world: World, wheel: Path) -> Iterator[Installer]:
    yield Installer(world, wheel, world.home)


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file under `root`: its bytes, or where a symlink points."""
    files: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            files[rel] = f"-> {os.readlink(path)}"
        elif path.is_file():
            files[rel] = path.read_bytes()
    return files


def test_install_twice_is_install_once_and_uninstall_restores_the_rc_file(
        install: Installer) -> None:
    bashrc = install.home / ".bashrc"
    original = "# my bashrc\nalias ll='ls -l'\nexport EDITOR=vi\n"
    bashrc.write_text(original)

    first = install("--shell", "bash")
    assert first.returncode == 0, first.stderr
    after_first = bashrc.read_text()
    second = install("--shell", "bash")
    assert second.returncode == 0, second.stderr

    assert bashrc.read_text() == after_first
    assert after_first.startswith(original)
    assert after_first.count(BEGIN) == 1 and after_first.count(END) == 1
    assert f'eval "$({quote(str(install.launcher), "bash")} init bash)"' in after_first
    assert "added the bash hook to ~/.bashrc" in first.stdout
    assert "already in place" in second.stdout
    assert os.readlink(install.launcher) == str(install.venv / "bin" / "codename")
    # codename's launcher, not pip's wrapper: a shell start skips `site` (see launcher.py).
    launcher_text = (install.venv / "bin" / "codename").read_text()
    assert "from codename_shell.launcher import run" in launcher_text
    assert " -SP" in launcher_text.partition("import sys")[0] and "site.main()" in launcher_text
    version = subprocess.run([str(install.launcher), "--version"], capture_output=True,
                             text=True, timeout=TIMEOUT)
    assert version.stdout.startswith("codename ")

    gone = install("--uninstall")

    assert gone.returncode == 0, gone.stderr
    assert bashrc.read_text() == original
    assert not install.venv.exists() and not install.launcher.is_symlink()
    assert not (install.home / ".local" / "share" / "codename").exists()
    assert "removed the hook block from ~/.bashrc" in gone.stdout


def test_an_rc_file_without_a_final_newline_is_kept_intact(install: Installer) -> None:
    zshrc = install.home / ".zshrc"
    zshrc.write_bytes(b"export FOO=1\nbindkey -e")

    assert install("--shell", "zsh").returncode == 0
    text = zshrc.read_text()
    assert text.startswith("export FOO=1\nbindkey -e\n" + BEGIN + "\n")
    assert text.endswith(END + "\n")

    assert install("--shell", "zsh").returncode == 0
    assert zshrc.read_text() == text
    assert install("--uninstall").returncode == 0
    assert zshrc.read_bytes() == b"export FOO=1\nbindkey -e"


def test_zsh_hook_goes_where_zdotdir_points(install: Installer) -> None:
    zdotdir = install.home / "zsh"
    zdotdir.mkdir()
    install.env["ZDOTDIR"] = str(zdotdir)
    assert install("--shell", "zsh").returncode == 0
    assert BEGIN in (zdotdir / ".zshrc").read_text()
    assert not (install.home / ".zshrc").exists()


def test_rc_files_it_creates_are_removed_again_and_nothing_else_changes(
        install: Installer) -> None:
    config = install.world.write_config('theme = "parks"\n')
    before = snapshot(install.home)

    r = install("--all")

    assert r.returncode == 0, r.stderr
    fish = install.world.config / "fish" / "conf.d" / "codename.fish"
    for path in (install.home / ".bashrc", install.home / ".zshrc", fish):
        assert path.read_text().count(BEGIN) == 1, path
    assert config.read_text() == 'theme = "parks"\n'

    assert install("--uninstall").returncode == 0
    after = snapshot(install.home)
    assert after == before


def test_uninstall_takes_out_only_the_block(install: Installer) -> None:
    bashrc = install.home / ".bashrc"
    bashrc.write_text("alias a=b\n")
    assert install("--shell", "bash").returncode == 0
    with bashrc.open("a") as f:  # the user goes on editing after the install
        f.write("alias c=d\n")

    assert install("--uninstall").returncode == 0

    assert bashrc.read_text() == "alias a=b\nalias c=d\n"


def test_a_hook_line_written_by_hand_is_left_alone(install: Installer) -> None:
    bashrc = install.home / ".bashrc"
    bashrc.write_text('eval "$(codename init bash)"\n')

    r = install("--shell", "bash")

    assert r.returncode == 0, r.stderr
    assert bashrc.read_text() == 'eval "$(codename init bash)"\n'
    assert "left it as it is" in r.stdout


def test_a_symlinked_rc_file_is_edited_where_it_points(install: Installer) -> None:
    dotfiles = install.home / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "bashrc").write_text("alias a=b\n")
    (install.home / ".bashrc").symlink_to(dotfiles / "bashrc")

    assert install("--shell", "bash").returncode == 0
    assert (install.home / ".bashrc").is_symlink()
    assert BEGIN in (dotfiles / "bashrc").read_text()
    assert install("--uninstall").returncode == 0
    assert (dotfiles / "bashrc").read_text() == "alias a=b\n"


@pytest.mark.parametrize("args", [["--shell", "csh"], ["--frobnicate"], ["--shell"]])
def test_a_bad_argument_is_refused_before_anything_is_done(
        install: Installer, args: list[str]) -> None:
    r = install(*args)
    assert r.returncode in (1, 2)
    assert r.stderr.strip() and len(r.stderr.strip().splitlines()) == 1
    assert not (install.home / ".local" / "share").exists()
    assert not (install.home / ".local" / "bin").exists()
    assert not (install.home / ".bashrc").exists()


def test_the_shell_it_runs_from_is_the_one_hooked(install: Installer) -> None:
    world = install.world
    (world.home / ".zshrc").write_text("PROMPT='P> '\nunsetopt prompt_sp\n")
    t = Terminal(world, "zsh", env={k: v for k, v in install.env.items() if k != "PATH"})
    try:
        out = t.run(f"{quote(str(SCRIPT), 'zsh')} </dev/null; echo status=$?")
    finally:
        t.close()
    assert "status=0" in out, out
    assert BEGIN in (world.home / ".zshrc").read_text()
    assert not (world.home / ".bashrc").exists()


@pytest.mark.parametrize("shell", SHELLS)
def test_a_new_terminal_after_install_has_a_name(
        world: World, wheel: Path, shell: str) -> None:
    # A home whose path needs quoting, to see the hook line hold up. (Not `"` or `$(…)`:
    # pip's own launchers break on those.)
    home = world.root / "it's a home"
    home.mkdir()
    install = Installer(world, wheel, home)
    env = {"HOME": str(home), "ZDOTDIR": str(home)}
    prompts = {
        "bash": home / ".bashrc", "zsh": home / ".zshrc",
        "fish": world.config / "fish" / "config.fish",
    }
    prompts[shell].parent.mkdir(parents=True, exist_ok=True)
    prompts[shell].write_text({
        "bash": "PS1='P> '\n", "zsh": "PROMPT='P> '\nunsetopt prompt_sp\n",
        "fish": "set -g fish_greeting ''\nfunction fish_prompt; printf 'P> '; end\n",
    }[shell])
    assert install("--shell", shell).returncode == 0

    argv = {
        "bash": [require("bash"), "--noprofile", "--rcfile", str(home / ".bashrc"), "-i"],
        "zsh": [require("zsh"), "-i"],
        "fish": [require("fish"), "-i"],
    }[shell]
    t = Terminal(world, shell, argv=argv, env=env)
    try:
        assert t.startup.endswith("[Michael] P> "), t.startup
        assert t.ask('"$CODENAME"') == "Michael"
    finally:
        t.close()

    # Should the install go away behind the block's back (a wiped venv leaves the launcher a
    # dangling link), a shell start costs one line saying what to do, and no raw error.
    for gone in (install.venv, install.launcher):
        subprocess.run(["rm", "-rf", str(gone)], check=True, timeout=TIMEOUT)
        t = Terminal(world, shell, argv=argv, env=env)
        try:
            lines = [line for line in t.startup.splitlines() if line.strip()]
            assert lines == [f"codename: {install.launcher} is missing (run install.sh again)",
                             "P> "], t.startup
        finally:
            t.close()


def checkout_copy(root: Path) -> Path:
    """A copy of what install.sh needs of a checkout (it installs the session's wheel)."""
    import shutil

    copy = root / "checkout"
    shutil.copytree(REPO / "codename_shell", copy / "codename_shell",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("install.sh", "pyproject.toml"):
        shutil.copy2(REPO / name, copy / name)
    return copy


def test_the_launcher_runs_the_installed_package_whatever_the_checkout_holds(
        world: World, wheel: Path) -> None:
    """`./install.sh` typed in the checkout (the README's own way) wrote a launcher that put
    the checkout first on sys.path: every shell start ran the checkout's code, and a typo or
    a `git pull` there broke every new shell with a traceback."""
    checkout = checkout_copy(world.root)
    install = Installer(world, wheel, world.home)
    (world.home / ".bashrc").write_text("PS1='P> '\n")
    r = subprocess.run(["sh", "./install.sh", "--shell", "bash"], capture_output=True,
                       text=True, env=install.env, cwd=checkout, timeout=600,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert str(checkout) not in (install.venv / "bin" / "codename").read_text()

    # The checkout moves on, and is broken for a moment.
    (checkout / "codename_shell" / "hook.py").write_text("def broken(:\n")
    (checkout / "codename_shell" / "cli.py").write_text("def broken(:\n")

    version = subprocess.run([str(install.launcher), "-V"], capture_output=True, text=True,
                             env=install.env, cwd=checkout, timeout=TIMEOUT)
    assert version.returncode == 0 and version.stdout.startswith("codename "), version.stderr
    t = Terminal(world, "bash", env={"PYTHONPATH": ""},
                 argv=[require("bash"), "--noprofile", "--rcfile",
                       str(world.home / ".bashrc"), "-i"])
    try:
        assert t.startup.endswith("[Michael] P> "), t.startup
        assert "Traceback" not in t.screen() and "Error" not in t.screen()
    finally:
        t.close()


@pytest.mark.parametrize("shell", SHELLS)
def test_a_terminal_left_open_across_an_uninstall_says_so_in_one_line(
        world: World, install: Installer, shell: str) -> None:
    """Typing `codename` in a terminal opened before the install went away printed zsh's
    `codename:6: no such file or directory` or fish's five-line trace."""
    rc = {"bash": world.home / ".bashrc", "zsh": world.home / ".zshrc",
          "fish": world.config / "fish" / "config.fish"}[shell]
    rc.parent.mkdir(parents=True, exist_ok=True)
    rc.write_text({"bash": "PS1='P> '\n", "zsh": "PROMPT='P> '\nunsetopt prompt_sp\n",
                   "fish": "set -g fish_greeting ''\nfunction fish_prompt; printf 'P> '; end\n",
                   }[shell])
    assert install("--shell", shell).returncode == 0
    argv = {"bash": [require("bash"), "--noprofile", "--rcfile", str(rc), "-i"],
            "zsh": [require("zsh"), "-i"], "fish": [require("fish"), "-i"]}[shell]
    t = Terminal(world, shell, argv=argv, env={"PYTHONPATH": ""})
    try:
        assert t.startup.endswith("[Michael] P> "), t.startup
        expected = (f"codename: not installed any more ({install.launcher} is gone); "
                    "open a new terminal")
        for gone in ("a wiped venv", "--uninstall"):
            if gone == "--uninstall":
                assert install("--uninstall").returncode == 0
            else:
                subprocess.run(["rm", "-rf", str(install.venv)], check=True, timeout=TIMEOUT)
            shown = t.run("codename who")
            # (fish marks a line it ends itself with ⏎ before the prompt)
            lines = [line.replace("\u23ce", "").strip() for line in shown.splitlines()]
            said = [line for line in lines if line and not line.endswith("codename who")
                    and line != "[Michael] P>"]
            assert said == [expected], (gone, shown)
    finally:
        t.close()


# --- every shell a user opens is hooked, once ----------------------------------------------

def strace_or_fail() -> str:
    from test_shells import require_strace

    return require_strace()


def login_bash(world: World, install: Installer, trace: Path, *, login: bool) -> Terminal:
    """bash as a terminal starts it (tmux, ssh, macOS Terminal: a login shell), traced."""
    from terminals import traced

    argv = [require("bash"), "--login", "-i"] if login else [require("bash"), "-i"]
    # The system's /etc/profile sets its own prompt: wait for its last character.
    return Terminal(install.world, "bash", argv=traced(strace_or_fail(), trace, argv),
                    env={"HOME": str(install.home)}, prompt=r"[#$] $")


@pytest.mark.parametrize("account", ["no rc files", "Debian profile", "own profile"])
def test_login_and_non_login_bash_each_get_a_name_once(
        world: World, install: Installer, account: str) -> None:
    from terminals import python_starts

    profile = install.home / ".profile"
    if account == "Debian profile":  # reads ~/.bashrc itself, as Debian's skeleton does
        profile.write_text('if [ -n "$BASH_VERSION" ]; then\n'
                           '    if [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi\nfi\n')
    elif account == "own profile":
        profile.write_text("export EDITOR=vi\n")
    before = profile.read_text() if profile.exists() else None

    r = install("--shell", "bash")

    assert r.returncode == 0, r.stderr
    # Nothing hides ~/.profile: no ~/.bash_profile appears beside it.
    assert not (install.home / ".bash_profile").exists()
    if account == "Debian profile":
        assert profile.read_text() == before  # it runs ~/.bashrc: hooked from there, once
    else:
        assert profile.read_text().count(BEGIN) == 1
        assert before is None or profile.read_text().startswith(before)
    for login in (True, False):
        trace = world.root / f"trace-{login}"
        t = login_bash(world, install, trace, login=login)
        try:
            pid = int(t.ask('"$$"'))
            assert t.ask('"$CODENAME"') == "Michael"
            assert "[Michael] " in t.run("")
            inits = [line for line in python_starts(trace) if '"init", "bash"' in line]
            assert len(inits) == 1, inits  # hooked once, not twice
        finally:
            t.close()
        wait_until(lambda p=pid: not os.path.exists(f"/proc/{p}"), "the shell to end")

    assert install("--uninstall").returncode == 0
    assert (profile.read_text() if profile.exists() else None) == before


def test_fish_runs_no_python_for_commands_and_scripts_after_install(
        world: World, install: Installer) -> None:
    from terminals import python_starts, shell_env, traced

    assert install("--shell", "fish").returncode == 0
    block = (install.world.config / "fish" / "conf.d" / "codename.fish").read_text()
    assert "status is-interactive" in block
    script = install.home / "script.fish"
    script.write_text("echo from-a-script\n")
    for argv in ([require("fish"), "-c", "echo from-c"], [require("fish"), str(script)]):
        trace = world.root / "trace"
        r = subprocess.run(traced(strace_or_fail(), trace, argv), capture_output=True,
                           text=True, env=shell_env(world, {"HOME": str(install.home)}),
                           stdin=subprocess.DEVNULL, timeout=TIMEOUT)
        assert r.returncode == 0 and r.stdout.startswith("from-"), r.stderr
        assert r.stderr == ""
        assert python_starts(trace) == []


# --- completions ----------------------------------------------------------------------------

BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


def completion_files(home: Path, config: Path) -> dict[str, Path]:
    return {"bash": home / ".local" / "share" / "bash-completion" / "completions" / "codename",
            "zsh": home / ".local" / "share" / "zsh" / "site-functions" / "_codename",
            "fish": config / "fish" / "completions" / "codename.fish"}


def test_completions_go_where_each_shell_loads_them_lazily_and_go_again(
        install: Installer) -> None:
    files = completion_files(install.home, install.world.config)
    r = install("--all")
    assert r.returncode == 0, r.stderr
    for shell, path in files.items():
        generated = install.world.run("completions", shell).stdout
        assert path.read_text() == generated, shell
        assert f"{shell} completions: ~/" in r.stdout
    # The zsh block puts their directory on fpath; no hook block defines completions itself.
    zshrc = (install.home / ".zshrc").read_text()
    assert f"fpath=({quote(str(files['zsh'].parent), 'zsh')} " in zshrc

    gone = install("--uninstall")
    assert gone.returncode == 0, gone.stderr
    for shell, path in files.items():
        assert not path.exists()
        assert f"removed the {shell} completions" in gone.stdout


def test_a_completion_file_of_the_user_s_own_is_left_alone(install: Installer) -> None:
    own = completion_files(install.home, install.world.config)["fish"]
    own.parent.mkdir(parents=True)
    own.write_text("complete -c codename -a mine\n")
    r = install("--shell", "fish")
    assert r.returncode == 0, r.stderr
    assert "(it is not ours)" in r.stdout
    assert install("--uninstall").returncode == 0
    assert own.read_text() == "complete -c codename -a mine\n"


def pane_rc(world: World, shell: str, compinit: str) -> str:
    """An rc file as people have them: bash-completion loaded, zsh's compinit before or after
    the block install.sh appends (or none), a plain prompt."""
    if shell == "bash":
        if not BASH_COMPLETION.is_file():
            require("bash-completion's bash_completion")  # skips locally, fails in CI
        return f"PS1='P> '\n. {BASH_COMPLETION}\n"
    if shell == "zsh":
        line = f"autoload -Uz compinit && compinit -u -d {world.home}/.zcompdump\n"
        return "PROMPT='P> '\nunsetopt prompt_sp\n" + (line if compinit == "before" else "")
    return "set -g fish_greeting ''\nfunction fish_prompt; printf 'P> '; end\n"


def loose(word: str) -> str:
    """A regex for `word` as a terminal may draw it: colours, a bell or a character-set
    switch (fish's pager ends its bold with `ESC ( B`) between its letters."""
    return r"(?:\x1b\[[0-9;]*m|\x1b[()][0-9A-Za-z]|\x07)*".join(re.escape(ch) for ch in word)


@pytest.mark.parametrize(("shell", "compinit"), [
    ("bash", ""), ("zsh", "before"), ("zsh", "after"), ("zsh", "none"), ("zsh", "no-zshrc"),
    ("fish", "")])
def test_tab_completes_th_to_theme_and_themes_in_a_real_terminal(
        install: Installer, shell: str, compinit: str) -> None:
    world = install.world
    rc = {"bash": world.home / ".bashrc", "zsh": world.home / ".zshrc",
          "fish": world.config / "fish" / "config.fish"}[shell]
    rc.parent.mkdir(parents=True, exist_ok=True)
    if compinit != "no-zshrc":
        rc.write_text(pane_rc(world, shell, compinit))
    assert install("--shell", shell).returncode == 0
    if compinit == "no-zshrc":
        # A new account: install.sh made ~/.zshrc, with what zsh's first-run wizard offers
        # (compinit among it). Only the prompt is set here, for the test to read it.
        assert "compinit" in rc.read_text()
        with rc.open("a") as f:
            f.write("PROMPT='P> '\nunsetopt prompt_sp\n")
    if compinit == "after":  # the block first, then compinit (the user moved it up, say)
        with rc.open("a") as f:
            f.write(f"autoload -Uz compinit && compinit -u -d {world.home}/.zcompdump\n")
    argv = {"bash": [require("bash"), "--noprofile", "--rcfile", str(rc), "-i"],
            "zsh": [require("zsh"), "-i"], "fish": [require("fish"), "-i"]}[shell]
    t = Terminal(world, shell, argv=argv, env={"ZDOTDIR": str(world.home)})
    try:
        assert t.startup.endswith("[Michael] P> "), t.startup  # no error from the block
        if compinit == "none":
            return  # zsh's completion system is off: nothing to complete with, and no error
        t.child.send("codename th\t")
        t.child.expect(loose("eme"))  # the common prefix put in, or the list shown
        # readline lists at the second TAB that can add nothing; zsh and fish at once.
        for _ in range(3):
            t.child.send("\t")
            if t.child.expect([loose("themes"), "\a", pexpect.TIMEOUT]) == 0:
                break
        shown = visible(t.transcript.getvalue()).replace("\a", "")[len(t.startup):]
        assert {"theme", "themes"} <= set(re.findall(r"\bthemes?\b", shown)), shown
    finally:
        t.close()


def test_fleet_puts_the_fleet_extra_into_the_same_install(install: Installer) -> None:
    # From the package index, as a user's install gets it (CI reaches PyPI; the other tests
    # here install offline).
    install.env["CODENAME_PIP_ARGS"] = ""
    r = install("--fleet", "--shell", "bash")
    assert r.returncode == 0, r.stdout + r.stderr
    python = install.venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import hiredis, codename_shell"],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert subprocess.run([str(install.launcher), "-V"], capture_output=True, text=True,
                          env=install.env, timeout=60).returncode == 0


def test_the_path_note_says_hooked_terminals_reach_codename_anyway(install: Installer) -> None:
    install.env["PATH"] = "/usr/bin:/bin"
    r = install("--shell", "bash")
    assert r.returncode == 0, r.stderr
    note = [line for line in r.stdout.splitlines() if "PATH" in line]
    assert note == ["codename: note: ~/.local/bin is not on your PATH: hooked terminals run "
                    "`codename` all the same (their hook calls it by its full path); add it to "
                    "the PATH for scripts and other programs"], r.stdout


# --- uninstall, purge -----------------------------------------------------------------------

def test_uninstall_says_so_when_there_is_nothing_to_remove(install: Installer) -> None:
    for flag in ("--uninstall", "--purge"):
        r = install(flag)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("codename: nothing to remove:"), r.stdout
        assert len(r.stdout.splitlines()) == 1


def test_purge_lists_what_codename_made_then_removes_exactly_that(install: Installer) -> None:
    world = install.world
    world.write_config('theme = "parks"\n')
    secret = world.config / "codename" / "fleet.secret"  # the README suggests it goes here
    secret.write_text("s3cret\n")
    assert install("--shell", "bash").returncode == 0
    sleeper = world.sleeper()
    claimed = subprocess.run([str(install.launcher), "claim", "--pid", str(sleeper.pid)],
                             capture_output=True, text=True, env=install.env, timeout=TIMEOUT)
    assert claimed.stdout.strip() == "Leslie", claimed.stderr  # parks: config was read
    made = [world.state / "codename", world.presence_dir, world.config_file]
    assert all(p.exists() for p in made)

    r = install("--purge")

    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    at = lines.index("codename: --purge: removing what codename made (config.toml, names held, "
                     "the ledger):")
    assert lines[at + 1:at + 4] == ["    ~/.local/state/codename", f"    {world.presence_dir}",
                                    "    ~/.config/codename/config.toml"]
    assert lines[at + 4] == "codename: kept ~/.config/codename: it holds files of yours: " \
                            "fleet.secret"
    assert not any(p.exists() for p in made)
    assert secret.read_text() == "s3cret\n"  # the user's own file stays
    assert not (install.home / ".bashrc").exists()
    assert lines[-1] == "codename: uninstalled, config and state included"


def test_purge_takes_the_fleet_runtime_directory_too(install: Installer) -> None:
    world = install.world
    fleet_dir = world.runtime / "codename-fleet"
    fleet_dir.mkdir(parents=True)
    (fleet_dir / "1-2.lease").write_text("0\tMichael\t0\t0.0\n")
    r = install("--purge")
    assert r.returncode == 0, r.stderr
    assert f"    {fleet_dir}" in r.stdout.splitlines()
    assert not fleet_dir.exists()


# --- pipx -----------------------------------------------------------------------------------

def pipx_venv(root: Path) -> Path:
    """pipx from PyPI in a throwaway venv: its bin directory."""
    venv = root / "pipx-venv"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True,
                          text=True, timeout=300)
    got = made if made.returncode else subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", "pipx"], capture_output=True, text=True, timeout=600)
    if got.returncode != 0:
        message = f"pipx could not be installed from PyPI: {got.stderr.strip()[-500:]}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return venv / "bin"


def test_pipx_install_names_a_new_terminal(world: World) -> None:
    bin_dir = pipx_venv(world.root)
    home = world.home
    env = {**world.env, "SHELL": "/bin/sh", "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
           "PIPX_HOME": str(home / ".local" / "pipx"),
           "PIPX_BIN_DIR": str(home / ".local" / "bin")}
    env.pop("PYTHONPATH")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", str(SCRIPT), *args], capture_output=True, text=True,
                              env=env, cwd=home, timeout=900, stdin=subprocess.DEVNULL)

    (home / ".bashrc").write_text("PS1='P> '\n")
    r = run("--shell", "bash")  # pipx is on the PATH: install.sh takes it (`pipx install .`)
    assert r.returncode == 0, r.stderr
    assert f"installing {REPO} with pipx" in r.stdout
    launcher = home / ".local" / "bin" / "codename"
    assert os.readlink(launcher).startswith(env["PIPX_HOME"])

    # Nothing of the test's own venv: the name comes through what pipx installed.
    t = Terminal(world, "bash", env={"PATH": env["PATH"], "PYTHONPATH": ""})
    try:
        assert t.startup.endswith("[Michael] P> "), t.startup
        assert t.ask('"$CODENAME"') == "Michael"
    finally:
        t.close()

    gone = run("--uninstall")
    assert gone.returncode == 0, gone.stderr
    assert "removed the pipx install of codename-shell" in gone.stdout
    assert not launcher.exists() and not launcher.is_symlink()
    listed = subprocess.run([str(bin_dir / "pipx"), "list", "--short"], capture_output=True,
                            text=True, env=env, timeout=TIMEOUT)
    assert "codename-shell" not in listed.stdout


def test_a_wheel_built_from_the_checkout_installs_with_pipx_and_runs(world: World,
                                                                     wheel: Path) -> None:
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    for shell in SHELLS:  # the hooks travel inside the package
        assert f"codename_shell/shell/codename.{shell}" in names, names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    bin_dir = pipx_venv(world.root)
    home = world.home
    env = {**world.env, "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
           "PIPX_HOME": str(home / ".local" / "pipx"),
           "PIPX_BIN_DIR": str(home / ".local" / "bin")}
    env.pop("PYTHONPATH")
    r = subprocess.run([str(bin_dir / "pipx"), "install", str(wheel)], capture_output=True,
                       text=True, env=env, cwd=home, timeout=900, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    version = subprocess.run([str(home / ".local" / "bin" / "codename"), "-V"],
                             capture_output=True, text=True, env=env, cwd=home, timeout=60)
    assert version.returncode == 0 and re.fullmatch(r"codename \S+\n", version.stdout), \
        (version.stdout, version.stderr)
    hook = subprocess.run([str(home / ".local" / "bin" / "codename"), "init", "zsh"],
                          capture_output=True, text=True, env=env, cwd=home, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert hook.returncode == 0 and "__codename_install" in hook.stdout, hook.stderr


def test_the_wheel_carries_the_license_pyproject_names(wheel: Path) -> None:
    import tomllib
    import zipfile

    license_text = (REPO / "LICENSE").read_text()
    assert license_text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the codename authors" in license_text
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"] == "MIT"
    with zipfile.ZipFile(wheel) as z:
        (shipped,) = [n for n in z.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert z.read(shipped).decode() == license_text
        (metadata,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        assert "License-Expression: MIT\n" in z.read(metadata).decode()
