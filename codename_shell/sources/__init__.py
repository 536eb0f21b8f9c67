"""Every place that knows who holds a name. The allocator trusts their union, never one alone.

Each source is a small class answering "which holders do you know, by which names?"
(`Source.holders`). Adding a source (another launcher's roster, a daemon's job list) is a new
class here, not an edit to the allocator.
"""

from __future__ import annotations

from codename_shell.sources.base import Source
from codename_shell.sources.ledger import LedgerSource
from codename_shell.sources.presence import PresenceSource

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.sources.roster import RosterSource

__all__ = ["LedgerSource", "PresenceSource", "RosterSource", "Source"]


def __getattr__(name: str) -> object:
    # RosterSource loads when first asked for: most users keep no roster, and every shell
    # start would pay ~0.1 ms to load its module for nothing.
    if name == "RosterSource":
        from codename_shell.sources.roster import RosterSource

        return RosterSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
