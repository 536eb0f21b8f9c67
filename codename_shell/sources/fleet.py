"""The fleet as a source: every host's holders in the shared Redis, each under a live lease.

A fleet row is checked against /proc only on the host that wrote it (liveness.written_here:
same hostname, kernel and pid namespace); elsewhere it is trusted while its lease lives, since
its host's keeper renews the lease only while the holder runs. A claim does not list the
fleet (its script reserves the name in Redis, where every host's names are): only `who`,
`doctor` and the like turn `listing` on, and pay the round trip.

A roster's entry that a host's keeper published (token `roster:<name>`) is shown once however
many hosts vouch for it (two hosts reading one shared roster), and not at all on a host that
vouches for it itself: its own roster source shows it there, and one entry is not two holders.
"""

from __future__ import annotations

import time

from codename_shell.holders import Holder, RowError
from codename_shell.sources.base import Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.fleet import Fleet
    from codename_shell.fleet.store import NodeRows

LIST_BUDGET = 1.0  # seconds `who` or `doctor` wait for the fleet's listing
ROSTER = "roster:"  # how a roster entry's token begins (see fleet.scripts)


class FleetSource(Source):
    label = "fleet"
    writable = False  # its rows are written by claims and the keeper, through the fleet

    def __init__(self, fleet: Fleet) -> None:
        super().__init__()
        self.fleet = fleet
        #: Whether `holders()` asks Redis (a claim leaves it off: see the module docstring).
        self.listing = False
        #: After a listing: the server's clock (ms) and every node with its rows.
        self.server_ms = 0
        self.nodes: list[NodeRows] = []
        #: Why the fleet could not be listed, or "".
        self.error = ""
        #: Rows of the last listing skipped: unreadable, or naming a name that cannot be shown.
        self.unreadable = 0
        self.refused = 0
        #: After a listing: each holder's token in Redis, by (name, host, pid, start), for a
        #: message to reach it (`codename tell`, fleet/inbox.py).
        self.tokens: dict[tuple[str, str, int | None, int | None], str] = {}

    def warn(self, message: str) -> None:
        """One line for the user about the fleet (said once however often it happens)."""
        if message not in self.problems:
            self.problems.append(message)

    def holders(self) -> list[Holder]:
        if not self.listing:
            return []
        from codename_shell.errors import ConfigError
        from codename_shell.fleet.client import FleetError

        self.error = ""
        try:
            self.server_ms, self.nodes, skipped = self.fleet.store.listing(
                time.monotonic() + LIST_BUDGET)
        except (FleetError, ConfigError) as e:
            self.fleet.store.close()
            self.error = str(e)
            self.warn(f"{e}; only this host's holders are shown")
            return []
        if skipped:
            self.warn(f"fleet: {skipped} unreadable node entr{'ies' if skipped > 1 else 'y'} "
                      "skipped")
        now = int(time.time())
        self.unreadable = self.refused = 0
        found = []
        rosters: dict[str, str] = {}  # roster token -> its row, once however many vouch
        ours = set()  # roster tokens this node vouches for
        for entry in self.nodes:
            for value, _ttl in entry.rows:
                token, _, row = value.partition("\t")
                if token.startswith(ROSTER):
                    rosters[token] = row
                    if entry.node == self.fleet.node:
                        ours.add(token)
                    continue
                h = self._holder(row)
                if h is not None:
                    h.beat = now  # vouched for by its lease, which its keeper renews
                    found.append(h)
                    self.tokens[(h.name, h.host, h.pid, h.start)] = token
        for token, row in rosters.items():
            h = None if token in ours else self._holder(row, roster=True)
            if h is not None:
                h.beat = now
                found.append(h)
        # One line each, whatever the number of rows, and never a value from them: their
        # writer chose the bytes.
        if self.unreadable:
            self.warn(f"fleet: {_rows(self.unreadable)} that cannot be read skipped")
        if self.refused:
            self.warn(f"fleet: {_rows(self.refused)} skipped: a name that cannot be shown "
                      "(control characters, blanks at an end, or too long)")
        return found

    def _holder(self, row: str, *, roster: bool = False) -> Holder | None:
        """The holder a fleet row describes, or None: unreadable, or its name is one no
        claim would hand out (any host, or anyone with the password, may have written it)."""
        from codename_shell.fleet.node import unusable

        try:
            if roster and "\tpid=" not in row:
                # A roster's entry may name no process; a row needs a pid to be read, so
                # one is lent for the reading and taken back.
                h = Holder.from_row(row + "\tpid=1", self.label)
                h.pid = None
            else:
                h = Holder.from_row(row, self.label)
        except RowError:
            self.unreadable += 1
            return None
        if unusable(h.name, h.full):
            self.refused += 1
            return None
        return h

    def describe(self) -> str:
        return f"fleet ({self.fleet.config.shown}, prefix {self.fleet.config.prefix!r})"


def _rows(count: int) -> str:
    return f"{count} row{'s' if count > 1 else ''} of the fleet"
