#!/usr/bin/env python3
"""How much a new terminal pays for codename: the startup benchmark of issue 4.

    .venv/bin/python bench/startup.py             # the full run (about 2 minutes on 2 cores)
    .venv/bin/python bench/startup.py --quick     # a smoke run: few pairs, not figures to quote
    .venv/bin/python bench/startup.py --markdown  # the table as Markdown, for the README

By default it measures the launcher install.sh installs: it writes one into its temporary
directory with `PY -m codename_shell.launcher DIR/launcher/codename`, PY being the Python of
the `codename` next to the interpreter that runs this script. `--codename PATH` measures that
one instead. Either is compared with its own interpreter, on this machine, in this run.
Standard library only; not part of the pytest suite (no timing assertion belongs there).

Everything happens in a private world under a temporary directory: HOME, XDG_CONFIG_HOME,
XDG_STATE_HOME, XDG_RUNTIME_DIR (mode 0700), XDG_DATA_HOME and XDG_CACHE_HOME are set for
every process it starts, and the environment is built from scratch (no CODENAME* or PYTHON*
variable leaks in). The two sides of each comparison are alternated (A,B,B,A,A,B…), so
drift (CPU frequency, a noisy neighbour) hits both; each figure is a median.

What is measured (see bench/README.md for the reasoning):
  1. `codename init bash` as an rc file runs it, `out=$(codename init bash)`, timed by bash
     itself ($EPOCHREALTIME) in a fresh interactive bash on a fresh pty (its controlling
     terminal), so each run really claims a name for a new shell; against `python -c pass`
     run the same way. (1b) pip's console-script wrapper, when the environment has one,
     against codename's launcher.
  2. interactive bash, zsh and fish started on a pty, up to their first prompt, then `exit`:
     rc file with the hook against the same rc file without it.
  3. `codename claim --pid P` among 0, 150 and 1,000 live holders.
  4. `codename claim` with an empty ledger against one that had 100,000 rows of history:
     the one-off first claim (it compacts) and the steady state after it.
  5. 50 concurrent claims against 50 sequential ones (wall time of the batch).
  6. peak RSS of the `init` process against the bare interpreter's (ru_maxrss, os.wait4);
     (6b) the same through pip's wrapper.
  7. under strace, when it is installed: a prompt redraw starts no process, an exit no Python.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import platform
import re
import select
import shlex
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
MARKER = "BENCH-PROMPT>"

# Targets of issue 4: comparison -> highest ratio allowed.
TARGET_INIT = 2.0
AIM_INIT = 1.25
TARGET_HOLDERS_150 = 1.5
TARGET_LEDGER = 1.1
TARGET_MEMORY = 1.2

# How an rc file runs the hook, timed by the shell that runs it: an interactive bash sources
# this with the command as its arguments. Its stderr goes to $BENCH_ERR (the command's
# warnings) without a redirection on the command itself, which would change how bash forks.
TIMED_SH = r"""# bench/startup.py: time one command the way `eval "$(codename init bash)"` runs it
exec 9>&2 2>"$BENCH_ERR"
s=$EPOCHREALTIME
out=$("$@")
e=$EPOCHREALTIME
printf 'T %s %s %s %s\n' "$s" "$e" "${#out}" "$$"
if [[ -n ${BENCH_WHO-} ]]; then "$BENCH_WHO" who --json; fi
# What the rest of the rc file does with it: the hook installs itself in this interactive
# shell, and its EXIT trap gives the name back when the `exit` typed after this line runs,
# as a closing terminal does; the next claim sweeps that released row: the steady state of
# a machine that opens terminals all day.
eval "$out" >/dev/null
exec 2>&9 9>&-
"""


# (6) Starts the command, waits for it, prints its peak RSS (KiB) on stderr.
REPORTER = """import os, sys
argv = sys.argv[1:]
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"RSS {usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --- processes ------------------------------------------------------------------------------

class _Alarm(Exception):
    pass


def _on_alarm(signum: int, frame: object) -> None:
    raise _Alarm


