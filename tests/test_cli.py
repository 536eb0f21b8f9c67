"""The command line as users and scripts see it: output formats, doctor, safety, errors."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import World
from helpers import (
    assert_one_line_error,
    codename,
    environ_without,
    is_root,
    kill,
    ledger_rows,
    use_roster,
    who,
    write_presence,
)

# --- output formats ---------------------------------------------------------------------------

def test_claim_json_has_name_pid_kind_and_theme(world: World) -> None:
    p = world.sleeper()
    r = world.run("claim", "--pid", str(p.pid), "--kind", "spare", "--json")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert (row["name"], row["pid"], row["kind"], row["theme"]) == ("Michael", p.pid, "spare",
                                                                     "office")


def test_who_json_lists_each_live_holder_with_its_sources(world: World) -> None:
    a, b = world.sleeper(), world.sleeper()
    world.claim(a.pid)
    world.claim(b.pid, "--kind", "spare")
    rows = who(world)
    assert {(r["name"], r["pid"], r["kind"]) for r in rows} == {
        ("Michael", a.pid, "terminal"), ("Dwight", b.pid, "spare")}
    for row in rows:
        assert row["sources"] == ["presence", "ledger"]
        assert isinstance(row["pid"], int)
        assert {"host", "tty", "since", "full"} <= set(row)


def test_who_without_holders_says_so(world: World) -> None:
    r = world.run("who")
    assert r.returncode == 0 and r.stdout.strip() == "no live holders"
    assert who(world) == []


def test_who_table_shows_name_full_name_kind_pid_and_sources(world: World) -> None:
    p = world.sleeper()
    world.claim(p.pid)
    lines = world.run("who").stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "FULL"]
    assert lines[1].split()[:5] == ["Michael", "Michael", "Scott", "terminal", str(p.pid)]
    assert lines[1].endswith("presence, ledger")


def test_who_markdown_is_a_table(world: World) -> None:
    world.write_config('theme = "odd"\n[themes.odd]\nnames = ["Pipe|Name", "Back\\\\slash"]\n')
    for _ in range(2):
        world.claim(world.sleeper().pid)
    r = world.run("who", "--markdown")
    assert r.returncode == 0, r.stderr
    head, rule, *body = r.stdout.splitlines()

    def cells(line: str) -> list[str]:
        assert line.startswith("| ") and line.endswith(" |"), line
        return [c.strip() for c in line[2:-2].replace("\\|", "\0").split(" | ")]

    assert cells(head)[:3] == ["Name", "Full Name", "Kind"]
    assert set(rule.strip("|").split("|")) == {"---"}
    assert len(rule.strip("|").split("|")) == len(cells(head))
    assert len(body) == 2
    assert all(len(cells(row)) == len(cells(head)) for row in body)
    assert sorted(cells(row)[0] for row in body) == ["Back\\\\slash", "Pipe\0Name"]


def test_themes_json_has_name_and_names(world: World) -> None:
    r = world.run("themes", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert all(isinstance(t["name"], str) and isinstance(t["names"], list) for t in rows)
    today = [t["name"] for t in rows if t["today"]]
    assert today == ["office"]


def test_themes_marks_todays_theme(world: World) -> None:
    world.write_config('theme = "parks"\n')
    marked = [line for line in world.run("themes").stdout.splitlines() if line.startswith("*")]
    assert len(marked) == 2 and marked[0].split()[1] == "parks"  # the row, then the legend


# --- heartbeat --------------------------------------------------------------------------------

def test_heartbeat_refreshes_a_holder_s_presence(world: World) -> None:
    spare = world.sleeper()
    world.claim(spare.pid, "--kind", "spare")
    (presence_file,) = world.presence_dir.iterdir()
    hour_ago = time.time() - 3600
    os.utime(presence_file, (hour_ago, hour_ago))

    r = world.run("heartbeat", "--pid", str(spare.pid))
    assert r.returncode == 0, r.stderr
    assert "Michael" in r.stdout
    assert presence_file.stat().st_mtime > hour_ago + 60
    assert [e for e, _, _ in ledger_rows(world)] == ["claimed", "heartbeat"]
    assert [r["name"] for r in who(world)] == ["Michael"]


def test_heartbeat_for_a_process_holding_no_name_fails(world: World) -> None:
    p = world.sleeper()
    r = world.run("heartbeat", "--pid", str(p.pid))
    assert str(p.pid) in assert_one_line_error(r)


# --- doctor -----------------------------------------------------------------------------------

def test_doctor_exits_0_when_healthy(world: World) -> None:
    world.claim(world.sleeper().pid)
    r = world.run("doctor")
    assert r.returncode == 0, r.stdout
    assert "healthy" in r.stdout and "FAIL" not in r.stdout
    assert r.stderr == ""


def test_doctor_on_a_fresh_install_is_healthy(world: World) -> None:
    r = world.run("doctor")
    assert r.returncode == 0, r.stdout


def test_doctor_reports_a_name_held_by_two_live_holders_in_different_sources(
        world: World) -> None:
    ours = world.sleeper()
    world.claim(ours.pid)
    theirs = world.sleeper()
    roster = use_roster(world, [{"name": "Michael", "pid": theirs.pid}])

    r = world.run("doctor")
    assert r.returncode == 1
    (dup,) = [line for line in r.stdout.splitlines() if "DUPLICATE" in line]
    assert "Michael" in dup and str(ours.pid) in dup and str(theirs.pid) in dup
    assert f"roster:{roster}" in dup and "presence" in dup
    assert "what to do" in r.stdout
    assert "Michael" in r.stderr  # loudly: not only in the report


def test_doctor_says_which_holders_it_cannot_verify(world: World) -> None:
    write_presence(world, "Michael", 4242, host="elsewhere.example", start=1, boot="b")
    r = world.run("doctor")
    assert r.returncode == 0, r.stdout
    (note,) = [line for line in r.stdout.splitlines() if "Michael" in line]
    assert "elsewhere.example" in note and "heartbeat" in note


def test_doctor_reports_ghosts(world: World) -> None:
    gone = world.sleeper()
    world.claim(gone.pid)
    kill(gone)
    r = world.run("doctor")
    assert r.returncode == 1
    assert any("ghost" in line and str(gone.pid) in line for line in r.stdout.splitlines())
    assert world.run("reap").returncode == 0
    assert world.run("doctor").returncode == 0


# --- unsafe directories -----------------------------------------------------------------------

def make_unsafe(world: World, how: str) -> Path:
    """Spoil codename's presence dir the way `how` says; return it."""
    target = world.presence_dir
    if how == "symlink":
        elsewhere = world.root / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        target.symlink_to(elsewhere)
    elif how == "foreign":
        target.mkdir(mode=0o700)
        os.chown(target, 4242, 4242)
    else:
        target.mkdir()
        target.chmod(int(how, 8))
    return target


