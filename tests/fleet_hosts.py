"""Hosts, a Redis and the links between them, for the fleet's tests: all real.

A `Host` is its own UTS, pid and mount namespace (`unshare`, so root) with its own HOME and
XDG dirs: its own hostname, /proc and processes, and so its own codename state and keeper.
Only the network is shared, and with it the `RedisServer`: a real `redis-server` on a free
port, without persistence, so a restart starts empty. A `Link` is a small TCP proxy between
one host and Redis that a test can cut (the host's packets then go nowhere, while other hosts
still reach Redis) and heal.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from conftest import IN_CI, REPO, require

#: The tests' lease (s): short so they run fast; each wait is a bound, not a timing claim.
LEASE = 3


def fleet_config(url: str, lease: int = LEASE, extra: str = "") -> str:
    return f'[fleet]\nurl = "{url}"\nlease = {lease}\n{extra}'


OFFICE = ["Michael", "Dwight", "Jim", "Pam", "Ryan", "Andy", "Angela", "Kevin", "Oscar",
          "Stanley", "Phyllis", "Meredith", "Creed", "Kelly", "Toby"]

#: The rule of the prompt with a fleet: a plain name only while its lease vouches for it.
LEASE_RULE = "lease"
#: The rule before lease files: the presence file's name, as it is (what the hooks drew when
#: a keeper could die, or a Redis come back empty, and leave a stale plain name on screen).
PRESENCE_RULE = "presence"


def require_root() -> None:
    """Namespaces need root: skipped locally without it, a failure in CI (which runs as root)."""
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("the fleet's host tests need root (unshare), and CI must run them")
        pytest.skip("needs root (unshare for separate hosts)")
    require("unshare")
    require("nsenter")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], object], what: str, timeout: float) -> object:
    """Poll until `predicate` returns something true; a bound on waiting, not a timing claim."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting ({timeout:.0f} s) for {what}")
        time.sleep(0.05)


class RedisServer:
    """A real redis-server: no persistence (a restart starts empty), on 127.0.0.1."""

    def __init__(self, root: Path, password: str | None = None, *,
                 unix_socket: Path | None = None, extra: tuple[str, ...] = ()) -> None:
        self.binary = require("redis-server")
        self.root = root
        self.password = password
        self.unix_socket = unix_socket
        #: More redis-server arguments, e.g. ("--rename-command", "AUTH", "") for a server
        #: that does not take AUTH.
        self.extra = extra
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()
        self.in_use()

    def in_use(self, prefix: str = "codename") -> None:
        """The fleet as it is once in use: its epoch key set. A Redis without it is a new or
        emptied fleet, whose first lease hands out host-qualified names (scripts.EPOCH)."""
        self.cli("SET", f"{prefix}:epoch", "1")

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.root)]
        if self.password:
            args += ["--requirepass", self.password]
        if self.unix_socket:
            args += ["--unixsocket", str(self.unix_socket), "--unixsocketperm", "700"]
        args += self.extra
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, "redis-server to answer", 20)

    def _answers(self) -> bool:
        try:
            return self.cli("PING").strip() == "PONG"
        except subprocess.SubprocessError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        """Stopped and started again, empty: what a restart without persistence (or a failover
        that lost its writes) leaves."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts connections, nothing ever answers."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def url(self, port: int | None = None, password: str | None = None) -> str:
        secret = self.password if password is None else password
        auth = f":{secret}@" if secret else ""
        return f"redis://{auth}127.0.0.1:{port or self.port}/0"

    def cli(self, *args: str) -> str:
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        return subprocess.run(["redis-cli", "-p", str(self.port), *auth, "--raw", *args],
                              capture_output=True, text=True, timeout=10, check=True).stdout

    def names(self, prefix: str = "codename") -> dict[str, str]:
        """Every name the fleet holds now (name key -> the name as written in its row)."""
        script = ("local out = {} for _, k in ipairs(redis.call('KEYS', ARGV[1])) do "
                  "out[#out + 1] = k out[#out + 1] = redis.call('GET', k) end return out")
        lines = [line for line in self.cli("EVAL", script, "0", f"{prefix}:name:*").split("\n")
                 if line]
        return {key: value.split("\t")[1] for key, value in zip(lines[::2], lines[1::2],
                                                                strict=True)}

    def close(self) -> None:
        self.stop()


class TcpServer:
    """A TCP server on a free port of 127.0.0.1: each connection served by `_serve` in a
    thread of its own until `close()`. The servers below say what they answer."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port: int = self.listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        _close(self.listener)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        raise NotImplementedError


