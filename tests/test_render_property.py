"""No value codename puts into a hook runs as code: property-based, in the real bash, zsh and fish.

Whatever a name, a full name, a theme name or a path holds (quotes, `$(...)`, backticks,
newlines, a `__CN_*__` placeholder of the hook template itself), the rendered hook, evaluated
the way the rc line does it by the real shell, sets each variable to exactly that text and runs
nothing: no payload leaves the file it tries to write. The same goes for the code `codename
rename --shell` prints.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

import pytest
from conftest import require
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from codename_shell import shells

# Every payload tries to write `pwned` in the shell's working directory, which is otherwise
# empty but for the hook: anything else found there afterwards was run.
PAYLOADS = [
    "$(echo ran >> pwned)", "`echo ran >> pwned`", "'; echo ran >> pwned; '",
    '"; echo ran >> pwned; "', "\\'; echo ran >> pwned; #", "(echo ran >> pwned)",
    "\necho ran >> pwned\n", "; echo ran >> pwned", "| tee pwned", "$(<pwned)", "${HOME}",
    "__CN_THEMES__", "__CN_NAME__", "__CN_BIN__", "__CN_FULL__", "__CN_", "__CN_X__", "__",
    "'", '"', "\\", "$", "`", "!", "%", "#", "~", "*", "{a,b}", "'\\''", "\\'", "\n", "\r", "\t",
    " ", "-", "--", "-e", "%F{red}", "$'\\n'", "\\n",
]
# Any text a shell can hold in a variable: everything but NUL (and lone surrogates, which
# cannot be written out as UTF-8 at all).
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
VALUE = st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(CHARS, max_size=6)),
                 max_size=5).map("".join)
FLAG = st.sampled_from(["0", "1"])

# Print, after a NUL and a marker (values hold no NUL), each variable the hook sets from a
# value, lists as their length then their items, NUL-terminated; then $CODENAME and
# $CODENAME_FULL after the code `rename --shell` prints. (Which of them the hook goes on to
# export depends on whose name it is; the values themselves must arrive exactly.)
MARK = "@@CN-VALUES@@"
SCRIPT = {
    "bash": """
eval "$(<hook)"
printf '%s\\0' '' "$MARK" "$__codename_name" "$__codename_full" "$__codename_id" \
    "$__codename_presence" "$__codename_owner" "${#__codename_bin[@]}" "${__codename_bin[@]}" \
    "$__codename_show_prompt" "$__codename_show_title" "$__codename_lease" \
    "$__codename_qualifier" "${#__codename_keeper[@]}" "${__codename_keeper[@]}" \
    "$__codename_colour_given" "$__codename_paint"
eval "$(<rename)"
printf '%s\\0' "$CODENAME" "$CODENAME_FULL"
""",
    "fish": """
source hook
string join0 -- '' $MARK $__codename_name $__codename_full $__codename_id \
    $__codename_presence $__codename_owner (count $__codename_bin) $__codename_bin \
    $__codename_show_prompt $__codename_show_title $__codename_lease \
    $__codename_qualifier (count $__codename_keeper) $__codename_keeper \
    $__codename_colour_given $__codename_paint
