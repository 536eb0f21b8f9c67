"""The smallest end-to-end check: a claim, a second claim, and `who` agree."""

from __future__ import annotations

import json

from conftest import World


def test_two_processes_get_the_first_two_names_of_the_cast(world: World) -> None:
    a, b = world.sleeper(), world.sleeper()
    assert world.claim(a.pid) == "Michael"
    assert world.claim(b.pid) == "Dwight"
    rows = json.loads(world.run("who", "--json").stdout)
    assert {(r["name"], r["pid"]) for r in rows} == {("Michael", a.pid), ("Dwight", b.pid)}
