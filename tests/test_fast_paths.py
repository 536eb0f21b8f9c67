"""The fast paths of a claim (lean_os, the row parser, rows.cache, the quick survey) against
what they stand in for.

Each test tries to make one of them break the promise (never one name to two live holders)
or a shell start, as a red-team review of them did: a legacy locale, damage to rows.cache
that still loads, odd pids among many holders; and the parser against the one it replaced.
"""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, World, require
from helpers import dead_pid, identity, names_held, needs_proc
from hypothesis import example, given
from hypothesis import strategies as st

from codename_shell import holders, rowcache
from codename_shell.holders import MAX_STAMP, RowError
from codename_shell.sources.presence import SETTLED_NS

CROWD = rowcache.REWRITE_AFTER + 6  # enough rows read for a claim to write rows.cache


# --- lean_os: init and every other command must agree on where the state lives --------------

LOCALE = "en_US.ISO-8859-1"

# A claim made as `codename init` makes it: started with -S (no site, so no `os` at first),
# config.load() then the claim, through lean_os. Prints the name.
INIT_LIKE_CLAIM = """\
import sys
sys.path[:0] = [sys.argv[1]]
assert 'os' not in sys.modules
from codename_shell import config
from codename_shell.allocator import Allocator
print(Allocator(config.load()).claim(int(sys.argv[2])).name)
"""


def latin1_locale(root: Path) -> Path:
    """A compiled ISO-8859-1 locale under `root` (for LOCPATH): a legacy, non-UTF-8 locale."""
    localedef = require("localedef")
    where = root / "locales"
    where.mkdir()
    r = subprocess.run([localedef, "-i", "en_US", "-f", "ISO-8859-1", str(where / LOCALE)],
                       capture_output=True, text=True, timeout=120)
    if not (where / LOCALE).exists():
        pytest.fail(f"localedef could not build {LOCALE}: {r.stderr}")
    return where


