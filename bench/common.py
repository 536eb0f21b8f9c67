"""What the benchmark families share: a private world per measurement, processes on ptys, the
alternated pair timing, and the table every family adds its rows to.

Standard library only. Every family module (`bench/<family>.py`) has `FAMILY`, a one-line
`WHAT`, and `measure(bench)`, which appends `Row`s to `bench.rows`.
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


# How an rc file runs the hook, timed by the shell that runs it: an interactive bash sources
# this with the command as its arguments. Its stderr goes to $BENCH_ERR (the command's
# warnings) without a redirection on the command itself, which would change how bash forks.
TIMED_SH = r"""# bench/common.py: time one command the way `eval "$(codename init bash)"` runs it
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
        # On a tmpfs, as /run/user/<uid> is where XDG_RUNTIME_DIR comes from (see
        # Bench.runtime_base).
        self.runtime = os.path.join(bench.runtime_base, name)
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
            shutil.rmtree(self.runtime, ignore_errors=True)


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


def drain_pty(master: int, p: subprocess.Popen[bytes], timeout: float, what: str,
              on_chunk: Callable[[bytearray], None] | None = None) -> bytearray:
    """Read what the processes on the pty `master` write until every one has left it (a full
    pty would stop them); past `timeout` seconds, kill `p` and raise BenchError naming `what`.
    `on_chunk` sees the output so far after each read (to type at a prompt)."""
    out = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            p.kill()
            raise BenchError(f"{what} did not finish: {bytes(out[-400:])!r}")
        if not select.select([master], [], [], left)[0]:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every process on the terminal has left it
            break
        if not chunk:
            break
        out += chunk
        if on_chunk is not None:
            on_chunk(out)
    return out


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


def fish_config_home(world: World, d: str, env: dict[str, str]) -> str:
    """Make `d` the XDG_CONFIG_HOME of a fish variant (in `env`); its config.fish's path.

    fish reads $XDG_CONFIG_HOME/fish/config.fish, so each variant gets its own, with the
    world's codename config dir linked in: every variant sees the same one."""
    rc = os.path.join(d, "fish", "config.fish")
    os.makedirs(os.path.dirname(rc), exist_ok=True)
    link = os.path.join(d, "codename")
    if not os.path.lexists(link):
        os.makedirs(os.path.join(world.config, "codename"), exist_ok=True)
        os.symlink(os.path.join(world.config, "codename"), link)
    env["XDG_CONFIG_HOME"] = d
    return rc


def _is_tmpfs(path: str) -> bool:
    return _fs_type(path, exact=True) == "tmpfs"


