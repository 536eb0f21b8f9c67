"""One rc line, `eval "$(TOOL init bash)"`, timed by the interactive shell that runs it.

A fresh interactive bash, zsh or fish on a fresh pty (setsid, the pty its controlling
terminal, as a terminal emulator starts it) has `source TIMED ARGV…; exit` typed at it. The
timed script runs the line in two halves, the way the shell runs it: the command substitution
`out=$(ARGV)` (the tool's process: fork, exec, its work, the wait) and `eval "$out"` (the
shell reading and running what the tool printed), each timed by the shell itself: bash's and
zsh's `$EPOCHREALTIME`; fish's `time` (it has no clock variable; `time` reports to 10 µs).
`eval "$(ARGV)"` is these two halves back to back, and so is fish's `ARGV | source` (`source`
reads the whole pipe before it runs a line of it). The line's output goes to the terminal, as
in a real rc file; its stderr to a file, which the caller checks. The shell's $CODENAME after
the line says whether a name was claimed; the `exit` typed after it gives the name back, as a
closing terminal does.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil

from bench.common import BenchError, drain_pty, open_pty, popen_on_pty, wait4

# Each writes the clock readings (bash, zsh), the length of the output and the shell's pid to
# $BENCH_DIR/times, its $CODENAME to $BENCH_DIR/name, and the line's stderr to
# $BENCH_DIR/err. stderr is not given back afterwards: the shell leaves right after, and a
# copy of the terminal kept on another descriptor would be inherited by whatever the line
# starts for good (codename's fleet keeper), and the terminal would never close.
TIMED = {
    "bash": r"""# bench/rcline.py: time `eval "$(ARGV)"` in two halves
exec 2>"$BENCH_DIR/err"
s=$EPOCHREALTIME
out=$("$@")
m=$EPOCHREALTIME
eval "$out"
e=$EPOCHREALTIME
printf '%s %s %s %s %s\n' "$s" "$m" "$e" "${#out}" "$$" >"$BENCH_DIR/times"
printf '%s' "${CODENAME-}" >"$BENCH_DIR/name"
echo '@@end' >&2
""",
    # fish: `time` reports on the shell's own stderr, whatever the block's redirections say,
    # so fish runs with its stderr in $BENCH_DIR/err, and marks split it into the halves.
    "fish": r"""# bench/rcline.py: time `ARGV | source` in two halves
echo '@@proc' >&2
time begin
    set -g __bench_out ($argv | string collect -N)
end
echo '@@eval' >&2
time begin
    printf '%s' $__bench_out | source
end
echo '@@end' >&2
printf '%s %s\n' (string length -- "$__bench_out") $fish_pid >$BENCH_DIR/times
printf '%s' "$CODENAME" >$BENCH_DIR/name
""",
}
# zsh: the same script, once its $EPOCHREALTIME is loaded.
TIMED["zsh"] = TIMED["bash"].replace("in two halves\n", "in two halves\nzmodload zsh/datetime\n", 1)
_EXT = {"bash": "sh", "zsh": "zsh", "fish": "fish"}
_FISH_TIME = re.compile(r"^Executed in\s+([\d.]+) (micros|millis|secs|mins)", re.M)
_UNIT_MS = {"micros": 1e-3, "millis": 1.0, "secs": 1e3, "mins": 6e4}


class Timed:
    """What one rc line cost: its two halves in ms, and what it left."""

    __slots__ = ("err", "eval_ms", "name", "out_len", "pid", "proc_ms")

    def __init__(self, proc_ms: float, eval_ms: float, out_len: int, pid: int, name: str,
                 err: str) -> None:
        self.proc_ms, self.eval_ms = proc_ms, eval_ms
        self.out_len, self.pid, self.name, self.err = out_len, pid, name, err

    @property
    def ms(self) -> float:
        return self.proc_ms + self.eval_ms


def shell_argv(shell: str) -> list[str]:
    """The shell with no rc file of its own: the typed line is all it runs."""
    path = shutil.which(shell) or shell
    return {"bash": [path, "--norc", "--noprofile", "-i"],
            "zsh": [path, "-f", "-i"],
            "fish": [path, "--no-config", "-i"]}[shell]


def script(tmp: str, shell: str) -> str:
    path = os.path.join(tmp, f"rcline.{_EXT[shell]}")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(TIMED[shell])
    return path


def run(tmp: str, shell: str, env: dict[str, str], cwd: str, argv: list[str],
        timeout: float = 60.0, wrapper: tuple[str, ...] = ()) -> Timed:
    """`eval "$(ARGV)"` (fish: `ARGV | source`) timed in a fresh interactive `shell`, itself
    run by `wrapper` (`strace -f -o FILE`, to see where the time goes) if given."""
    d = os.path.join(tmp, f"rcline-{shell}")
    os.makedirs(d, exist_ok=True)
    for name in ("err", "times", "name"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(d, name))  # a stale one would stand for this run
    master, slave = open_pty()
    env = {**env, "BENCH_DIR": d, "HISTFILE": os.devnull}
    line = " ".join(shlex.quote(a) for a in ["source", script(tmp, shell), *argv])
    err = -1
    try:
        if shell == "fish":
            err = os.open(os.path.join(d, "err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        p = popen_on_pty([*wrapper, *shell_argv(shell)], env, cwd, slave, None,
                         err if err >= 0 else None)
        os.close(slave)
        slave = -1
        os.write(master, f"{line}; exit\n".encode())
        out = drain_pty(master, p, timeout, f"{shell}: {' '.join(argv)}")
        code, _ = wait4(p.pid, timeout)
    finally:
        if slave >= 0:
            os.close(slave)
        if err >= 0:
            os.close(err)
        os.close(master)
    return _read(d, shell, argv, code, bytes(out))


def _read(d: str, shell: str, argv: list[str], code: int, screen: bytes) -> Timed:
    def text(name: str) -> str:
        try:
            with open(os.path.join(d, name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    times = text("times").split()
    if code != 0 or not times:
        raise BenchError(f"{shell}: timing {' '.join(argv)} failed (exit {code}): "
                         f"{screen[-400:]!r} {text('err')!r}")
    if shell == "fish":
        report = text("err")
        marks = [report.find(f"@@{m}\n") for m in ("proc", "eval", "end")]
        if min(marks) < 0:
            raise BenchError(f"fish: no marks in its stderr for {' '.join(argv)}: {report!r}")
        halves, said = [], []
        for a, b in ((marks[0] + 7, marks[1]), (marks[1] + 7, marks[2])):
            part = report[a:b]
            m = _FISH_TIME.search(part)
            if m is None:
                raise BenchError(f"fish's `time` said nothing for {' '.join(argv)}: {part!r}")
            halves.append(float(m.group(1)) * _UNIT_MS[m.group(2)])
            said.append(part[:part.find("____")].strip())  # the line's own stderr
        return Timed(halves[0], halves[1], int(times[0]), int(times[1]), text("name"),
                     "\n".join(x for x in said if x))
    s, m_, e = (float(x.replace(",", ".")) for x in times[:3])
    stderr = text("err")
    if "@@end\n" in stderr:
        stderr = stderr[:stderr.find("@@end\n")]
    return Timed((m_ - s) * 1000, (e - m_) * 1000, int(times[3]), int(times[4]), text("name"),
                 stderr.strip())
