"""Names that differ only in case or Unicode normal form are one name, everywhere (issue 8).

A notes file that says "michael is rebasing" must point at one session, so `Michael`,
`michael` and `MICHAEL` (and the composed and decomposed spellings of `Zoë`) are compared
case-folded and normalised in claims, `--name`, rename, cast validation and overflow: NFKC
(issue 16), so the lookalikes a terminal shows as plain letters (fullwidth, mathematical,
circled) are the name they show too.
"""

from __future__ import annotations

import unicodedata

from conftest import World
from helpers import assert_one_line_error, names_held

from codename_shell import casts


def test_fold_treats_case_and_normal_form_as_one_name() -> None:
    composed = unicodedata.normalize("NFC", "Zoë")
    decomposed = unicodedata.normalize("NFD", "Zoë")
    assert composed != decomposed
    assert casts.fold(composed) == casts.fold(decomposed) == casts.fold("ZOË")
    assert casts.fold("Michael") == casts.fold("michael") == casts.fold("MICHAEL")
    assert casts.fold("Michael") != casts.fold("Michaela")


def test_name_in_another_case_beside_a_live_holder_is_refused(world: World) -> None:
    michael = world.sleeper()
    assert world.claim(michael.pid) == "Michael"
    for spelling in ("michael", "MICHAEL"):
        r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", spelling)
        line = assert_one_line_error(r)
        assert "Michael is held by" in line and str(michael.pid) in line
    assert list(names_held(world)) == ["Michael"]


def test_a_free_name_asked_in_another_case_gets_the_cast_spelling(world: World) -> None:
    r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", "pam", "--json")
    assert r.returncode == 0, r.stderr
    assert '"name": "Pam"' in r.stdout and '"full": "Pam Beesly"' in r.stdout


def test_rename_to_a_live_name_in_another_case_is_refused(world: World) -> None:
    first, second = world.sleeper(), world.sleeper()
    assert world.claim(first.pid) == "Michael"
    assert world.claim(second.pid) == "Dwight"
    r = world.run("rename", "--pid", str(second.pid), "mIcHaEl")
    assert_one_line_error(r)
    held = names_held(world)
    assert sorted(held) == ["Dwight", "Michael"]


def test_renaming_to_ones_own_name_in_another_case_keeps_it(world: World) -> None:
    holder = world.sleeper()
    assert world.claim(holder.pid) == "Michael"
    r = world.run("rename", "--pid", str(holder.pid), "MICHAEL")
    assert r.returncode == 0, r.stderr
    assert list(names_held(world)) == ["Michael"]


def test_a_cast_with_names_differing_only_in_case_keeps_one(world: World) -> None:
    decomposed = unicodedata.normalize("NFD", "Zoë")
    world.write_config('theme = "crew"\n[themes.crew]\n'
                       f'names = ["Ada", "ada", "Zoë", "{decomposed}", "Grace"]\n')
    r = world.run("themes", "--json")
    assert r.returncode == 0
    assert "duplicate name 'ada'" in r.stderr
    assert '"Ada"' in r.stdout and '"Grace"' in r.stdout and '"ada"' not in r.stdout
    names = [world.claim(world.sleeper().pid) for _ in range(3)]
    assert [casts.fold(n) for n in names] == [casts.fold(n) for n in ("Ada", "Zoë", "Grace")]


def test_overflow_skips_a_numbered_name_held_in_another_case(world: World) -> None:
    world.write_config('theme = "crew"\n[themes.crew]\nnames = ["Ada"]\n')
    assert world.claim(world.sleeper().pid) == "Ada"
    r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", "ada 2")
    assert r.returncode == 0, r.stderr
    third = world.claim(world.sleeper().pid)
    assert third == "Ada 3", third
    assert len({casts.fold(n) for n in names_held(world)}) == 3


def test_invisible_characters_do_not_make_a_second_michael(world: World) -> None:
    """`Michael` + U+FE0F (a variation selector) or with U+034F inside reads as Michael."""
    michael = world.sleeper()
    assert world.claim(michael.pid) == "Michael"
    for lookalike in ("Michael\ufe0f", "Mich\u034fael", "\u115fMichael"):
        r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", lookalike)
        assert_one_line_error(r)
    r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", "\ufe0f\u034f")
    assert "empty name" in assert_one_line_error(r)
    assert list(names_held(world)) == ["Michael"]


# `Michael` with its M fullwidth, mathematical bold, circled; MICHAEL all fullwidth.
COMPATIBLE = ["\uff2dichael", "\U0001d40cichael", "\u24c2ichael",
              "\uff2d\uff29\uff23\uff28\uff21\uff25\uff2c"]


def test_fold_treats_compatibility_lookalikes_as_one_name() -> None:
    for lookalike in COMPATIBLE:
        assert casts.fold(lookalike) == casts.fold("Michael"), lookalike
    assert casts.fold("\ufb01nn") == casts.fold("Finn")  # the ligature of f and i
    assert casts.fold("Micha") != casts.fold("Michael")


def test_a_compatibility_lookalike_of_a_live_name_is_refused(world: World) -> None:
    michael = world.sleeper()
    assert world.claim(michael.pid) == "Michael"
    for lookalike in COMPATIBLE:
        r = world.run("claim", "--pid", str(world.sleeper().pid), "--name", lookalike)
        line = assert_one_line_error(r)
        assert "Michael is held by" in line and str(michael.pid) in line
    assert list(names_held(world)) == ["Michael"]


def test_a_roster_lookalike_counts_as_the_name_it_shows(world: World) -> None:
    from helpers import use_roster

    use_roster(world, [{"name": "Mich\u034fael"}])
    assert world.claim(world.sleeper().pid) == "Dwight"
