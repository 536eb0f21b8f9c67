"""Bugs planted one at a time, each of which the test suite must catch: a check on the tests.

Each of these once passed the whole suite unnoticed. Kept here so that a change to the tests
(or to the code the tests lean on) cannot quietly let one through again.

Run by hand from the repository root, with the venv's Python (it needs pytest):

    .venv/bin/python -m tests.mutants          # every mutant, each against its own tests
    .venv/bin/python -m tests.mutants f g      # only mutants f and g
    .venv/bin/python -m tests.mutants --all    # each mutant against the whole suite (slow)
    .venv/bin/python -m tests.mutants --list   # what each mutant plants

(`python tests/mutants.py …` works the same. tests/ has no __init__.py, on purpose: the test
modules import conftest and helpers by name; `-m tests.mutants` finds it as a namespace
package.) It is not collected by pytest (the name does not start with `test_`) and CI does
not run it.

How: the working tree (`git ls-files -co --exclude-standard`: committed and new files, not
ignored ones) is copied to a temporary directory; the tests named for the mutant are first run
there unchanged (they must pass, else nothing can be judged), then once per mutant on a fresh
copy with one substitution applied. A mutant is *caught* when pytest reports a failed test,
*missed* when every test passes, and an *error* when its anchor does not match the expected
number of places (the code moved: update the anchor), the mutant does not compile, or pytest
could not run (exit status other than 0 or 1).

Exit status: 0 when every mutant was caught, 1 when one was missed, 2 when none was missed
but one could not be judged.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTEST_TIMEOUT = 1800  # seconds for one pytest run; past it the mutant is an error


@dataclass(frozen=True)
class Mutant:
    key: str
    bug: str
    path: str  # the file changed, relative to the repository root
    pattern: str  # a regular expression; every match is replaced
    replacement: str  # as for re.sub
    tests: tuple[str, ...]  # pytest arguments: test files or node ids
    places: int | None = 1  # how many matches the anchor must have (None: any number)

REACH = "tests/test_reach.py::"
HCACHE = "tests/test_history_cache.py::"
LEASE_GONE = ("tests/test_fleet_leases.py::test_a_lease_file_that_is_gone_vouches_for_nothing_at_"
              "the_next_draw")
SET_BY_HAND = ("tests/test_fleet_leases.py::test_a_plain_name_set_by_hand_is_taken_back_at_the_"
               "next_draw_with_a_fleet")
LAPSE_AT_NEXT_DRAW = ("tests/test_fleet_leases.py::test_a_lease_its_keeper_gives_up_is_shown_"
                      "given_up_at_the_next_draw")
NO_PLAIN_PAST_DEADLINE = ("tests/test_fleet_leases.py::test_no_draw_shows_a_plain_name_past_the_"
                          "deadline_of_its_lease_file")

MUTANTS = (
    Mutant("a", "pid-namespace check removed from liveness",
           "codename_shell/liveness.py",
           r"holder\.ns == pid_namespace\(\)", "True",
           ("tests/test_promises.py::test_a_holder_in_another_pid_namespace_keeps_its_name",
            "tests/test_allocator.py")),
    Mutant("b", "ledger archive never rotates to .2",
           "codename_shell/sources/ledger.py",
           r"os\.replace\(archive, [^)\n]*\)", "None",
           ("tests/test_promises.py::test_the_ledger_history_rotates_to_a_second_archive",
            "tests/test_sources.py")),
    Mutant("c", "tty name always empty",
           "codename_shell/liveness.py",
           r"(def tty_name\(.*\).*:\n)", r'\1    return ""\n',
           ("tests/test_promises.py::test_who_shows_a_terminal_s_tty", "tests/test_cli.py")),
    Mutant("d", "overflow rounds 3+ ignore names already taken",
           "codename_shell/casts.py",
           r"if (.*\bcandidate\b.* not in taken:)", r"if round_ > 2 or \1",
           ("tests/test_promises.py::test_overflow_names_stay_distinct_past_the_third_round",
            "tests/test_allocator.py")),
    Mutant("e", "rename without NAME hands back the same name",
           "codename_shell/allocator.py",
           r"avoid=mine\[0\]\.name", "avoid=None",
           ("tests/test_promises.py::test_rename_without_a_name_gives_another_name",
            "tests/test_shells.py::test_rename_updates_codename_in_place")),
    Mutant("f", "allocator lock taken shared (LOCK_SH)",
           "codename_shell/lock.py",
           r"fcntl\.LOCK_EX\b", "fcntl.LOCK_SH",
           ("tests/test_promises.py::test_a_claim_never_shares_the_lock",
            "tests/test_allocator.py"), places=None),
    Mutant("g", "emptied presence file not counted as a release",
           "codename_shell/sources/presence.py",
           r"self\.released\.append\([^)\n]*\)", "pass",
           ("tests/test_shells.py::test_exit_gives_the_name_back",
            "tests/test_shells.py::test_a_hangup_gives_the_name_back",
            "tests/test_shells.py::test_an_existing_exit_trap_still_runs_and_the_name_is_given_back")),
    Mutant("h", "a quick survey takes a pid that runs for a dead holder",
           "codename_shell/liveness.py",
           r"return ALIVE if _pid_runs\(holder\.pid\) else DEAD", "return DEAD",
           ("tests/test_allocator.py",)),
    Mutant("i", "a quick survey reads /proc for no name handed out first",
           "codename_shell/survey.py",
           r'and casts\.fold\(h\.name\) not in sure', "",
           ("tests/test_allocator.py",)),
    Mutant("j", "a kept presence file trusted without its ctime",
           "codename_shell/sources/presence.py",
           r"st\.st_mtime_ns, st\.st_ctime_ns\) != seen\[:5\]", "st.st_mtime_ns) != seen[:4]",
           ("tests/test_rowcache.py",)),
    Mutant("k", "rows.cache believed without its checksum",
           "codename_shell/rowcache.py",
           r" and cached\[1\] == _checksum\(cached\[2\]\)", "",
           ("tests/test_fast_paths.py",)),
    Mutant("l", "lean_os decodes the environment as UTF-8 whatever the locale",
           "codename_shell/lean_os.py",
           r"_sys\.getfilesystemencoding\(\), _sys\.getfilesystemencodeerrors\(\)",
           '"utf-8", "surrogateescape"',
           ("tests/test_fast_paths.py",)),
    # A mutant of a Lua script: its SHA constant no longer matches, so EVALSHA answers
    # NOSCRIPT and the client runs it by EVAL each time (it still runs). The digest test
    # (test_the_script_digests_are_the_scripts_sha1) fails on any edit of a script, which says
    # nothing about behaviour: it is left out, so only the behavioural test can catch it.
    Mutant("m", "the fleet's overflow loop checks only this host's names, not Redis",
           "codename_shell/fleet/scripts.py",
           r"if free\(ARGV\[i \+ 1\] \.\. suffix\) then",
           "if not blocked[ARGV[i + 1] .. suffix] then",
           ("tests/test_fleet.py::"
            "test_claims_past_the_cast_on_two_hosts_at_once_get_distinct_overflow_names",)),
    # Issue 16: a shown name bound to a live lease.
    Mutant("n", "the bash prompt shows a plain fleet name without its lease's deadline",
           "shell/codename.bash", r"\(\(up >= __codename_until\)\); then", "((up < 0)); then",
           ("tests/test_fleet_leases.py::test_a_prompt_shows_the_qualified_name_once_the_lease"
            "_may_lapse_and_revives_the_keeper[bash]",)),
    Mutant("o", "a node's id rests on its hostname again",
           "codename_shell/fleet/node.py", r"parts = \(liveness\.boot_id\(\),",
           "parts = (liveness.host(), liveness.boot_id(),",
           ("tests/test_fleet_leases.py::test_a_hostname_change_keeps_every_name_of_the_host",)),
    Mutant("p", "a claim during the quiet period after an emptied Redis gets a plain name",
           "codename_shell/fleet/scripts.py", r"if quiet > 0 then return \{'quiet', quiet\} end\n",
           "",
           ("tests/test_fleet_leases.py::test_an_emptied_redis_hands_out_no_plain_name_another"
            "_host_may_show",)),
    Mutant("q", "the keeper believes a config.toml without [fleet] at once",
           "codename_shell/fleet/keeper.py", r"CONFIG_GRACE = 5\.0", "CONFIG_GRACE = 0.0",
           ("tests/test_fleet_leases.py::test_a_config_file_that_blinks_changes_nothing",)),
    Mutant("r", "a roster's name is published under a lease again",
           "codename_shell/fleet/scripts.py", r"redis\.call\('SET', key, mark \.\. row\)\n",
           "redis.call('SET', key, mark .. row, 'PX', lease)\n",
           ("tests/test_fleet_leases.py::test_a_roster_name_stays_out_of_other_hands_while_its"
            "_host_is_cut_off",)),
    Mutant("s", "the lease arithmetic allows no clock drift",
           "codename_shell/fleet/lease.py", r"\nDRIFT = 0\.01\n", "\nDRIFT = 0.0\n",
           ("tests/test_fleet_leases.py::test_a_lease_file_never_vouches_past_what_the_server"
            "_may_keep",)),
    Mutant("t", "no codename command brings a dead keeper back",
           "codename_shell/fleet/__init__.py",
           r"if os\.path\.isdir\(where\):\n            start_keeper\(where\)",
           "if os.path.isdir(where):\n            pass",
           ("tests/test_fleet_leases.py::test_a_killed_keeper_never_leaves_a_plain_name_on_two"
            "_hosts_and_comes_back",)),
    Mutant("u", "a bash prompt never starts a keeper that died",
           "shell/codename.bash",
           r'\("\$\{__codename_keeper\[@\]\}" </dev/null >/dev/null 2>&1 &\) 2>/dev/null',
           ":",
           ("tests/test_fleet_leases.py::test_a_prompt_shows_the_qualified_name_once_the_lease"
            "_may_lapse_and_revives_the_keeper[bash]",)),
    Mutant("v", "a keeper never tells the server's clock jumped ahead",
           "codename_shell/fleet/renewal.py", r"CLOCK_SLACK_MS = 500\n", "CLOCK_SLACK_MS = 10**9\n",
           ("tests/test_fleet_leases.py::test_a_server_clock_that_jumps_ahead_is_told_from_a_slow"
            "_round_trip",)),
    # Issue 17: what codename writes on a user's machine.
    Mutant("w", "roster --write rewrites the notes file in place, not a temp file renamed",
           "codename_shell/notes.py",
           r"_rewrite\(held, new, st\)", "os.ftruncate(held.fd, 0) or os.write(held.fd, new)",
           ("tests/test_user_data.py",)),
    Mutant("x", "the roster block ends at the last end marker line (a greedy match)",
           "codename_shell/notes.py",
           r"ends\[0\] if ends", "ends[-1] if ends",
           ("tests/test_user_data.py",)),
    Mutant("y", "a rewrite renames its temp file into place before it fsyncs it",
           "codename_shell/fileio.py",
           r"( +)(sync\(fd, name\))\n +(os\.replace\(tmp, name, [^)\n]*\))",
           r"\1\3\n\1\2",
           ("tests/test_user_data.py",)),
    Mutant("z", "write_temp never fsyncs: write_atomic and a claim rename unsynced data",
           "codename_shell/fileio.py",
           r"sync\(fd, tmp\)", "None",
           ("tests/test_user_data.py",)),
    Mutant("aa", "temp files opened without O_NOFOLLOW",
           "codename_shell/fileio.py",
           r"(_TEMP_FLAGS = .*) \| os\.O_NOFOLLOW", r"\1",
           ("tests/test_user_data.py",)),
    # Issue 17: the hook on a user's machine (rc lines after ours, noclobber, titles).
    Mutant("ab", "bash's exit hook empties the presence file with `>`, which noclobber refuses",
           "shell/codename.bash", r'\n        \{ : >\|"\$__codename_presence"; \}',
           '\n        { : >"$__codename_presence"; }',
           ("tests/test_user_rc.py::test_noclobber_in_the_rc_file_still_gives_the_name_back"
            "_at_exit[bash]",)),
    Mutant("ac", "the bash title keeps the released name (no empty title once it went)",
           "shell/codename.bash",
           r"elif \[\[ -n \$__codename_title_printed \]\]; then", "elif false; then",
           ("tests/test_user_rc.py::test_a_release_clears_the_name_from_the_window_title[bash]",)),
    Mutant("ad", "doctor's duplicate check compares names without folding them",
           "codename_shell/survey.py",
           r"by_name\.setdefault\(casts\.fold\(h\.name\), \[\]\)", "by_name.setdefault(h.name, [])",
           ("tests/test_user_machine.py::test_pam_in_lookalike_letters_is_pam_to_claims_log_and"
            "_doctor",)),
    Mutant("ae", "a roster's UTF-8 byte order mark is kept, its first row a bad line",
           "codename_shell/sources/roster.py", r'\.removeprefix\("\\ufeff"\)', "",
           ("tests/test_user_machine.py::test_a_roster_s_byte_order_mark_hides_no_holder",)),
    Mutant("af", "who prints a name without escaping it",
           "codename_shell/report.py", r"return \[printable\(c\) for c in cells\]",
           "return [cells[0], *(printable(c) for c in cells[1:])]",
           ("tests/test_user_machine.py::test_no_control_character_leaves_codename",)),
    Mutant("ag", "a heartbeat never compacts the ledger",
           "codename_shell/allocator.py",
           r"self\.ledger\.compact_if_needed\(\)  # never fails the heartbeat", "pass  #",
           ("tests/test_user_machine.py::test_a_spare_that_heartbeats_for_ever_keeps_the_ledger"
            "_as_small_as_none",)),
    Mutant("ah", "the lock takes a holder that works on a CPU for a stuck one",
           "codename_shell/lock.py", r"if running or \(", "if False and (",
           ("tests/test_user_machine.py::test_a_holder_that_works_past_the_timeout_is_waited_for",)),
    Mutant("ai", "reap --host removes another pid namespace of this very machine",
           "codename_shell/allocator.py",
           r"self\.reap_kept = \[h for h in by_hand if h\.boot and [^\n]*\]", "self.reap_kept = []",
           ("tests/test_other_hosts.py::test_a_container_sharing_home_is_never_reaped_by"
            "_hostname",)),
    Mutant("aj", "a kept roster is believed without its ctime",
           "codename_shell/rostercache.py", r"st\.st_mtime_ns, st\.st_ctime_ns\n",
           "st.st_mtime_ns, 0\n",
           ("tests/test_user_machine.py::test_a_roster_rewritten_in_place_is_read_again",)),
    Mutant("ak", "a roster's kept index serves casts it was not made for",
           "codename_shell/rostercache.py", r", sorted\(names\)\)", ")", places=2,
           tests=("tests/test_user_machine.py::test_a_kept_roster_is_looked_at_again_for_a_cast"
                  "_added_since",)),
    Mutant("al", "a closed terminal's release is stamped when the next claim noticed it",
           "codename_shell/allocator.py", r"at=self\.presence\.let_go\.get\(ident\)", "at=None",
           ("tests/test_log_history.py::test_a_closed_terminal_is_released_at_its_exit_not_when"
            "_the_next_claim_noticed",)),
    Mutant("am", "a job's release is stamped when its release got the lock",
           "codename_shell/runner.py", r"allocator\.release\(pid, at=ended\)",
           "allocator.release(pid)",
           ("tests/test_log_history.py::test_a_job_is_released_when_it_ended_not_when_its_release"
            "_got_the_lock",)),
    Mutant("an", "a reaped holder's row says nothing of when it was last seen alive",
           "codename_shell/allocator.py",
           r'fields=\(f"seen=\{stamp_of\(seen\)\}",\) if seen > 0 else \(\)', "fields=()",
           ("tests/test_log_history.py::test_a_killed_holder_is_reaped_with_the_last_moment_it_was"
            "_seen_alive",)),
    Mutant("ao", "--since drops a name held across the moment",
           "codename_shell/tenures.py", r"chosen = held \+ \[", "chosen = [",
           ("tests/test_log_history.py::test_since_starts_with_the_claim_of_a_name_held_across"
            "_the_moment",)),
    Mutant("ap", "--since drops an event stamped at exactly its moment",
           "codename_shell/tenures.py", r"r\[STAMP\] >= edge\]", "r[STAMP] > edge]",
           ("tests/test_log_history.py::test_since_an_events_own_second_includes_it",)),
    Mutant("aq", "--since rounds a moment within a second up, dropping that second's events",
           "codename_shell/tenures.py",
           r"return stamp_of\(min\(max\(moment, EARLIEST - 1\), LATEST \+ 1\)\)",
           "return stamp_of(-(-min(max(moment, EARLIEST - 1), LATEST + 1) // 1))",
           ("tests/test_log_history.py::test_since_an_events_own_second_includes_it",)),
    Mutant("ar", "a row's time is believed though no time zone can show it",
           "codename_shell/history.py", r"if not EARLIEST <= moment <= LATEST:",
           "if moment != moment:",
           ("tests/test_log_history.py::test_a_row_that_cannot_be_placed_in_time_is_skipped_with"
            "_one_line_in_any_zone",)),
    Mutant("as", "an older ledger's rename (a release and a claim) reads as two events again",
           "codename_shell/history.py",
           r"if before\[NAME\] != row\[NAME\] and before\[PID:HOST \+ 1\] == row\[PID:HOST \+ 1\]:",
           "if False:",
           ("tests/test_log_history.py::test_an_older_ledgers_released_and_claimed_pair_reads_as"
            "_one_renamed_event",)),
    Mutant("at", "who's Doing shows codename's launcher by its interpreter line",
           "codename_shell/activity.py",
           r"if at >= len\(args\) or not _launcher\(args\[at\], pid\):", "if True:",
           ("tests/test_roster_notes_log.py::test_a_process_running_codenames_script_shows_as"
            "_typed",)),
    Mutant("au", "no keeper publishes its ledger to the fleet's history",
           "codename_shell/fleet/keeper.py",
           r"self\.events\.tick\(time\.monotonic\(\) \+ self\.timing\.tick / 2, self\.log\)",
           "pass",
           ("tests/test_fleet_history.py::test_log_at_gives_every_host_the_same_answer_about"
            "_every_host",)),
    Mutant("av", "the timeline paints escapes into a pipe",
           "codename_shell/logview.py", r"colour = width is not None and sys\.stdout\.isatty\(\)",
           "colour = True",
           ("tests/test_log_history.py::test_the_timeline_draws_one_row_per_name_within_80_columns"
            "_and_wide_names",)),
    # Issue 21: where, attach, tell, and a colour per name.
    Mutant("aw", "the bash prompt that shows a message reads .shown with a process",
           "shell/codename.bash",
           r'\{ IFS= read -r shown <"\$__codename_shown"; \} 2>/dev/null \|\| :',
           'shown=$(cat "$__codename_shown" 2>/dev/null) || :',
           (f"{REACH}test_no_process_starts_at_a_prompt_that_shows_a_message[bash]",
            f"{REACH}test_a_told_terminal_shows_the_message_once_above_its_next"
            "_prompt[bash]")),
    Mutant("ax", "the bash prompt never says which messages it showed (.shown not written)",
           "shell/codename.bash",
           r'\{ printf \'%s\\n\' "\$last" >\|"\$__codename_shown"; \} 2>/dev/null \|\| :', ":",
           (f"{REACH}test_a_told_terminal_shows_the_message_once_above_its_next"
            "_prompt[bash]",
            f"{REACH}test_the_21st_waiting_message_is_refused_and_none_is_lost")),
    Mutant("ay", "bash prints a message as printf's format",
           "shell/codename.bash",
           r"printf '\[from %s\] %s\\n' \"\$\{sender//\[\[:cntrl:\]\]/\?\}\" "
           r"\"\$\{text//\[\[:cntrl:\]\]/\?\}\" >&3",
           r'printf "[from %s] ${text}\\n" "${sender}" >&3',
           (f"{REACH}test_a_message_is_shown_as_inert_text_whoever_sent_it[bash]",)),
    Mutant("az", "zsh prints a message with prompt expansion (print -P)",
           "shell/codename.zsh", r"print -ru3 --", "print -Pu3 --",
           (f"{REACH}test_a_message_is_shown_as_inert_text_whoever_sent_it[zsh]",)),
    Mutant("ba", "fish prints a message with echo -e",
           "shell/codename.fish",
           r"printf '\[from %s\] %s\\n' \"\$sender\" \"\$text\" >&2",
           r'echo -e "[from $sender] $text" >&2',
           (f"{REACH}test_a_message_is_shown_as_inert_text_whoever_sent_it[fish]",)),
    Mutant("bb", "the colour of a new holder ignores the live holders' colours",
           "codename_shell/allocator.py",
           r"colours\.pick\(colours\.of\(h\) for h in survey\.live if h not in replacing\)",
           "colours.pick([])",
           (f"{REACH}test_each_live_name_gets_a_distinct_colour_kept_for_its_life",)),
    Mutant("bc", "a rename picks its holder a new colour",
           "codename_shell/allocator.py",
           r"        if old\.colour is not None:\n            return old\.colour\n",
           "        pass\n",
           (f"{REACH}test_each_live_name_gets_a_distinct_colour_kept_for_its_life",)),
    Mutant("bd", "where compares names exactly, not folded",
           "codename_shell/reach.py",
           r"found = \[h for h in holders if casts\.fold\(h\.name\) == want\]",
           "found = [h for h in holders if h.name == name]",
           (f"{REACH}test_where_says_host_pid_tty_tmux_pane_cwd_kind_and_since[bash]",)),
    Mutant("be", "who paints names into a pipe",
           "codename_shell/commands.py",
           r'not os\.environ\.get\("NO_COLOR"\) and sys\.stdout\.isatty\(\)',
           'not os.environ.get("NO_COLOR")',
           (f"{REACH}test_who_paints_names_on_a_terminal_only",)),
    Mutant("bf", "a 21st waiting message is taken",
           "codename_shell/inbox.py", r"room = max\(0, MOST - len\(waiting\)\)",
           "room = max(0, MOST + 1 - len(waiting))",
           (f"{REACH}test_the_21st_waiting_message_is_refused_and_none_is_lost",)),
    Mutant("bg", "the keeper never carries messages from other hosts",
           "codename_shell/fleet/keeper.py",
           r"if not self\.reachable or time\.monotonic\(\) >= deadline:\n            return",
           "return",
           (f"{REACH}test_a_message_reaches_a_terminal_on_another_host",)),
    Mutant("bh", "a release leaves the messages for the pid's next holder",
           "codename_shell/sources/presence.py",
           r' f"\{path\}\.inbox",\n', "\n",
           (f"{REACH}test_a_release_takes_the_waiting_messages_with_it",)),
    Mutant("bi", "attach switches to the pane but not to its window",
           "codename_shell/tmux.py",
           r'result = _call\(pane\.socket, "switch-client", "-t", target, ";", "select-window", '
           r'"-t",\n\s+target, ";", "select-pane", "-t", target\)',
           'result = _call(pane.socket, "select-pane", "-t", target)',
           (f"{REACH}test_attach_switches_the_client_to_the_pane_in_another_session_and_window"
            "[bash]",)),
    Mutant("bj", "a holder given a plain name again does not say its own was taken meanwhile",
           "codename_shell/fleet/renewal.py",
           r"if reason == ANSWERS_AGAIN:", "if False:",
           ("tests/test_fleet.py::test_an_answer_that_is_not_redis_still_moves_a_host_to_"
            "qualified_names[hiredis]",)),
    Mutant("bk", "a question at the rotated files' last second takes the summary",
           "codename_shell/historycache.py", r"kept\.last < after", "kept.last <= after",
           (f"{HCACHE}test_a_question_about_a_later_moment_gets_the_same_answer_from_the_"
            "kept_summary",)),
    Mutant("bl", "the summary keeps the open claims' rows, not their processes'",
           "codename_shell/historycache.py",
           r"carry = \[row for row in rows if process\(row\) in processes\]",
           "carry = [row for row in rows if row[3:7] in opened]",
           (f"{HCACHE}test_a_question_about_a_later_moment_gets_the_same_answer_from_the_"
            "kept_summary",)),
    Mutant("bm", "a new ledger.log.1 does not make the summary stale",
           "codename_shell/historycache.py", r"for name in ROTATED:", "for name in ROTATED[:1]:",
           (f"{HCACHE}test_the_summary_stands_in_for_the_rotated_files_until_they_change",)),
    Mutant("bn", "the first hour of a file's quick rows is never placed",
           "codename_shell/history.py", r'hour = "\\0"', 'hour = ""',
           ("tests/test_log_history.py::test_rows_written_as_codename_writes_them_but_at_no_"
            "moment_are_each_skipped",)),
    Mutant("bo", "the summary is kept but never used",
           "codename_shell/historycache.py",
           r"if kept is not None and after is not None and kept\.last < after:", "if False:",
           (f"{HCACHE}test_the_summary_stands_in_for_the_rotated_files_until_they_change",)),
    # Issue 20: a bash draw with nothing new makes no stat for messages and no title write.
    Mutant("bp", "a message left does not touch the presence file (bash's fast path misses it)",
           "codename_shell/inbox.py", r"for path in \(self\.path, self\.presence\):",
           "for path in (self.path,):",
           (f"{REACH}test_a_told_terminal_shows_the_message_once_above_its_next_prompt[bash]",)),
    Mutant("bq", "bash's own PS1 title is taken for the user's at a redecoration",
           "shell/codename.bash",
           r'"\$__codename_ps1_plain" "\$__codename_own_title_shown" "\$__codename_ps1_own_title"',
           '"$__codename_ps1_plain"',
           ("tests/test_user_rc.py::test_a_prompt_command_set_after_the_hook_line_keeps_the_"
            "hook[scalar]",)),
    Mutant("br", "zsh's fast path does not look for title functions defined after the hook",
           "shell/codename.zsh", r"\$\{__codename_titles_key-\} == \"", '"" != "',
           ("tests/test_shells.py::test_a_title_function_defined_at_the_prompt_gets_the_name_"
            "from_the_next_draw",)),
    Mutant("bs", "zsh's own title is not put in PROMPT",
           "shell/codename.zsh", r"\n  ps1=\$own\$ps1\n", "\n  ps1=$ps1\n",
           ("tests/test_shells.py::test_a_retitled_window_gets_the_name_back_at_the_next_prompt"
            "[zsh]",)),
    Mutant("bt", "fish without a fleet never follows the presence file at a draw",
           "shell/codename.fish",
           r'if not test -f "\$__codename_presence" -a "\$__codename_seen" -nt '
           r'"\$__codename_presence"', "if false",
           ("tests/test_shells.py::test_rename_and_release_from_another_terminal_reach_the_prompt"
            "[fish]",)),
    Mutant("bu", "zsh's last precmd trusts its state alone, not PROMPT (a theme rebuilt it)",
           "shell/codename.zsh", r'\[\[ \$PROMPT == "\$\{__codename_prompt_set-\}" && "',
           '[[ "', ("tests/test_shells.py::test_a_zsh_theme_that_builds_its_prompt_at_each_"
                    "precmd_still_shows_the_name",)),
    Mutant("bv", "zsh's short way with a fleet no longer looks at the lease's deadline",
           "shell/codename.zsh", r"\n      __codename_show\n      return 0\n",
           "\n      return 0\n",
           ("tests/test_fleet_leases.py::test_a_prompt_shows_the_qualified_name_once_the_lease_"
            "may_lapse_and_revives_the_keeper[zsh]",)),
    Mutant("bw", "bash's next look at the lease waits for the renewal, past the deadline",
           "shell/codename.bash", r"\(\(__codename_until < __codename_next\)\)", "((0))",
           (NO_PLAIN_PAST_DEADLINE + "[bash]",)),
    Mutant("bx", "zsh's next look at the lease waits for the renewal, past the deadline",
           "shell/codename.zsh", r"\(\( __codename_until < __codename_next \)\)", "(( 0 ))",
           (NO_PLAIN_PAST_DEADLINE + "[zsh]",)),
    Mutant("by", "fish's next look at the lease waits for the renewal, past the deadline",
           "shell/codename.fish", r"test \$__codename_until -lt \$__codename_next",
           "false", (NO_PLAIN_PAST_DEADLINE + "[fish]",)),
    Mutant("bz", "bash's short way with a fleet trusts the lease it read, whatever the time",
           "shell/codename.bash", r"\(\(\$\{__codename_up%%\.\*\} < __codename_next\)\)",
           "((1))", (NO_PLAIN_PAST_DEADLINE + "[bash]",)),
    Mutant("ca", "bash's short way with a fleet no longer looks whether the lease file changed",
           "shell/codename.bash", r"\$__codename_seen -nt \$__codename_lease && -r ",
           "-r ", (LAPSE_AT_NEXT_DRAW + "[bash]",)),
    Mutant("cb", "zsh's short way with a fleet no longer looks whether the lease file changed",
           "shell/codename.zsh", r"\$__codename_seen -nt \$__codename_lease &&\n        -r ",
           "\n        -r ", (LAPSE_AT_NEXT_DRAW + "[zsh]",)),
    Mutant("cd", "bash's short way with a fleet trusts a lease file that is gone",
           "shell/codename.bash", r"\(-f \$__codename_lease \|\| \$\{CODENAME-\} == \*@\*\) &&\n",
           "\n", (LEASE_GONE + "[bash]",)),
    Mutant("ce", "bash's long way does not read the lease again when its file is gone",
           "shell/codename.bash",
           r" \|\|\n        \(-n \$__codename_lease && ! -f \$__codename_lease && "
           r"\$\{CODENAME-\} != \*@\*\)",
           "", (LEASE_GONE + "[bash]",)),
    Mutant("cf", "zsh shows what it last read of a lease file that is gone",
           "shell/codename.zsh",
           r"\$__codename_seen -nt \$__codename_lease \|\|\n        "
           r"\( ! -e \$__codename_lease && \$\{CODENAME-\} == \*@\* \)",
           "! -e $__codename_lease || $__codename_seen -nt $__codename_lease",
           (LEASE_GONE + "[zsh]",)),
    Mutant("cg", "zsh's short way with a fleet keeps a $CODENAME set by hand",
           "shell/codename.zsh", r'\$\{CODENAME-\} == "\$__codename_exported" && ', "",
           (SET_BY_HAND + "[zsh]",)),
    Mutant("ch", "zsh's short way with a fleet sets its uptime variables outside its scope",
           "shell/codename.zsh", r"    local __codename_up __codename_rest  #[^\n]*\n", "",
           ("tests/test_fleet_leases.py::test_zsh_options_that_warn_about_scopes_stay_quiet_at_"
            "fleet_draws",)),
    Mutant("ci", "fish's handler with a fleet keeps a $CODENAME set by hand",
           "shell/codename.fish",
           r'\n                and test "\$CODENAME" = "\$__codename_exported"', "",
           (SET_BY_HAND + "[fish]",)),
    Mutant("cj", "fish shows what it last read of a lease file that is gone",
           "shell/codename.fish",
           r"not test -e \"\$__codename_lease\"; and string match -q '\*@\*' -- \"\$CODENAME\"",
           'not test -e "$__codename_lease"', (LEASE_GONE + "[fish]",)),
    Mutant("ck", "a row's colour is taken past 255",
           "codename_shell/holders.py", r"return value if value <= 255 else None",
           "return value",
           ("tests/test_fast_paths.py::test_the_fast_parser_reads_every_row_as_the_old_one_did",)),
    Mutant("cc", "fish's codename command leaves a fish_prompt defined since without the name",
           "shell/codename.fish", r"set -q __codename_installed; and __codename_wrap\n", "\n",
           ("tests/test_user_rc.py::test_a_fish_prompt_defined_at_the_prompt_gets_the_name_from_"
            "the_next_codename_command",)),
)


@dataclass
class Outcome:
    verdict: str  # caught, missed, error
    detail: str
    seconds: float


def working_tree(repo: Path) -> list[str]:
    """The files of the working tree that git would not ignore, as paths relative to `repo`."""
    out = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=repo,
                         capture_output=True, check=True).stdout
    return sorted({p for p in out.decode().split("\0") if p})


def copy_tree(repo: Path, files: list[str], into: Path) -> None:
    for rel in files:
        src = repo / rel
        if not src.is_file() and not src.is_symlink():
            continue  # deleted in the working tree, or a submodule
        dst = into / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)


def plant(tree: Path, mutant: Mutant) -> str | None:
    """Apply `mutant` in `tree`; None when done, else why it could not be.

    An anchor that matches more or fewer places than expected means the code moved: the
    substitution might now change a message instead of the check, and a mutant "missed" for
    that reason would say nothing about the tests.
    """
    target = tree / mutant.path
    try:
        text = target.read_text()
    except FileNotFoundError:
        return f"{mutant.path} does not exist"
    changed, count = re.subn(mutant.pattern, mutant.replacement, text)
    if count == 0 or (mutant.places is not None and count != mutant.places):
        wanted = "at least 1" if mutant.places is None else str(mutant.places)
        return (f"anchor /{mutant.pattern}/ matched {count} places in {mutant.path}, "
                f"not {wanted}: the code moved; update the anchor")
    if target.suffix == ".py":
        try:
            compile(changed, str(target), "exec")
        except SyntaxError as e:  # every test would fail, and "caught" would mean nothing
            return f"the mutant does not compile: {e}"
    target.write_text(changed)
    return None


def pytest(tree: Path, args: list[str]) -> tuple[int, str]:
    """Run pytest in `tree` so that every process, the tests' subprocesses and shells
    included, imports codename from the copy (conftest points PYTHONPATH at its repo)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                            *args], cwd=tree, env=env, capture_output=True, text=True,
                           timeout=PYTEST_TIMEOUT)
    except subprocess.TimeoutExpired:
        return -1, f"pytest ran longer than {PYTEST_TIMEOUT} s"
    return r.returncode, r.stdout + r.stderr


