"""The keeper's renewal round and its guard: every plain lease renewed in one script, the
gone given back, lost names taken again, and host-qualified names for holders whose lease
may end before the fleet answers. Each confirmed renewal rewrites the holder's lease file
(fleet/lease.py), which is what its prompt shows a plain name by.

A mixin of the keeper (fleet/keeper.py): what it reads of the keeper's state is declared here.
"""

from __future__ import annotations

import os
import time

from codename_shell.fleet.lease import lease_clock
from codename_shell.fleet.renaming import Renaming, _oserror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.config import Settings
    from codename_shell.fleet import Fleet
    from codename_shell.fleet.store import Store
    from codename_shell.holders import Holder

#: How far (ms) the server's clock may run ahead of ours between two rounds before it
#: counts as a jump (see Renewal.clock).
CLOCK_SLACK_MS = 500
#: Why a host-qualified holder is given a plain name again.
ANSWERS_AGAIN = "the fleet answers again"


class Renewal(Renaming):
    """One round with the fleet, and the guard that runs whatever the round did."""

    settings: Settings
    directory: str
    fleet: Fleet
    store: Store
    #: token -> lease_clock() when its plain name's lease was last sent, as far as known.
    sent: dict[str, float]
    #: tokens whose lease a round of this keeper has confirmed.
    confirmed: set[str]
    #: tokens the fleet holds for this node that no local row showed: looked into next tick.
    suspects: set[str]
    #: roster tokens a round of this keeper has published.
    published: set[str]
    last_round: float
    #: The last round's (lease_clock when sent, server's clock in ms), for `clock`.
    last_clock: tuple[float, int] | None
    reachable: bool | None

    def round(self, holders: dict[str, Holder], gone: list[str],
              vouched: dict[str, tuple[str, str]] | None = None) -> bool:
        """Plain names for host-qualified holders, then renew every plain lease and the
        rosters' names, and give back the gone; False when the fleet did not answer in time."""
        from codename_shell.errors import ConfigError
        from codename_shell.fleet import lease, node
        from codename_shell.fleet.client import FleetError

        vouched = vouched or {}
        deadline = time.monotonic() + self.timing.round_timeout
        try:
            for t, h in list(holders.items()):
                if node.is_qualified(h.name):
                    self.reclaim(deadline, t, holders, ANSWERS_AGAIN)
            plain = [(t, h) for t, h in holders.items() if not node.is_qualified(h.name)]
            now = lease_clock()
            # Whether each lease still lives by our own clock: one that may have lapsed is
            # never set again blindly (scripts.RENEW), only renewed while its key is ours.
            entries = [(t, node.fold(h.name), h.to_row(),
                        "1" if now < self.timing.expiry(self.sent.get(t, float("-inf"))) else "0")
                       for t, h in plain]
            entries += [(t, folded, row, "1") for t, (folded, row) in vouched.items()]
            sent = lease_clock()
            verdicts, unknown, server_ms = self.store.renew(deadline, entries, gone)
            self.clock(sent, server_ms, deadline)
        except (FleetError, ConfigError) as e:
            self.store.close()
            self.seen(False, str(e))
            return False
        self.seen(True)
        self.last_round = sent
        for t in gone:
            self.drop(t)
        lost = []
        for (t, h), verdict in zip(plain, verdicts, strict=False):
            if verdict in ("ok", "new"):
                self.sent[t] = sent
                self.confirmed.add(t)
                self.vouch(h, sent)
                if verdict == "new":
                    self.log(f"{h.name}: set again in the fleet (it had lost the name's key: a "
                             "restarted or emptied Redis)")
            else:
                self.sent[t] = float("-inf")  # the name is someone else's now
                lease.lapse(self.directory, h.ident, h.name)  # its prompt stops showing it
                lost.append(t)
        self.published = set(vouched)
        for t, verdict in zip(vouched, verdicts[len(plain):], strict=False):
            if verdict == "took":
                # A roster's job cannot be renamed; the codename holder that had its name
                # (taken while this host was cut off, or before the roster listed it) is
                # renamed by its own keeper, which finds the name lost at its next renewal.
                self.log(f"{vouched[t][0]}: listed by a roster here and held in the fleet by a "
                         "holder of another host; the name is the roster's now, and that "
                         "holder gets another")
        self.suspects = set(unknown)
        self.sweep_notes(holders)
        if lost:
            self.reclaim_lost(lost, holders)
        return True

    def clock(self, sent: float, server_ms: int, deadline: float) -> None:
        """Whether the server's clock jumped ahead since the last round: keys then expire
        early (Redis counts leases on its wall clock), and a name a holder here or elsewhere
        still shows may already be free there. Compared with this host's CLOCK_BOOTTIME, the
        server's time may run ahead by no more than the rounds' own time on the wire and
        DRIFT; past that, a quiet period starts fleet-wide (scripts.QUIET)."""
        from codename_shell.fleet.lease import server_ahead

        back = lease_clock()
        last, self.last_clock = self.last_clock, (sent, server_ms)
        if last is None:
            return
        ahead = server_ahead(last, sent, server_ms, back)
        if ahead > CLOCK_SLACK_MS:
            from codename_shell.errors import ConfigError
            from codename_shell.fleet.client import FleetError

            self.log(f"the fleet's clock jumped {ahead / 1000:.1f} s ahead: names may have "
                     "expired early there; no plain name is handed out for one lease")
            try:
                self.store.quiet(deadline)
            except (FleetError, ConfigError) as e:
                self.log(f"the quiet period could not be started ({e})")

    def vouch(self, h: Holder, sent: float, name: str | None = None) -> None:
        """`h`'s prompt may show its plain name (or `name`, which it is about to take) until
        the lease sent at `sent` may end."""
        from codename_shell.fleet import lease

        try:
            lease.write(self.directory, h.ident, name or h.name, sent, self.timing)
        except OSError as e:
            # No lease file: its prompt shows the host-qualified name, the safe side.
            self.log(f"the lease file of {h.name} (pid {h.pid}) cannot be written "
                     f"({_oserror(e)}); it shows its host-qualified name meanwhile")

    def sweep_notes(self, holders: dict[str, Holder]) -> None:
        """Lease files of this pid namespace's holders that ended before this keeper saw them
        (a claim killed between its reservation and its presence file, say)."""
        from codename_shell import liveness
        from codename_shell.fleet import lease
        from codename_shell.holders import ns_token, parse_ident

        try:
            entries = os.listdir(self.directory)
        except OSError:
            return
        here = ns_token(liveness.pid_namespace())
        kept = {h.ident for h in holders.values()}
        for entry in entries:
            if not entry.endswith(lease.SUFFIX):
                continue
            ident = entry[:-len(lease.SUFFIX)]
            parsed = parse_ident(ident)
            if parsed is None or ident in kept or parsed[2] != here:
                continue
            if not _runs(parsed[0], parsed[1]):
                lease.forget(self.directory, ident)

    def reclaim_lost(self, lost: list[str], holders: dict[str, Holder]) -> None:
        from codename_shell.errors import ConfigError
        from codename_shell.fleet.client import FleetError

        deadline = time.monotonic() + self.timing.round_timeout
        for t in lost:
            name = holders[t].name
            try:
                self.reclaim(deadline, t, holders, f"{name} was taken in the fleet while the "
                                                   "fleet had lost this host's lease on it")
            except (FleetError, ConfigError) as e:
                self.store.close()
                self.seen(False, str(e))
                return  # guard() gives it a host-qualified name

    def reclaim(self, deadline: float, t: str, holders: dict[str, Holder], reason: str) -> None:
        """Reserve a plain fleet name for holder `t` (its own when the fleet still has it)."""
        from codename_shell.fleet import node, row_tail
        from codename_shell.fleet.client import FleetQuiet

        h = holders[t]
        blocked = sorted({node.fold(node.base(o.name)) for u, o in holders.items() if u != t})
        theme = h.theme if h.theme in self.settings.casts else self.settings.theme_in_force()[0]
        cast = [(s, node.fold(s), f) for s, f in self.settings.cast(theme)]
        # Its own name first, when nobody holds it: a terminal keeps the name it showed.
        short, full_name = node.base(h.name), node.base(h.full)
        own = None if node.fold(short) in blocked else (short, node.fold(short), full_name)
        sent = lease_clock()
        try:
            verdict, name, full, before = self.store.claim(deadline, t, row_tail(h), blocked,
                                                           cast, own)
            if verdict == "held":
                # Its own name went to a holder elsewhere while this one could not renew it
                # (cut off, or this keeper stopped past the lease): the log says so, whichever
                # way the holder got here.
                if reason == ANSWERS_AGAIN:
                    reason = f"{reason}; {short} was taken in the fleet meanwhile"
                verdict, name, full, before = self.store.claim(deadline, t, row_tail(h),
                                                               blocked, cast)
        except FleetQuiet:
            return  # the fleet's data was lost a moment ago: plain names wait (scripts.CLAIM)
        if verdict != "ok":
            return
        new = node.fold(name)
        old = "" if node.is_qualified(h.name) else node.fold(h.name)
        self.vouch(h, sent, name)  # before its presence file shows the name
        if name != h.name:
            renamed = self.rename(h, name, full, reason)
            if renamed is None:
                # Released, renamed meanwhile, or not recorded (a full disk): the name it
                # still shows keeps its key, the new one goes back (see scripts.SETTLE).
                self.store.settle(deadline, t, old, [new])
                return
            holders[t] = renamed
        drop = sorted({old, before} - {new, ""})
        if drop:
            self.store.settle(deadline, t, new, drop)
        self.sent[t] = sent

    def guard(self, holders: dict[str, Holder]) -> None:
        """Host-qualified names for holders whose plain lease may end before the fleet answers."""
        from codename_shell.fleet import node

        now = lease_clock()
        for t, h in list(holders.items()):
            if node.is_qualified(h.name):
                continue
            if not self.timing.at_risk(self.sent.get(t, float("-inf")), now):
                continue
            name = node.qualify(h.name, self.fleet.node)
            full = node.qualify(h.full, self.fleet.node)
            renamed = self.rename(h, name, full, f"the fleet did not answer and the lease on "
                                                  f"{h.name} could end; back to a plain name "
                                                  "when it answers")
            if renamed is not None:
                holders[t] = renamed
                self.sent.pop(t, None)
                self.confirmed.discard(t)

    def seen(self, reachable: bool, why: str = "") -> None:
        from codename_shell.fleet import forget_failure, note_failure

        if reachable:
            forget_failure(self.directory)
        else:
            note_failure(self.directory, why)  # claims meanwhile need not wait for it
        if reachable != self.reachable:
            self.log("the fleet answers" if reachable else f"no fleet: {why}")
        self.reachable = reachable

    def drop(self, t: str) -> None:
        from codename_shell.fleet import lease, node

        self.sent.pop(t, None)
        self.confirmed.discard(t)
        self.suspects.discard(t)
        self.published.discard(t)
        parsed = node.parse_token(t)
        if parsed is not None and parsed[0] == self.fleet.node:
            lease.forget(self.directory, self.ident(parsed[1], parsed[2]))

    def ident(self, pid: int, start: int | None) -> str:
        """The holder id (its presence and lease files' name) of a token of this node."""
        from codename_shell import liveness
        from codename_shell.holders import ident

        return ident(pid, start, liveness.pid_namespace())


def _runs(pid: int, start: int | None) -> bool:
    """Whether the process `pid` that started at `start` still runs (and is no zombie)."""
    from codename_shell import liveness

    try:
        info = liveness.proc_info(pid)
    except PermissionError:
        return True  # cannot tell: keep its name
    return info is not None and not info.zombie and (start is None or info.start == start)
