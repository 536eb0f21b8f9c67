"""What one claim read, kept for the next (rows.cache): it saves reading, never changes a name.

A claim among many holders reads a presence file again only when one lstat shows it is not
the version an earlier claim read, and parses a row again only when no earlier claim did.
These tests change presence files in every way that keeps what is cheap to compare (same
size, same mtime set back), damage the cache, and check with strace that the reading it saves
is really saved.
"""

from __future__ import annotations

import marshal
import os
import subprocess
import time

from conftest import World
from helpers import identity, needs_proc, require_strace, write_presence

from codename_shell import rowcache
from codename_shell.sources.presence import SETTLED_NS

CROWD = rowcache.REWRITE_AFTER + 6  # enough rows read for a claim to write the cache


def cached_crowd(world: World) -> tuple[str, int, str]:
    """CROWD holders, one of them a spare known only by its presence file ("Spare"), all read
    and kept in rows.cache by a claim; the spare's presence file and pid, and the presence
    file of the claim that wrote the cache (written after its survey: not kept)."""
    for _ in range(CROWD - 1):
        world.claim(world.sleeper().pid)
    spare = world.sleeper().pid
    path = write_presence(world, "Spare", spare)
    time.sleep(SETTLED_NS / 1e9 + 0.1)  # only files that have settled are kept
    cache = world.ledger.parent / rowcache.NAME
    cache.unlink(missing_ok=True)  # written by a claim of the crowd, before the spare came
    last = world.sleeper().pid
    world.claim(last)
    assert cache.is_file()
    assert b"Spare\t" in cache.read_bytes()  # the spare's file was kept
    return str(path), spare, identity(last).ident


@needs_proc
def test_a_file_rewritten_in_place_with_its_times_set_back_is_read_again(world: World) -> None:
    path, _, _ = cached_crowd(world)
    before = os.stat(path)
    with open(path, "r+b") as f:  # the same size, in place (same inode)
        text = f.read()
        f.seek(0)
        f.write(text.replace(b"Spare\t", b"Spire\t", 1))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == \
        (before.st_ino, before.st_size, before.st_mtime_ns)

    r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", "Spire")
    assert r.returncode == 1 and "Spire is held by" in r.stderr, r.stderr
    assert world.claim(world.sleeper().pid, "--name", "Spare") == "Spare"


@needs_proc
def test_a_file_replaced_by_another_of_the_same_size_is_read_again(world: World) -> None:
    path, spare, _ = cached_crowd(world)
    size = os.stat(path).st_size
    os.unlink(path)
    write_presence(world, "Spire", spare)  # a new file, maybe on the old inode
    assert os.stat(path).st_size == size
    r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", "Spire")
    assert r.returncode == 1 and "Spire is held by" in r.stderr, r.stderr


@needs_proc
def test_a_damaged_or_foreign_cache_is_ignored(world: World) -> None:
    cached_crowd(world)
    cache = world.ledger.parent / rowcache.NAME
    for junk in (b"", b"\x00" * 64, cache.read_bytes()[: cache.stat().st_size // 2],
                 marshal.dumps(((0, "another codename", 1, 2), {}, {}))):
        cache.write_bytes(junk)
        r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", "Spare")
        assert r.returncode == 1 and "Spare is held by" in r.stderr, (junk[:20], r.stderr)
        assert "Traceback" not in r.stderr


@needs_proc
def test_a_claim_reads_only_the_presence_files_that_changed(world: World) -> None:
    strace = require_strace()
    path, spare, last = cached_crowd(world)
    os.unlink(path)
    write_presence(world, "Spire", spare)
    trace = world.root / "opens"
    pid = world.sleeper().pid
    r = subprocess.run([strace, "-f", "-qq", "-e", "trace=openat", "-o", str(trace),
                        "codename", "claim", "--pid", str(pid)],
                       env=world.env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    presence = str(world.presence_dir)
    opened = {line.split('"')[1] for line in trace.read_text().splitlines()
              if '"' in line and "= -1" not in line}
    read = {name for name in opened if "/" not in name}  # opened relative to the directory
    assert read == {os.path.basename(path), last}, sorted(read)
    assert presence in opened  # the directory itself: each entry was still looked at
