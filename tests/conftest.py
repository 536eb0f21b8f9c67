"""Fixtures shared by every test: a private world (HOME, XDG dirs) per test, and ways to run
codename and to make live processes that hold names."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from fleet_hosts import Host, Link, RedisServer
    from terminals import OpenTerminal

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(program: str) -> str:
    """The path of `program`; a missing one skips locally but fails in CI (CI must install it)."""
    path = shutil.which(program)
    if path is None:
        message = f"{program} is not installed"
        if IN_CI:
            pytest.fail(f"{message}, and CI must run every shell test (see .ci/run)")
        pytest.skip(message)
    return path


@dataclass
class World:
    """One user's state: every directory codename reads or writes lives under `root`."""

    root: Path
    home: Path
    config: Path
    state: Path
    runtime: Path
    env: dict[str, str]
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def config_file(self) -> Path:
        return self.config / "codename" / "config.toml"

    @property
    def presence_dir(self) -> Path:
        return self.runtime / "codename"

    @property
    def ledger(self) -> Path:
        return self.state / "codename" / "ledger.log"

    def write_config(self, text: str) -> Path:
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(text)
        return self.config_file

    def run(self, *args: str, env: dict[str, str] | None = None,
            input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`codename ARGS` as a separate process, as a user or a script would run it."""
        return subprocess.run(
            [sys.executable, "-m", "codename_shell", *args],
            env={**self.env, **(env or {})}, capture_output=True, text=True,
            input=input, timeout=timeout, cwd=self.home,
        )

    def run_module(self, module: str, *args: str) -> subprocess.CompletedProcess[str]:
        """`python -m MODULE ARGS` in this world."""
        return subprocess.run([sys.executable, "-m", module, *args], env=self.env,
                              capture_output=True, text=True, timeout=60, cwd=self.home)

    def sleeper(self, seconds: int = 600) -> subprocess.Popen[bytes]:
        """A live process to hold a name (a stand-in for a job or a spare)."""
        p = subprocess.Popen(["sleep", str(seconds)], env=self.env)
        self.children.append(p)
        return p

    def claim(self, pid: int, *extra: str) -> str:
        r = self.run("claim", "--pid", str(pid), *extra)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    home = tmp_path / "home"
    config, state, runtime = home / ".config", home / ".local" / "state", tmp_path / "run"
    for d in (home, config, state, runtime):
        d.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    env = {
        "HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "XDG_CONFIG_HOME": str(config),
        "XDG_STATE_HOME": str(state),
        "XDG_RUNTIME_DIR": str(runtime),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "PYTHONPATH": str(REPO),
    }
    # The in-process API sees the same world as the subprocesses.
    for key in ("CODENAME", "CODENAME_ID", "CODENAME_PID", "CODENAME_FULL", "CODENAME_THEME",
                "NO_COLOR"):
        monkeypatch.delenv(key, raising=False)
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(key, env[key])
    w = World(tmp_path, home, config, state, runtime, env)
    yield w
    for p in w.children:
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.fixture
def terminal(world: World) -> Iterator[OpenTerminal]:
    """Opens real terminals (bash unless named) in the test's world (write the rc file first);
    closes them after."""
    from terminals import Terminal  # terminals imports this module: not at the top

    opened: list[Terminal] = []

    def open_terminal(shell: str = "bash", **kwargs: object) -> Terminal:
        t = Terminal(world, shell, **kwargs)  # type: ignore[arg-type]
        opened.append(t)
        return t

    yield open_terminal
    for t in opened:
        t.close()


# --- the fleet's parts (fleet_hosts imports this module: imported inside the fixtures) ------

@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server of the test's own, as a fleet in use has it (see in_use)."""
    from fleet_hosts import RedisServer, reap_keepers

    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    yield server
    server.close()
    reap_keepers(tmp_path)


@pytest.fixture
def hosts(tmp_path: Path, redis: RedisServer) -> Iterator[Callable[..., Host]]:
    """Makes hosts (namespaces) of one fleet on `redis`; closes them after."""
    from fleet_hosts import LEASE, Host, fleet_config

    made: list[Host] = []

    def make(name: str, *, url: str | None = None, lease: int = LEASE, extra: str = "") -> Host:
        host = Host(tmp_path, name, fleet_config(url or redis.url(), lease, extra))
        made.append(host)
        return host

    yield make
    for host in made:
        host.close()


@pytest.fixture
def links(redis: RedisServer) -> Iterator[Callable[[], Link]]:
    """Makes links to `redis` that a test can cut and heal."""
    from fleet_hosts import Link

    made: list[Link] = []

    def make() -> Link:
        link = Link(redis.port)
        made.append(link)
        return link

    yield make
    for link in made:
        link.close()
