"""Helpers the test modules share: real processes in odd states, rows written the way codename
writes them, and the checks every error message must pass."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import IN_CI, World, require

from codename_shell import liveness
from codename_shell.holders import Holder
from codename_shell.sources import PresenceSource

LINUX = sys.platform.startswith("linux")
needs_proc = pytest.mark.skipif(not LINUX, reason="needs /proc (Linux)")


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll until `predicate` holds; a generous bound so a stuck test fails instead of hanging."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)


def assert_one_line_error(r: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The contract for every refusal: exit `code`, one line on stderr, never a traceback."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def codename(env: dict[str, str], *args: str, cwd: Path | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`codename ARGS` with exactly `env` (World.run can add variables but not remove them)."""
    return subprocess.run([sys.executable, "-m", "codename_shell", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def who(world: World) -> list[dict[str, object]]:
    r = world.run("who", "--json")
    assert r.returncode == 0, r.stderr
    rows: list[dict[str, object]] = json.loads(r.stdout)
    return rows


def names_held(world: World) -> dict[str, list[dict[str, object]]]:
    """`who --json` by name: every live holder of each name."""
    by_name: dict[str, list[dict[str, object]]] = {}
    for row in who(world):
        by_name.setdefault(str(row["name"]), []).append(row)
    return by_name


def dead_pid(world: World) -> int:
    """The pid of a process that has exited and been waited for."""
    p = subprocess.Popen(["true"], env=world.env)
    p.wait()
    return p.pid


def kill(p: subprocess.Popen[bytes]) -> None:
    p.kill()
    p.wait()


def proc_state(pid: int) -> str | None:
    """The state letter /proc shows for `pid` (R, S, Z, ...), None when there is no process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return None
    return raw[raw.rfind(b")") + 2:].split()[0].decode()


def identity(pid: int) -> Holder:
    me = liveness.identify(pid)
    assert me is not None, f"pid {pid} is not running"
    return me


def write_presence(world: World, name: str, pid: int, **fields: object) -> Path:
    """A presence file for `pid` holding `name`, as codename writes one, with `fields` changed.

    Without a matching ledger row: a holder known only by its presence file (a spare that
    keeps its heartbeat on disk).
    """
    me = identity(pid) if proc_state(pid) not in (None, "Z") else Holder("", pid=pid)
    holder = Holder(name, pid=pid, kind="spare", start=me.start, boot=me.boot,
                    host=me.host or liveness.host(), ns=me.ns, machine=me.machine)
    for key, value in fields.items():
        setattr(holder, key, value)
    world.presence_dir.mkdir(mode=0o700, exist_ok=True)
    source = PresenceSource(str(world.presence_dir))
    source.record(holder)
    return Path(source.path_for(holder))


def ledger_rows(world: World) -> list[tuple[str, str, dict[str, str]]]:
    """(event, name, fields) for each complete row of the ledger."""
    rows = []
    for line in world.ledger.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        fields = dict(p.partition("=")[::2] for p in parts[3:])
        rows.append((parts[1], parts[2], fields))
    return rows


def use_roster(world: World, rows: list[object] | str, extra_config: str = "") -> Path:
    """A roster file of another launcher, named in config.toml; `rows` as objects or raw text."""
    roster = world.home / "fleet" / "roster.jsonl"
    roster.parent.mkdir(exist_ok=True)
    if isinstance(rows, str):
        roster.write_text(rows)
    else:
        roster.write_text("".join(json.dumps(row) + "\n" for row in rows))
    world.write_config(f'{extra_config}[[rosters]]\npath = "{roster}"\n')
    return roster


ZOMBIE_PARENT = r"""
import os, sys, time
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.close(w)
    os.read(r, 1)  # returns at EOF: when the parent says so
    os._exit(0)
os.close(r)
print(child, flush=True)
sys.stdin.readline()
os.close(w)  # the child exits now ...
time.sleep(600)  # ... and is never waited for: a zombie until this process goes
"""


class Zombie:
    """A child that runs until `die()`, then stays a zombie: its parent never reaps it."""

    def __init__(self, world: World) -> None:
        self.parent = subprocess.Popen([sys.executable, "-c", ZOMBIE_PARENT], env=world.env,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        world.children.append(self.parent)  # killed at teardown; init then reaps the zombie
        assert self.parent.stdout is not None
        self.pid = int(self.parent.stdout.readline())

    def die(self) -> None:
        assert self.parent.stdin is not None
        self.parent.stdin.write(b"\n")
        self.parent.stdin.flush()
        wait_for(lambda: proc_state(self.pid) == "Z", f"pid {self.pid} to become a zombie")


def environ_without(world: World, *keys: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in world.env.items() if k not in keys}
    env.update(extra)
    return env


def is_root() -> bool:
    return os.geteuid() == 0


def require_root(why: str) -> None:
    """Root is needed (`why`): skipped locally as another user, failed in CI (which is root)."""
    if is_root():
        return
    message = f"needs root {why}"
    if IN_CI:
        pytest.fail(f"{message}, and CI runs as root")
    pytest.skip(message)


def require_machine_id() -> None:
    """An earlier boot of this machine is only provable with a machine id (/etc/machine-id):
    skipped locally without one, failed in CI (`systemd-machine-id-setup` makes one)."""
    if liveness.machine_id():
        return
    message = "no /etc/machine-id (or /var/lib/dbus/machine-id) on this machine"
    if IN_CI:
        pytest.fail(f"{message}, and CI must run the earlier-boot tests")
    pytest.skip(message)


def state_lock(world: World) -> Path:
    """Where the allocator's lock file is in `world` (its state dir made, as codename makes it)."""
    state = world.state / "codename"
    state.mkdir(mode=0o700, exist_ok=True)
    return state / "lock"


def lock_is_held(lock: Path) -> bool:
    """Whether some process holds the lock (shared or exclusive): an exclusive try fails."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also lets go of the lock if the try took it
    return False


def hold_lock(world: World, lock: Path, *flock_args: str) -> subprocess.Popen[bytes]:
    """`flock [ARGS] LOCK sleep 600`: a holder that never makes progress, in its own session
    so that the test can end flock and its sleep (which holds the descriptor too) together."""
    from conftest import require

    holder = subprocess.Popen([require("flock"), *flock_args, str(lock), "sleep", "600"],
                              env=world.env, start_new_session=True)
    wait_for(lambda: lock_is_held(lock), "flock to take the lock")
    return holder


def end_session(p: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def require_strace() -> str:
    """strace, able to trace here (following forks): a failure in CI, a skip elsewhere."""
    strace = require("strace")
    probe = subprocess.run([strace, "-f", "-qq", "-o", "/dev/null", "true"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        message = f"strace cannot trace here: {probe.stderr.strip()}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return strace


def claim_burst(world: World, holders: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """Claim for every holder at once (`codename claim --pid` each, started together, as
    tmux-resurrect starts its panes) and check what a burst must give: every claim granted,
    every name distinct, and `who` listing exactly those holders under those names."""
    import sys

    claims = [subprocess.Popen([sys.executable, "-m", "codename_shell", "claim", "--pid",
                                str(p.pid)], env=world.env, cwd=world.home, text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
              for p in holders]
    results = []
    try:
        for c in claims:
            out, err = c.communicate(timeout=timeout)  # a bound on a hang, not on speed
            results.append((c.returncode, out.strip(), err.strip()))
    finally:
        for c in claims:
            if c.poll() is None:
                c.kill()
                c.wait()
    refused = [err for code, _, err in results if code != 0]
    assert refused == [], f"{len(refused)} refused, e.g. {refused[0]}"
    names = [out for _, out, _ in results]
    assert len(set(names)) == len(holders)
    rows = who(world)
    assert sorted(str(r["name"]) for r in rows) == sorted(names)
    assert {int(str(r["pid"])) for r in rows} == {p.pid for p in holders}


MARKER = "codename-test-marker"  # `/bin/echo` it in a traced shell: what follows is prompts only


def marker_line(lines: list[str]) -> int:
    """The index of the marker command's own (successful) exec in an `strace -f` trace."""
    return next(i for i, line in enumerate(lines)
                if "execve(" in line and " = -1 " not in line and MARKER in line)


def processes_after(lines: list[str], marker: int) -> list[str]:
    """The execs and forks an `strace -f` trace shows after line `marker`, less the marker
    command's own process: what the prompts (and the exit) started, which must be nothing."""
    import re

    pid = lines[marker].split()[0]
    after = [line for line in lines[marker + 1:] if line.split()[0] != pid]
    return [line for line in after if "execve(" in line
            or (re.search(r"\b(clone3?|v?fork)\(", line) and "CLONE_THREAD" not in line
                and not line.rstrip().endswith(f"= {pid}"))]
