"""Real bash, zsh and fish on a pseudo-terminal, each in its test's own HOME.

The rc files are written the way users (and the acceptance harness) write them: the one hook
line, with `codename` found on the PATH (the test venv's bin directory comes first there).
Every shell gets a plain, known prompt (`P> `) unless a test says otherwise, so what the hook
adds to it can be read off the screen exactly.

A `Terminal` is driven in lock step: it waits for the first prompt when it starts, and every
command typed through `run` or `ask` is followed by waiting for the next prompt, so the
prompt a test looks at is always the one its own command produced.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
from conftest import World, require
from helpers import ledger_rows

SHELLS = ("bash", "zsh", "fish")
TIMEOUT = 90  # generous: two slow cores, and each shell start runs Python once
PROMPT = "P> "

HOOK = {
    "bash": 'eval "$(codename init bash)"\n',
    "zsh": 'eval "$(codename init zsh)"\n',
    "fish": "codename init fish | source\n",
}
PLAIN_PROMPT = {
    "bash": f"PS1='{PROMPT}'\n",
    # PROMPT_SP would print a `%` and a screenful of blanks before each prompt.
    "zsh": f"PROMPT='{PROMPT}'\nunsetopt prompt_sp\n",
    "fish": f"set -g fish_greeting ''\nfunction fish_prompt; printf '{PROMPT}'; end\n",
}
PID = {"bash": '"$$"', "zsh": '"$$"', "fish": '"$fish_pid"'}

# Terminal control sequences: colours and cursor moves (CSI), titles (OSC), charset switches.
_ESCAPES = re.compile(r"\x1b\[[0-9;?>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                      r"|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


def visible(text: str) -> str:
    """What a person sees of the terminal output: the control sequences taken out."""
    return _ESCAPES.sub("", text).replace("\r", "")


def titles(text: str) -> list[str]:
    """The window titles (OSC 0 and 2) the shell set, in order."""
    return re.findall(r"\x1b\][02];([^\x07\x1b]*)(?:\x07|\x1b\\)", text)


def rc_path(world: World, shell: str) -> Path:
    return {
        "bash": world.home / ".bashrc",
        "zsh": world.home / ".zshrc",
        "fish": world.config / "fish" / "config.fish",
    }[shell]


def write_rc(world: World, shell: str, before: str = "", after: str = "") -> Path:
    """The shell's rc file: a known prompt, `before`, the hook line, `after`."""
    path = rc_path(world, shell)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PLAIN_PROMPT[shell] + before + HOOK[shell] + after)
    return path


def shell_argv(world: World, shell: str) -> list[str]:
    return {
        "bash": [require("bash"), "--noprofile", "--rcfile", str(world.home / ".bashrc"), "-i"],
        "zsh": [require("zsh"), "-i"],
        "fish": [require("fish"), "-i"],
    }[shell]


def shell_env(world: World, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**world.env, "ZDOTDIR": str(world.home),
           "XDG_DATA_HOME": str(world.home / ".local" / "share")}
    # fish builds completions from man pages with Python at its first start; that process
    # is fish's, not ours, and would only muddle the checks that count Python processes.
    (world.home / ".local" / "share" / "fish" / "generated_completions").mkdir(
        parents=True, exist_ok=True)
    return {**env, **(extra or {})}


def default_signals() -> None:
    """Run in the shell's process before exec: every signal at its default, none blocked.

    A terminal emulator starts its shell so. Without this the shell would inherit the test
    run's dispositions: under `nohup pytest` SIGHUP is ignored, fish keeps it ignored, and a
    closed terminal would not end the shell.
    """
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # signals the C library keeps for itself
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


