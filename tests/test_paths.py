"""codename computes its directories without importing platformdirs (for speed); they must be
exactly where platformdirs puts them, and platformdirs' fallback warning must stay silent."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import platformdirs
import pytest
from conftest import World

from codename_shell import paths


def _platformdirs(kind: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(getattr(platformdirs, f"user_{kind}_dir")("codename"))


def test_directories_are_where_platformdirs_puts_them(world: World) -> None:
    assert paths.config_dir() == _platformdirs("config")
    assert paths.state_dir() == _platformdirs("state")
    assert paths.runtime_dir() == _platformdirs("runtime")


def test_defaults_follow_home_when_xdg_variables_are_unset(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.delenv("XDG_STATE_HOME")
    assert paths.config_dir() == _platformdirs("config") == str(world.home / ".config/codename")
    assert paths.state_dir() == _platformdirs("state") == str(
        world.home / ".local/state/codename")


def test_relative_xdg_variables_are_ignored_as_the_spec_says(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")
    assert paths.state_dir() == _platformdirs("state") == str(
        world.home / ".local/state/codename")


def test_an_unsafe_xdg_runtime_dir_is_not_used(world: World) -> None:
    world.runtime.chmod(0o777)
    try:
        assert paths.runtime_dir() == _platformdirs("runtime")
        assert not paths.runtime_dir().startswith(str(world.runtime))
    finally:
        world.runtime.chmod(0o700)


def test_platformdirs_fallback_warning_never_reaches_the_terminal(world: World) -> None:
    env = {k: v for k, v in world.env.items() if k != "XDG_RUNTIME_DIR"}
    r = subprocess.run([sys.executable, "-m", "codename_shell", "who"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "RuntimeDirWarning" not in r.stderr
    assert "falling back" not in r.stderr


def test_ensure_private_dir_creates_0700(world: World) -> None:
    target = world.root / "fresh" / "codename"
    paths.ensure_private_dir(str(target))
    assert os.stat(target).st_mode & 0o777 == 0o700


@pytest.mark.parametrize("make", ["symlink", "world_writable", "file"])
def test_ensure_private_dir_refuses_what_others_could_tamper_with(world: World, make: str) -> None:
    target = world.root / "victim"
    if make == "symlink":
        elsewhere = world.root / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        target.symlink_to(elsewhere)
    elif make == "world_writable":
        target.mkdir()
        target.chmod(0o777)
    else:
        Path(target).write_text("")
    with pytest.raises(paths.UnsafeDirectory):
        paths.ensure_private_dir(str(target))