UNSAFE = [
    "symlink",
    "0777",
    "0770",
    "0702",
    pytest.param("foreign", marks=pytest.mark.skipif(not is_root(), reason="needs chown")),
]


@pytest.mark.parametrize("how", UNSAFE)
def test_an_unsafe_runtime_dir_is_refused(world: World, how: str) -> None:
    target = make_unsafe(world, how)
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert str(target) in assert_one_line_error(r)
    assert os.listdir(target) == []  # no presence row was kept there
    assert not world.ledger.exists() or ledger_rows(world) == []


@pytest.mark.parametrize("how", UNSAFE)
def test_doctor_reports_an_unsafe_runtime_dir(world: World, how: str) -> None:
    target = make_unsafe(world, how)
    r = world.run("doctor")
    assert r.returncode == 1
    assert any("FAIL" in line and str(target) in line for line in r.stdout.splitlines())


def test_an_unsafe_state_dir_is_refused(world: World) -> None:
    state = world.state / "codename"
    state.mkdir()
    state.chmod(0o777)
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert str(state) in assert_one_line_error(r)
    assert world.run("doctor").returncode == 1


def test_doctor_reports_an_unsafe_xdg_runtime_dir(world: World) -> None:
    world.runtime.chmod(0o777)
    r = world.run("doctor")
    assert r.returncode == 1
    assert any("FAIL" in line and "XDG_RUNTIME_DIR" in line for line in r.stdout.splitlines())


