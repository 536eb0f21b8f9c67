"""Property-based tests for every reader of outside input: rosters, the ledger, presence files,
a row, and what `who` prints of them.

Whatever bytes a file holds, a reader returns (never raises, never hangs) and reports what it
skipped; a well-formed row survives any garbage around it; nothing it shows is raw.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from codename_shell import liveness, report
from codename_shell.holders import Holder, RowError
from codename_shell.sources import LedgerSource, PresenceSource, RosterSource

# No deadline: two shared cores make any one example slow now and then; a hang still fails
# (the suite's own timeout), a slow example does not.
CHECK = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])

# Text a line of a file may hold: anything but "\n", weighted towards what breaks line-based
# readers (U+2028, U+2029, U+0085, "\r", tabs, NUL, ESC) and towards the readers' own syntax.
TRICKY = st.sampled_from(["\u2028", "\u2029", "\u0085", "\r", "\t", "\x00", "\x1b", "\x0b",
                          "\x0c", "\x1c", "\ufeff", "{", "}", '"', "=", "\\", "#"])
LINE = st.lists(st.one_of(TRICKY, st.characters(exclude_characters="\n"),
                          st.sampled_from(["claimed", "released", "pid=", "since=", "name",
                                           '{"name": ', "1e400", "99999999999999999999"])),
                max_size=40).map("".join)
GARBAGE = st.lists(LINE, max_size=8)


@contextmanager
def a_file(data: bytes, name: str = "file") -> Iterator[Path]:
    """`data` in a file of a fresh private directory (hypothesis runs many examples a test)."""
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o700)
        path = Path(d) / name
        path.write_bytes(data)
        yield path


def lines(*parts: list[str]) -> bytes:
    # Lone surrogates become bytes that are not UTF-8 at all: garbage of another kind.
    return "".join(line + "\n" for part in parts for line in part).encode("utf-8", "surrogatepass")


# --- rosters ------------------------------------------------------------------------------

@CHECK
@given(st.binary(max_size=2000))
def test_a_roster_of_any_bytes_is_read_without_raising(data: bytes) -> None:
    with a_file(data) as path:
        source = RosterSource(str(path))
        rows = source.holders()
    assert all(isinstance(h, Holder) and h.name.isprintable() for h in rows)
    assert all(report.printable(p) == p for p in source.problems)
    assert source.blind == ""


@CHECK
@given(GARBAGE, GARBAGE, st.sampled_from(["\u2028", "\u2029", "\u0085", "\r", "", "\t"]))
def test_a_roster_row_survives_any_neighbouring_garbage(
        before: list[str], after: list[str], odd: str) -> None:
    # The row holds an odd character in a string, raw, as JSON allows.
    row = json.dumps({"name": "Toby Flenderson", "host": f"far{odd}away", "pid": 4242},
                     ensure_ascii=False)
    with a_file(lines(before, [row], after)) as path:
        found = RosterSource(str(path)).holders()
    assert ("Toby Flenderson", f"far{odd}away", 4242) in [(h.name, h.host, h.pid) for h in found]


# --- the ledger ---------------------------------------------------------------------------

@CHECK
@given(st.binary(max_size=2000))
def test_a_ledger_of_any_bytes_is_read_without_raising(data: bytes) -> None:
    with a_file(data, "ledger.log") as path:
        source = LedgerSource(str(path.parent))
        rows = source.holders()
    assert all(isinstance(h, Holder) for h in rows)
    assert all(report.printable(p) == p for p in source.problems)
    assert source.blind == ""


def claimed_row(name: str, odd: str) -> str:
    holder = Holder(name, pid=4242, full=f"Toby{odd}Flenderson", start=7, boot="b",
                    host=liveness.host(), since=int(time.time()))
    return f"2026-11-28T09:14:03Z\tclaimed\t{holder.to_row()}"


@CHECK
@given(GARBAGE, GARBAGE, st.sampled_from(["\u2028", "\u2029", "\u0085", "\r", "", "\x1b"]),
       st.booleans())
def test_a_ledger_row_survives_any_neighbouring_garbage(
        before: list[str], after: list[str], odd: str, torn_tail: bool) -> None:
    # Garbage may not name Toby: a `released Toby` row would close the claim, rightly.
    assume(not any("Toby" in line for line in before + after))
    data = lines(before, [claimed_row("Toby", odd)], after)
    if torn_tail and after:
        data = data[:-1]  # the last garbage row cut mid-write
    with a_file(data, "ledger.log") as path:
        found = LedgerSource(str(path.parent)).holders()
    assert ("Toby", f"Toby{odd}Flenderson") in [(h.name, h.full) for h in found]


@CHECK
@given(st.text(max_size=300))
def test_a_row_of_any_text_is_a_holder_or_a_row_error(text: str) -> None:
    try:
        holder = Holder.from_row(text, "ledger")
    except RowError:
        return
    assert holder.pid is not None and holder.pid > 0
    report.table([holder])  # any since, beat or field it holds can be shown


# --- presence files -----------------------------------------------------------------------

@CHECK
@given(st.binary(max_size=600), st.sampled_from(["42-7", "42-x", "junk", "1-2: junk"]))
def test_a_presence_entry_of_any_bytes_is_read_without_raising(data: bytes, name: str) -> None:
    with a_file(data, name) as path:
        source = PresenceSource(str(path.parent))
        source.holders()
        assert source.remove_unreadable() == [str(path)] * (str(path) in source.unreadable)
    assert all(report.printable(p) == p for p in source.problems)


# --- what `who` shows of it ----------------------------------------------------------------

@CHECK
@given(st.text(max_size=60), st.text(max_size=60), st.text(max_size=60),
       st.integers(min_value=-(10**30), max_value=10**30))
def test_anything_a_holder_holds_is_shown_printable_one_row_each(
        full: str, host: str, tty: str, since: int) -> None:
    holder = Holder("Toby", pid=4242, full=full, host=host, tty=tty, since=since, kind="job")
    shown = report.table([holder, holder])
    assert len(shown.splitlines()) == 3 and all(line.isprintable() for line in shown.split("\n"))
    md = report.markdown([holder])
    assert len(md.splitlines()) == 3 and all(line.isprintable() for line in md.split("\n"))
    out = report.to_json(report.as_dict(holder))
    assert all(line.isprintable() for line in out.split("\n"))
    assert json.loads(out)["host"] == host and json.loads(out)["full"] == (full or "Toby")


@CHECK
@given(st.text())
def test_printable_is_printable_and_idempotent(text: str) -> None:
    shown = report.printable(text)
    assert shown.isprintable() and report.printable(shown) == shown
    assert (shown == text) == text.isprintable()
