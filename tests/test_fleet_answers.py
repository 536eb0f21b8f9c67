"""Redis's answers are data (issue 16): whatever the fleet's server says, or whatever anyone who
can write there put in it, is checked as config is before it becomes a name, a row or a line.

A name from a claim's answer, the keeper's reclaim or another host's row passes the check a
name from config passes (no control characters of any kind, folded NFKC + casefold), and a
claim's answer naming a name held on this host is refused however Redis spells it. An error
reply is named (`the server refused AUTH`), never quoted: a server may echo what it got, the
password included. Hostile config (a port in another script's digits, a password that is not
UTF-8) is one line and host-qualified names, never an internal error.

The hostile server is `ScriptServer` (fleet_hosts): it answers every script call with the reply
a test chooses. Where the point is a real server's own answer, a real redis-server.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import World
from fleet_hosts import RedisServer, ScriptServer, reap_keepers, resp, wait_for
from hypothesis import given, settings
from hypothesis import strategies as st

from codename_shell import casts
from codename_shell.errors import ConfigError

LEASE = 3
SECRET = "Sup3rSecretPW-16"

# What a terminal acts on: C0 controls but the newline that ends a line, DEL, C1 controls.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def fleet_config(url: str, extra: str = "") -> str:
    return f'[fleet]\nurl = "{url}"\nlease = {LEASE}\n{extra}'


def ok(name: bytes, full: bytes = b"") -> bytes:
    """A claim script's answer granting `name`."""
    return resp(b"ok", name, full or name, b"")


@pytest.fixture(autouse=True)
def _no_stray_keepers(world: World) -> Iterator[None]:
    yield
    reap_keepers(world.root)


@pytest.fixture
def hostile() -> Iterator[ScriptServer]:
    server = ScriptServer(b"-ERR not yet\r\n")
    yield server
    server.close()