def wait4(pid: int, timeout: float = 60.0) -> tuple[int, object]:
    """Block until `pid` exits (no polling: it would blur the timing); (exit code, rusage)."""
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        _, status, usage = os.wait4(pid, 0)
    except _Alarm:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.wait4(pid, 0)
        raise BenchError(f"pid {pid} did not finish within {timeout:.0f} s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return os.waitstatus_to_exitcode(status), usage


def _take_terminal() -> None:
    # Runs in the child after setsid() and after the pty slave became fd 0: make it the
    # controlling terminal, as a terminal emulator does for the shell it starts.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def open_pty() -> tuple[int, int]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    return master, slave


def popen_on_pty(argv: list[str], env: dict[str, str], cwd: str, slave: int,
                 stdout: int | None, stderr: int | None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, env=env, cwd=cwd, stdin=slave,
        stdout=slave if stdout is None else stdout,
        stderr=slave if stderr is None else stderr,
        start_new_session=True, preexec_fn=_take_terminal,
    )


# --- a private world ------------------------------------------------------------------------

class World:
    """One user's codename state, all of it under `root`."""

    def __init__(self, bench: Bench, name: str) -> None:
        self.bench = bench
        self.root = os.path.join(bench.tmp, name)
        self.home = os.path.join(self.root, "home")
        self.config = os.path.join(self.root, "config")
        self.state = os.path.join(self.root, "state")
        self.runtime = os.path.join(self.root, "runtime")
        self.data = os.path.join(self.root, "data")
        self.cache = os.path.join(self.root, "cache")
        for d in (self.home, self.config, self.state, self.runtime, self.data, self.cache):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.runtime, 0o700)
        # fish generates completions from man pages in the background (with python!) on its
        # first start unless this directory exists: that would skew every fish figure.
        os.makedirs(os.path.join(self.data, "fish", "generated_completions"), exist_ok=True)
        self.env = dict(bench.base_env, HOME=self.home, XDG_CONFIG_HOME=self.config,
                        XDG_STATE_HOME=self.state, XDG_RUNTIME_DIR=self.runtime,
                        XDG_DATA_HOME=self.data, XDG_CACHE_HOME=self.cache)

    @property
    def ledger(self) -> str:
        return os.path.join(self.state, "codename", "ledger.log")

    def codename(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """An untimed `codename ARGS`."""
        r = subprocess.run([self.bench.codename, *args], env=self.env, cwd=self.home,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise BenchError(f"codename {' '.join(args)} exited {r.returncode}: "
                             f"{r.stderr.strip()}")
        return r

    def live(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = json.loads(self.codename("who", "--json").stdout)
        return rows

    def timed_claim(self, pid: int) -> float:
        """Wall ms of `codename claim --pid PID`, seen from the process that starts it."""
        t0 = time.perf_counter()
        p = subprocess.Popen([self.bench.codename, "claim", "--pid", str(pid)], env=self.env,
                             cwd=self.home, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        out, err = p.communicate()
        ms = (time.perf_counter() - t0) * 1000
        if p.returncode != 0 or not out.strip():
            raise BenchError(f"claim --pid {pid} exited {p.returncode}: {err.decode().strip()}")
        if err.strip():
            self.bench.warn(f"claim printed on stderr: {err.decode().strip()}")
        return ms

    def remove(self) -> None:
        if not self.bench.args.keep:
            shutil.rmtree(self.root, ignore_errors=True)


# --- results --------------------------------------------------------------------------------

class Row:
    """One line of the table; every cell is text, made by `compare` or by hand."""

    def __init__(self, key: str, what: str, a: str, b: str, ratio: str = "—", delta: str = "—",
                 target: str = "—", n: int | str = "—", ok: bool | None = None) -> None:
        self.key, self.what, self.a, self.b = key, what, a, b
        self.ratio, self.delta, self.target, self.n, self.ok = ratio, delta, target, n, ok

    def cells(self) -> list[str]:
        verdict = "info" if self.ok is None else ("PASS" if self.ok else "FAIL")
        return [self.key, self.what, self.a, self.b, self.ratio, self.delta, self.target,
                str(self.n), verdict]


HEADERS = ["#", "comparison", "A (median)", "B (median)", "B/A", "B-A", "target", "n", "verdict"]


def fmt_ms(v: float) -> str:
    return f"{v:.1f} ms" if v < 1000 else f"{v / 1000:.2f} s"


def compare(key: str, what: str, a_label: str, a: float, b_label: str, b: float, n: int, *,
            limit: float | None = None, target: str | None = None, unit: str = "ms",
            delta: str | None = None) -> Row:
    """A row for two medians: B/A checked against `limit` when the issue sets one."""
    fmt = fmt_ms if unit == "ms" else (lambda v: f"{v:.1f} {unit}")
    ratio = b / a if a else float("inf")
    if delta is None:
        delta = f"{b - a:+.1f} {unit}"
    return Row(key, what, f"{a_label} {fmt(a)}", f"{b_label} {fmt(b)}", f"{ratio:.2f}x", delta,
               target or (f"<= {limit}x" if limit else "—"), n,
               None if limit is None else ratio <= limit)


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- the benchmark --------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.pairs: int = args.pairs or (5 if args.quick else 30)
        self.batch_pairs: int = args.batch_pairs or (3 if args.quick else 20)
        self.bash = self._need("bash")
        # The codename this environment has (pip's wrapper in a `pip install` venv, the
        # launcher in an install.sh one), or the one given; its Python is the interpreter.
        self.found = self._find_codename(args.codename)
        self.interp = self._interpreter_of(self.found)
        self.given = bool(args.codename)
        self.pip_wrapper = self._pip_wrapper(os.path.join(os.path.dirname(self.interp),
                                                          "codename"))
        self.base_env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "USER": os.environ.get("USER", "bench"),
            "LOGNAME": os.environ.get("LOGNAME", os.environ.get("USER", "bench")),
        }
        self.tmp = tempfile.mkdtemp(prefix="cnbench-")
        os.chmod(self.tmp, 0o700)
        # Set by setup(): codename's launcher written here, and what every row measures.
        self.launcher: str | None = None
        self.codename = self.found
        self.sleep = shutil.which("sleep") or "/bin/sleep"
        self.sleepers: dict[int, subprocess.Popen[bytes]] = {}
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.timed_sh = os.path.join(self.tmp, "timed.sh")
        with open(self.timed_sh, "w") as f:
            f.write(TIMED_SH)
        self.bare_ms: float | None = None
        self.load_at_start = os.getloadavg()[0]  # another busy process blurs every figure
        self.started = time.strftime("%Y-%m-%d %H:%M")
        self.holders: list[int] = []

    # - set-up ---------------------------------------------------------------------------------

    @staticmethod
    def _need(program: str) -> str:
        path = shutil.which(program)
        if path is None:
            raise BenchError(f"{program} is not installed")
        return path

    @staticmethod
    def _find_codename(given: str | None) -> str:
        if given:
            path = os.path.abspath(given)
        else:
            path = os.path.join(os.path.dirname(sys.executable), "codename")
            if not os.access(path, os.X_OK):
                found = shutil.which("codename")
                if found is None:
                    raise BenchError(f"no codename next to {sys.executable}; install the "
                                     "package in this interpreter's environment "
                                     "(pip install -e .) or pass --codename PATH")
                log(f"note: no codename next to {sys.executable}; using {found} from PATH")
                path = found
        if not os.access(path, os.X_OK):
            raise BenchError(f"{path} is not an executable")
        return path

    @staticmethod
    def _interpreter_of(codename: str) -> str:
        """The Python that runs `codename`: its shebang's, else the one running us."""
        try:
            with open(codename, "rb") as f:
                head = f.read(4096).decode("utf-8", "replace")
        except OSError:
            head = ""
        first = head.partition("\n")[0]
        if first.startswith("#!"):
            words = first[2:].split()
            if words and "python" in os.path.basename(words[0]):
                return words[0]
            if len(words) > 1 and os.path.basename(words[0]) == "env" and "python" in words[1]:
                return shutil.which(words[1]) or sys.executable
            # A path no `#!` line can hold: pip's wrappers and codename's launcher then go
            # through sh, with `'''exec' "PYTHON" "$0" "$@"` on their second line.
            m = re.search(r"""^'''exec' "((?:[^"\\]|\\.)*)" "\$0" """, head, re.M)
            if m:
                return re.sub(r"\\(.)", r"\1", m.group(1))
        return sys.executable

    @staticmethod
    def _pip_wrapper(path: str) -> str | None:
        """`path` if it is pip's console-script wrapper for codename (it imports `re`)."""
        try:
            with open(path, "rb") as f:
                text = f.read(4096)
        except OSError:
            return None
        if (re.search(rb"^import re$", text, re.M) and b"re.sub(" in text
                and b"codename_shell" in text):
            return path
        return None

    @staticmethod
    def _kind(path: str) -> str:
        """What a codename script is, from its text (for the machine section)."""
        if Bench._pip_wrapper(path):
            return "pip's console-script wrapper (imports `re`)"
        try:
            with open(path, "rb") as f:
                text = f.read(4096)
        except OSError:
            return "unreadable"
        if b"os._exit(code)" in text and b"from codename_shell.cli import main" in text:
            return "codename's launcher"
        return "another launcher"

    def setup(self) -> None:
        """Write codename's launcher, as install.sh does, for the interpreter under test."""
        d = os.path.join(self.tmp, "launcher")
        os.makedirs(d)
        path = os.path.join(d, "codename")  # a name starting with "codename": see hook.launcher
        r = subprocess.run([self.interp, "-m", "codename_shell.launcher", path],
                           env=dict(self.base_env, HOME=self.tmp), cwd=self.tmp,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        if r.returncode == 0 and os.access(path, os.X_OK):
            self.launcher = path
        else:
            message = (f"`{self.interp} -m codename_shell.launcher {path}` failed "
                       f"(exit {r.returncode}): {r.stderr.strip()}")
            if not self.given:
                raise BenchError(message)
            self.warn(f"{message}; (1b) and (6b) need codename's launcher and are skipped")
        if not self.given:
            assert self.launcher is not None
            self.codename = self.launcher

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            log(f"warning: {message}")

    def sleeper(self) -> int:
        p = subprocess.Popen([self.sleep, "3600"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.sleepers[p.pid] = p
        return p.pid

    def kill(self, pid: int) -> None:
        p = self.sleepers.pop(pid, None)
        if p is not None:
            p.kill()
            p.wait()

    def cleanup(self) -> None:
        for pid in list(self.sleepers):
            self.kill(pid)
        if self.args.keep:
            log(f"kept the benchmark's files in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def machine(self) -> list[tuple[str, str]]:
        r = subprocess.run([self.interp, "-c", "import sys; print(sys.version.split()[0])"],
                           capture_output=True, text=True, env=self.base_env)
        version = subprocess.run([self.codename, "--version"], capture_output=True, text=True,
                                 env=self.base_env).stdout.strip()
        commit = ""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            commit = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"],
                                    capture_output=True, text=True, timeout=10).stdout.strip()
        shells = []
        for sh in ("bash", "zsh", "fish"):
            if shutil.which(sh):
                v = subprocess.run([sh, "--version"], capture_output=True, text=True).stdout
                m = re.search(r"(\d+\.\d+(\.\d+)?)", v)
                shells.append(f"{sh} {m.group(1) if m else '?'}")
        return [
            ("machine", f"{platform.machine()} ({os.uname().sysname} {os.uname().release}), "
                        f"{os.cpu_count()} CPUs"),
            ("python", f"{r.stdout.strip()} ({self.interp})"),
            ("codename", f"{version}" + (f", commit {commit}" if commit else "")),
            ("measured", self.measured()),
            ("shells", ", ".join(shells)),
            ("run", f"{self.started}, "
                    f"{'quick' if self.args.quick else 'full'}: {self.pairs} pairs "
                    f"({self.batch_pairs} for batches); load average at start "
                    f"{self.load_at_start:.2f}"),
        ]

    def measured(self) -> str:
        """Which `codename` the rows measure, and what (1b) and (6b) compare."""
        if self.given:
            what = f"{self.codename} (--codename), {self._kind(self.codename)}"
        else:
            what = (f"codename's launcher, as install.sh installs it: `{self.interp} -m "
                    f"codename_shell.launcher {self.codename}` (first line "
                    f"`{self._first_line(self.codename)}`)")
        if self.pip_wrapper and self.launcher:
            what += f"; pip's wrapper for (1b), (6b): {self.pip_wrapper}"
            if self.given:
                what += f", against codename's launcher written to {self.launcher}"
        else:
            what += f"; no pip wrapper next to {self.interp}: (1b), (6b) skipped"
        return what

    @staticmethod
    def _first_line(path: str) -> str:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().rstrip("\n")

    # - 1 and 6: init as an rc file runs it -----------------------------------------------------

    def shell_timed(self, world: World, argv: list[str],
                    extra_env: dict[str, str] | None = None) -> dict[str, object]:
        """Time `out=$(ARGV)` in a fresh interactive bash on a fresh pty, as bash sees it.

        The shell is what a terminal starts (`bash -i`, the pty its controlling terminal, a
        new pid each time, so init claims a new name every run); the command line
        `source timed.sh ARGV; exit` is typed at it.
        """
        master, slave = open_pty()
        errpath = os.path.join(self.tmp, "timed.err")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(errpath)  # a stale one would hide what this shell said
        errfile = tempfile.TemporaryFile(dir=self.tmp)  # noqa: SIM115 (closed below)
        env = {**world.env, "BENCH_ERR": errpath, "HISTFILE": os.devnull, **(extra_env or {})}
        try:
            p = popen_on_pty([self.bash, "--norc", "--noprofile", "-i"], env, world.home, slave,
                             subprocess.PIPE, errfile.fileno())
            os.close(slave)
            slave = -1
            line = " ".join(shlex.quote(a) for a in ["source", self.timed_sh, *argv])
            os.write(master, f"{line}; exit\n".encode())
            assert p.stdout is not None
            old = signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, 60)
            try:
                out = p.stdout.read().decode("utf-8", "replace")
            except _Alarm:
                p.kill()
                raise BenchError(f"{' '.join(argv)} did not finish within 60 s") from None
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
            p.stdout.close()
            code, _ = wait4(p.pid)
            p.returncode = code
            try:
                with open(errpath, encoding="utf-8", errors="replace") as f:
                    err = f.read()
            except FileNotFoundError:
                errfile.seek(0)  # the shell never got to the script: show what it said
                err = errfile.read().decode("utf-8", "replace")
        finally:
            if slave >= 0:
                os.close(slave)
            os.close(master)
            errfile.close()
        m = re.search(r"^T (\S+) (\S+) (\d+) (\d+)\n", out, re.M)
        if code != 0 or m is None:
            raise BenchError(f"timing {' '.join(argv)} failed (exit {code}): {out!r} {err!r}")
        start, end = (float(x.replace(",", ".")) for x in m.group(1, 2))
        return {"ms": (end - start) * 1000, "hook_len": int(m.group(3)), "pid": int(m.group(4)),
                "rest": out[m.end():], "err": err}

    def nosite_launcher(self) -> str | None:
        """What-if (--launchers): codename's launcher run with `python -S`.

        No `site` module, no .pth files: the launcher puts the package's own directory on
        sys.path itself. That only suits a launcher written for one known install.
        """
        if self.launcher is None:
            return None
        with open(self.launcher, encoding="utf-8") as f:
            text = f.read()
        body = text[text.index("import sys\n"):]  # after the `#!` line (or sh trampoline)
        d = os.path.join(self.tmp, "launcher-nosite")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "codename")  # a name starting with "codename": see hook.launcher
        head = f"#!{self.interp} -S\nimport sys\nsys.path.append({self._package_root()!r})\n"
        with open(path, "w", encoding="utf-8") as f:
            f.write(head + body)
        os.chmod(path, 0o755)
        return path

    def _package_root(self) -> str:
        r = subprocess.run([self.interp, "-c", "import codename_shell, os; "
                            "print(os.path.dirname(os.path.dirname(codename_shell.__file__)))"],
                           capture_output=True, text=True, env=self.base_env, check=True)
        return r.stdout.strip()

    @staticmethod
    def _medians(variants: dict[str, list[str]], rounds: int,
                 run: Callable[[str, list[str]], float]) -> dict[str, tuple[float, int]]:
        """(median, n) per variant: the distinct commands alternated A B … B A, `rounds` times.

        Variants naming the same command (the codename under test may be pip's wrapper or the
        launcher) share one set of runs.
        """
        distinct: dict[tuple[str, ...], str] = {}
        for key, argv in variants.items():
            distinct.setdefault(tuple(argv), key)
        order = list(distinct)
        samples: dict[tuple[str, ...], list[float]] = {argv: [] for argv in order}
        for i in range(rounds):
            for command in (order if i % 2 == 0 else order[::-1]):
                samples[command].append(run(distinct[command], list(command)))
        return {key: (median(samples[tuple(argv)]), len(samples[tuple(argv)]))
                for key, argv in variants.items()}

    def bench_init(self) -> None:
        log("1. codename init bash, as an rc file runs it, against python -c pass …")
        world = World(self, "init")
        variants = {
            "bare": [self.interp, "-c", "pass"],
            "init": [self.codename, "init", "bash"],
        }
        if self.pip_wrapper and self.launcher:
            variants["pip"] = [self.pip_wrapper, "init", "bash"]
            variants["launcher"] = [self.launcher, "init", "bash"]
        nosite = self.nosite_launcher() if self.args.launchers else None
        if nosite:
            variants["nosite"] = [nosite, "init", "bash"]
        # Is a claim really made? Ask `who` from inside the shell that ran init.
        check = self.shell_timed(world, variants["init"], {"BENCH_WHO": self.codename})
        who, _ = json.JSONDecoder().raw_decode(str(check["rest"]).strip() or "[]")
        mine = [r for r in who if r.get("pid") == check["pid"] and r.get("kind") == "terminal"]
        if not mine or not check["hook_len"]:
            raise BenchError("codename init bash made no claim for the shell that ran it "
                             f"(who: {who!r}, stderr: {check['err']!r}); the figures would lie")
        self.notes.append(f"(1) verified: init claimed {mine[0]['name']!r} for the bash that ran "
                          f"it (pid {check['pid']}), seen by `codename who --json` from inside it.")
        for _ in range(2):  # warm the page cache and config.cache, untimed
            for argv in variants.values():
                self.shell_timed(world, argv)

        def run(key: str, argv: list[str]) -> float:
            s = self.shell_timed(world, argv)
            if key != "bare" and not s["hook_len"]:
                raise BenchError(f"init printed no hook (stderr: {s['err']!r})")
            if s["err"]:
                self.warn(f"{key}: stderr: {str(s['err']).strip()}")
            return float(s["ms"])  # type: ignore[arg-type]

        rounds = max(self.pairs, 20) * 2  # cheap: twice the pairs
        got = self._medians(variants, rounds, run)
        ms = {k: v[0] for k, v in got.items()}
        self.bare_ms = ms["bare"]
        self.rows.append(compare("1", "`codename init bash` on a pty, run by bash as `$(…)`",
                                 "python -c pass", ms["bare"], "init", ms["init"],
                                 got["init"][1], limit=TARGET_INIT,
                                 target=f"<= {TARGET_INIT}x (aim {AIM_INIT}x)"))
        if "pip" in ms:
            self.rows.append(compare("1b", "the same init: pip's console-script wrapper "
                                           "(imports `re`) against codename's launcher",
                                     "launcher", ms["launcher"], "pip wrapper", ms["pip"],
                                     got["pip"][1]))
        else:
            self.rows.append(Row("1b", "pip's console-script wrapper against codename's "
                                       "launcher: skipped, no pip wrapper next to "
                                       f"{self.interp}" + ("" if self.launcher else
                                                           " or no launcher"), "—", "—"))
        if "nosite" in ms:
            self.rows.append(compare("1c", "what-if: codename's launcher run with `python -S` "
                                           "(the package dir put on sys.path by the launcher) "
                                           "against `python -c pass`",
                                     "python -c pass", ms["bare"], "-S launcher", ms["nosite"],
                                     got["nosite"][1]))
        self.bench_memory(world, variants)

    def bench_memory(self, world: World, variants: dict[str, list[str]]) -> None:
        """(6) Peak RSS of the init process and of the bare interpreter.

        A child's ru_maxrss starts at its parent's high-water mark (Linux keeps it across
        fork and exec), so a child of this benchmark would report at least our own size.
        The command is therefore started by a minimal reporter (`python -I -S`, smaller than
        either side) from the shell, which waits for it with wait4 and prints its ru_maxrss.
        The reporter runs under a name starting with "codename" (a symlink to the
        interpreter): init takes such a process for a launcher that ran it without `exec`
        and looks past it for its shell, where a plain `python -c` parent would make it
        decline (a shell running a command) and print no hook.
        """
        log("6. peak memory of init against the bare interpreter …")
        d = os.path.join(self.tmp, "reporter")
        os.makedirs(d, exist_ok=True)
        python = os.path.join(d, "codename-rss")
        if not os.path.lexists(python):
            os.symlink(os.path.realpath(self.interp), python)
        reporter = [python, "-I", "-S", "-c", REPORTER]
        sides = {"bare": variants["bare"], "init": variants["init"]}
        if "pip" in variants:
            sides["pip"] = variants["pip"]
        sides["floor"] = [shutil.which("true") or "/bin/true"]

        def run(key: str, argv: list[str]) -> float:
            s = self.shell_timed(world, reporter + argv)
            m = re.search(r"^RSS (\d+)$", str(s["err"]), re.M)
            if m is None:
                raise BenchError(f"the memory reporter said nothing: {s['err']!r}")
            if key not in ("bare", "floor") and not s["hook_len"]:
                raise BenchError("init under the memory reporter printed no hook")
            return int(m.group(1)) / 1024

        got = self._medians(sides, max(self.pairs, 20), run)
        mb = {k: v[0] for k, v in got.items()}
        self.notes.append(f"(6) the reporter's own floor (it starting /bin/true) is "
                          f"{mb['floor']:.1f} MB, below both sides, so neither is clipped.")
        self.rows.append(compare("6", "peak RSS (ru_maxrss, wait4) of init against "
                                      "`python -c pass`",
                                 "python -c pass", mb["bare"], "init", mb["init"],
                                 got["init"][1], limit=TARGET_MEMORY, unit="MB"))
        if "pip" in mb:
            self.rows.append(compare("6b", "peak RSS of init through pip's console-script "
                                           "wrapper (imports `re`) against `python -c pass`",
                                     "python -c pass", mb["bare"], "pip wrapper", mb["pip"],
                                     got["pip"][1], unit="MB"))
        else:
            self.rows.append(Row("6b", "peak RSS of init through pip's wrapper: skipped, no "
                                       f"pip wrapper next to {self.interp}", "—", "—"))

    # - 2: interactive shells -------------------------------------------------------------------

    def shell_argv(self, shell: str, world: World, hook: bool) -> tuple[list[str], dict[str, str]]:
        cn = self.codename
        d = os.path.join(world.root, f"rc-{shell}-{'hook' if hook else 'plain'}")
        os.makedirs(d, exist_ok=True)
        env = dict(world.env)
        if shell == "bash":
            rc = os.path.join(d, "bashrc")
            text = f"PS1='{MARKER} '\n"
            if hook:
                text += f'eval "$({shlex.quote(cn)} init bash)"\n'
            argv = [self._need("bash"), "--noprofile", "--rcfile", rc, "-i"]
        elif shell == "zsh":
            rc = os.path.join(d, ".zshrc")
            text = f"PROMPT='{MARKER} '\n"
            if hook:
                text += f'eval "$({shlex.quote(cn)} init zsh)"\n'
            env["ZDOTDIR"] = d
            argv = [self._need("zsh"), "--no-globalrcs", "-i"]
        else:
            # fish reads $XDG_CONFIG_HOME/fish/config.fish: give each variant its own
            # XDG_CONFIG_HOME, with codename's config dir linked in so both see the same one.
            rc = os.path.join(d, "fish", "config.fish")
            os.makedirs(os.path.dirname(rc), exist_ok=True)
            link = os.path.join(d, "codename")
            if not os.path.lexists(link):
                os.makedirs(os.path.join(world.config, "codename"), exist_ok=True)
                os.symlink(os.path.join(world.config, "codename"), link)
            env["XDG_CONFIG_HOME"] = d
            text = (f"set -g fish_greeting ''\n"
                    f"function fish_prompt; echo -n '{MARKER} '; end\n")
            if hook:
                text += f"{shlex.quote(cn)} init fish | source\n"
            argv = [self._need("fish"), "-i"]
        with open(rc, "w") as f:
            f.write(text)
        return argv, env

    def interactive(self, argv: list[str], env: dict[str, str], cwd: str,
                    typed: list[str], timeout: float = 20.0) -> tuple[float, str]:
        """Start ARGV on a pty; at each prompt type the next line of `typed`; wall ms to exit."""
        master, slave = open_pty()
        out = bytearray()
        marker = MARKER.encode()
        t0 = time.perf_counter()
        p = popen_on_pty(argv, env, cwd, slave, None, None)
        os.close(slave)
        deadline = time.monotonic() + timeout
        todo = list(typed)
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    p.kill()
                    raise BenchError(f"{argv[0]} did not finish: {out[-400:]!r}")
                ready, _, _ = select.select([master], [], [], left)
                if not ready:
                    continue
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every process on the terminal has left it
                    break
                if not chunk:
                    break
                out += chunk
                prompts = out.count(marker)
                while todo and prompts >= len(typed) - len(todo) + 1:
                    os.write(master, (todo.pop(0) + "\n").encode())
            code, _ = wait4(p.pid, timeout)
            p.returncode = code
        finally:
            os.close(master)
        ms = (time.perf_counter() - t0) * 1000
        if todo:
            raise BenchError(f"{argv[0]} left before its prompt: {bytes(out[-400:])!r}")
        return ms, out.decode("utf-8", "replace")

    def bench_shells(self) -> None:
        if self.bare_ms is None:
            raise BenchError("(2) needs (1)'s bare interpreter time")
        for shell in ("bash", "zsh", "fish"):
            if shutil.which(shell) is None:
                self.rows.append(Row(f"2 {shell}", f"interactive {shell}: not installed",
                                     "—", "—"))
                continue
            log(f"2. interactive {shell} start-and-exit, with the hook against without …")
            world = World(self, f"shell-{shell}")
            plain = self.shell_argv(shell, world, hook=False)
            hooked = self.shell_argv(shell, world, hook=True)
            # Warm up (fish writes its universal variables on a first start), and check the
            # hook really named the shell.
            for argv, env in (plain, hooked, plain, hooked):
                self.interactive(argv, env, world.home, ["exit"])
            _, text = self.interactive(hooked[0], hooked[1], world.home,
                                       ['echo "CN=[$CODENAME]"', "exit"])
            m = re.search(r"CN=\[([^\]$\"]+)\]", text)
            if m is None:
                raise BenchError(f"the {shell} hook gave the shell no $CODENAME: {text[-600:]!r}")
            self.notes.append(f"(2) verified: interactive {shell} with the hook got "
                              f"CODENAME={m.group(1)!r}.")
            a: list[float] = []
            b: list[float] = []
            for i in range(self.pairs):
                order = [(plain, a), (hooked, b)]
                for (argv, env), into in (order if i % 2 == 0 else order[::-1]):
                    into.append(self.interactive(argv, env, world.home, ["exit"])[0])
            added = median([y - x for x, y in zip(a, b, strict=True)])
            self.rows.append(compare(
                f"2 {shell}", f"interactive {shell} to its first prompt and `exit`, on a pty: "
                              "rc file with the hook against without",
                "plain rc", median(a), "hook", median(b), self.pairs,
                delta=f"{added:+.1f} ms = {added / self.bare_ms:.2f}x (1)'s bare python"))
            world.remove()

    # - 3: holders ------------------------------------------------------------------------------

    def populate(self, world: World, pids: list[int], parallel: int = 4) -> None:
        """Real claims, `parallel` at a time (the lock serialises the part that matters)."""
        running: list[tuple[int, subprocess.Popen[bytes]]] = []
        todo = list(pids)
        while todo or running:
            while todo and len(running) < parallel:
                pid = todo.pop()
                running.append((pid, subprocess.Popen(
                    [self.codename, "claim", "--pid", str(pid)], env=world.env, cwd=world.home,
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE)))
            pid, p = running.pop(0)
            _, err = p.communicate()
            if p.returncode != 0:
                raise BenchError(f"populating: claim --pid {pid}: {err.decode().strip()}")

    def bench_holders(self) -> None:
        sizes = [0, 150, 300 if self.args.quick else 1000]
        log(f"3. claims among {', '.join(map(str, sizes))} live holders: starting "
            f"{sizes[-1]} sleep processes and claiming a name for each (real claims) …")
        t0 = time.monotonic()
        worlds = {0: World(self, "holders-0")}
        holders = [self.sleeper() for _ in range(sizes[-1])]
        previous = 0
        for n in sizes[1:]:
            w = World(self, f"holders-{n}")
            if previous:  # start from the smaller world's state: fewer claims to make
                for sub in ("state", "runtime"):
                    shutil.rmtree(getattr(w, sub))
                    shutil.copytree(getattr(worlds[previous], sub), getattr(w, sub),
                                    symlinks=True)
            self.populate(w, holders[previous:n])
            worlds[n] = w
            previous = n
        for n, w in worlds.items():
            live = len(w.live())
            if live != n:
                raise BenchError(f"the {n}-holder world has {live} live holders")
        self.notes.append(f"(3) verified: `codename who --json` lists exactly "
                          f"{', '.join(map(str, sizes))} live holders in the three worlds "
                          f"(populated in {time.monotonic() - t0:.0f} s).")
        for w in worlds.values():  # warm: config.cache, page cache
            p = self.sleeper()
            w.timed_claim(p)
            w.codename("release", "--pid", str(p))
            self.kill(p)
        samples: dict[int, list[float]] = {n: [] for n in sizes}
        for i in range(self.pairs):
            for n in (sizes if i % 2 == 0 else sizes[::-1]):
                p = self.sleeper()
                samples[n].append(worlds[n].timed_claim(p))
                worlds[n].codename("release", "--pid", str(p))
                self.kill(p)
        base = median(samples[0])
        for n in sizes[1:]:
            m = median(samples[n])
            self.rows.append(compare(f"3 {n}", f"`codename claim --pid P` among {n} live "
                                               "holders against among none",
                                     "0 holders", base, f"{n} holders", m, self.pairs,
                                     limit=TARGET_HOLDERS_150 if n == 150 else None))
        self.holders = holders

    # - 4: ledger history -----------------------------------------------------------------------

    def history(self, template: tuple[str, str], rows: int) -> bytes:
        """`rows` rows of closed history (claimed/released pairs) in the ledger's own format,
        made from a real claimed row and a real released row of this codename."""
        claimed, released = template
        names = self._cast_names()
        now = int(time.time())
        pid_max = 32768
        try:
            with open("/proc/sys/kernel/pid_max") as f:
                pid_max = int(f.read())
        except (OSError, ValueError):
            pass
        out = []
        pairs = rows // 2
        for i in range(pairs):
            since = now - (pairs - i) * 600  # one terminal every ten minutes, oldest first
            pid = 300 + (i * 7919) % (pid_max - 300)
            start = 1000 + i * 60
            name = names[i % len(names)]
            for tpl, at in ((claimed, since), (released, since + 3000)):
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
                row = tpl.format(stamp=stamp, name=name, pid=pid, start=start,
                                 since=since, beat=since)
                out.append(row)
        return ("\n".join(out) + "\n").encode()

    def _cast_names(self) -> list[str]:
        try:
            themes = json.loads(self.seed.codename("themes", "--json").stdout)
            office = next(t for t in themes if t.get("name") == "office")
            names = [str(n) for n in office["names"]]
            if names:
                return names
        except (BenchError, ValueError, StopIteration, KeyError, AttributeError):
            pass
        return ["Michael", "Dwight", "Jim", "Pam"]

    @staticmethod
    def _template(ledger: str) -> tuple[str, str]:
        """A real claimed row and released row, their variable fields made into {slots}."""
        rows: dict[str, str] = {}
        with open(ledger, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) > 3 and parts[1] in ("claimed", "released"):
                    rows.setdefault(parts[1], line.rstrip("\n"))
        if set(rows) != {"claimed", "released"}:
            raise BenchError(f"{ledger} holds no claimed and released row to copy")

        def slots(line: str) -> str:
            parts = line.replace("{", "{{").replace("}", "}}").split("\t")
            parts[0], parts[2] = "{stamp}", "{name}"
            for i, part in enumerate(parts[3:], 3):
                key, sep, _ = part.partition("=")
                if sep and key in ("pid", "start", "since", "beat"):
                    parts[i] = f"{key}={{{key}}}"
                elif sep and key == "full":
                    parts[i] = "full={name}"
            return "\t".join(parts)

        return slots(rows["claimed"]), slots(rows["released"])

    def bench_ledger(self) -> None:
        log("4. a claim with an empty ledger against one with 100,000 rows of history …")
        seed = World(self, "ledger-seed")  # a real claimed row and released row to copy
        p = self.sleeper()
        seed.timed_claim(p)
        seed.codename("release", "--pid", str(p))
        self.kill(p)
        self.seed = seed
        template = self._template(seed.ledger)
        history = self.history(template, 100_000)
        rows_written = history.count(b"\n")
        empty = World(self, "ledger-empty")
        # The one-off: the first claim after the history piled up in the live file compacts it.
        firsts: list[float] = []
        hist: World | None = None
        for k in range(2 if self.args.quick else 5):
            if hist is not None:
                hist.remove()
            hist = World(self, f"ledger-history-{k}")
            os.makedirs(os.path.dirname(hist.ledger), mode=0o700)
            with open(hist.ledger, "wb") as f:
                f.write(history)
            os.chmod(hist.ledger, 0o600)
            if k == 0:
                r = hist.codename("who", "--json")
                if json.loads(r.stdout) or r.stderr.strip():
                    raise BenchError(f"the written history is not read as closed rows: "
                                     f"{r.stdout[:200]!r} {r.stderr[:300]!r}")
            p = self.sleeper()
            firsts.append(hist.timed_claim(p))
            hist.codename("release", "--pid", str(p))
            self.kill(p)
        assert hist is not None
        live_size = os.path.getsize(hist.ledger)
        archived = [s for s in (".1", ".2") if os.path.exists(hist.ledger + s)]
        self.notes.append(f"(4) the history: {rows_written:,} rows ({len(history) / 1e6:.1f} MB) "
                          f"written in the ledger's format (copied from a real claimed/released "
                          f"pair); after the first claim the live ledger is {live_size} bytes and "
                          f"the history is in ledger.log{'/'.join(archived) or ' (nowhere!)'}.")
        # A live file at its bound: 254 closed rows, as far as it grows before a claim compacts.
        bound_world = World(self, "ledger-bound")
        os.makedirs(os.path.dirname(bound_world.ledger), mode=0o700)
        bound = self.history(template, 254)
        worlds = {"empty": empty, "history": hist, "bound": bound_world}
        for w in worlds.values():
            p = self.sleeper()
            w.timed_claim(p)
            w.codename("release", "--pid", str(p))
            self.kill(p)
        samples: dict[str, list[float]] = {k: [] for k in worlds}
        keys = list(worlds)
        for i in range(self.pairs):
            for key in (keys if i % 2 == 0 else keys[::-1]):
                w = worlds[key]
                if key == "empty":  # untimed: back to no ledger at all
                    for path in (w.ledger, w.ledger + ".1"):
                        if os.path.exists(path):
                            os.unlink(path)
                elif key == "bound":
                    with open(w.ledger, "wb") as f:
                        f.write(bound)
                p = self.sleeper()
                samples[key].append(w.timed_claim(p))
                w.codename("release", "--pid", str(p))
                self.kill(p)
        base = median(samples["empty"])
        first = median(firsts)
        steady = median(samples["history"])
        self.rows.append(compare("4", "`codename claim`, 100,000 rows of history (steady "
                                      "state, after it was compacted) against an empty ledger",
                                 "empty", base, "100k history", steady, self.pairs,
                                 limit=TARGET_LEDGER))
        self.rows.append(compare("4a", "the one-off first claim over 100,000 rows not yet "
                                       "compacted (it compacts them) against an empty ledger",
                                 "empty", base, "first claim", first, len(firsts),
                                 delta=f"{first - base:+.0f} ms, once"))
        self.rows.append(compare("4b", "the live ledger at its bound (254 closed rows, the most "
                                       "it holds before a claim compacts) against empty",
                                 "empty", base, "254 rows", median(samples["bound"]),
                                 self.pairs))

    # - 5: concurrency --------------------------------------------------------------------------

    def bench_batches(self) -> None:
        size = 50
        log(f"5. {size} concurrent claims against {size} sequential ones ({self.batch_pairs} "
            "pairs) …")
        pids = self.holders[:size] if len(self.holders) >= size else \
            [self.sleeper() for _ in range(size)]
        seq: list[float] = []
        conc: list[float] = []
        failures = 0
        duplicates = 0
        for i in range(self.batch_pairs):
            for mode in (("seq", "conc") if i % 2 == 0 else ("conc", "seq")):
                w = World(self, f"batch-{i}-{mode}")
                w.codename("who")  # untimed: the config cache, as on any used machine
                procs = []
                t0 = time.perf_counter()
                if mode == "seq":
                    results = []
                    for pid in pids:
                        p = subprocess.Popen([self.codename, "claim", "--pid", str(pid)],
                                             env=w.env, cwd=w.home, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                        results.append((p, *p.communicate()))
                else:
                    for pid in pids:
                        procs.append(subprocess.Popen(
                            [self.codename, "claim", "--pid", str(pid)], env=w.env, cwd=w.home,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE))
                    results = [(p, *p.communicate()) for p in procs]
                ms = (time.perf_counter() - t0) * 1000
                (seq if mode == "seq" else conc).append(ms)
                names = [out.decode().strip() for p, out, _ in results if p.returncode == 0]
                failures += sum(1 for p, _, _ in results if p.returncode != 0)
                duplicates += len(names) - len(set(names))
                for p, _, err in results:
                    if p.returncode != 0:
                        self.warn(f"a {mode} claim failed: {err.decode().strip()}")
                w.remove()
        row = compare("5", f"{size} claims at once against {size} one after another, each "
                           "batch in a fresh world (wall time of the batch)",
                      "sequential", median(seq), "concurrent", median(conc), self.batch_pairs,
                      delta=f"{median(conc) - median(seq):+.0f} ms; {failures} failed, "
                            f"{duplicates} duplicate names")
        row.target = "every claim granted, no duplicate"
        row.ok = failures == 0 and duplicates == 0
        self.rows.append(row)

    # - strace: redraws and exits ---------------------------------------------------------------

    def bench_processes(self) -> None:
        """A prompt redraw starts no process, an exit no Python process: counted by strace -f.

        The typed session is: a marker command, three empty lines (prompt redraws), a second
        marker, `exit`. The markers are `/bin/true bench-phase-…` (an external command, so
        its execve shows in the trace and splits it into start, redraws and exit).
        """
        strace = shutil.which("strace")
        if strace is None:
            self.notes.append("(7) prompt redraw / exit: skipped, strace is not installed "
                              "(apt-get install -y strace, then rerun).")
            self.rows.append(Row("7", "prompt redraws and exit under strace: skipped, no "
                                      "strace", "—", "—"))
            return
        log("7. processes started by prompt redraws and by exit (strace -f) …")
        true = shutil.which("true") or "/bin/true"
        redraws = 3
        typed = [f"{true} bench-phase-redraw", *[""] * redraws, f"{true} bench-phase-exit",
                 "exit"]
        for shell in ("bash", "zsh", "fish"):
            if shutil.which(shell) is None:
                continue
            world = World(self, f"strace-{shell}")
            phases = {}
            for hook in (False, True):
                argv, env = self.shell_argv(shell, world, hook)
                trace = os.path.join(world.root, f"strace-{hook}.log")
                cmd = [strace, "-f", "-qq", "-e", "trace=execve,fork,vfork,clone,clone3",
                       "-e", "signal=none", "-o", trace, "--", *argv]
                self.interactive(cmd, env, world.home, typed, timeout=60)
                phases[hook] = self._phases(trace)
            plain, hooked = phases[False], phases[True]
            self.rows.append(Row(
                f"7 {shell}", f"{shell} under strace -f: processes started by "
                              f"{redraws + 1} prompt draws",
                f"no hook {plain['redraw'][0]}", f"hook {hooked['redraw'][0]}", "—",
                f"{hooked['redraw'][0] - plain['redraw'][0]:+d} process(es)",
                "0 (no process at all)", redraws + 1,
                hooked["redraw"][0] == 0))
            self.rows.append(Row(
                f"7 {shell}", f"{shell} under strace -f: Python processes started at exit "
                              f"(all processes at exit in brackets)",
                f"no hook {plain['exit'][1]} ({plain['exit'][0]})",
                f"hook {hooked['exit'][1]} ({hooked['exit'][0]})", "—",
                f"{hooked['exit'][1] - plain['exit'][1]:+d} python", "0 Python", 1,
                hooked["exit"][1] == 0))
            self.notes.append(
                f"(7) {shell}: the hook's start runs {hooked['start'][1]} Python process(es) "
                f"(init) and {hooked['start'][0] - plain['start'][0]:+d} process(es) in all "
                f"over the plain rc; traces: start/redraw/exit processes "
                f"{plain['start'][0]}/{plain['redraw'][0]}/{plain['exit'][0]} without the hook, "
                f"{hooked['start'][0]}/{hooked['redraw'][0]}/{hooked['exit'][0]} with it.")
            world.remove()

    def _phases(self, trace: str) -> dict[str, tuple[int, int]]:
        """(processes created, Python processes executed) per phase of an `strace -f` log.

        The phases are split at the execve of the two marker commands; the fork that starts
        the second marker is not counted as a redraw's.
        """
        interp = os.path.realpath(self.interp)
        counts = {"start": [0, 0], "redraw": [0, 0], "exit": [0, 0]}
        phase = "start"
        with open(trace, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.search(r'\bexecve\("([^"]*)", \[(.*?)\]', line)
                if m and "bench-phase-redraw" in m.group(2):
                    phase = "redraw"
                    continue
                if m and "bench-phase-exit" in m.group(2):
                    counts["redraw"][0] -= 1  # the marker's own fork
                    phase = "exit"
                    continue
                if re.search(r"\b(fork|vfork|clone3?)\(", line) and "CLONE_THREAD" not in line:
                    counts[phase][0] += 1
                if m and " = -1 " not in line:
                    path = m.group(1)
                    if ("python" in os.path.basename(path) or path == self.codename
                            or os.path.realpath(path) == interp):
                        counts[phase][1] += 1
        if phase != "exit":
            raise BenchError(f"{trace}: the phase markers are missing")
        return {k: (v[0], v[1]) for k, v in counts.items()}

    # - importtime ------------------------------------------------------------------------------

    def importtime(self, runs: int = 7) -> str:
        """Where `init` spends its imports, median over `runs` runs (on a pty, really claiming)."""
        world = World(self, "importtime")
        per: dict[str, list[tuple[int, int]]] = {}
        order: list[str] = []
        argv = [self.interp, "-X", "importtime", self.codename, "init", "bash"]
        self.shell_timed(world, argv)  # warm
        for _ in range(runs):
            s = self.shell_timed(world, argv)
            for line in str(s["err"]).splitlines():
                m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
                if m:
                    name = ("  " * (len(m.group(3)) // 2)) + m.group(4)
                    if name not in per:
                        order.append(name)
                    per.setdefault(name, []).append((int(m.group(1)), int(m.group(2))))
        world.remove()
        rows = [(n, median([a for a, _ in v]), median([b for _, b in v])) for n, v in per.items()]
        total = sum(s for n, s, _ in rows)
        lines = [f"importtime of `{self.codename} init bash` (median of {runs} runs, µs; "
                 f"sum of self times {total / 1000:.1f} ms):",
                 "  top-level imports (cumulative):"]
        for name, _self, cumulative in rows:
            if not name.startswith(" ") and cumulative >= 100:
                lines.append(f"    {cumulative:7.0f}  {name}")
        lines.append("  largest self times:")
        for name, own, _cumulative in sorted(rows, key=lambda r: -r[1])[:15]:
            lines.append(f"    {own:7.0f}  {name.strip()}")
        return "\n".join(lines)

    # - output ----------------------------------------------------------------------------------

    def table(self, markdown: bool) -> str:
        info = self.machine()
        cells = [r.cells() for r in self.rows]
        if markdown:
            out = [f"- **{k}**: {v}" for k, v in info] + [""]
            out.append("| " + " | ".join(HEADERS) + " |")
            out.append("|" + "|".join("---" for _ in HEADERS) + "|")
            for c in cells:
                out.append("| " + " | ".join(x.replace("|", "\\|") for x in c) + " |")
            out += [""] + [f"- {n}" for n in self.notes + [f"warning: {w}" for w in self.warnings]]
            return "\n".join(out)
        wrap = 44  # the comparison column wraps; the figures stay on its first line
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADERS)]
        widths[1] = wrap

        def lines(c: list[str]) -> list[str]:
            what = textwrap.wrap(c[1], wrap) or [""]
            first = [c[0], what[0], *c[2:]]
            out = ["  ".join(x.ljust(w) for x, w in zip(first, widths, strict=True)).rstrip()]
            out += [("  ".join(["".ljust(widths[0]), w])).rstrip() for w in what[1:]]
            return out

        out = [f"{k:9} {v}" for k, v in info] + [""]
        out += lines(HEADERS)
        out.append("  ".join("-" * w for w in widths))
        for c in cells:
            out += lines(c)
        out += [""] + [f"note: {n}" for n in self.notes] + [f"warning: {w}" for w in self.warnings]
        return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--codename", metavar="PATH",
                    help="the codename to measure (default: codename's launcher, written for "
                         "the Python of the codename next to this one)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: a few pairs only")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--markdown-file", metavar="PATH",
                    help="also write the table as Markdown to PATH (one run, both forms)")
    ap.add_argument("--pairs", type=int, help="pairs per comparison (default 30, quick 5)")
    ap.add_argument("--batch-pairs", type=int, help="pairs of 50-claim batches (default 20)")
    ap.add_argument("--only", help="comma-separated parts to run: init,shells,holders,ledger,"
                                   "batches,processes (shells needs init, which it adds)")
    ap.add_argument("--importtime", action="store_true",
                    help="also print where init spends its imports (python -X importtime)")
    ap.add_argument("--launchers", action="store_true",
                    help="also time a what-if launcher for init: codename's run with "
                         "python -S (row 1c)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("bench/startup.py needs Linux (/proc, ptys, wait4)", file=sys.stderr)
        return 2
    parts = ["init", "shells", "holders", "ledger", "batches", "processes"]
    only = args.only.split(",") if args.only else parts
    if "shells" in only and "init" not in only:
        only.insert(0, "init")
    bench = None
    t0 = time.monotonic()
    try:
        bench = Bench(args)
        bench.setup()
        log(f"measuring {bench.codename} (interpreter {bench.interp}) in {bench.tmp}")
        for part in parts:
            if part in only:
                getattr(bench, f"bench_{part}")()
        extra = bench.importtime() if args.importtime else ""
        print(bench.table(args.markdown))
        if args.markdown_file:
            with open(args.markdown_file, "w", encoding="utf-8") as f:
                f.write(bench.table(markdown=True) + "\n")
        if extra:
            print("\n" + extra)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if bench is not None:
            bench.cleanup()
    log(f"done in {time.monotonic() - t0:.0f} s")
    failed = [r for r in bench.rows if r.ok is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
