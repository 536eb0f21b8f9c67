"""The pick of a name: the first of the cast that nobody holds, or the one asked for.

One decision, two callers: the allocator picks from this host's survey; the fleet picks
the host-qualified fallback from it when Redis cannot be asked (the fleet's own pick of a
plain name runs in Redis, in scripts.CLAIM, with the same rule).
"""

from __future__ import annotations

from codename_shell import casts
from codename_shell.errors import CodenameError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.config import Settings
    from codename_shell.holders import Holder


def pick(settings: Settings, theme: str, taken: dict[str, Holder],
         wanted: str | None) -> tuple[str, str]:
    """(name, full name): `wanted` when nobody in `taken` (folded name -> holder) holds it,
    else the first free name of `theme`'s cast, or an overflow name when all are held."""
    cast = settings.cast(theme)
    if wanted is not None:
        if casts.fold(wanted) in taken:
            h = taken[casts.fold(wanted)]
            # A roster row may carry no pid: name the source that vouches for it instead.
            who = f"pid {h.pid}" if h.pid is not None else "an entry without a pid"
            raise CodenameError(f"{h.name} is held by {who} ({h.kind}, "
                                f"{', '.join(h.sources)}); pick another name")
        # `--name michael` gets the cast's own spelling, Michael, with its full name.
        return next(((s, f) for cast_ in settings.casts.values()
                     for s, f in cast_ if same_name(s, wanted)), (wanted, wanted))
    for short, full in cast:
        if casts.fold(short) not in taken:
            return short, full
    return casts.overflow_name(cast, set(taken))


def same_name(a: str, b: str) -> bool:
    return casts.fold(a) == casts.fold(b)