def _fs_type(path: str, exact: bool = False) -> str:
    """The file system type of the mount `path` is on (with `exact`: mounted at `path`)."""
    try:
        with open("/proc/mounts", encoding="utf-8", errors="replace") as f:
            mounts = [line.split()[1:3] for line in f if len(line.split()) > 2]
    except OSError:
        return "?"
    path = os.path.realpath(path)
    best = ("", "?")
    for point, kind in mounts:
        inside = path == point or (not exact and path.startswith(point.rstrip("/") + "/"))
        if inside and len(point) >= len(best[0]):
            best = (point, kind)
    return best[1]


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return "model unknown"


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
        self.base_env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "USER": os.environ.get("USER", "bench"),
            "LOGNAME": os.environ.get("LOGNAME", os.environ.get("USER", "bench")),
        }
        self.tmp = tempfile.mkdtemp(prefix="cnbench-")
        os.chmod(self.tmp, 0o700)
        self.runtime_base = self._runtime_base(getattr(args, "runtime_base", None))
        # Set by setup(): codename's launcher written here, and what every row measures.
        self.launcher: str | None = None
        self.codename = self.found
        self.sleep = shutil.which("sleep") or "/bin/sleep"
        self.sleepers: dict[int, subprocess.Popen[bytes]] = {}
        self.rows: list[Row] = []
        #: Tables of their own, after the rows: (title, headers, rows of cells).
        self.tables: list[tuple[str, list[str], list[list[str]]]] = []
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.timed_sh = os.path.join(self.tmp, "timed.sh")
        with open(self.timed_sh, "w") as f:
            f.write(TIMED_SH)
        self.bare_ms: float | None = None
        self.load_at_start = os.getloadavg()[0]  # another busy process blurs every figure
        self.started = time.strftime("%Y-%m-%d %H:%M")
        self.holders: list[int] = []  # sleepers holding names: `claim` leaves them to `batches`

    # - set-up ---------------------------------------------------------------------------------

    def _runtime_base(self, given: str | None) -> str:
        """Where the worlds' runtime dirs go: a tmpfs, as XDG_RUNTIME_DIR is on a Linux with a
        login manager (systemd-logind mounts /run/user/<uid> as one), unless given.

        It matters: presence files, their scratch files and the fleet's lease files are made
        there at every claim, and on a disk file system a new file is an inode allocated and
        an fsync a journal commit (0.4 and 0.3 ms each on the machine of bench/README.md's
        figures, against a few µs on a tmpfs). `--runtime-base DIR` measures another.
        """
        base = given
        if base is None:
            base = "/dev/shm" if _is_tmpfs("/dev/shm") else self.tmp
        d = tempfile.mkdtemp(prefix="cnbench-run-", dir=base)
        os.chmod(d, 0o700)
        return d

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
    def _kind(path: str) -> str:
        """What a codename script is, from its text (for the machine section)."""
        try:
            with open(path, "rb") as f:
                text = f.read(4096)
        except OSError:
            return "unreadable"
        if b"site.main()" in text and b"from codename_shell.launcher import run" in text:
            return "codename's launcher"
        if b"import re" in text:
            return "pip's console-script wrapper (an older pip's: imports `re`)"
        if b"sys.exit(" in text and b"from codename_shell." in text:
            return "a console-script wrapper (pip's, pipx's)"
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
            self.warn(f"{message}; the launcher comparisons are skipped")
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
            log(f"kept the benchmark's files in {self.tmp} and {self.runtime_base}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
            shutil.rmtree(self.runtime_base, ignore_errors=True)

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
                        f"{os.cpu_count()} CPUs ({cpu_model()}), nproc "
                        f"{len(os.sched_getaffinity(0))}"),
            ("python", f"{r.stdout.strip()} ({self.interp})"),
            ("codename", f"{version}" + (f", commit {commit}" if commit else "")),
            ("measured", self.measured()),
            ("shells", ", ".join(shells)),
            ("run", f"{self.started}, "
                    f"{'quick' if self.args.quick else 'full'}: {self.pairs} pairs "
                    f"({self.batch_pairs} for batches); load average at start "
                    f"{self.load_at_start:.2f}"),
            ("files", f"state and config under {self.tmp} ({_fs_type(self.tmp)}), runtime dirs "
                      f"under {self.runtime_base} ({_fs_type(self.runtime_base)})"),
        ]

    def measured(self) -> str:
        """Which `codename` the rows measure."""
        if self.given:
            return f"{self.codename} (--codename), {self._kind(self.codename)}"
        return (f"codename's launcher, as install.sh installs it: `{self.interp} -m "
                f"codename_shell.launcher {self.codename}` (first line "
                f"`{self._first_line(self.codename)}`)")

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
            rc = fish_config_home(world, d, env)
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
        marker = MARKER.encode()
        t0 = time.perf_counter()
        p = popen_on_pty(argv, env, cwd, slave, None, None)
        os.close(slave)
        todo = list(typed)

        def type_at_prompts(out: bytearray) -> None:
            prompts = out.count(marker)
            while todo and prompts >= len(typed) - len(todo) + 1:
                os.write(master, (todo.pop(0) + "\n").encode())

        try:
            out = drain_pty(master, p, timeout, argv[0], type_at_prompts)
            code, _ = wait4(p.pid, timeout)
            p.returncode = code
        finally:
            os.close(master)
        ms = (time.perf_counter() - t0) * 1000
        if todo:
            raise BenchError(f"{argv[0]} left before its prompt: {bytes(out[-400:])!r}")
        return ms, out.decode("utf-8", "replace")


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
            for title, heads, rows in self.tables:
                out += ["", f"**{title}**", "", "| " + " | ".join(heads) + " |",
                        "|" + "|".join("---" for _ in heads) + "|"]
                out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
            out += [""] + [f"- {n}" for n in self.notes + [f"warning: {w}" for w in self.warnings]]
            return "\n".join(out)
        wrap = 44  # the comparison column wraps; the figures stay on its first line
        widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(HEADERS)]
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
        for title, heads, rows in self.tables:
            w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
            out += ["", *textwrap.wrap(title, 100)]
            out += ["  ".join(c.ljust(x) for c, x in zip(r, w, strict=True)).rstrip()
                    for r in [heads, *rows]]
        out += [""] + [f"note: {n}" for n in self.notes] + [f"warning: {w}" for w in self.warnings]
        return "\n".join(out)
