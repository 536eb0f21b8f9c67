"""A local redis-server on a free port of 127.0.0.1, for the rows that run codename with a fleet.

The server is started empty, without persistence, and put in use for each fleet name (prefix)
the benchmark's config files name: its `<prefix>:epoch` key set, as a fleet that has been in
use has it. A Redis without that key is a new or emptied fleet, whose first lease hands out
host-qualified names only (fleet/scripts.py, EPOCH): the figures would measure that quiet
period, not a claim. Commands go over a plain socket in Redis's own protocol, so neither
redis-cli nor a client library is needed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

from bench.common import Bench, BenchError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """`with RedisServer(bench, prefixes) as url:` a fleet in use at `url`; None without
    redis-server. On the way out the server stops, and so do the keepers the benchmark's
    claims started (one per world that claimed with a fleet)."""

    def __init__(self, bench: Bench, prefixes: tuple[str, ...] = ("codename",)) -> None:
        self.bench = bench
        self.prefixes = prefixes
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def version(self) -> str:
        if self.binary is None:
            return "not installed"
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True).stdout
        return next((w.removeprefix("v=") for w in out.split() if w.startswith("v=")), "?")

    def __enter__(self) -> str | None:
        if self.binary is None:
            return None
        rdir = os.path.join(self.bench.tmp, f"redis-{self.port}")
        os.makedirs(rdir, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", rdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:  # a bound on waiting for the server to listen
            try:
                self.command("PING")
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise BenchError("redis-server did not start listening") from None
                time.sleep(0.05)
        for prefix in self.prefixes:
            self.command("SET", f"{prefix}:epoch", "1")
        return self.url

    def command(self, *words: str) -> bytes:
        """One command, its raw reply (enough for PING and SET)."""
        wire = f"*{len(words)}\r\n".encode() + b"".join(
            f"${len(w.encode())}\r\n".encode() + w.encode() + b"\r\n" for w in words)
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(wire)
            reply = s.recv(4096)
        if not reply or reply.startswith(b"-"):
            raise BenchError(f"redis-server answered {' '.join(words)} with {reply!r}")
        return reply

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        stop_keepers(self.bench)


def stop_keepers(bench: Bench) -> None:
    """The fleet's keepers of the benchmark's worlds (started by its claims): stopped here.
    Each is known by its environment, which names the benchmark's directory."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                mine = bench.tmp.encode() in f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                keeper = b"keeper" in f.read()
        except OSError:
            continue
        if mine and keeper:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass
