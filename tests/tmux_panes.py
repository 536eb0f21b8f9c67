"""Real shells in real tmux panes, each test with a tmux server of its own (as the acceptance
harness drives them): panes in sessions and windows, and a real client attached on a
pseudo-terminal, which `codename attach` switches.

The server starts in the test's world (its HOME, XDG dirs and PATH), so every pane's shell
reads the world's rc files and runs the codename under test. A pane is driven by typing
into it (`send-keys`); what it shows is read with `capture-pane` (scrollback included), and
a question (`ask`) is answered through a file, so that no answer depends on the screen.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pexpect
from conftest import World, require
from terminals import TIMEOUT, shell_argv, shell_env, wait_until


class Tmux:
    """A tmux server of the test's own (`-L <name>`), its panes, and one attached client."""

    def __init__(self, world: World, env: dict[str, str] | None = None,
                 label: str = "") -> None:
        self.binary = require("tmux")
        self.world = world
        self.name = f"cn-{os.getpid()}-{world.root.name}{label}"[-60:]
        self.env = shell_env(world, env)
        self.sessions: list[str] = []
        self.client: pexpect.spawn | None = None
        self._asked = 0
        self.label = label

    @property
    def socket(self) -> str:
        return f"/tmp/tmux-{os.getuid()}/{self.name}"

    def __call__(self, *args: str, check: bool = True) -> str:
        r = subprocess.run([self.binary, "-L", self.name, "-f", "/dev/null", *args],
                           env=self.env, capture_output=True, text=True, timeout=30)
        if check:
            assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    def open(self, shell: str, *, session: str = "a", argv: list[str] | None = None) -> str:
        """A pane running `shell` interactively (or `argv`), in a new window of `session`
        (made if need be); its pane id (`%3`)."""
        command = argv or shell_argv(self.world, shell)
        if session in self.sessions:
            out = self("new-window", "-P", "-F", "#{pane_id}", "-t", f"{session}:",
                       "-c", str(self.world.home), *command)
        else:
            out = self("new-session", "-d", "-P", "-F", "#{pane_id}", "-s", session,
                       "-x", "200", "-y", "50", "-c", str(self.world.home), *command)
            self.sessions.append(session)
        return out.strip()

    def type(self, pane: str, line: str) -> None:
        self("send-keys", "-t", pane, "-l", line)
        self("send-keys", "-t", pane, "Enter")

    def screen(self, pane: str) -> str:
        """What the pane shows, its scrollback included (as text: colours left out)."""
        return self("capture-pane", "-p", "-J", "-S", "-", "-t", pane, check=False)

    def wait_for(self, pane: str, text: str) -> str:
        """Wait until the pane shows `text`; its screen then."""
        found: list[str] = []

        def shows() -> bool:
            found[:] = [self.screen(pane)]
            return text in found[0]

        wait_until(shows, f"pane {pane} to show {text!r}; it shows:\n{self.screen(pane)[-800:]}")
        return found[0]

    def ask(self, pane: str, expression: str) -> str:
        """What `expression` (shell syntax) is in the shell of `pane`, written to a file by
        that shell itself; waiting for it also waits for that command's prompt to come."""
        self._asked += 1
        out = self.world.root / f"tmux-ask{self.label}-{self._asked}"
        self.type(pane, f"printf '%s\\n' {expression} > {out}.tmp; mv {out}.tmp {out}")
        wait_until(out.exists, f"the shell in {pane} to answer; it shows:\n"
                               f"{self.screen(pane)[-800:]}")
        return out.read_text().rstrip("\n")

    def prompt(self, pane: str) -> None:
        """A new prompt in `pane` (Enter on an empty line), waited for."""
        self.ask(pane, "drawn")

    def pane_pid(self, pane: str) -> int:
        return int(self("display-message", "-p", "-t", pane, "#{pane_pid}").strip())

    def attach(self, session: str = "a") -> pexpect.spawn:
        """A real client attached to `session`, on a pseudo-terminal of its own."""
        self.client = pexpect.spawn(self.binary, ["-L", self.name, "attach", "-t", session],
                                    env=self.env, dimensions=(50, 200), timeout=TIMEOUT)
        wait_until(lambda: self.client_pane() != "", "the client to attach")
        return self.client

    def client_pane(self) -> str:
        """The pane the attached client shows now ("" while none is attached)."""
        return self("list-clients", "-F", "#{pane_id}", check=False).strip()

    def close(self) -> None:
        if self.client is not None and self.client.isalive():
            self.client.close(force=True)
        self("kill-server", check=False)
        deadline = time.monotonic() + 10
        while Path(self.socket).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