class Terminal:
    """One shell on its own pseudo-terminal, driven by typing lines into it."""

    def __init__(self, world: World, shell: str, *, env: dict[str, str] | None = None,
                 argv: list[str] | None = None, prompt: str | None = re.escape(PROMPT)) -> None:
        """Start the shell; unless `prompt` is None, wait for its first prompt (a regex)."""
        self.world = world
        self.shell = shell
        self.prompt = prompt
        self.transcript = io.StringIO()
        argv = argv or shell_argv(world, shell)
        self.child = pexpect.spawn(argv[0], argv[1:], env=shell_env(world, env),
                                   cwd=str(world.home), encoding="utf-8",
                                   codec_errors="replace", timeout=TIMEOUT,
                                   dimensions=(50, 250), preexec_fn=default_signals)
        self.child.logfile_read = self.transcript
        self._asked = 0
        #: Everything shown up to and including the first prompt.
        self.startup = self.wait_prompt() if prompt is not None else ""

    @property
    def pid(self) -> int:
        return int(self.child.pid)

    def type(self, line: str) -> None:
        self.child.sendline(line)

    def wait_prompt(self) -> str:
        """Wait for the next prompt; return what was shown up to and including it."""
        assert self.prompt is not None
        self.child.expect(self.prompt)
        return visible(str(self.child.before) + str(self.child.after))

    def run(self, line: str) -> str:
        """Type `line`, wait for the prompt after it; return what was shown (prompt included)."""
        self.type(line)
        return self.wait_prompt()

    def ask(self, expression: str) -> str:
        """What `expression` (shell syntax, e.g. '"$CODENAME"') is in this shell now."""
        self._asked += 1
        # The answer is marked `ASK-n:…:END`; the line as typed reads `ASK n`, so the echo
        # of the command itself never matches.
        self.type(f"printf '%s-%s:%s:END\\n' ASK {self._asked} {expression}")
        self.child.expect(rf"ASK-{self._asked}:(.*?):END\r\n")
        answer = str(self.child.match.group(1)).replace("\r\n", "\n")  # the tty's newlines
        if self.prompt is not None:
            self.wait_prompt()
        return answer

    def screen(self) -> str:
        """All the visible output so far."""
        return visible(self.transcript.getvalue())

    def exit(self, command: str = "exit") -> int | None:
        """Leave the shell with `command`; return its exit status."""
        self.type(command)
        return self.wait_gone()

    def wait_gone(self) -> int | None:
        self.child.expect(pexpect.EOF)
        self.child.wait()
        status: int | None = self.child.exitstatus
        return status

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.pid, sig)

    def hang_up(self) -> None:
        """Close the terminal's master side, as a closing window does: the kernel sends the
        shell SIGHUP. (pexpect's own close() would go on to signal the shell itself.)"""
        self.child.ptyproc.fileobj.close()

    def close(self) -> None:
        if self.child.isalive():
            self.child.close(force=True)



# What the `terminal` fixture (conftest.py) hands a test: open_terminal(shell, **kwargs).
OpenTerminal = Callable[..., Terminal]

def wait_until(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    """Poll `predicate` until it is true; fail naming `what` otherwise (a deadline that stops
    a hung test, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def holders(world: World) -> dict[int, str]:
    """`codename who --json` as {pid: name}."""
    r = world.run("who", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == len({row["pid"] for row in rows}), rows
    return {int(row["pid"]): str(row["name"]) for row in rows}


def claim_for_a_sleeper(world: World) -> str:
    """The name the next holder gets (a `sleep` process, as a job or a spare would be)."""
    return world.claim(world.sleeper().pid)


def presence_file(world: World, ident: str) -> Path:
    """A shell's presence file, named by its CODENAME_ID (`<pid>-<start>`)."""
    return world.presence_dir / ident


def released(path: Path) -> bool:
    """Whether the hook gave the name back: it empties the file (a later claim removes it)."""
    return not path.exists() or path.read_text() == ""


def emptied_by_the_hook(path: Path) -> bool:
    """Whether the shell's own exit hook gave the name back: its presence file is still there,
    and empty. (A file that is gone could as well have been reaped as a ghost.)"""
    return path.exists() and path.read_text() == ""


def closing_event(world: World, pid: int) -> str | None:
    """How the ledger closed the last row of `pid`: `released` (given back), `reaped` (found
    dead), or None while it is open."""
    events = [event for event, _, fields in ledger_rows(world) if fields.get("pid") == str(pid)]
    return events[-1] if events and events[-1] in ("released", "reaped") else None


def nothing_claimed(world: World) -> bool:
    """No presence file, no ledger row, no live holder: as if codename had not run."""
    files = list(world.presence_dir.iterdir()) if world.presence_dir.exists() else []
    ledger = world.ledger.read_text() if world.ledger.exists() else ""
    rows = [line for line in ledger.splitlines() if line.strip() and not line.startswith("#")]
    return files == [] and rows == [] and holders(world) == {}


def traced(strace: str, trace: Path, argv: list[str]) -> list[str]:
    """`argv` run under `strace -f`, logging the process starts to `trace`."""
    return [strace, "-f", "-qq", "-o", str(trace), "-e", "trace=execve,fork,vfork,clone,clone3",
            *argv]


def python_starts(trace: Path) -> list[str]:
    """The execve lines of an `strace -f` log that started Python (or a codename launcher)."""
    lines = trace.read_text().splitlines() if trace.exists() else []
    return [line for line in lines if "execve(" in line and " = -1 " not in line
            and re.search(r'execve\("[^"]*/(codename|python[0-9.]*)"', line)]


def last_line(shown: str) -> str:
    """The last line of what a terminal showed (the prompt, after `run`)."""
    lines = shown.splitlines()
    return lines[-1] if lines else ""
