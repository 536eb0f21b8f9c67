"""The promise and the user's data hold on a real user's machine (issue 17): what codename
writes never lands in a file it was not meant for, never takes a file from its owner, never
deletes a line the user wrote, and survives a full disk and a power cut whole.

Each test recreates what a user saw, with the real CLI and install.sh, a real second user
(a teammate, an attacker, a victim), real tmpfs mounts for a full disk, chattr for an
immutable file and strace for the order of the system calls.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import World, require
from helpers import (
    assert_one_line_error,
    end_session,
    hold_lock,
    require_root,
    require_strace,
    wait_for,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from test_attack_trust import User, holding_open, other_user, user_python
from test_install import Installer, install, wheel

from codename_shell import notes, rcfile

__all__ = ["install", "other_user", "wheel"]  # fixtures, imported for the tests below

START, END = notes.START, notes.END
CODENAME = [sys.executable, "-m", "codename_shell"]


def run(world: World, *args: str, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CODENAME, *args], env={**world.env, **(env or {})},
                          capture_output=True, text=True, timeout=120, cwd=cwd or world.home)


def note(world: World, notes_file: Path, text: str) -> subprocess.CompletedProcess[str]:
    """`codename note TEXT`, signed by a job named for it (`codename run`)."""
    return run(world, "run", "--", *CODENAME, "note", text,
               env={"CODENAME_NOTES": str(notes_file)})


def roster_write(world: World, target: Path) -> subprocess.CompletedProcess[str]:
    return run(world, "roster", "--write", str(target))


def as_user(user: User, *args: str, env: dict[str, str | None] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    """`codename ARGS` run by `user` (a real second user, through setpriv); `env` changes its
    environment (None: unset)."""
    python, user_env = user_python(user)
    for key, value in (env or {}).items():
        if value is None:
            user_env.pop(key, None)
        else:
            user_env[key] = value
    args = tuple(python if a == "{python}" else a for a in args)
    return subprocess.run(user.as_user(python, "-m", "codename_shell", *args), env=user_env,
                          capture_output=True, text=True, timeout=120, cwd=user.home)


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder outside any private directory, where every user can reach what is put in it
    (the test's own tmp_path sits below a 0700 directory). Its mode is the test's to set."""
    top = Path(tempfile.mkdtemp(prefix="cn-shared-"))
    top.chmod(0o755)
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def owner(path: Path) -> tuple[int, int, int]:
    info = path.lstat()
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


