"""The keeper: one small background process per host and user that keeps this host's fleet names.

A prompt starts no process, so nothing else could renew a terminal's lease or notice that it
died. The keeper does, every tick (at most a second): it reads this host's holders (presence
and ledger, checked against /proc), renews their leases, gives back the names of holders that
died or released, and changes a holder's name when the fleet demands it:

- the fleet cannot be reached and a lease may end before it answers again: the holder takes
  its host-qualified name (`Pam@laptop~3f2a9c`), so no moment shows one plain name on two
  hosts (another host may take `Pam` once the lease is gone);
- the fleet answers again: a host-qualified holder takes a plain fleet name (its old one when
  the lease still lives, as the same holder asking again);
- the fleet lost the name (a restarted, emptied Redis) and someone else took it meanwhile: a
  new fleet name.

Each change rewrites the holder's presence file (the prompt re-reads it at its next draw) and
is written to the ledger as `renamed` with its reason, both or neither (a full disk: logged,
tried again next tick).

The keeper also publishes the names this host's rosters list (jobs of other launchers), with no
lease, so that no other host hands them out, even while this host is cut off; they are never
renamed: a roster is its launcher's to edit. Whatever fails in a tick (an answer that is not
Redis's, a full disk), the guard still runs: the switch to host-qualified names never waits on
anything else. Its renewal round and guard are in renewal.py, its renames in renaming.py.

The first claim on a host starts the keeper (`fleet.start_keeper`), detached; a flock keeps it
one per host and user; it leaves once its host has held nothing for a while.
"""

from __future__ import annotations

import fcntl
import os
import time

from codename_shell.fleet import LOCK_NAME
from codename_shell.fleet.events import Publisher
from codename_shell.fleet.lease import Timing, lease_clock
from codename_shell.fleet.renewal import Renewal, _runs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.config import Settings
    from codename_shell.fleet.inbox import Courier
    from codename_shell.holders import Holder
    from codename_shell.sources.roster import RosterSource

#: How long a live process's reservation with no row yet counts as a claim under way: its
#: budget for Redis, then the allocator lock's wait for a stuck holder, with room to spare.
MID_CLAIM = 10.0
#: How long config.toml may show no [fleet] before the keeper believes it (see same_fleet).
CONFIG_GRACE = 5.0

# --- the keeper process --------------------------------------------------------------------

def main() -> int:
    """The keeper's entry point: one per host and user, else leave at once."""
    try:
        os.chdir("/")  # hold no directory (a mount) busy
        try:
            # A session of its own: a prompt may start it (see the hooks), and the keeper
            # must outlive that terminal's hangup. Started by a claim it already leads one.
            os.setsid()
        except OSError:
            pass
        from codename_shell import config, paths
        from codename_shell.fleet import directory

        settings = config.load()
        if settings.fleet is None:
            return 0
        where = directory(paths.runtime_dir())
        paths.ensure_private_dir(where)
        lock = _take_lock(where)
        if lock is None:
            return 0  # another keeper keeps this host
        Keeper(settings, where).run()
        return 0
    except KeyboardInterrupt:
        return 0
    except Exception:
        from codename_shell.crashlog import log_exception

        log_exception()
        return 1


