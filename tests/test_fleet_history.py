"""`codename log --at` gives every host of a fleet the same answer (issue 18).

Each host's keeper publishes its ledger's rows to one capped Redis stream; `log --at` and
`log --timeline` merge the other hosts' rows with this host's own ledger. Real redis-server,
hosts as namespaces (fleet_hosts), the real CLI; every wait is a bound, not a timing claim.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fleet_hosts import LEASE, Host, RedisServer, reap_keepers, wait_for

MakeHost = Callable[..., Host]
UTC_ENV = {"TZ": "UTC"}


@pytest.fixture(autouse=True)
def _no_stray_keepers(tmp_path: Path) -> Iterator[None]:
    yield
    reap_keepers(tmp_path)


def at(host: Host, *args: str) -> list[dict[str, object]]:
    r = host.codename("log", "--json", "--at", *args, env=UTC_ENV)
    assert r.returncode == 0, (host.name, r.stderr)
    rows: list[dict[str, object]] = json.loads(r.stdout)
    return rows


def moment(iso: object) -> int:
    return int(datetime.fromisoformat(str(iso)).timestamp())


def later_second(after: float) -> None:
    wait_for(lambda: time.time() >= int(after) + 2, "a later second", 30)


def naive_utc(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None).isoformat()


def test_log_at_gives_every_host_the_same_answer_about_every_host(
        hosts: MakeHost, redis: RedisServer) -> None:
    a, b = hosts("alpha"), hosts("bravo")
    pa, pb, pa2 = a.holder(), b.holder(), a.holder()
    na, nb, na2 = a.claim(pa), b.claim(pb), a.claim(pa2)
    assert len({na, nb, na2}) == 3 and "@" not in na + nb + na2
    claimed = time.time()
    later_second(claimed)
    assert b.codename("release", "--pid", str(pb)).returncode == 0
    released = time.time()
    later_second(released)
    then = naive_utc(int(claimed) + 1)  # all three held; bravo's let go after

    def agreed() -> list[dict[str, object]] | None:
        answers = [at(h, then) for h in (a, b)]
        if answers[0] != answers[1] or len(answers[0]) != 3:
            return None  # a keeper has not published its rows yet
        return answers[0]

    rows = wait_for(agreed, "both hosts to give the same answer about both", 15 * LEASE)
    assert isinstance(rows, list)
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {na, nb, na2}
    assert (by_name[nb]["host"], by_name[nb]["pid"], by_name[nb]["end"]) == ("bravo", pb,
                                                                            "released")
    assert int(claimed) + 1 <= moment(by_name[nb]["released"]) <= int(released)
    assert {by_name[na]["host"], by_name[na2]["host"]} == {"alpha"}
    assert by_name[na]["released"] is None and by_name[na]["pid"] == pa
    # Now, bravo's name is free; asked by name, from the other host, the one holder or none.
    for h in (a, b):
        assert sorted(str(r["name"]) for r in at(h, "0s")) == sorted([na, na2]), h.name
        assert [(r["host"], r["pid"]) for r in at(h, then, "--name", nb)] == [("bravo", pb)]
        assert at(h, "0s", "--name", nb) == []
        shown = h.codename("log", "--timeline", env={"COLUMNS": "100"})
        assert shown.returncode == 0 and all(n in shown.stdout for n in (na, nb, na2)), shown
    # The plain event list stays this host's ledger (its own history, as before).
    events = json.loads(a.codename("log", "--json").stdout)
    assert {e["host"] for e in events} == {"alpha"}
    assert 0 < int(redis.cli("XLEN", "codename:events").strip()) <= 100


def test_the_fleets_history_is_read_like_a_file_someone_else_wrote(
        hosts: MakeHost, redis: RedisServer) -> None:
    a = hosts("alpha")
    pid = a.holder()
    name = a.claim(pid)
    now = int(time.time())
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60))
    row = "full=X\tkind=terminal\tpid=77\tstart=5\thost=gone"
    for node, line in (
            ("feedface", f"{stamp}\tclaimed\tCreed\t{row}"),  # a host gone: its history stays
            ("feedface", f"{stamp}\tclaimed\tEvil\x1b]0;pwned\x07\t{row}"),
            ("feedface", f"0001-01-01T00:00:00+23:59\tclaimed\tOld\t{row}"),
            ("not a node!", f"{stamp}\tclaimed\tStray\t{row}")):
        redis.cli("XADD", "codename:events", "*", "node", node, "host", "gone", "line", line)
    redis.cli("XADD", "codename:events", "*", "junk", "entry")
    r = a.codename("log", "--json", "--at", "0s")
    assert r.returncode == 0, r.stderr
    held = {row["name"]: row for row in json.loads(r.stdout)}
    assert set(held) == {name, "Creed"}, held
    assert held["Creed"]["host"] == "gone" and held["Creed"]["pid"] == 77
    warnings = r.stderr.splitlines()
    assert len(warnings) == 2 and all(w.startswith("codename: warning: fleet node feedface")
                                      for w in warnings), warnings
    assert "\x1b" not in r.stdout + r.stderr
    # No fleet to ask: this host's own answer, and one line saying what is missing.
    redis.stop()
    r = a.codename("log", "--at", "0s", timeout=60)
    assert r.returncode == 0 and name in r.stdout and "Creed" not in r.stdout, r
    assert len(r.stderr.splitlines()) == 1 and "other hosts' history" in r.stderr, r.stderr
