"""`history.cache`: what `log` read of the rotated ledger files, kept for the next question
(codename_shell/historycache.py). Whatever it holds, or fails to hold, the answers are the ones
a reading of every file whole gives: only their speed may differ (bench/history.py)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import World
from test_log_history import row, write_ledger

H = 3600


def rotated_history(world: World) -> tuple[int, str]:
    """Three files, as two compactions leave them. Michael came and went in `.2`; Dwight
    (cwd /srv/billing), claimed in `.2`, was renamed Toby in `.1` and still holds it; Jim was
    claimed in `.2` and released in `.1` at the last second `.1` holds; Pam claimed in `.1`
    and let go in the live file; Kevin came after the compaction. `.2` holds a row no time
    zone can place. Returns the time now and the ISO time of `.1`'s last row."""
    now = int(time.time())
    last = now - 4 * H
    write_ledger(world, row(now - 9 * H, "claimed", "Michael", 11),
                 row(now - 8 * H, "claimed", "Dwight", 12, extra="\tcwd=/srv/billing"),
                 row(0, "claimed", "Angela", 19, stamp="0001-01-01T00:00:00Z"),
                 row(now - 8 * H + 60, "claimed", "Jim", 13),
                 row(now - 7 * H, "released", "Michael", 11), name="ledger.log.2")
    write_ledger(world, row(now - 6 * H, "renamed", "Toby", 12, extra="\tfrom=Dwight"),
                 row(now - 5 * H, "claimed", "Pam", 14),
                 row(last, "released", "Jim", 13), name="ledger.log.1")
    compacted = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3 * H))
    write_ledger(world, f"# codename ledger, compacted {compacted}; history in ledger.log.1\n",
                 row(now - 3 * H, "claimed", "Toby", 12, stamp=compacted),
                 row(now - 3 * H, "claimed", "Pam", 14, stamp=compacted),
                 row(now - 2 * H, "claimed", "Kevin", 15),
                 row(now - 1 * H, "released", "Pam", 14))
    return now, datetime.fromtimestamp(last, UTC).isoformat()


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def questions(now: int, at_last: str) -> list[list[str]]:
    """Questions about moments after `.1`'s last row, and one at that very second: at fixed
    moments, so that two readings a second apart ask the same."""
    return [["--at", iso(now - 1800)], ["--at", iso(now - 2.5 * H), "--json"],
            ["--at", iso(now - 10), "--name", "toby"], ["--since", iso(now - 3.5 * H)],
            ["--since", iso(now - 3.5 * H), "--json"], ["--since", at_last],
            ["--since", iso(now - 2 * H), "--name", "Pam"]]


def timelines(world: World) -> tuple[tuple[str, str], tuple[str, str]]:
    """`--timeline --since 3h` read whole, then from the summary, within one second (the
    timeline ends now)."""
    for _ in range(5):
        second = int(time.time())
        cache(world).unlink(missing_ok=True)
        whole = answers(world, [["--timeline", "--since", "3h"]])[0]
        kept = answers(world, [["--timeline", "--since", "3h"]])[0]
        if int(time.time()) == second:
            return whole, kept
    raise AssertionError("two readings never fell within one second")


def answers(world: World, asked: list[list[str]]) -> list[tuple[str, str]]:
    env = {"TZ": "UTC", "COLUMNS": "160"}
    found = []
    for args in asked:
        r = world.run("log", *args, env=env)
        assert r.returncode == 0, (args, r.stderr)
        found.append((r.stdout, r.stderr))
    return found


def cache(world: World) -> Path:
    return world.ledger.parent / "history.cache"


def test_a_question_about_a_later_moment_gets_the_same_answer_from_the_kept_summary(
        world: World) -> None:
    now, at_last = rotated_history(world)
    asked = questions(now, at_last)
    whole = []
    for args in asked:  # each read with no cache kept: every file read whole
        cache(world).unlink(missing_ok=True)
        whole += answers(world, [args])
    assert cache(world).is_file()
    assert answers(world, asked) == whole
    # What the answers say: the summary kept what they need of the rotated files.
    out, err = whole[1]
    assert "Toby" in out and "/srv/billing" in out and '"from": "Dwight"' in out, out
    assert "Pam" in out and "Kevin" not in out and "Jim" not in out, out
    assert "cannot be placed" in err, err  # the rotated files' warning, from the summary too
    out, _ = whole[5]  # --since the very second of Jim's release in `.1`
    assert "released  Jim" in out, out
    whole_line, kept_line = timelines(world)
    assert kept_line == whole_line
    assert all(name in whole_line[0] for name in ("Toby", "Pam", "Kevin")), whole_line


def test_the_summary_stands_in_for_the_rotated_files_until_they_change(world: World) -> None:
    now, at_last = rotated_history(world)
    # All but the question at `.1`'s last second, which needs that file's rows.
    asked = [q for q in questions(now, at_last) if at_last not in q]
    kept = answers(world, asked)
    # The rotated files, overwritten in place with their size and mtime kept: an answer that
    # is still the same came from the summary (only a question needing them reads them).
    second = world.ledger.parent / "ledger.log.2"
    st = second.stat()
    second.write_bytes(b"#" * st.st_size)
    os.utime(second, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert answers(world, asked) == kept
    # A compaction writes a new `.1`: the summary is stale and the files are read again.
    write_ledger(world, row(int(time.time()) - 5 * H, "claimed", "Oscar", 16),
                 name="ledger.log.1")
    out, err = answers(world, [asked[0]])[0]
    assert "Oscar" in out and "torn last line" in err, (out, err)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "another key", "symlink", "fifo",
                                    "directory"])
def test_a_damaged_or_foreign_cache_costs_speed_never_an_answer(world: World,
                                                                damage: str) -> None:
    now, at_last = rotated_history(world)
    asked = questions(now, at_last)
    kept = answers(world, asked)
    path = cache(world)
    good = path.read_bytes()
    path.unlink()
    if damage == "garbage":
        path.write_bytes(os.urandom(len(good)))
    elif damage == "truncated":
        path.write_bytes(good[:len(good) // 2])
    elif damage == "another key":  # marshal of (key, checksum, payload): a flipped payload bit
        path.write_bytes(good[:-8] + bytes([good[-8] ^ 1]) + good[-7:])
    elif damage == "symlink":
        target = world.home / "elsewhere"
        target.write_bytes(good)
        path.symlink_to(target)
    elif damage == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    assert answers(world, asked) == kept


def test_a_moment_within_the_rotated_files_reads_them_whole(world: World) -> None:
    now, at_last = rotated_history(world)
    answers(world, questions(now, at_last))  # the summary kept
    out, _ = answers(world, [["--at", "7h30m"]])[0]
    assert "Michael" in out and "Dwight" in out and "Jim" in out, out
    since = answers(world, [["--since", "9h30m", "--json"]])[0][0]
    assert '"name": "Michael"' in since and '"name": "Jim"' in since, since