def _take_lock(directory: str) -> int | None:
    fd = os.open(os.path.join(directory, LOCK_NAME),
                 os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    # A claim's probe holds the lock shared for a moment: try a few times before leaving.
    for _ in range(25):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            time.sleep(0.02)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd  # held until the process ends
    os.close(fd)
    return None


class Keeper(Renewal):
    """The loop: look at this host's holders, renew, give back, rename; one tick at a time."""

    def __init__(self, settings: Settings, directory: str) -> None:
        from codename_shell import paths
        from codename_shell.fleet import Fleet
        from codename_shell.sources import LedgerSource, PresenceSource

        self.settings = settings
        self.directory = directory
        self.state_dir = paths.state_dir()
        self.fleet = Fleet(settings, self.state_dir, paths.runtime_dir())
        self.store = self.fleet.store
        self.timing = Timing(self.fleet.config.lease)
        self.presence = PresenceSource(self.fleet.runtime_dir)
        self.ledger = LedgerSource(self.state_dir)
        #: token -> lease_clock() when its plain name's lease was last sent, as far as known.
        self.sent: dict[str, float] = {}
        #: tokens whose lease a round of this keeper has confirmed.
        self.confirmed: set[str] = set()
        #: tokens the fleet holds for this node that no local row showed: looked into next tick.
        self.suspects: set[str] = set()
        self.last_round = float("-inf")
        self.reachable: bool | None = None
        self.idle_since = lease_clock()
        #: ledger rows written while the allocator lock was busy, to append once it is had.
        self.pending: list[tuple[Holder, str]] = []
        #: This host's rosters, and what each vouches for: token -> (folded name, row).
        self.rosters: dict[str, RosterSource] = {}
        self.vouched: dict[str, dict[str, tuple[str, str]]] = {}
        self._roster_look: tuple[object, ...] = ()
        self._roster_read = float("-inf")
        #: roster tokens a round of this keeper has published; those held by someone else.
        self.published: set[str] = set()
        #: Since when (lease_clock) config.toml has shown no [fleet], or None: a file that
        #: an editor is saving, or `stow -R` relinks, is empty or gone for a moment.
        self.fleet_gone_since: float | None = None
        #: The last round's (lease_clock when sent, server's clock in ms), for `clock`.
        self.last_clock: tuple[float, int] | None = None
        #: This host's ledger rows to the fleet's history, for `codename log` (fleet/events).
        self.events = Publisher(self.store, self.state_dir, directory, self.fleet.node,
                                self.fleet.host)
        #: Carries messages other hosts left for this host's holders (fleet/inbox.py).
        self.courier: Courier | None = None

    def run(self) -> None:
        self.log(f"keeper {os.getpid()} keeps this host's names in the fleet "
                 f"{self.fleet.config.shown} (lease {self.timing.lease} s)")
        while True:
            began = lease_clock()
            try:
                if not self.tick():
                    break
            except Exception:
                from codename_shell.crashlog import log_exception

                self.log(f"a tick failed; details in {log_exception()}")
            time.sleep(max(0.0, self.timing.tick - (lease_clock() - began)))
        self.log(f"keeper {os.getpid()} leaves")

    # --- one tick ------------------------------------------------------------------------

    def tick(self) -> bool:
        """One look; False when the keeper should leave."""
        from codename_shell import config
        from codename_shell.fleet import lease, node

        started = time.monotonic()
        settings = config.load()
        if not self.same_fleet(settings):
            return False
        if self.fleet_gone_since is None:
            self.settings = settings  # rosters and casts as they are now
        else:
            settings = self.settings  # a blink: the rosters it listed still stand
        holders = self.local()
        if self.fleet_gone_since is not None and \
                lease_clock() - self.fleet_gone_since >= CONFIG_GRACE:
            self.log(f"[fleet] has been gone from config.toml for {CONFIG_GRACE:.0f} s; this "
                     "host's names go back to the fleet and are this host's alone from now")
            self.give_back(holders)
            return False
        try:
            vouched = self.roster_names(settings)
            gone = self.gone(holders, vouched)
            for t, h in holders.items():
                if t not in self.sent and not node.is_qualified(h.name):
                    # Counted from when its claim sent the lease (its lease file); with no
                    # such file, as already ending until a round of ours confirms it.
                    sent = lease.sent(self.directory, h.ident)
                    self.sent[t] = float("-inf") if sent is None else sent
            qualified = {t: h for t, h in holders.items() if node.is_qualified(h.name)}
            now = lease_clock()
            due = (now - self.last_round >= self.timing.renew_every or bool(gone)
                   or bool(qualified) or any(t not in self.confirmed for t in holders)
                   or set(vouched) != self.published)
            if due:
                self.round(holders, gone, vouched)
        finally:
            # Whatever failed above (an answer that is not Redis's, a full disk, a bug), the
            # leases still run out on time: the switch to host-qualified names must not wait.
            self.guard(holders)
        if self.reachable:  # after the guard, in half a tick: history never delays a lease
            self.events.tick(time.monotonic() + self.timing.tick / 2, self.log)
        self.carry_messages(holders, started + self.timing.tick)
        if holders or vouched or (self.suspects and self.reachable):
            self.idle_since = lease_clock()
        if lease_clock() - self.idle_since < self.timing.idle:
            return True
        self.log(f"nothing held here for {self.timing.idle:.0f} s")
        return False

    def carry_messages(self, holders: dict[str, Holder], deadline: float) -> None:
        """Messages other hosts left for this host's holders (fleet/inbox.py), once the guard
        has run, and only while the fleet answers. Within this tick's own time (`deadline`:
        its start + Timing.tick; the tick then sleeps that much less), so that from one guard
        to the next there is still at most a tick and one round, as Timing counts: a slow
        fleet never puts the next guard further off. Whatever fails waits for the next tick."""
        if not self.reachable or time.monotonic() >= deadline:
            return
        try:
            if self.courier is None:
                from codename_shell.fleet.inbox import Courier

                self.courier = Courier(self)
            self.courier.carry(holders, deadline)
        except Exception:
            from codename_shell.crashlog import log_exception

            self.log(f"carrying messages failed; details in {log_exception()}")

    def same_fleet(self, now: Settings) -> bool:
        """Whether [fleet] is still what this keeper keeps (False: leave now).

        A config.toml that is empty, missing, unreadable or without [fleet] for a moment (an
        editor's truncate-and-write save, `stow -R`, a section commented out and back)
        changes nothing: the keeper goes on as it was, and decides only once it has stayed so
        for CONFIG_GRACE (see `tick`). Other [fleet] settings get a keeper of their own at
        once (started here, before this one leaves), which sets this host's names there."""
        if now.fleet == self.settings.fleet:
            self.fleet_gone_since = None
            return True
        if now.fleet is None:
            if self.fleet_gone_since is None:
                self.fleet_gone_since = lease_clock()
            return True
        from codename_shell.fleet import _spawn_keeper

        self.log("the [fleet] settings changed; a keeper for the new ones takes over")
        _spawn_keeper()  # it waits for this keeper's lock, which goes when this one leaves
        return False

    def give_back(self, holders: dict[str, Holder]) -> None:
        """[fleet] is gone for good: every name of this host goes back to the fleet (best
        effort; what is not given back lapses with its lease), and every lease file says so
        at once, so the prompts show host-qualified names rather than a name another host
        may now be given."""
        from codename_shell.errors import ConfigError
        from codename_shell.fleet import lease
        from codename_shell.fleet.client import FleetError

        for h in holders.values():
            lease.lapse(self.directory, h.ident, h.name, final=True)
        tokens = sorted(set(holders) | set(self.sent) | set(self.published))
        self.published = set()
        try:
            self.store.renew(time.monotonic() + self.timing.round_timeout, [], tokens)
        except (FleetError, ConfigError) as e:
            self.log(f"the names could not be given back ({e}); they lapse with their leases")
        finally:
            self.store.close()

    def local(self) -> dict[str, Holder]:
        """This node's live holders by token: presence and ledger rows, checked in /proc."""
        from codename_shell.survey import Survey

        found: dict[str, Holder] = {}
        # ALIVE: written here, its very process seen in /proc (a thorough survey).
        for h in Survey([self.presence, self.ledger], self.settings.ttl).alive:
            t = self.fleet.token(h)
            if t in found and "presence" in found[t].sources:
                continue  # mid-rename the presence file is ahead of the ledger
            found[t] = h
        return found

    def roster_names(self, settings: Settings) -> dict[str, tuple[str, str]]:
        """What this host's rosters vouch for now: token -> (folded name, row).

        A roster is read again when its file changed (a stat a tick) and every renewal
        period (its rows with a pid of this host are checked in /proc then). A roster that
        cannot be read keeps what it vouched for last: it may still list those names.
        """
        from codename_shell import liveness
        from codename_shell.fleet import node
        from codename_shell.sources import RosterSource
        from codename_shell.sources.fleet import ROSTER

        look = tuple(_file_stamp(path) for path in settings.rosters)
        if look == self._roster_look \
                and lease_clock() - self._roster_read < self.timing.renew_every:
            return self._all_vouched()
        self._roster_look, self._roster_read = look, lease_clock()
        self.rosters = {p: self.rosters.get(p) or RosterSource(p) for p in settings.rosters}
        self.vouched = {p: v for p, v in self.vouched.items() if p in self.rosters}
        here = liveness.host()
        for path, roster in self.rosters.items():
            rows = roster.holders()
            if roster.blind:
                continue  # unreadable now: what it listed last still stands
            entries = {}
            for h in rows:
                if liveness.is_live(h, here):
                    folded = node.fold(h.name)
                    entries[ROSTER + folded] = (folded, h.to_row())
            self.vouched[path] = entries
        return self._all_vouched()

    def _all_vouched(self) -> dict[str, tuple[str, str]]:
        return {t: entry for entries in self.vouched.values() for t, entry in entries.items()}

    def gone(self, holders: dict[str, Holder],
             vouched: dict[str, tuple[str, str]] | None = None) -> list[str]:
        """Tokens whose names go back: their process ended, or it holds no name here any more
        (a roster's entry: no roster here lists it any more).

        A process that lives but shows no row may be mid-claim: a claim reserves its name in
        Redis before it takes the allocator lock, and writes the presence file under it. Such
        a claim wrote its lease file at the reservation (`mid_claim`); otherwise the row is
        looked for again under the allocator lock, which a claim holds until its presence
        file is written.
        """
        from codename_shell.errors import LockTimeout
        from codename_shell.fleet import node
        from codename_shell.lock import Lock
        from codename_shell.sources.fleet import ROSTER

        vouched = vouched or {}
        out: list[str] = [t for t in self.published if t not in vouched]
        alive: list[str] = []
        for t in (set(self.sent) | self.suspects) - set(holders):
            if t.startswith(ROSTER):
                if t not in vouched and t not in out:
                    out.append(t)  # published by an earlier keeper of this host
                continue
            parsed = node.parse_token(t)
            if parsed is None or parsed[0] != self.fleet.node:
                self.drop(t)
                continue
            if not _runs(parsed[1], parsed[2]):
                out.append(t)
            elif not self.mid_claim(t, parsed[1], parsed[2]):
                alive.append(t)
        if alive:
            try:
                with Lock(self.state_dir, timeout=self.timing.guard):
                    self.flush_pending()
                    again = self.local()
                    out += [t for t in alive if t not in again]
            except LockTimeout:
                pass  # next tick
        return out

    def mid_claim(self, t: str, pid: int, start: int | None) -> bool:
        """Whether a claim for this process reserved its name a moment ago and may not have
        recorded it yet: its lease file was written by a claim (sent later than any renewal
        of ours) less than MID_CLAIM ago."""
        from codename_shell.fleet import lease

        sent = lease.sent(self.directory, self.ident(pid, start))
        return sent is not None and sent > self.sent.get(t, float("-inf")) \
            and 0 <= lease_clock() - sent < MID_CLAIM


def _file_stamp(path: str) -> tuple[object, ...]:
    """What tells that a roster file changed, without reading it."""
    try:
        st = os.stat(path)
    except OSError as e:
        return (path, e.errno)
    return (path, st.st_mtime_ns, st.st_size, st.st_ino)