def temp_files(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


# --- 1. a link someone else put in the notes folder ----------------------------------------

@pytest.mark.parametrize("command", ["note", "roster --write"])
def test_someone_else_s_link_from_the_notes_file_to_bashrc_is_never_written_through(
        world: World, other_user: User, shared: Path, command: str) -> None:
    bashrc = world.home / ".bashrc"
    bashrc.write_text("# the user's own bashrc\n")
    folder = shared / "team"
    folder.mkdir()
    folder.chmod(0o777)  # a folder the team can write (not sticky: no kernel link protection)
    notes_file = folder / "sync.md"
    # The attacker, a real other user, swaps the notes file for a link to the user's bashrc.
    subprocess.run(other_user.as_user("ln", "-s", str(bashrc), str(notes_file)), check=True)
    assert notes_file.lstat().st_uid == other_user.uid

    world.claim(world.sleeper().pid)
    r = note(world, notes_file, "hello") if command == "note" else roster_write(world, notes_file)
    line = assert_one_line_error(r)
    assert f"refusing to write through {notes_file}" in line and other_user.name in line, line
    assert bashrc.read_text() == "# the user's own bashrc\n"
    assert notes_file.is_symlink() and temp_files(folder) == []


def test_a_link_swapped_in_while_a_note_waits_for_the_lock_is_refused(
        world: World, shared: Path) -> None:
    require_root("to give the link to another uid")
    bashrc = world.home / ".bashrc"
    bashrc.write_text("# the user's own bashrc\n")
    shared.chmod(0o777)
    notes_file = shared / "sync.md"
    notes_file.write_text("# sync\n")
    holder = hold_lock(world, notes_file)  # another writer, busy for now
    try:
        world.claim(world.sleeper().pid)
        writer = subprocess.Popen([*CODENAME, "run", "--", *CODENAME, "note", "hello"],
                                  env={**world.env, "CODENAME_NOTES": str(notes_file)},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        world.children.append(writer)  # type: ignore[arg-type]  # killed at teardown
        blockers = set(holding_open(notes_file))
        wait_for(lambda: set(holding_open(notes_file)) - blockers, "the note to open the file")
        # The note has the file open and waits on its lock: now the swap.
        notes_file.unlink()
        notes_file.symlink_to(bashrc)
        os.lchown(notes_file, 4242, 4242)
    finally:
        end_session(holder)
    _, err = writer.communicate(timeout=120)
    assert writer.returncode == 1 and "refusing to write through" in err, err
    assert bashrc.read_text() == "# the user's own bashrc\n"


def test_notes_through_the_user_s_own_link_go_where_it_points_but_not_past_a_foreign_one(
        world: World) -> None:
    require_root("to give a link to another uid")
    world.claim(world.sleeper().pid)
    real = world.home / "dotfiles" / "team.md"
    real.parent.mkdir()
    real.write_text("# team\n")
    link = world.home / "notes" / "sync.md"
    link.parent.mkdir()
    link.symlink_to(real)
    assert note(world, link, "through my own link").returncode == 0
    assert roster_write(world, link).returncode == 0
    assert link.is_symlink() and "through my own link" in real.read_text()
    assert real.read_bytes().startswith(START)

    # The user's link leads into a folder where someone else's link waits: refused there.
    bashrc = world.home / ".bashrc"
    bashrc.write_text("# mine\n")
    trap = world.root / "elsewhere"
    trap.mkdir()
    (trap / "team.md").symlink_to(bashrc)
    os.lchown(trap / "team.md", 4242, 4242)
    link.unlink()
    link.symlink_to(trap / "team.md")
    for r in (note(world, link, "x"), roster_write(world, link)):
        assert f"refusing to write through {trap / 'team.md'}" in assert_one_line_error(r)
    assert bashrc.read_text() == "# mine\n"


# --- 2. the roster block is found by whole marker lines ------------------------------------

def test_notes_that_quote_the_markers_lose_nothing_to_roster_write(world: World) -> None:
    notes_file = world.home / "sync.md"
    notes_file.write_text("# notes\nmy precious line\n")
    assert note(world, notes_file, f"the block starts at {START.decode()} and").returncode == 0
    with notes_file.open("a") as f:
        f.write("more of my text\n")
    assert note(world, notes_file, f"ends at {END.decode()}").returncode == 0
    with notes_file.open("a") as f:
        f.write("after\n")
    before = notes_file.read_bytes()

    for _ in range(2):
        r = roster_write(world, notes_file)
        assert r.returncode == 0, r.stderr
        data = notes_file.read_bytes()
        assert data.endswith(b"\n\n" + before), data  # every byte of the notes, after the block
        assert data.startswith(START + b"\n| Name |")
        assert data.count(b"\n" + END + b"\n") == 1


def test_a_note_whose_text_is_a_marker_cannot_forge_one(world: World) -> None:
    notes_file = world.home / "sync.md"
    for text in (START, END):
        assert note(world, notes_file, text.decode()).returncode == 0
    lines = notes_file.read_bytes().splitlines()
    assert len(lines) == 2 and all(x.startswith(b"- ") for x in lines), lines
    assert notes.find_block(notes_file.read_bytes()) is None
    assert roster_write(world, notes_file).returncode == 0
    assert notes_file.read_bytes().endswith(b"\n".join(lines) + b"\n")


def test_an_end_marker_quoted_below_the_block_keeps_the_text_before_it(world: World) -> None:
    world.claim(world.sleeper().pid)
    notes_file = world.home / "sync.md"
    tail = (b"\n## How the roster works\nIt sits between two lines:\n\n```html\n"
            + START + b"\n" + END + b"\n```\nand nothing else is touched.\n")
    notes_file.write_bytes(START + b"\nstale\n" + END + b"\n" + tail)
    assert roster_write(world, notes_file).returncode == 0
    data = notes_file.read_bytes()
    assert data.endswith(END + b"\n" + tail), data
    assert b"stale" not in data and b"| Michael |" in data


def test_a_lone_start_marker_gets_its_end_back_and_every_line_stays(world: World) -> None:
    world.claim(world.sleeper().pid)
    notes_file = world.home / "sync.md"
    # The end line deleted by hand: what followed the start line is the user's now.
    before = b"# team\n" + START + b"\n| Old | row |\nmy own line\n"
    notes_file.write_bytes(before)
    r = roster_write(world, notes_file)
    assert r.returncode == 0, r.stderr
    once = notes_file.read_bytes()
    assert once.startswith(b"# team\n" + START + b"\n| Name |")
    assert once.endswith(END + b"\n| Old | row |\nmy own line\n")
    r = roster_write(world, notes_file)  # and from now on an ordinary block
    assert r.returncode == 0 and "already up to date" in r.stdout, r
    assert notes_file.read_bytes() == once


_LINES = st.lists(st.sampled_from([START, END, START + b" ", b" " + END, b"text", b"- 10:00 "
                                   + START, END + b"\r", b""]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(lines=_LINES, final=st.booleans())
def test_roster_keeps_every_line_outside_its_block_and_twice_is_once(
        lines: list[bytes], final: bool) -> None:
    old = b"\n".join(lines) + (b"\n" if final and lines else b"")
    body = "| Name |\n|---|\n| Pam |\n"
    new = notes.with_roster(old, body)
    assert notes.with_roster(new, body) == new
    found = notes.find_block(old)
    inside: set[int] = set()
    if found is not None and found[1] is not None:
        inside = set(range(found[0] + 1, found[1]))
    kept = [x for i, x in enumerate(old.split(b"\n")) if i not in inside]
    rest = iter(new.split(b"\n"))
    assert all(any(x == y for y in rest) for x in kept), (old, new)  # in order, none lost


# --- 3. a rewrite keeps the file's owner, group and mode ----------------------------------

def test_a_teammate_s_roster_write_is_refused_and_the_owner_keeps_the_file(
        world: World, other_user: User, shared: Path) -> None:
    teammate = other_user
    folder = shared / "team"
    folder.mkdir()
    os.chown(folder, 0, teammate.gid)
    folder.chmod(0o775)  # the team's folder, no setgid bit
    notes_file = folder / "sync.md"
    notes_file.write_bytes(b"# team notes\n")
    os.chown(notes_file, 0, teammate.gid)
    notes_file.chmod(0o664)
    before = owner(notes_file)

    r = as_user(teammate, "roster", "--write", str(notes_file))
    line = assert_one_line_error(r)
    assert "belongs to root (uid 0)" in line and "roster --write FILE" in line, line
    assert owner(notes_file) == before and notes_file.read_bytes() == b"# team notes\n"
    assert temp_files(folder) == []
    # The owner can still write it, and so can the teammate's notes (an append).
    world.claim(world.sleeper().pid)
    assert roster_write(world, notes_file).returncode == 0
    r = as_user(teammate, "run", "--", "{python}", "-m", "codename_shell", "note", "hi",
                env={"CODENAME_NOTES": str(notes_file)})
    assert r.returncode == 0, r.stderr
    assert owner(notes_file) == before and notes_file.read_bytes().endswith(b"): hi\n")


def test_roots_roster_write_gives_the_file_back_to_its_owner_with_its_mode(
        world: World, other_user: User, shared: Path) -> None:
    notes_file = shared / "sync.md"
    notes_file.write_bytes(b"# theirs\n")
    os.chown(notes_file, other_user.uid, other_user.gid)
    notes_file.chmod(0o640)
    inode = notes_file.stat().st_ino
    world.claim(world.sleeper().pid)
    r = roster_write(world, notes_file)
    assert r.returncode == 0, r.stderr
    assert owner(notes_file) == (other_user.uid, other_user.gid, 0o640)
    assert notes_file.stat().st_ino != inode and notes_file.read_bytes().endswith(b"# theirs\n")


def test_a_rewrite_that_cannot_keep_the_group_is_refused(
        other_user: User, shared: Path) -> None:
    user = other_user
    folder = shared / "mine"
    folder.mkdir()
    os.chown(folder, user.uid, user.gid)
    notes_file = folder / "sync.md"
    notes_file.write_bytes(b"# mine, group root\n")
    os.chown(notes_file, user.uid, 0)  # a group this user is not in
    notes_file.chmod(0o640)
    r = as_user(user, "roster", "--write", str(notes_file))
    assert "cannot give a new file" in assert_one_line_error(r)
    assert owner(notes_file) == (user.uid, 0, 0o640)
    assert notes_file.read_bytes() == b"# mine, group root\n" and temp_files(folder) == []


def test_a_reader_of_the_notes_before_a_roster_write_still_reads_the_old_text_whole(
        world: World) -> None:
    world.claim(world.sleeper().pid)
    notes_file = world.home / "sync.md"
    old = b"# notes\n" + b"- a line someone is reading\n" * 1000
    notes_file.write_bytes(old)
    with notes_file.open("rb") as reader:
        assert roster_write(world, notes_file).returncode == 0
        assert reader.read() == old  # never a file cut short or rewritten under a reader
    assert notes_file.read_bytes().endswith(b"\n\n" + old)


# --- 4 and 5. install.sh and the user's rc file ---------------------------------------------

def _without_end_line(text: str) -> str:
    return "".join(x for x in text.splitlines(keepends=True) if x.rstrip("\n") != rcfile.END)


def test_a_block_whose_end_line_was_deleted_keeps_every_user_line(install: Installer) -> None:
    bashrc = install.home / ".bashrc"
    bashrc.write_text("# mine\n")
    assert install("--shell", "bash").returncode == 0
    mine = "export MINE=1\nalias keep=me\n"
    bashrc.write_text(_without_end_line(bashrc.read_text()) + mine)

    for _ in range(2):  # the block is provably install.sh's: its end goes back
        r = install("--shell", "bash")
        assert r.returncode == 0, r.stderr
        text = bashrc.read_text()
        assert text.endswith(rcfile.END + "\n" + mine) and text.count(rcfile.BEGIN) == 1
    r = install("--uninstall")
    assert r.returncode == 0, r.stderr
    assert bashrc.read_text() == "# mine\n" + mine


def test_a_block_whose_end_and_hook_were_edited_by_hand_is_left_to_the_user(
        install: Installer) -> None:
    bashrc = install.home / ".bashrc"
    bashrc.write_text("# mine\n")
    assert install("--shell", "bash").returncode == 0
    edited = _without_end_line(bashrc.read_text()).replace(" init bash", " init bash # me")
    edited += "export MINE=1\n"
    bashrc.write_text(edited)

    r = install("--shell", "bash")
    line = assert_one_line_error(r)
    assert line.startswith("codename: ~/.bashrc: line 2 opens a codename block"), line
    assert bashrc.read_text() == edited
    r = install("--uninstall")
    assert r.returncode == 0, r.stderr
    assert "left ~/.bashrc as it is" in r.stdout
    assert bashrc.read_text() == edited


def _unwritable(path: Path) -> list[str]:
    """Make `path` a file no one may replace, not even root: `chattr +i`, else (a file system
    without the flag) a command prefix that runs what follows with `path` read-only-mounted."""
    require_root("to make a file immutable")
    r = subprocess.run([require("chattr"), "+i", str(path)], capture_output=True, text=True)
    if r.returncode == 0:
        return []
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    return [require("unshare"), "--mount", "--propagation", "private", "sh", "-c", script,
            str(path)]


@pytest.mark.parametrize("step", ["install", "uninstall"])
def test_an_immutable_bashrc_is_one_line_and_leaves_no_temp_file(
        install: Installer, step: str) -> None:
    bashrc = install.home / ".bashrc"
    bashrc.write_text("# mine\n")
    if step == "uninstall":
        assert install("--shell", "bash").returncode == 0
    before = bashrc.read_bytes()
    prefix = _unwritable(bashrc)
    try:
        args = ["--shell", "bash"] if step == "install" else ["--uninstall"]
        r = subprocess.run([*prefix, "sh", "-c", 'exec "$0" "$@" <&-', str(install_script()),
                            *args], capture_output=True, text=True, env=install.env,
                           cwd=install.home, timeout=600, stdin=subprocess.DEVNULL)
    finally:
        subprocess.run(["chattr", "-i", str(bashrc)], capture_output=True)
    line = assert_one_line_error(r)
    assert line.startswith("codename: cannot edit ~/.bashrc: "), line
    assert bashrc.read_bytes() == before
    assert [p for p in os.listdir(install.home) if ".tmp" in p] == []
    if step == "uninstall":  # stopped before the launcher went: the hook still works
        assert install.launcher.exists()


def install_script() -> Path:
    from test_install import SCRIPT

    return SCRIPT


# --- 6. every atomic write: a new private name, fsynced before its rename -----------------

FULL_DISK = r"""
mount -t tmpfs -o size=64k,mode=0700 codename-test "$DIR" || exit 99
cp "$SEED" "$DIR/$FILE"
head -c 30000 /dev/zero > "$DIR/filler"
"$@" 2> "$ERR"
echo "rc=$?"
ls -a "$DIR" | tr '\n' ' '
echo
cmp -s "$SEED" "$DIR/$FILE" && echo same
"""


@pytest.mark.parametrize("what", ["config.toml", "notes"])
def test_a_rewrite_on_a_full_disk_changes_nothing_and_leaves_no_temp_file(
        world: World, what: str) -> None:
    require_root("to mount a small tmpfs in a mount namespace of its own")
    seed, err = world.root / "seed", world.root / "err"
    if what == "config.toml":
        directory, name = world.config / "codename", "config.toml"
        seed.write_text('theme = "office"\n# ' + "x" * 30000 + "\n")
        command = [*CODENAME, "theme", "parks"]
    else:
        directory, name = world.root / "notes", "sync.md"
        seed.write_bytes(b"# notes\n" + b"x" * 30000 + b"\n")
        command = [*CODENAME, "roster", "--write", str(directory / name)]
    directory.mkdir(parents=True, exist_ok=True)
    seed.chmod(0o600)
    world.claim(world.sleeper().pid)
    env = {**world.env, "DIR": str(directory), "SEED": str(seed), "FILE": name, "ERR": str(err)}
    r = subprocess.run([require("unshare"), "--mount", "--propagation", "private", "sh", "-c",
                        FULL_DISK, "sh", *command], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    rc, listing, same = r.stdout.splitlines()
    assert (rc, sorted(listing.split()), same) == ("rc=1", sorted([".", "..", name, "filler"]),
                                                   "same"), r.stdout
    lines = err.read_text().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], lines


def strace_writes(world: World, argv: list[str], trace: Path,
                  env: dict[str, str] | None = None) -> list[str]:
    strace = require_strace()
    r = subprocess.run([strace, "-f", "-qq", "-y", "-s", "4096", "-o", str(trace), "-e",
                        "trace=openat,fsync,fdatasync,rename,renameat,renameat2", *argv],
                       env={**world.env, **(env or {})}, capture_output=True, text=True,
                       timeout=120, cwd=world.home)
    assert r.returncode == 0, r.stderr
    return [re.sub(r"^\d+ +", "", x) for x in trace.read_text().splitlines()]


_TEMP_OPEN = re.compile(r'openat\(.*"([^"]*\.tmp)", ([A-Z_|]+), (0\d+)\) = \d+<(.*\.tmp)>$')


def check_atomic_writes(calls: list[str], target: Path, *, directory_synced: bool) -> None:
    """`target` was replaced by a temp file made O_EXCL|O_NOFOLLOW, fsynced before the rename
    (and, if asked, its directory fsynced after)."""
    names = (f"{target.name}.", f".{target.name}.")
    opened = [(i, m) for i, x in enumerate(calls) if (m := _TEMP_OPEN.search(x))
              and Path(m[4]).parent == target.parent and Path(m[4]).name.startswith(names)]
    assert opened, "\n".join(calls)
    for at, m in opened:
        flags = set(m[2].split("|"))
        assert {"O_CREAT", "O_EXCL", "O_NOFOLLOW"} <= flags, m[0]
        assert int(m[3], 8) & 0o077 == 0, m[0]  # private until complete
        renamed = next(i for i, x in enumerate(calls) if i > at and x.startswith("rename")
                       and f'"{m[1]}"' in x and x.endswith("= 0"))
        synced = [i for i in range(at, renamed)
                  if re.match(rf"f(data)?sync\(\d+<{re.escape(m[4])}>\) = 0", calls[i])]
        assert synced, f"{m[4]} renamed before it was fsynced:\n" + "\n".join(calls[at:renamed + 1])
        if directory_synced:
            assert any(re.match(rf"fsync\(\d+<{re.escape(str(target.parent))}>\) = 0", x)
                       for x in calls[renamed:]), "\n".join(calls[renamed:])


def test_config_notes_rc_file_and_launcher_are_synced_new_files_renamed_into_place(
        world: World) -> None:
    trace = world.root / "trace"
    calls = strace_writes(world, [*CODENAME, "theme", "parks"], trace)
    check_atomic_writes(calls, world.config_file, directory_synced=True)

    world.claim(world.sleeper().pid)
    notes_file = world.home / "notes" / "sync.md"
    notes_file.parent.mkdir()
    notes_file.write_text("# notes\n")
    calls = strace_writes(world, [*CODENAME, "roster", "--write", str(notes_file)], trace)
    check_atomic_writes(calls, notes_file, directory_synced=True)

    bashrc = world.home / ".bashrc"
    bashrc.write_text("# mine\n")
    calls = strace_writes(world, [sys.executable, str(Path(rcfile.__file__)), "add",
                                  str(bashrc), "echo hook", "bash"], trace)
    check_atomic_writes(calls, bashrc, directory_synced=True)

    launcher = world.root / "bin" / "codename"  # install.sh's, which every shell start runs
    launcher.parent.mkdir()
    for _ in range(2):  # made, then replaced
        calls = strace_writes(world, [sys.executable, "-m", "codename_shell.launcher",
                                      str(launcher)], trace)
        check_atomic_writes(calls, launcher, directory_synced=True)
    assert owner(launcher)[2] == 0o755


def test_a_claim_s_presence_file_and_the_compacted_ledger_are_synced_before_their_rename(
        world: World) -> None:
    trace = world.root / "trace"
    sleeper = world.sleeper()
    calls = strace_writes(world, [*CODENAME, "claim", "--pid", str(sleeper.pid)], trace)
    (presence,) = [p for p in world.presence_dir.iterdir() if "." not in p.name]
    check_atomic_writes(calls, presence, directory_synced=False)

    with world.ledger.open("a") as f:
        f.write("an unreadable row\n")  # `reap` compacts the ledger to drop it
    calls = strace_writes(world, [*CODENAME, "reap"], trace)
    assert Path(f"{world.ledger}.1").exists()
    check_atomic_writes(calls, world.ledger, directory_synced=True)


# --- 7. someone else took /tmp/runtime-<uid> -----------------------------------------------

def test_a_squatted_tmp_runtime_dir_still_gives_the_user_a_name_and_doctor_says_why(
        other_user: User, shared: Path) -> None:
    victim = other_user
    if Path(f"/run/user/{victim.uid}").exists():
        pytest.fail(f"/run/user/{victim.uid} exists: platformdirs would not fall back to /tmp")
    shared.chmod(0o1777)  # the machine's /tmp, as TMPDIR: a new user's runtime dir goes here
    squatted = shared / f"runtime-{victim.uid}"
    squatted.mkdir(mode=0o700)
    os.chown(squatted, 4242, 4242)  # another user got there first
    env: dict[str, str | None] = {"TMPDIR": str(shared), "XDG_RUNTIME_DIR": None}

    names = []
    for _ in range(2):
        sleeper = victim.sleeper()
        r = as_user(victim, "claim", "--pid", str(sleeper.pid), env=env)
        assert r.returncode == 0 and r.stderr == "", r
        names.append(r.stdout.strip())
    assert names == ["Michael", "Dwight"]  # one directory for every process of the user
    fallback = victim.home / ".local" / "state" / "codename" / "runtime"
    assert len([p for p in fallback.iterdir() if "." not in p.name]) == 2
    assert owner(fallback) == (victim.uid, victim.gid, 0o700)
    assert owner(squatted) == (4242, 4242, 0o700) and not any(squatted.iterdir())

    r = as_user(victim, "doctor", env=env)
    assert r.returncode == 1, r.stdout + r.stderr  # who made that directory is worth a look
    said = [x for x in r.stdout.splitlines() if x.split()[:3] == ["FAIL", "runtime", "dir"]]
    assert len(said) == 1 and str(fallback) in said[0] and "owned by uid 4242" in said[0], said

