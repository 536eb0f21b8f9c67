"""`codename run -- CMD`: a job holds a name for exactly as long as it runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import World
from helpers import assert_one_line_error, ledger_rows, wait_for, who

CODENAME = [sys.executable, "-m", "codename_shell"]


def test_the_job_sees_its_name_and_is_listed_as_a_job(world: World) -> None:
    script = ('echo "$CODENAME|$CODENAME_FULL|$$"; '
              f'"{sys.executable}" -m codename_shell who --json')
    r = world.run("run", "--", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    first, rest = r.stdout.split("\n", 1)
    name, full, pid = first.split("|")
    assert (name, full) == ("Michael", "Michael Scott")
    (row,) = json.loads(rest)
    assert (row["name"], row["kind"], row["pid"]) == ("Michael", "job", int(pid))


def test_a_job_started_from_a_named_terminal_carries_its_own_identity(world: World) -> None:
    terminal = world.sleeper()
    world.claim(terminal.pid)
    ident = next(world.presence_dir.iterdir()).name  # <pid>-<start>, as the hooks export it
    inherited = {"CODENAME": "Michael", "CODENAME_FULL": "Michael Scott",
                 "CODENAME_PID": str(terminal.pid), "CODENAME_ID": ident}
    r = world.run("run", "--", "sh", "-c",
                  'echo "$CODENAME $CODENAME_PID $CODENAME_ID $$"', env=inherited)
    assert r.returncode == 0, r.stderr
    name, pid, job_ident, shell = r.stdout.split()
    assert name == "Dwight"
    assert pid == shell and job_ident.split("-")[0] == shell


@pytest.mark.parametrize(("script", "status"), [
    ("exit 0", 0),
    ("exit 7", 7),
    ("exit 255", 255),
    ("kill -TERM $$", 128 + signal.SIGTERM),
    ("kill -KILL $$", 128 + signal.SIGKILL),
])
def test_the_job_s_exit_status_is_codename_s(world: World, script: str, status: int) -> None:
    r = world.run("run", "--", "sh", "-c", script)
    assert r.returncode == status, r.stderr
    assert "Traceback" not in r.stderr


def test_the_job_s_name_is_given_back_when_it_ends(world: World) -> None:
    r = world.run("run", "--", "sh", "-c", "exit 3")
    assert r.returncode == 3
    assert who(world) == []
    assert [(e, n) for e, n, _ in ledger_rows(world)] == [("claimed", "Michael"),
                                                          ("released", "Michael")]
    assert list(world.presence_dir.iterdir()) == []
    assert world.claim(world.sleeper().pid) == "Michael"


def test_a_job_holds_its_name_against_other_claims_while_it_runs(world: World) -> None:
    r = world.run("run", "--", sys.executable, "-m", "codename_shell", "claim",
                  "--pid", str(world.sleeper().pid))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Dwight"  # the job itself holds Michael


def test_run_with_a_requested_name(world: World) -> None:
    r = world.run("run", "--name", "Kevin", "--", "sh", "-c", 'echo "$CODENAME"')
    assert r.returncode == 0 and r.stdout.strip() == "Kevin"


def test_run_with_a_held_name_is_refused_and_the_job_never_starts(world: World) -> None:
    world.claim(world.sleeper().pid, "--name", "Kevin")
    marker = world.root / "ran"
    r = world.run("run", "--name", "Kevin", "--", "touch", str(marker))
    assert "Kevin" in assert_one_line_error(r)
    assert not marker.exists()
    assert [r["name"] for r in who(world)] == ["Kevin"]


def test_a_command_that_cannot_run_exits_127_and_gives_its_name_back(world: World) -> None:
    r = world.run("run", "--", str(world.root / "no-such-program"))
    assert "no-such-program" in assert_one_line_error(r, code=127)
    assert who(world) == []


JOB = r"""
import signal, sys, time
from pathlib import Path
out = Path(sys.argv[1])
def leave(signo, frame):
    out.write_text(signal.Signals(signo).name)
    sys.exit(42)
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, leave)
Path(str(out) + ".ready").touch()
time.sleep(600)
"""


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_sent_to_codename_reaches_the_job(world: World, signo: signal.Signals) -> None:
    got = world.root / "got"
    ready = Path(f"{got}.ready")
    runner = subprocess.Popen([*CODENAME, "run", "--", sys.executable, "-c", JOB, str(got)],
                              env=world.env, cwd=world.home, stderr=subprocess.PIPE)
    world.children.append(runner)
    wait_for(lambda: ready.exists() or runner.poll() is not None, "the job to start")
    assert runner.poll() is None, runner.stderr.read() if runner.stderr else ""

    runner.send_signal(signo)
    assert runner.wait(timeout=60) == 42
    assert got.read_text() == signo.name
    assert who(world) == []


def test_a_job_killed_from_outside_frees_its_name(world: World) -> None:
    ready = world.root / "job.ready"
    runner = subprocess.Popen(
        [*CODENAME, "run", "--", "sh", "-c", f'echo "$$" > "{ready}.tmp"; mv "{ready}.tmp" '
         f'"{ready}"; exec sleep 600'], env=world.env, cwd=world.home)
    world.children.append(runner)
    wait_for(ready.exists, "the job to start")
    job = int(ready.read_text())
    wait_for(lambda: [r["pid"] for r in who(world)] == [job], "the job to be listed")

    os.kill(job, signal.SIGKILL)
    assert runner.wait(timeout=60) == 128 + signal.SIGKILL
    assert who(world) == []