source rename
string join0 -- $CODENAME $CODENAME_FULL
""",
}
SCRIPT["zsh"] = SCRIPT["bash"]
ARGV = {
    "bash": ["--norc", "--noprofile", "-i", "-c"],
    "zsh": ["-f", "-i", "-c"],
    "fish": ["--no-config", "-i", "-c"],
}


def run_hook(shell: str, values: dict[str, str | list[str]],
             renamed: dict[str, str]) -> tuple[list[str], list[str]]:
    """Evaluate the hook, then the rename code, in an interactive `shell` (no terminal needed);
    return what the working directory holds afterwards and the values the shell printed."""
    program = require(shell)
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "hook"), "w", encoding="utf-8") as f:
            f.write(shells.render(shell, values))
        with open(os.path.join(work, "rename"), "w", encoding="utf-8") as f:
            f.write(shells.assignments(shell, renamed))
        env = {"PATH": os.environ["PATH"], "HOME": home, "LANG": "C.UTF-8", "TERM": "dumb",
               "XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home}
        # No terminal on stdin: a hook that finds one may run $__codename_bin to ask for a name.
        r = subprocess.run([program, *ARGV[shell], SCRIPT[shell].replace("$MARK", MARK)],
                           cwd=work, env=env, capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        left = sorted(os.listdir(work))
    _, marker, out = r.stdout.partition(b"\0" + MARK.encode() + b"\0")
    assert marker, (r.returncode, r.stdout, r.stderr)
    return left, out.decode("utf-8").split("\0")[:-1]


def expected(values: dict[str, str | list[str]], renamed: dict[str, str]) -> list[str]:
    out: list[str] = []
    for key in ("NAME", "FULL", "ID", "PRESENCE", "OWNER", "BIN", "PROMPT", "TITLE", "LEASE",
                "QUALIFIER", "KEEPER", "COLOUR", "PAINT"):
        value = values[key]
        out += [str(len(value)), *value] if isinstance(value, list) else [value]
    return [*out, renamed["CODENAME"], renamed["CODENAME_FULL"]]


HOOK_VALUES = st.fixed_dictionaries({
    "NAME": VALUE, "FULL": VALUE, "ID": VALUE, "PRESENCE": VALUE,
    # Not an owner: a non-interactive owner empties its presence file, a write to a path
    # that is the test's input and so proves nothing either way.
    "OWNER": st.just("0"),
    "BIN": st.lists(VALUE, min_size=1, max_size=3), "PROMPT": FLAG, "TITLE": FLAG,
    "LEASE": VALUE, "QUALIFIER": VALUE, "KEEPER": st.lists(VALUE, min_size=1, max_size=3),
    "COLOUR": VALUE, "PAINT": FLAG,
})
RENAMED = st.fixed_dictionaries({"CODENAME": VALUE, "CODENAME_FULL": VALUE})
# The attack from issue 7: a placeholder in a full name pulled a list (then the theme names,
# since dropped from the hook) in unquoted. BIN is the list left.
ATTACK: dict[str, str | list[str]] = {
    "NAME": "Ada", "FULL": "Ada __CN_BIN__ Lovelace", "ID": "123-456",
    "PRESENCE": "/run/x/123-456", "OWNER": "0",
    "BIN": ["/usr/bin/codename", "$(echo ran >> pwned)"], "PROMPT": "1", "TITLE": "1",
    "LEASE": "/run/x-fleet/__CN_KEEPER__.lease", "QUALIFIER": "@vm~$(echo ran >> pwned)",
    "KEEPER": ["/usr/bin/python3", "-c", "import os; os.system('echo ran >> pwned')"],
    "COLOUR": "$(echo ran >> pwned)", "PAINT": "1",
}


@pytest.mark.parametrize("shell", shells.SHELLS)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@example(values=ATTACK, renamed={"CODENAME": "__CN_NAME__", "CODENAME_FULL": "`echo ran>>pwned`"})
@given(values=HOOK_VALUES, renamed=RENAMED)
def test_the_hook_runs_nothing_it_was_given_and_sets_exactly_the_values(
        shell: str, values: dict[str, str | list[str]], renamed: dict[str, str]) -> None:
    left, printed = run_hook(shell, values, renamed)
    assert left == ["hook", "rename"], f"the hook ran a payload: {left}"
    assert printed == expected(values, renamed)


def test_render_leaves_text_that_only_looks_like_a_placeholder_and_refuses_unknown_keys() -> None:
    words = {"A": "1", "BC": "2"}
    assert shells.substitute("__CN_A__ __CN_*__ __CN___CN_BC__ __CN_a__ __CN_", words) == \
        "1 __CN_*__ __CN_2 __CN_a__ __CN_"
    with pytest.raises(KeyError):
        shells.substitute("x=__CN_MISSING__", words)
