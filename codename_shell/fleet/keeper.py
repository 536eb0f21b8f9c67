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

The keeper also publishes the names this host's rosters list (jobs of other launchers) under
leases, so that no other host hands them out; they are never renamed: a roster is its
launcher's to edit. Whatever fails in a tick (an answer that is not Redis's, a full disk), the
guard still runs: the switch to host-qualified names never waits on anything else.

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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.config import Settings
    from codename_shell.fleet.inbox import Courier
    from codename_shell.holders import Holder
    from codename_shell.sources.roster import RosterSource

#: How long a live process's reservation with no row yet counts as a claim under way: its
#: budget for Redis, then the allocator lock's wait for a stuck holder, with room to spare.
MID_CLAIM = 10.0
#: How far (ms) the server's clock may run ahead of ours between two rounds before it
#: counts as a jump (see Keeper.clock).
CLOCK_SLACK_MS = 500
#: How long config.toml may show no [fleet] before the keeper believes it (see same_fleet).
CONFIG_GRACE = 5.0
LOG_NAME = "keeper.log"
LOG_MAX = 256 << 10  # bytes of keeper.log before it moves to keeper.log.1

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


class Keeper:
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

    def mid_claim(self, t: str, pid: int, start: int | None) -> bool:
        """Whether a claim for this process reserved its name a moment ago and may not have
        recorded it yet: its lease file was written by a claim (sent later than any renewal
        of ours) less than MID_CLAIM ago."""
        from codename_shell.fleet import lease

        sent = lease.sent(self.directory, self.ident(pid, start))
        return sent is not None and sent > self.sent.get(t, float("-inf")) \
            and 0 <= lease_clock() - sent < MID_CLAIM

    # --- talking to the fleet ------------------------------------------------------------

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
                    self.reclaim(deadline, t, holders, "the fleet answers again")
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

    # --- changing a holder's name here ---------------------------------------------------

    def rename(self, h: Holder, name: str, full: str, reason: str) -> Holder | None:
        """Rewrite `h`'s presence file and ledger row with its new name; None when `h` no
        longer holds its old name (released, or renamed by someone else meanwhile), or when
        the new name cannot be recorded (a full disk: logged, and the caller tries again at
        a later tick; the keeper itself goes on)."""
        from codename_shell.allocator import record_rows
        from codename_shell.errors import LockTimeout
        from codename_shell.holders import Holder as Row
        from codename_shell.lock import Lock

        new = Row.from_row(h.to_row(), "presence")
        new.name, new.full = name, full
        new.sources = list(h.sources)
        try:
            try:
                with Lock(self.state_dir, timeout=self.timing.guard * 0.8):
                    self.flush_pending()
                    if not self.still(h):
                        return None
                    # Presence file and ledger row, both or neither, as a claim writes them.
                    record_rows(self.presence, self.ledger, new,
                                lambda: self.ledger.rename(new, reason))
            except LockTimeout:
                # The presence file is what the prompt shows and must change in time; the
                # ledger row (an append, serialized by the lock) waits for the lock.
                if not self.still(h):
                    return None
                self.presence.record(new)
                self.pending.append((new, reason))
        except OSError as e:
            self.log(f"{h.name} (pid {h.pid}) could not be renamed {name} here "
                     f"({_oserror(e)}); trying again")
            return None
        self.log(f"{h.name} (pid {h.pid}) is now {name}: {reason}")
        return new

    def still(self, h: Holder) -> bool:
        """Whether `h`'s presence file still names it (or is gone while its ledger row lives)."""
        from codename_shell import fileio

        try:
            text = fileio.read_regular(self.presence.path_for(h), 1 << 16, nofollow=True)
        except FileNotFoundError:
            return "ledger" in h.sources
        except OSError:
            return False
        first = text.decode("utf-8", "replace").split("\n", 1)[0]
        return first.split("\t", 1)[0] == h.name

    def flush_pending(self) -> None:
        """Ledger rows that waited for the lock (held by the caller). One that cannot be
        written (a full disk) waits on, for the next time the lock is had."""
        while self.pending:
            holder, reason = self.pending[0]
            try:
                self.ledger.rename(holder, reason)
            except OSError as e:
                self.log(f"the ledger row of {holder.name} (pid {holder.pid}) waits: "
                         f"{_oserror(e)}")
                return
            self.pending.pop(0)

    def log(self, message: str) -> None:
        """One line in keeper.log in the state dir (never a password: URLs are `shown`).

        Opened as errors.log is (crashlog): never through a symlink, never blocking on a
        FIFO someone put there, a regular file only, 0600."""
        import stat

        from codename_shell.errors import printable

        path = os.path.join(self.state_dir, LOG_NAME)
        try:
            if os.lstat(path).st_size > LOG_MAX:
                os.replace(path, path + ".1")
        except OSError:
            pass
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                         | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    os.write(fd, f"{stamp} {printable(message)}\n".encode("utf-8", "replace"))
            finally:
                os.close(fd)
        except OSError:
            pass


def _oserror(e: OSError) -> str:
    from codename_shell.errors import printable

    return printable(f"{e.filename}: {e.strerror}" if e.filename else e.strerror or e)


def _file_stamp(path: str) -> tuple[object, ...]:
    """What tells that a roster file changed, without reading it."""
    try:
        st = os.stat(path)
    except OSError as e:
        return (path, e.errno)
    return (path, st.st_mtime_ns, st.st_size, st.st_ino)


def _runs(pid: int, start: int | None) -> bool:
    """Whether the process `pid` that started at `start` still runs (and is no zombie)."""
    from codename_shell import liveness

    try:
        info = liveness.proc_info(pid)
    except PermissionError:
        return True  # cannot tell: keep its name
    return info is not None and not info.zombie and (start is None or info.start == start)
