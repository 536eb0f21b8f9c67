"""Where a prompt draw's microseconds go in each shell's hook: the hook as it is against copies
of it with one part taken out, leaving shell/ alone.

Each variant is the usual rc file with codename's line (bench/prompts.py's rc files, a bare
marker prompt and the distribution's), followed by a few lines that redefine or remove one
part of the hook after it installed itself: the window title written at each draw, the test
that decides whether the presence file changed, the function call itself, the name in the
prompt. The draws are bench/prompts.py's (Enter on an empty line, the next prompt), every
variant in each round, alternated; the figure is what a draw adds over the same shell with
no hook, the median of each round's difference, beside zoxide's hook measured the same way.
What a part costs is the difference between two rows; the table says which.
"""

from __future__ import annotations

import shutil

from bench.common import Bench, World, log, median
from bench.prompts import draws, hook_line, rc_files

FAMILY = "drawcost"
WHAT = "where a prompt draw's µs go in the hooks: the hook against copies with parts taken out"

# (label, lines run after the hook installed itself), per shell. Each removes one more part.
VARIANTS: dict[str, list[tuple[str, str]]] = {
    "bash": [
        ("as it is", ""),
        ("no title in PS1 (bash writes it at each draw)",
         'PS1=${PS1//"$__codename_own_title_shown"/}\n__codename_ps1_set=$PS1\n'),
        ("the prompt function keeps $? and makes its file tests only (-f, -nt)",
         '__codename_prompt() { local status=$?; [[ -f $__codename_presence && $__codename_seen'
         ' -nt $__codename_presence ]]; return "$status"; }\n'),
        ("the prompt function only keeps $? (no stat, no title)",
         '__codename_prompt() { local status=$?; return "$status"; }\n'),
        ("no PROMPT_COMMAND entry: the name in PS1 only", "unset PROMPT_COMMAND\n"),
        ("no entry, the name in PS1 without colour escapes",
         'unset PROMPT_COMMAND\nPS1=${PS1//"$__codename_ps1_colour"/"$__codename_ps1_plain"}\n'),
        ("no entry, PS1 as the rc file left it (no name)",
         'unset PROMPT_COMMAND\nPS1=${PS1//"$__codename_ps1_colour"/}\n'),
    ],
    "zsh": [
        ("as it is", ""),
        ("no title written at each draw", "__codename_title() { return 0 }\n"),
        ("the first precmd function does nothing (no stat, no title)",
         "__codename_precmd() { return 0 }\n"),
        ("the precmd functions do nothing (called, no stat, no title)",
         "__codename_precmd() { return 0 }\n__codename_precmd_last() { return 0 }\n"),
        ("no precmd functions (the name stays in a fixed PROMPT; a theme's own PROMPT loses it)",
         "precmd_functions=(${precmd_functions:#__codename_precmd(|_last)})\n"),
    ],
    "fish": [
        ("as it is", ""),
        ("no title wrapper",
         "function __codename_wrap; end\nfunctions -e fish_title\n"
         "functions -c __codename_user_title fish_title\n"),
        ("no title wrapper, no prompt event handler",
         "function __codename_wrap; end\nfunctions -e fish_title\n"
         "functions -c __codename_user_title fish_title\nfunctions -e __codename_on_prompt\n"),
        ("no wrappers, no handler (the hook installed, nothing at a draw, no name)",
         "function __codename_wrap; end\nfunctions -e fish_title\n"
         "functions -c __codename_user_title fish_title\nfunctions -e __codename_on_prompt\n"
         "functions -e fish_prompt\nfunctions -c __codename_user_prompt fish_prompt\n"),
    ],
}


def measure(bench: Bench) -> None:
    zoxide = shutil.which("zoxide")
    for shell, variants in VARIANTS.items():
        if shutil.which(shell) is None:
            continue
        world = World(bench, f"drawcost-{shell}")
        for typical in (False, True):
            sessions = {}
            plain = rc_files(bench, shell, world, False, typical, tag="none")
            if plain is None:
                continue
            sessions["no hook"] = plain
            if zoxide:
                made = rc_files(bench, shell, world, hook_line(shell, [zoxide, "init", shell]),
                                typical, tag="zoxide")
                assert made is not None
                sessions["zoxide"] = made
            line = hook_line(shell, [bench.codename, "init", shell])
            for i, (label, extra) in enumerate(variants):
                made = rc_files(bench, shell, world, line + extra, typical, tag=f"cut{i}")
                assert made is not None
                sessions[f"codename, {label}"] = made
            kind = "distro rc" if typical else "bare"
            log(f"drawcost: {shell} ({kind}): {len(sessions)} variants …")
            count = 40 if bench.args.quick else 200
            for argv, env in sessions.values():  # warm (fish writes files)
                draws(argv, env, world.home, 5)
            per: dict[str, list[float]] = {k: [] for k in sessions}
            order = list(sessions)
            for r in range(max(3, bench.pairs // 3)):
                for key in (order if r % 2 == 0 else order[::-1]):
                    argv, env = sessions[key]
                    per[key].append(draws(argv, env, world.home, count))
            rows = [["no hook (a draw)", f"{median(per['no hook']):.1f} µs", "—"]]
            for key in order[1:]:
                added = median([b - a for a, b in zip(per["no hook"], per[key], strict=True)])
                rows.append([key, f"{median(per[key]):.1f} µs", f"{added:+.1f} µs"])
            bench.tables.append((
                f"(D {shell} {kind}) where a draw's µs go in the {shell} hook, {kind}: the "
                f"hook against copies with parts taken out (median of {len(per['no hook'])} "
                f"rounds of {count} draws)", ["variant", "a draw", "added"], rows))
        world.remove()

