"""config.toml and the casts: the theme in force, editing `theme`, and names never handed out."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
from conftest import World
from helpers import assert_one_line_error, who

from codename_shell import config

OFFICE = ["Michael", "Dwight", "Jim", "Pam", "Ryan", "Andy", "Angela", "Kevin", "Oscar",
          "Stanley", "Phyllis", "Meredith", "Creed", "Kelly", "Toby"]


def themes(world: World) -> dict[str, list[str]]:
    r = world.run("themes", "--json")
    assert r.returncode == 0, r.stderr
    return {t["name"]: t["names"] for t in json.loads(r.stdout)}


# --- the casts --------------------------------------------------------------------------------

def test_office_is_the_default_cast_in_its_order(world: World) -> None:
    assert themes(world)["office"] == OFFICE
    assert world.run("theme").stdout.strip() == "office"


def test_at_least_six_built_in_casts_of_fifteen_distinct_names(world: World) -> None:
    casts = themes(world)
    assert len(casts) >= 6
    for theme, names in casts.items():
        assert len(names) >= 15, theme
        assert len(set(names)) == len(names), theme


def test_every_member_has_a_full_name(world: World) -> None:
    r = world.run("themes", "--json")
    office = next(t for t in json.loads(r.stdout) if t["name"] == "office")
    assert office["full_names"][OFFICE.index("Toby")] == "Toby Flenderson"
    world.claim(world.sleeper().pid)
    assert who(world)[0]["full"] == "Michael Scott"


def test_a_user_cast_is_drawn_from(world: World) -> None:
    world.write_config('theme = "crew"\n[themes.crew]\n'
                       'names = ["Ada", { name = "Grace", full = "Grace Hopper" }, "Linus"]\n')
    assert themes(world)["crew"] == ["Ada", "Grace", "Linus"]
    assert [world.claim(world.sleeper().pid) for _ in range(2)] == ["Ada", "Grace"]
    assert {r["name"]: r["full"] for r in who(world)}["Grace"] == "Grace Hopper"


HOSTILE = r"""
theme = "bad"
[themes.bad]
names = [
    "Bell\u0007",
    "Line\nBreak",
    "Tab\tName",
    "Esc\u001b[31m",
    "Bidi\u202eevil",
    "",
    "   ",
    " Padded",
    "Ok",
    "Ok",
    42,
    true,
    { name = "Fine", full = "Bad\nFull" },
    { full = "No Short Name" },
    "Fine Too",
]
[themes.empty]
names = []
[themes.notalist]
names = "Ada"
"""


def test_hostile_cast_names_are_refused_naming_file_and_theme(world: World) -> None:
    path = world.write_config(HOSTILE)
    r = world.run("themes", "--json")
    assert r.returncode == 0
    assert "Traceback" not in r.stderr
    errors = r.stderr.splitlines()
    bad = [e for e in errors if "'bad'" in e]
    assert len(bad) == 13, r.stderr  # every refused entry of `bad`, one line each
    assert any("'empty'" in e for e in errors)
    assert any("'notalist'" in e for e in errors)
    assert all(str(path) in e for e in errors), r.stderr


def test_hostile_cast_names_are_never_handed_out(world: World) -> None:
    world.write_config(HOSTILE)
    casts = themes(world)
    assert casts["bad"] == ["Ok", "Fine Too"]
    assert "empty" not in casts and "notalist" not in casts
    got = [world.claim(world.sleeper().pid) for _ in range(3)]
    assert got == ["Ok", "Fine Too", "Ok 2"]


def test_an_empty_cast_in_force_falls_back_to_the_default(world: World) -> None:
    path = world.write_config('theme = "empty"\n[themes.empty]\nnames = []\n')
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert r.returncode == 0 and r.stdout.strip() == "Michael"
    assert str(path) in r.stderr and "'empty'" in r.stderr


# --- a broken config --------------------------------------------------------------------------

def test_a_broken_config_costs_one_line_naming_file_and_line_and_the_default_is_used(
        world: World) -> None:
    path = world.write_config('# my casts\ntheme = "parks\n[schedule\nmonday = \n')
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert r.returncode == 0
    assert r.stdout.strip() == "Michael"
    (line,) = r.stderr.splitlines()
    assert str(path) in line and "line 2" in line
    assert "Traceback" not in r.stderr


def test_a_broken_config_is_reported_by_doctor(world: World) -> None:
    path = world.write_config("theme = = 1\n")
    r = world.run("doctor")
    assert r.returncode == 1
    assert str(path) in r.stdout and "line 1" in r.stdout


def test_config_values_of_the_wrong_type_are_ignored_with_a_warning(world: World) -> None:
    path = world.write_config('theme = 3\nheartbeat_ttl = "soon"\n[schedule]\nmonday = 1\n')
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert r.returncode == 0 and r.stdout.strip() == "Michael"
    assert len(r.stderr.splitlines()) == 3
    assert all(str(path) in line for line in r.stderr.splitlines())


def test_a_config_that_is_not_utf8_is_a_broken_config(world: World) -> None:
    world.config_file.parent.mkdir(parents=True)
    world.config_file.write_bytes(b'theme = "\xff"\n')
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert r.returncode == 0 and r.stdout.strip() == "Michael"
    assert str(world.config_file) in assert_one_line_error(r, code=0)


# --- the theme in force -----------------------------------------------------------------------

def test_codename_theme_in_the_environment_wins(world: World) -> None:
    world.write_config('theme = "office"\n[schedule]\n' + "".join(
        f'{day} = "office"\n' for day in config.WEEKDAYS))
    env = {"CODENAME_THEME": "parks"}
    assert world.run("theme", env=env).stdout.strip() == "parks"
    r = world.run("claim", "--pid", str(world.sleeper().pid), env=env)
    assert r.stdout.strip() == themes(world)["parks"][0]


def test_the_theme_key_wins_over_the_schedule(world: World) -> None:
    world.write_config('theme = "seinfeld"\n[schedule]\n' + "".join(
        f'{day} = "parks"\n' for day in config.WEEKDAYS))
    assert world.run("theme").stdout.strip() == "seinfeld"


@pytest.mark.parametrize(("today", "expected"), [
    (0, "parks"), (4, "seinfeld"), (2, "office"), (6, "office")])
def test_the_schedule_picks_the_theme_by_weekday(world: World, today: int, expected: str) -> None:
    world.write_config('[schedule]\nmonday = "parks"\nFriday = "seinfeld"\n')
    theme, why = config.load().theme_in_force(today=today)
    assert theme == expected
    if expected != "office":
        assert config.WEEKDAYS[today] in why


def test_an_unknown_theme_in_the_schedule_falls_back_with_a_warning(world: World) -> None:
    world.write_config('[schedule]\n' + "".join(f'{d} = "nosuch"\n' for d in config.WEEKDAYS))
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert r.returncode == 0 and r.stdout.strip() == "Michael"
    assert "nosuch" in r.stderr


# --- codename theme NAME ----------------------------------------------------------------------

COMMENTED = """\
# my codename config -- keep this header
theme = "office"   # chosen for the demo week
heartbeat_ttl = 900

