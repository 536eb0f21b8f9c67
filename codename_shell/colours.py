"""A colour per name: the prompt paints `[Pam]` in it, `who` its name column, so two terminals
side by side are told apart at a glance, before the name is even read.

A holder's colour is chosen once, when it claims (the allocator, under its lock): the first
of PALETTE that no live holder of the host has, so colours are distinct while the palette
lasts. It is kept in the holder's presence row (`colour=33`) and so stays the same for the
holder's whole life: a rename keeps it, a prompt reads it with the name. Past the palette,
the least used colour is given again (a name still tells them apart).

Rows that carry no colour (a roster's entries, rows written before colours were kept) are
given one derived from the name (`of`): the same in every `who`, not guaranteed distinct.
"""

from __future__ import annotations

from codename_shell import casts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from codename_shell.holders import Holder

# 256-colour indices, all from the 6x6x6 cube (16-231): those have the same RGB in every
# xterm-compatible terminal, while 0-15 are the theme's to redefine (Solarized turns "bright
# green" into a grey, a light theme may make "yellow" white). Each is a mid tone with at
# least 3.5:1 contrast (WCAG's relative luminance) against both a black and a white
# background, so a name reads on dark and light terminals alike; greys are left out (they
# read as the default text). Ordered so that neighbours differ in hue: the first holders of
# a host, the usual case, get the most distinct colours.
PALETTE = (33, 166, 28, 163, 30, 160, 98, 100, 168, 26, 130, 29, 129, 67)


def pick(used: Iterable[int]) -> int:
    """The colour for a new holder: the first of PALETTE nobody in `used` has; with every
    one in use, the least used (the first such in PALETTE order)."""
    counts = dict.fromkeys(PALETTE, 0)
    for colour in used:
        if colour in counts:
            counts[colour] += 1
    return min(PALETTE, key=lambda c: counts[c])  # min keeps the first of equals


def of(holder: Holder) -> int:
    """The colour `holder` is shown in: its own, else one derived from its name."""
    if holder.colour is not None:
        return holder.colour
    return by_name(holder.name)


def by_name(name: str) -> int:
    """A colour of PALETTE for a row that keeps none, the same for the same name in every
    process (Python's hash() is salted per process, so a small polynomial hash instead)."""
    value = 0
    for ch in casts.fold(name):
        value = (value * 31 + ord(ch)) % 1_000_003
    return PALETTE[value % len(PALETTE)]


def valid(value: object) -> int | None:
    """`value` as a 256-colour index, or None when it is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return value
    return None