@contextmanager
def no_keeper(world: World) -> Iterator[None]:
    """Hold the keeper's lock, so no keeper starts while it is held: only claims talk to the
    server then (a keeper's failed renewal would make claims not ask at all, see
    fleet.recent_failure, and a test of what a claim does with an answer would prove nothing)."""
    directory = Path(f"{world.presence_dir}-fleet")
    directory.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(directory / "keeper.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def clean(*outputs: str) -> None:
    """No output holds a character a terminal acts on, nor a Python traceback."""
    for text in outputs:
        assert not RAW_CONTROL.search(text), repr(text)
        assert "Traceback" not in text and "internal error" not in text, text


def claimed(world: World, pid: int) -> tuple[str, subprocess.CompletedProcess[str]]:
    r = world.run("claim", "--pid", str(pid), "--json")
    assert r.returncode == 0, r.stderr
    name: str = json.loads(r.stdout)["name"]
    return name, r


# --- a claim's answer ----------------------------------------------------------------------

HOSTILE_ANSWERS = {
    "osc-52-clipboard": (b"\x1b]52;c;SGVsbG8=\x07", b"Pam Beesly"),
    "osc-0-title": (b"\x1b]0;pwned\x07Pam", b"Pam Beesly"),
    "c1-csi": ("\u009b31mPam".encode(), b"Pam Beesly"),
    "del": (b"Pa\x7fm", b"Pam Beesly"),
    "nul": (b"Pa\x00m", b"Pam Beesly"),
    "bidi-override": ("\u202emaP".encode(), b"Pam Beesly"),
    "not-utf-8": (b"P\xffam", b"Pam Beesly"),
    "escape-in-the-full-name": (b"Pam", b"Pam \x1b]52;c;SGVsbG8=\x07Beesly"),
    "host-qualified": (b"Pam@bravo~327b4a", b"Pam Beesly"),
}


@pytest.mark.parametrize("answer", HOSTILE_ANSWERS.values(), ids=HOSTILE_ANSWERS.keys())
def test_a_claims_answer_with_a_name_no_config_could_hold_is_refused_never_shown(
        world: World, hostile: ScriptServer, answer: tuple[bytes, bytes]) -> None:
    hostile.reply = ok(*answer)
    world.write_config(fleet_config(hostile.url()))
    with no_keeper(world):
        name, r = claimed(world, world.sleeper().pid)
    assert hostile.scripts == 1  # the claim asked, and was answered
    assert name.startswith("Michael@"), name  # the fallback for a fleet it cannot use
    (line,) = lines(r.stderr)
    assert "its answer to a claim was refused" in line and name in line, line
    who, who_json, doctor = (world.run(*a) for a in (["who"], ["who", "--json"], ["doctor"]))
    outputs = [r.stdout, r.stderr, who.stdout, who.stderr, who_json.stdout, who_json.stderr,
               doctor.stdout, doctor.stderr]
    clean(*outputs)
    for text in outputs:
        for marker in ("52;c", "pwned", "31m", "maP", "bravo", "P\ufffdam"):
            assert marker not in text, (marker, text)


@pytest.mark.parametrize("second", ["Michael", "MICHAEL", "\uff2dichael", "Michael\ufe0f"])
def test_a_name_held_here_is_never_granted_again_whatever_redis_says(
        world: World, hostile: ScriptServer, second: str) -> None:
    world.write_config(fleet_config(hostile.url()))
    hostile.reply = ok(b"Michael", b"Michael Scott")
    with no_keeper(world):
        first, _ = claimed(world, world.sleeper().pid)
        hostile.reply = ok(second.encode(), b"Michael Scott")
        name, r = claimed(world, world.sleeper().pid)
    assert first == "Michael"
    assert hostile.scripts == 2  # the second claim asked too: its answer was refused here
    assert "@" in name and casts.fold(name.split("@")[0]) != casts.fold("Michael"), name
    (line,) = lines(r.stderr)
    assert "a name held on this host" in line, line
    rows = json.loads(world.run("who", "--json").stdout)
    assert sorted(row["name"] for row in rows) == sorted(["Michael", name])


def test_the_keepers_reclaim_never_takes_a_name_held_here(world: World,
                                                          hostile: ScriptServer) -> None:
    world.write_config(fleet_config(hostile.url()))
    first, second = world.sleeper(), world.sleeper()
    with no_keeper(world):
        hostile.reply = ok(b"Michael", b"Michael Scott")
        assert claimed(world, first.pid)[0] == "Michael"
        hostile.reply = b"-ERR the fleet is down\r\n"
        qualified, _ = claimed(world, second.pid)
    assert qualified.startswith("Dwight@"), qualified
    # The fleet "answers again", with Michael for the host-qualified holder: the keeper (the
    # same holder asking again starts it) must refuse it, as a claim would.
    hostile.reply = ok(b"Michael", b"Michael Scott")
    assert world.claim(second.pid) == qualified
    log = world.state / "codename" / "keeper.log"
    wait_for(lambda: log.is_file() and "a name held on this host" in log.read_text(),
             "the keeper to refuse Michael for the second holder", 10 * LEASE)
    # Its guard may qualify Michael meanwhile (the fleet's renewals get no sense out of this
    # server) and a later reclaim give it back: the second holder is never Michael.
    for _ in range(20):
        rows = json.loads(world.run("who", "--json").stdout)
        bases = [str(row["name"]).split("@")[0] for row in rows if row["pid"] == second.pid]
        assert bases == ["Dwight"], rows


# --- other hosts' rows ---------------------------------------------------------------------

EVIL = "badbadbadbadbad1"
ROWS = {  # token's pid -> the row after the token: one readable, the others hostile
    1: b"Zed\tkind=terminal\tpid=1\thost=evil",
    2: "Z\u009b31m\tkind=terminal\tpid=2\thost=evil".encode(),
    3: b"Ev\x7fDEL\tkind=terminal\tpid=3\thost=evil",
    4: "\u202eBIDI\tkind=terminal\tpid=4\thost=evil".encode(),
    5: b"Ok\tfull=Full \x1b]52;c;SGVsbG8=\x07\tkind=terminal\tpid=5\thost=evil",
    6: b"L" * 200 + b"\tkind=terminal\tpid=6\thost=evil",
    7: b"Qx\x00Qy\tkind=terminal\tpid=7\thost=evil",
}


def _send(port: int, *args: bytes) -> None:
    """One command to a real Redis, with any bytes in it (redis-cli takes no NUL)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(resp(*args))
        assert s.recv(1024)[:1] in (b"+", b":"), args


def test_other_hosts_rows_whose_names_cannot_be_shown_are_skipped_with_one_line(
        world: World, redis: RedisServer) -> None:
    world.write_config(fleet_config(redis.url()))
    assert world.claim(world.sleeper().pid) == "Michael"
    _send(redis.port, b"HSET", b"codename:nodes", EVIL.encode(), b"evil\t60000")
    for pid, row in ROWS.items():
        token = f"{EVIL}/{pid}-1".encode()
        key = f"k{pid}".encode()
        _send(redis.port, b"SET", b"codename:name:" + key, token + b"\t" + row, b"PX", b"60000")
        _send(redis.port, b"HSET", f"codename:held:{EVIL}".encode(), token, key)
    who, who_json, markdown, doctor = (world.run(*a) for a in (
        ["who"], ["who", "--json"], ["who", "--markdown"], ["doctor"]))
    outputs = [who.stdout, who.stderr, who_json.stdout, who_json.stderr, markdown.stdout,
               markdown.stderr, doctor.stdout, doctor.stderr]
    clean(*outputs)
    assert {row["name"] for row in json.loads(who_json.stdout)} == {"Michael", "Zed"}
    for r in (who, who_json, markdown):
        assert lines(r.stderr) == [
            "codename: warning: fleet: 1 row of the fleet that cannot be read skipped",
            "codename: warning: fleet: 5 rows of the fleet skipped: a name that cannot be "
            "shown (control characters, blanks at an end, or too long)"], r.stderr
    for text in outputs:
        for marker in ("31m", "DEL", "BIDI", "52;c", "LLLL", "Qx"):
            assert marker not in text, (marker, text)


# --- a server's error replies --------------------------------------------------------------

def _all_text(world: World, *skip: Path) -> list[str]:
    """Every file codename wrote for `world` (state, runtime, the fleet's runtime dir)."""
    return [p.read_text(errors="replace") for p in world.root.rglob("*")
            if p.is_file() and p != world.config_file and not any(s in p.parents for s in skip)]


def test_a_server_refusing_auth_is_named_and_the_password_never_shown(
        world: World, tmp_path: Path) -> None:
    directory = tmp_path / "redis-no-auth"
    directory.mkdir()
    server = RedisServer(directory, extra=("--rename-command", "AUTH", ""))
    try:
        world.write_config(fleet_config(server.url(password=SECRET)))
        world.config_file.chmod(0o600)
        name, claim = claimed(world, world.sleeper().pid)
        who, doctor = world.run("who"), world.run("doctor")
        log = world.state / "codename" / "keeper.log"
        wait_for(lambda: log.is_file() and "refused AUTH" in log.read_text(),
                 "the keeper to log the refusal", 10 * LEASE)
    finally:
        server.close()
    assert name.startswith("Michael@"), name
    assert "the server refused AUTH" in claim.stderr, claim.stderr
    assert "the server refused AUTH" in who.stderr, who.stderr
    assert "the server refused AUTH" in doctor.stdout and doctor.returncode == 1, doctor.stdout
    seen = [claim.stdout, claim.stderr, who.stdout, who.stderr, doctor.stdout, doctor.stderr,
            *_all_text(world, directory)]
    assert not [text for text in seen if SECRET in text or "unknown command" in text]


@pytest.mark.parametrize(("password", "path", "said"), [
    (None, "/77", "the server refused SELECT of database 77"),
    (SECRET, "/0", "the server wants a password"),  # a claim's script is long: "unauthenticated"
], ids=["select", "no-password-given"])
def test_a_refusal_by_a_real_server_is_named_not_quoted(
        world: World, tmp_path: Path, password: str | None, path: str, said: str) -> None:
    directory = tmp_path / "redis-refusing"
    directory.mkdir()
    server = RedisServer(directory, password)
    try:
        world.write_config(fleet_config(server.url(password="")[:-2] + path))
        name, claim = claimed(world, world.sleeper().pid)
        who = world.run("who")
    finally:
        server.close()
    assert "@" in name
    assert said in claim.stderr and said in who.stderr, (claim.stderr, who.stderr)
    for text in (claim.stderr, who.stderr):
        assert "ERR" not in text and "Protocol error" not in text, text


def test_a_script_refused_with_a_hostile_error_is_named_not_quoted(
        world: World, hostile: ScriptServer) -> None:
    hostile.reply = f"-ERR {SECRET} \x1b]0;pwned\x07 said no\r\n".encode()
    world.write_config(fleet_config(hostile.url()))
    with no_keeper(world):
        name, claim = claimed(world, world.sleeper().pid)
        who = world.run("who")
    assert "@" in name
    for r in (claim, who):
        assert "the server refused the script" in r.stderr, r.stderr
        clean(r.stdout, r.stderr)
        assert SECRET not in r.stderr and "pwned" not in r.stderr


# --- hostile config ------------------------------------------------------------------------

@pytest.mark.parametrize(("config", "env", "said"), [
    (fleet_config("redis://127.0.0.1:\u00b2/0"), {}, "the port must be a number"),
    (fleet_config("redis://127.0.0.1:\u0663\u0667\u0669/0"), {}, "the port must be a number"),
    (fleet_config("redis://127.0.0.1:1/\u0663"), {}, "the database must be a number"),
    (fleet_config("redis://:pa%FFss@127.0.0.1:1/0"), {}, "the password is not UTF-8"),
    (fleet_config("redis://127.0.0.1:1/0"), {"CODENAME_FLEET_URL": "redis://:p\udcffw@127.0.0.1:1/0"},
     "bytes that are not UTF-8"),
    (fleet_config("unix:///run/re%00dis.sock"), {}, "holds a NUL byte"),
], ids=["superscript-port", "arabic-indic-port", "arabic-indic-db", "url-password-%FF",
        "env-url-byte-ff", "nul-in-socket-path"])
def test_hostile_fleet_settings_are_one_line_and_host_qualified_names(
        world: World, config: str, env: dict[str, str], said: str) -> None:
    world.write_config(config)
    world.config_file.chmod(0o600)
    r = world.run("claim", "--pid", str(world.sleeper().pid), env=env)
    who, doctor = world.run("who", env=env), world.run("doctor", env=env)
    clean(r.stdout, r.stderr, who.stdout, who.stderr, doctor.stdout, doctor.stderr)
    assert r.returncode == 0 and "@" in r.stdout, (r.stdout, r.stderr)
    (line,) = lines(r.stderr)
    assert said in line, line
    assert said in who.stderr and who.returncode == 0, who.stderr
    assert said in doctor.stdout, doctor.stdout


def test_a_password_file_that_is_not_utf8_is_one_line(world: World, tmp_path: Path) -> None:
    secret = tmp_path / "fleet.secret"
    secret.write_bytes(b"pa\xffss\n")
    secret.chmod(0o600)
    world.write_config(fleet_config("redis://127.0.0.1:1/0", f'password_file = "{secret}"\n'))
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    clean(r.stdout, r.stderr)
    assert r.returncode == 0 and "@" in r.stdout
    (line,) = lines(r.stderr)
    assert "password_file" in line and "not UTF-8 text" in line, line


def test_a_name_holding_nul_from_a_cast_or_a_roster_is_refused_in_one_line_each(
        world: World, tmp_path: Path) -> None:
    roster = tmp_path / "roster.jsonl"
    roster.write_text('{"name": "Ro\\u0000se", "pid": 1}\n')
    world.write_config('theme = "crew"\n[themes.crew]\n'
                       'names = ["A\\u0000b", {name = "Cy", full = "C\\u0000y"}, "Dee"]\n'
                       f'[[rosters]]\npath = "{roster}"\n')
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    clean(r.stdout, r.stderr)
    assert (r.returncode, r.stdout.strip()) == (0, "Dee"), r.stderr
    assert len(lines(r.stderr)) == 3, r.stderr


# Pieces of a URL, weighted towards what parse_url reads and what once broke it: digits of
# other scripts, %-escapes that are not UTF-8 or are NUL, NUL, a surrogate (an environment
# variable's byte that is not UTF-8).
URL_TEXT = st.lists(st.one_of(st.characters(), st.sampled_from(
    [*":/@[]?&=%", "%FF", "%00", "%1b", "\u00b2", "\u0663", "\x00", "\udcff", "6379", "db=",
     "password=", "ssl_ca_certs="])), max_size=30).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["redis://", "rediss://", "unix://", ""]), URL_TEXT)
def test_any_fleet_url_is_a_target_or_one_config_error(scheme: str, rest: str) -> None:
    from codename_shell.fleet.url import parse_url

    try:
        target = parse_url(scheme + rest)
    except ConfigError as e:
        assert str(e).isprintable() and "\n" not in str(e)
        return
    assert target.shown.isprintable()
    assert 0 < target.port < 65536 and target.db >= 0
    (target.host + target.path + target.password + target.username + target.ca).encode()