class Link(TcpServer):
    """A TCP proxy from one host to Redis. `cut()`: nothing more gets through either way
    (connections are still accepted, answers never come), as when this host alone is cut
    off; `garble(reply)`: whatever the host sends is answered with `reply` (a middlebox or
    an HTTP server answering in Redis's place); `heal()`: the stalled connections are
    dropped and new ones get through again."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self._cut = threading.Event()
        self._garbage: bytes | None = None
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        super().__init__()  # last: connections are served from here on

    def cut(self) -> None:
        self._cut.set()

    def garble(self, reply: bytes) -> None:
        self._garbage = reply

    def heal(self) -> None:
        with self._lock:
            stalled, self._socks = self._socks, []
        for s in stalled:
            _close(s)
        self._cut.clear()
        self._garbage = None

    def close(self) -> None:
        super().close()
        self.heal()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self._socks.append(client)
        while self._cut.is_set() and not self._closed.is_set():
            time.sleep(0.02)  # cut: the connection is accepted, nothing ever answers
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
        except OSError:
            _close(client)
            return
        with self._lock:
            self._socks.append(upstream)
        pair = {client: upstream, upstream: client}
        try:
            while not self._closed.is_set():
                if self._cut.is_set():
                    time.sleep(0.02)  # hold whatever arrives: it never gets through
                    continue
                ready, _, _ = select.select(list(pair), [], [], 0.05)
                for s in ready:
                    data = s.recv(65536)
                    if not data or self._cut.is_set():
                        if not data:
                            return
                        continue
                    garbage = self._garbage
                    if garbage is not None:
                        if s is client:  # answered here; Redis's own answers are dropped
                            client.sendall(garbage)
                        continue
                    pair[s].sendall(data)
        except (OSError, ValueError):  # closed by heal() meanwhile
            return
        finally:
            _close(client)
            _close(upstream)


def _close(s: socket.socket) -> None:
    try:
        s.close()
    except OSError:
        pass


class Host:
    """One host: its own hostname, pid namespace, /proc, HOME and codename state."""

    def __init__(self, root: Path, hostname: str, config: str) -> None:
        require_root()
        self.name = hostname
        self.root = root / f"{hostname}-{free_port()}"
        self.home = self.root / "home"
        self.runtime = self.root / "run"
        for d in (self.home / ".config" / "codename", self.home / ".local" / "state",
                  self.runtime):
            d.mkdir(parents=True, exist_ok=True)
        self.runtime.chmod(0o700)
        self.config_file = self.home / ".config" / "codename" / "config.toml"
        self.config_file.write_text(config)
        self.config_file.chmod(0o600)
        self.env = {
            "HOME": str(self.home),
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(REPO),
        }
        self.proc = subprocess.Popen(
            ["unshare", "--uts", "--pid", "--fork", "--mount-proc", "sh", "-c",
             f"hostname {hostname} && exec sleep 100000"], env=self.env)
        self.init = int(wait_for(self._init_pid, f"host {hostname} to start", 20))  # type: ignore[call-overload]

    def _init_pid(self) -> int:
        """The namespace's pid 1 (as seen from outside) once it has taken its hostname."""
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return 0
        for kid in kids.split():
            try:
                comm = Path(f"/proc/{kid}/comm").read_text().strip()
            except OSError:
                continue
            if comm == "sleep":
                return int(kid)
        return 0

    @property
    def state(self) -> Path:
        return self.home / ".local" / "state" / "codename"

    @property
    def presence(self) -> Path:
        return self.runtime / "codename"

    def run(self, *argv: str, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """ARGV inside the host (its namespaces), with the host's environment."""
        return subprocess.run(["nsenter", "-t", str(self.init), "-u", "-p", "-m", "--", *argv],
                              env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, cwd=self.home, stdin=subprocess.DEVNULL)

    def codename(self, *args: str, env: dict[str, str] | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-m", "codename_shell", *args, env=env, timeout=timeout)

    def holder(self) -> int:
        """A live process on this host, a stand-in for a terminal; its pid as the host sees it."""
        r = self.run("sh", "-c", "sleep 100000 >/dev/null 2>&1 </dev/null & echo $!")
        assert r.returncode == 0, r.stderr
        return int(r.stdout.strip())

    def claim(self, pid: int, *extra: str) -> str:
        r = self.codename("claim", "--pid", str(pid), "--json", *extra)
        assert r.returncode == 0, (self.name, r.returncode, r.stderr)
        name: str = json.loads(r.stdout)["name"]
        return name

    def who(self, *extra: str) -> list[dict[str, object]]:
        r = self.codename("who", "--json", *extra)
        assert r.returncode == 0, (self.name, r.stderr)
        rows: list[dict[str, object]] = json.loads(r.stdout)
        return rows

    def shown(self, pids: Iterable[int], rule: str = PRESENCE_RULE) -> dict[int, str]:
        """The name each of `pids` shows now, read from outside the host at once: see `shown`.
        By the presence rule unless told: what the presence file says, as `a.shown` tests
        of the keeper's own renames read it; `shown` for what the prompt draws."""
        return shown(self.runtime, pids, rule)

    def kill(self, pid: int, sig: str = "KILL") -> None:
        self.run("kill", f"-{sig}", str(pid))

    def keeper_pids(self) -> list[int]:
        """The keeper processes running in this host (pids as seen from outside)."""
        found = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                cmd = (d / "cmdline").read_bytes()
                env = (d / "environ").read_bytes()
            except OSError:
                continue
            if b"fleet.keeper" in cmd and str(self.home).encode() in env:
                found.append(int(d.name))
        return found

    def vanish(self) -> None:
        """The host is gone: every process in it dies at once, nothing gets to clean up."""
        if self.proc.poll() is None:
            try:
                os.kill(self.init, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=20)

    def close(self) -> None:
        self.vanish()
        shutil.rmtree(self.root, ignore_errors=True)


# --- what a holder's prompt shows ---------------------------------------------------------

def shown(runtime: Path, pids: Iterable[int], rule: str = LEASE_RULE) -> dict[int, str]:
    """THE SHOWN NAME RULE: the name each of `pids` (pids as their host sees them) shows now, as
    its prompt would draw it; `runtime` is the holders' $XDG_RUNTIME_DIR. The hooks
    (shell/codename.bash, .zsh, .fish) implement the same rule: a change here is one there.

    1. The name: the first tab-separated field of the first line of the holder's presence
       file, `$XDG_RUNTIME_DIR/codename/<ident>` (ident: `<pid>-<start>`, or
       `<pid>-<start>-<pid namespace number>`). No file, or an empty one (released): the
       holder shows no name and is left out.
    2. A name with "@" in it is already host-qualified (`Pam@vm~3f2a9c`): shown as it is.
    3. A plain name is shown plain only while a lease vouches for it: the lease file
       `$XDG_RUNTIME_DIR/codename-fleet/<ident>.lease` exists and its first line is
       `<deadline>\t<name>\t…` with that very name and a deadline still ahead,
       `int(float(uptime)) < int(deadline)`. The deadline is whole seconds on CLOCK_BOOTTIME,
       the clock of /proc/uptime's first field (the keeper and a claim count leases on it),
       and one clock for every namespace of this kernel, so it can be read from outside.
       Anything else (no file, another name, a deadline gone or unreadable) and the holder
       shows `<name>@…`: host-qualified, whatever the qualifier; never a plain name on faith.

    `rule=PRESENCE_RULE` skips step 3: the presence name as it is, the rule before leases,
    which lets a harness show that it does see a plain name on two hosts when one is shown.
    """
    wanted = set(pids)
    out: dict[int, str] = {}
    presence = runtime / "codename"
    try:
        entries = os.listdir(presence)
    except FileNotFoundError:
        return out
    now: int | None = None
    for entry in entries:
        pid, _, _rest = entry.partition("-")
        if "." in entry or not pid.isdigit() or int(pid) not in wanted:
            continue  # temp files are `<ident>.<writer pid>.tmp`
        name = _first_field(presence / entry)
        if not name:
            continue
        if rule == LEASE_RULE and "@" not in name:
            if now is None:
                now = int(float(Path("/proc/uptime").read_text().split()[0]))
            if not _vouched(runtime / "codename-fleet" / f"{entry}.lease", name, now):
                name = f"{name}@…"
        out[int(pid)] = name
    return out


def _first_field(path: Path) -> str:
    """The first tab-separated field of `path`'s first line ("" when it cannot be read)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            line = f.readline()
    except OSError:
        return ""
    return line.rstrip("\n").split("\t", 1)[0]


def _vouched(lease: Path, name: str, now: int) -> bool:
    try:
        with open(lease, encoding="utf-8", errors="replace") as f:
            fields = f.readline().rstrip("\n").split("\t")
    except OSError:
        return False
    deadline = fields[0]
    return (len(fields) >= 2 and fields[1] == name and deadline.isascii()
            and deadline.isdigit() and now < int(deadline))


def plain(names: object) -> set[str]:
    """The names among `names` that are plain fleet names (no host qualifier)."""
    return {n for n in names if isinstance(n, str) and "@" not in n}  # type: ignore[attr-defined]


def reap_keepers(marker: Path) -> None:
    """End keepers that claims outside any host left behind (their environ names `marker`)."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if b"fleet.keeper" in (d / "cmdline").read_bytes() \
                    and str(marker).encode() in (d / "environ").read_bytes():
                os.kill(int(d.name), signal.SIGKILL)
        except OSError:
            pass


class NotRedis(TcpServer):
    """A TCP server that is not Redis: it answers whatever a client sends with `reply`, then
    `stream` bytes more (a reply announcing a huge string, say), and keeps the connection."""

    def __init__(self, reply: bytes, stream: int = 0) -> None:
        self.reply = reply
        self.stream = stream
        super().__init__()

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _serve(self, client: socket.socket) -> None:
        chunk = b"a" * (1 << 20)
        try:
            client.settimeout(30)
            if not client.recv(65536):
                return
            client.sendall(self.reply)
            left = self.stream
            while left > 0 and not self._closed.is_set():
                client.sendall(chunk[:left])
                left -= len(chunk)
            while not self._closed.is_set() and client.recv(65536):
                client.sendall(self.reply)
        except OSError:
            pass
        finally:
            _close(client)


class ScriptServer(TcpServer):
    """A hostile Redis: it reads each command as Redis would, answers every script call
    (EVALSHA, EVAL) with `reply` (RESP bytes, which a test may change at any time), PING with
    PONG, AUTH and SELECT with OK, and anything else with an error. `scripts` counts the
    script calls answered: a test can tell a claim that asked from one that did not."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.scripts = 0
        super().__init__()

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _serve(self, client: socket.socket) -> None:
        buf = b""
        try:
            client.settimeout(30)
            while not self._closed.is_set():
                command, buf = _command(buf)
                if command is None:
                    data = client.recv(65536)
                    if not data:
                        return
                    buf += data
                    continue
                verb = command[0].upper() if command else b""
                if verb in (b"EVALSHA", b"EVAL"):
                    self.scripts += 1
                    client.sendall(self.reply)
                elif verb == b"PING":
                    client.sendall(b"+PONG\r\n")
                elif verb in (b"AUTH", b"SELECT"):
                    client.sendall(b"+OK\r\n")
                else:
                    client.sendall(b"-ERR not offered here\r\n")
        except OSError:
            pass
        finally:
            _close(client)


def _command(buf: bytes) -> tuple[list[bytes] | None, bytes]:
    """The first whole command in `buf` (a RESP array of bulk strings) and what follows it;
    (None, buf) while it is incomplete."""
    if not buf.startswith(b"*") or b"\r\n" not in buf:
        return None, buf
    head, rest = buf.split(b"\r\n", 1)
    args = []
    for _ in range(int(head[1:])):
        if b"\r\n" not in rest:
            return None, buf
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line[1:])
        if len(rest) < size + 2:
            return None, buf
        args.append(rest[:size])
        rest = rest[size + 2:]
    return args, rest


def resp(*items: bytes) -> bytes:
    """A RESP array of bulk strings: what a script returns as `{"ok", name, full, ""}`."""
    return b"*%d\r\n" % len(items) + b"".join(b"$%d\r\n%s\r\n" % (len(i), i) for i in items)