def failed_tests(output: str) -> str:
    """The tests pytest reported failing, from its short summary."""
    failed = [line.split()[1] for line in output.splitlines()
              if line.startswith(("FAILED ", "ERROR ")) and len(line.split()) > 1]
    return ", ".join(failed) or "(see pytest's output)"


def last_lines(output: str, n: int = 15) -> str:
    return "\n".join("    " + line for line in output.rstrip().splitlines()[-n:])


def judge(repo: Path, files: list[str], mutant: Mutant, args: list[str]) -> Outcome:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"codename-mutant-{mutant.key}-") as tmp:
        tree = Path(tmp)
        copy_tree(repo, files, tree)
        problem = plant(tree, mutant)
        if problem:
            return Outcome("error", problem, time.monotonic() - started)
        code, output = pytest(tree, args)
    seconds = time.monotonic() - started
    if code == 1:
        return Outcome("caught", f"by {failed_tests(output)}", seconds)
    if code == 0:
        return Outcome("missed", "every test passed", seconds)
    return Outcome("error", f"pytest exited {code}:\n{last_lines(output)}", seconds)


def baseline(repo: Path, files: list[str], args: list[str]) -> tuple[bool, str, float]:
    """Whether the chosen tests pass on an unchanged copy: otherwise `caught` means nothing."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="codename-mutant-baseline-") as tmp:
        tree = Path(tmp)
        copy_tree(repo, files, tree)
        code, output = pytest(tree, args)
    return code == 0, output, time.monotonic() - started


def tests_for(mutants: list[Mutant], whole_suite: bool) -> list[str]:
    if whole_suite:
        return ["tests"]
    return list(dict.fromkeys(t for m in mutants for t in m.tests))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("keys", nargs="*", metavar="MUTANT", help="only these (default: all)")
    parser.add_argument("--all", action="store_true", help="run the whole suite per mutant")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip checking that the tests pass without any mutant")
    ns = parser.parse_args(argv)

    known = {m.key: m for m in MUTANTS}
    unknown = [k for k in ns.keys if k not in known]
    if unknown:
        parser.error(f"unknown mutant {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = [known[k] for k in ns.keys] if ns.keys else list(MUTANTS)
    if ns.list:
        for m in chosen:
            print(f"{m.key}  {m.bug}\n   {m.path}: /{m.pattern}/ -> {m.replacement!r}\n"
                  f"   tests: {' '.join(m.tests)}")
        return 0

    started = time.monotonic()
    files = working_tree(REPO)
    if not ns.no_baseline:
        ok, output, seconds = baseline(REPO, files, tests_for(chosen, ns.all))
        print(f"baseline   {'passed' if ok else 'FAILED'} ({seconds:.0f} s)", flush=True)
        if not ok:
            print("the tests fail without any mutant, so no mutant can be judged:\n"
                  + last_lines(output, 30))
            return 2

    outcomes: dict[str, Outcome] = {}
    for m in chosen:
        outcome = judge(REPO, files, m, tests_for([m], ns.all))
        outcomes[m.key] = outcome
        print(f"{outcome.verdict:<8} {m.key}  {m.bug} ({outcome.seconds:.0f} s)\n"
              f"           {outcome.detail}", flush=True)

    verdicts = [o.verdict for o in outcomes.values()]
    print(f"{verdicts.count('caught')} caught, {verdicts.count('missed')} missed, "
          f"{verdicts.count('error')} errors, of {len(verdicts)} mutants "
          f"in {time.monotonic() - started:.0f} s")
    if "missed" in verdicts:
        return 1
    return 2 if "error" in verdicts else 0


if __name__ == "__main__":
    sys.exit(main())
