"""install.sh on a temporary HOME: one marked block per rc file, twice the same as once, and
`--uninstall` puts every file back as it was.

To stay fast these runs install a wheel built once per session, without reaching an index
(CODENAME_INSTALL_SOURCE and CODENAME_PIP_ARGS, documented in install.sh); everything else
is the path users take: a private venv, a launcher in ~/.local/bin, the rc file edits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, World, require
from terminals import SHELLS, TIMEOUT, Terminal

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
    # codename's lean launcher, not pip's wrapper (which imports `re` at every shell start).
    launcher_text = (install.venv / "bin" / "codename").read_text()
    assert "from codename_shell.cli import main" in launcher_text
    assert "import re" not in launcher_text
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

    # Should the install go away behind the block's back, a shell start costs one line.
    install.launcher.unlink()
    t = Terminal(world, shell, argv=argv, env=env)
    try:
        lines = [line for line in t.startup.splitlines() if line.strip()]
        assert len(lines) == 2 and "codename" in lines[0] and lines[1] == "P> ", t.startup
    finally:
        t.close()