# the week
[schedule]
monday = "parks"   # mondays are hard

# our own cast
[themes.crew]
names = ["Ada", "Grace"]  # more to come

[[rosters]]
path = "~/.fleet/roster.jsonl"
"""


def test_theme_name_keeps_comments_and_other_keys(world: World) -> None:
    path = world.write_config(COMMENTED)
    before = tomllib.loads(COMMENTED)

    r = world.run("theme", "seinfeld")
    assert r.returncode == 0, r.stderr

    text = path.read_text()
    for line in COMMENTED.splitlines():
        if "#" in line:
            assert line[line.index("#"):] in text, line
    assert text.splitlines()[0] == COMMENTED.splitlines()[0]
    assert tomllib.loads(text) == {**before, "theme": "seinfeld"}
    assert world.run("theme").stdout.strip() == "seinfeld"
    assert world.claim(world.sleeper().pid) == themes(world)["seinfeld"][0]


def test_theme_name_adds_the_key_to_a_file_without_one(world: World) -> None:
    original = COMMENTED.replace('theme = "office"   # chosen for the demo week\n', "")
    path = world.write_config(original)
    assert world.run("theme", "crew").returncode == 0
    text = path.read_text()
    assert tomllib.loads(text) == {**tomllib.loads(original), "theme": "crew"}
    assert all(line in text for line in original.splitlines())


def test_theme_name_creates_a_missing_config(world: World) -> None:
    assert world.run("theme", "parks").returncode == 0
    assert tomllib.loads(world.config_file.read_text()) == {"theme": "parks"}


def test_theme_clear_goes_back_to_the_schedule(world: World) -> None:
    everyday = "".join(f'{day} = "parks"\n' for day in config.WEEKDAYS)
    path = world.write_config(COMMENTED.replace('monday = "parks"   # mondays are hard\n',
                                                everyday))
    before = tomllib.loads(path.read_text())

    r = world.run("theme", "--clear")
    assert r.returncode == 0, r.stderr
    text = path.read_text()
    assert "theme" not in tomllib.loads(text)
    assert tomllib.loads(text) == {k: v for k, v in before.items() if k != "theme"}
    assert "# my codename config -- keep this header" in text
    assert "# chosen for the demo week" in text
    assert world.run("theme").stdout.strip() == "parks"


def test_an_unknown_theme_exits_1_listing_the_known_ones(world: World) -> None:
    path = world.write_config(COMMENTED)
    r = world.run("theme", "no-such-theme")
    line = assert_one_line_error(r)
    for known in ("office", "parks", "seinfeld", "crew"):
        assert known in line
    assert path.read_text() == COMMENTED


def test_theme_refuses_to_edit_a_config_it_cannot_parse(world: World) -> None:
    path = world.write_config('theme = "office\n# precious\n')
    r = world.run("theme", "parks")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert path.read_text() == 'theme = "office\n# precious\n'


# --- the parsed-config cache ------------------------------------------------------------------

def cache_file(world: World) -> Path:
    return world.state / "codename" / "config.cache"


def test_an_edit_to_config_takes_effect_at_the_next_start(world: World) -> None:
    assert world.claim(world.sleeper().pid) == "Michael"  # parses and caches the defaults
    assert cache_file(world).exists()
    world.write_config('theme = "parks"\n')
    assert world.claim(world.sleeper().pid) == "Leslie"
    world.write_config('theme = "office"\n[themes.crew]\nnames = ["Ada"]\n')
    assert "crew" in themes(world)


def test_a_corrupt_cache_is_rebuilt_not_trusted(world: World) -> None:
    world.write_config('theme = "parks"\n')
    assert world.claim(world.sleeper().pid) == "Leslie"
    cache_file(world).write_bytes(b"\x00garbage, not marshal data\xff")
    r = world.run("claim", "--pid", str(world.sleeper().pid))
    assert r.returncode == 0 and r.stdout.strip() == "Ron", r.stderr
    assert "Traceback" not in r.stderr
    assert config.load().theme == "parks"  # and the rebuilt cache reads back


def test_a_cache_of_another_config_is_ignored(world: World) -> None:
    world.write_config('theme = "parks"\n')
    config.load()
    stale = cache_file(world).read_bytes()
    world.write_config('theme = "brooklyn"\n')
    config.load()
    cache_file(world).write_bytes(stale)  # e.g. restored from a backup
    assert config.load().theme == "brooklyn"


def test_two_quick_edits_of_the_same_size_are_both_seen(world: World) -> None:
    # mtimes tick coarsely: an edit in place, within the same tick and to the same size,
    # must still not be served from the cache of the text before it.
    path = world.write_config('theme = "parks"\n')
    assert config.load().theme == "parks"
    stat = path.stat()
    with open(path, "r+") as f:  # same inode, same size
        f.write('theme = "lasso"\n')
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    assert config.load().theme == "lasso"