# When XDG_RUNTIME_DIR is unusable, platformdirs falls back to /run/user/<uid> if that exists:
# a real user's directory, which a test must not write to.
fallback_in_tmpdir = pytest.mark.skipif(
    os.path.isdir(f"/run/user/{os.geteuid()}"),
    reason="platformdirs would fall back to the real /run/user/<uid>")


@fallback_in_tmpdir
def test_no_presence_row_is_kept_in_an_unsafe_xdg_runtime_dir(world: World) -> None:
    tmp = world.root / "tmp"
    tmp.mkdir()
    world.runtime.chmod(0o777)
    r = world.run("claim", "--pid", str(world.sleeper().pid), env={"TMPDIR": str(tmp)})
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr  # platformdirs' RuntimeDirWarning never reaches a terminal
    assert os.listdir(world.runtime) == []
    assert list((tmp / f"runtime-{os.geteuid()}" / "codename").iterdir())


@fallback_in_tmpdir
@pytest.mark.parametrize("how", ["symlink", "0777"])
def test_a_foreign_or_unsafe_tmp_fallback_is_refused_with_a_clear_error(
        world: World, how: str) -> None:
    # XDG_RUNTIME_DIR unset: platformdirs picks $TMPDIR/runtime-<uid>, which anyone could
    # have created first.
    tmp = world.root / "tmp"
    tmp.mkdir()
    fallback = tmp / f"runtime-{os.geteuid()}"
    if how == "symlink":
        (world.root / "trap").mkdir(mode=0o700)
        fallback.symlink_to(world.root / "trap")
    else:
        fallback.mkdir()
        fallback.chmod(0o777)
    env = environ_without(world, "XDG_RUNTIME_DIR", TMPDIR=str(tmp))

    r = codename(env, "claim", "--pid", str(world.sleeper().pid), cwd=world.home)
    line = assert_one_line_error(r)
    assert str(fallback) in line
    assert "internal error" not in line
    assert "Warning" not in r.stderr

    doctor = codename(env, "doctor", cwd=world.home)
    assert doctor.returncode == 1 and str(fallback) in doctor.stdout


@fallback_in_tmpdir
def test_an_unset_xdg_runtime_dir_falls_back_quietly(world: World) -> None:
    tmp = world.root / "tmp"
    tmp.mkdir()
    env = environ_without(world, "XDG_RUNTIME_DIR", TMPDIR=str(tmp))
    r = codename(env, "claim", "--pid", str(world.sleeper().pid), cwd=world.home)
    assert r.returncode == 0 and r.stdout.strip() == "Michael"
    assert r.stderr == ""
    assert codename(env, "doctor", cwd=world.home).returncode == 0


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["claim", "--pid", "abc"],
    ["claim", "--pid", "-5"],
    ["claim", "--kind", "wizard"],
    ["who", "--json", "--markdown"],
    ["no-such-command"],
    ["run"],
    ["theme", "parks", "--clear"],
])
def test_usage_errors_exit_2_with_one_line(world: World, args: list[str]) -> None:
    r = world.run(*args)
    assert_one_line_error(r, code=2)


def test_no_command_prints_help_and_exits_2(world: World) -> None:
    r = world.run()
    assert r.returncode == 2
    assert "claim" in r.stdout


def test_an_unexpected_error_is_one_line_and_logged_not_a_traceback(world: World) -> None:
    world.ledger.parent.mkdir(mode=0o700, parents=True)
    world.ledger.mkdir()  # the ledger cannot be read as a file
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert_one_line_error(r)
    assert "Traceback" in (world.ledger.parent / "errors.log").read_text()


def test_version(world: World) -> None:
    r = world.run("--version")
    assert r.returncode == 0 and r.stdout.startswith("codename ")