@needs_proc
def test_a_shell_start_reads_the_config_other_commands_read_under_a_non_utf8_locale(
        world: World) -> None:
    # A user whose locale is ISO-8859-1 and whose config dir's name holds bytes that happen
    # to be valid UTF-8 ("é" as UTF-8: c3 a9). `os.environ` decodes them with the locale's
    # encoding; lean_os.getenv decoded them as UTF-8, so a shell start looked for config.toml
    # at other bytes, found none, and ignored the roster that holds Michael.
    locpath = latin1_locale(world.root)
    config_home = os.fsencode(world.root) + b"/conf\xc3\xa9"
    job = world.sleeper()
    roster = world.home / "roster.jsonl"
    roster.write_text(json.dumps({"name": "Michael", "pid": job.pid}) + "\n")
    conf = Path(os.fsdecode(config_home + b"/codename"))  # this process is UTF-8: same bytes
    conf.mkdir(parents=True)
    (conf / "config.toml").write_text(f'[[rosters]]\npath = "{roster}"\n')
    env = {k.encode(): v.encode() for k, v in world.env.items()}
    env.update({b"LOCPATH": os.fsencode(locpath), b"LC_ALL": LOCALE.encode(),
                b"XDG_CONFIG_HOME": config_home})
    env.pop(b"LANG", None)
    check = subprocess.run([sys.executable, "-c", "import sys; print(sys.getfilesystemencoding())"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert check.stdout.strip() == "iso8859-1", check.stderr  # the locale took effect

    command = subprocess.run([sys.executable, "-m", "codename_shell", "claim", "--pid",
                              str(world.sleeper().pid)], env=env, capture_output=True,
                             text=True, timeout=60)
    assert command.stdout.strip() == "Dwight", command.stderr  # the roster's Michael is seen
    init_like = subprocess.run([sys.executable, "-SP", "-c", INIT_LIKE_CLAIM, str(REPO),
                                str(world.sleeper().pid)], env=env, capture_output=True,
                               text=True, timeout=60)
    assert init_like.returncode == 0, init_like.stderr
    assert init_like.stdout.strip() not in ("Michael", "Dwight"), \
        "a shell start handed out a name a live holder has"


# --- holders._parse: the same holders as the parser it replaced -----------------------------

def _old_int_field(key: str, text: str | None, low: int, high: int | None) -> int | None:
    if not text:
        return None
    try:
        value = int(text)
    except ValueError as e:
        raise RowError(str(e)) from None
    if value < low and key in ("pid", "start"):
        raise RowError(f"{key}={text[:20]} is out of range")
    return max(value, low) if high is None else min(max(value, low), high)


def old_parse(row: str) -> tuple[object, ...]:
    """The parser before the fast path (git HEAD before this change), as a reference."""
    parts = row.rstrip("\n").split("\t")
    name = parts[0]
    if not name or min(name) < " ":
        raise RowError("no name")
    fields = parts[1:]
    try:
        values = dict(map(str.split, fields, ("=",) * len(fields), (1,) * len(fields)))
    except ValueError:
        raise RowError("not key=value") from None
    ranges = {"pid": (1, None), "start": (0, None), "since": (0, MAX_STAMP),
              "beat": (0, MAX_STAMP), "tty_nr": (0, 2**32 - 1)}
    ints = {key: _old_int_field(key, values.get(key), low, high)
            for key, (low, high) in ranges.items()}
    if ints["pid"] is None:
        raise RowError("no pid")
    get = values.get
    full = get("full", "")
    return (name, full or name, get("kind", "terminal"), ints["pid"], ints["start"],
            get("boot", ""), get("host", ""), get("ns", ""), get("tty", ""), ints["tty_nr"],
            ints["since"], ints["beat"], get("theme", ""), get("machine", ""),
            _old_colour(get("colour")))


def _old_colour(text: str | None) -> int | None:
    """The colour field (issue 21): 0 to 255 in ASCII digits, anything else none."""
    if text is None or not all("0" <= c <= "9" for c in text) or not text:
        return None
    value = int(text)
    return value if value <= 255 and len(text) <= 3 else None


NUMBERS = st.one_of(
    st.sampled_from(["", "0", "1", "-1", "+7", " 42 ", "4_2", "_42", "0x10", "1e3", "٣", "255",
                     "256", "0255",
                     "00012", "-0", str(2**31), str(2**63), "9" * 5000, "-" + "9" * 30,
                     str(MAX_STAMP + 1), str(2**32), "nan", "1.0"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
KEYS = st.sampled_from(["pid", "start", "since", "beat", "tty_nr", "full", "kind", "boot",
                        "host", "ns", "tty", "theme", "machine", "colour", "junk"])


# Rows that parse, each time: a reference that fell behind the row format (the colour field
# of issue 21) failed only when the random draw happened to make a row with a valid pid.
@example("Pam", [("pid", "1")], False)
@example("Pam", [("pid", "7"), ("colour", "33")], False)
@example("Toby 7", [("pid", "7"), ("colour", "256")], False)
@example("Pam", [("pid", "7"), ("colour", "33")], True)  # `bare`: a field that is no key=value
@given(st.sampled_from(["Pam", "Toby 7", "", "\x01x", "é"]),
       st.lists(st.tuples(KEYS, NUMBERS), max_size=8), st.booleans())
def test_the_fast_parser_reads_every_row_as_the_old_one_did(
        name: str, fields: list[tuple[str, str]], bare: bool) -> None:
    row = "\t".join([name, *(f"{k}={v}" for k, v in fields)] + (["bare"] if bare else []))
    try:
        expected: object = old_parse(row)
    except RowError:
        expected = RowError
    try:
        got: object = holders._parse(row)
    except RowError:
        got = RowError
    assert got == expected, row


# --- rows.cache: what it keeps must not outrank the row it was read from --------------------

def crowd_with_cache(world: World) -> list[tuple[subprocess.Popen[bytes], str]]:
    """CROWD live holders, each named by a real claim, and rows.cache written by a last claim
    after their files settled."""
    held = []
    for _ in range(CROWD):
        p = world.sleeper()
        held.append((p, world.claim(p.pid)))
    time.sleep(SETTLED_NS / 1e9 + 0.1)
    cache = world.ledger.parent / rowcache.NAME
    cache.unlink(missing_ok=True)
    p = world.sleeper()
    held.append((p, world.claim(p.pid)))
    assert cache.is_file()
    return held


def rewrite_fields(world: World, name: str, change: dict[int, object]) -> None:
    """Change, in rows.cache, the parsed fields of `name`'s row, as damage that still loads
    would: the key, the checksum and every presence file's identity left as they are."""
    cache = world.ledger.parent / rowcache.NAME
    key, checksum, payload = marshal.loads(cache.read_bytes())
    rows, files = marshal.loads(payload)
    texts = [text for text in rows if text.startswith(f"{name}\t")]
    assert texts, f"{name}'s row is not in the cache"
    for text in texts:
        rows[text] = tuple(change.get(i, v) for i, v in enumerate(rows[text]))
    cache.write_bytes(marshal.dumps((key, checksum, marshal.dumps((rows, files)))))


@needs_proc
def test_a_damaged_cache_cannot_take_a_live_holders_name(world: World) -> None:
    held = crowd_with_cache(world)
    live, name = held[0]
    assert name == "Michael"
    # The cache says Michael's row names a pid no process has: the row itself does not.
    rewrite_fields(world, "Michael", {3: dead_pid(world)})
    newcomer = world.claim(world.sleeper().pid)
    assert live.poll() is None
    assert newcomer != "Michael", "the live Michael's name was handed out again"
    assert len(names_held(world).get("Michael", [])) == 1


@needs_proc
def test_a_damaged_cache_does_not_break_every_shell_start(world: World) -> None:
    crowd_with_cache(world)
    rewrite_fields(world, "Michael", {3: "not a pid"})  # a field of the wrong type
    for _ in range(2):  # not once: the damage must not stay
        r = world.run("claim", "--pid", str(world.sleeper().pid))
        assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr


# --- the quick survey: odd rows among more holders than it checks in full -------------------

@needs_proc
def test_among_many_holders_odd_pids_neither_crash_nor_free_a_live_name(world: World) -> None:
    from helpers import write_presence

    held = [(p, world.claim(p.pid)) for p in (world.sleeper() for _ in range(70))]
    me = identity(os.getpid())
    # Rows no process can have: past pid_t, past 2**32 (a truncation would find a real pid).
    for name, pid in (("Huge 1", 2**31), ("Huge 2", 2**32 + held[-1][0].pid),
                      ("Huge 3", 2**63 + 5)):
        write_presence(world, name, pid, start=me.start)
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    by_name = names_held(world)
    assert not {n for n in by_name if n.startswith("Huge")}
    assert all(len(hs) == 1 for hs in by_name.values()), by_name
    assert {n for _, n in held} <= set(by_name)
