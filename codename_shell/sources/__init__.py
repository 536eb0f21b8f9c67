"""Every place that knows who holds a name. The allocator trusts their union, never one alone.

Each source is a small class answering "which holders do you know, by which names?"
(`Source.holders`). Adding a source (another launcher's roster, a daemon's job list) is a new
class here, not an edit to the allocator.
"""

from __future__ import annotations

from codename_shell.sources.base import Source
from codename_shell.sources.ledger import LedgerSource
from codename_shell.sources.presence import PresenceSource
from codename_shell.sources.roster import RosterSource

__all__ = ["LedgerSource", "PresenceSource", "RosterSource", "Source"]
