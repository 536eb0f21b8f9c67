"""The fleet: names distinct across every host (laptop, containers, CI runners) sharing one Redis.

Per machine, the allocator's lock makes names distinct. Across machines no lock is shared, so
the name itself is reserved in Redis: one Lua script picks the first name of today's cast that
is free fleet-wide and not held locally, and sets it with a lease. A keeper per host renews
its holders' leases and gives back the names of holders that are gone (`keeper`). When the
fleet cannot be reached the claim does not wait for it: the shell gets a host-qualified name
(`Pam@laptop~3f2a9c`) that no other host can hand out, and the keeper swaps it for a plain
fleet name once the fleet answers again.

This module is what the allocator sees (`Fleet`); it is imported only when `[fleet]` is set.
"""

from __future__ import annotations

import fcntl
import sys
import time

from codename_shell import lean_os as os
from codename_shell import liveness, paths
from codename_shell.errors import CodenameError, ConfigError
from codename_shell.fleet import lease, node
from codename_shell.fleet.client import FleetError, FleetQuiet, FleetUnreachable
from codename_shell.fleet.lease import Timing, lease_clock
from codename_shell.fleet.store import FleetConfig, Store
from codename_shell.holders import Holder, RowError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.config import Settings
    from codename_shell.sources.fleet import FleetSource

#: How long a claim waits for the fleet in all (connect, handshake, script), in seconds.
CLAIM_BUDGET = 0.5
#: How long a claim believes that the fleet did not answer a moment ago (a claim's or the
#: keeper's try), rather than wait CLAIM_BUDGET again under the allocator's lock. The keeper
#: forgets it as soon as the fleet answers.
FAILURE_MEMORY = 10.0
FAILURE_NAME = "unreachable"


def directory(runtime_dir: str) -> str:
    """The fleet's own runtime files (claim times, the keeper's lock), beside presence."""
    return runtime_dir.rstrip("/") + "-fleet"


class Reservation:
    """A name Redis reserved for a claim before it took the local lock (`Fleet.reserve`), or
    why none was: `error` (the fleet could not be asked, or it is in its quiet period)."""

    __slots__ = ("before", "error", "full", "name", "sent", "token")

    def __init__(self, token: str, name: str = "", full: str = "", before: str = "",
                 sent: float = 0.0, error: str = "") -> None:
        self.token = token
        self.name = name
        self.full = full
        self.before = before  # the folded name the token held before, or ""
        self.sent = sent
        self.error = error


class Fleet:
    """The fleet as the allocator uses it: a source of holders, and the reservation of a name.

    A claim goes reserve (before the local lock: the one network round trip), choose and
    recorded (under the lock: no network), settle (after the lock).
    """

    def __init__(self, settings: Settings, state_dir: str, runtime_dir: str) -> None:
        from codename_shell.sources.fleet import FleetSource

        assert settings.fleet is not None
        self.settings = settings
        self.config = FleetConfig(settings.fleet)
        self.timing = Timing(self.config.lease)
        self.node = node.node_id(state_dir)
        self.host = liveness.host()
        self.store = Store(self.config, self.node, self.host, state_dir)
        self.state_dir = state_dir
        self.runtime_dir = runtime_dir
        self.dir = directory(runtime_dir)
        self.source: FleetSource = FleetSource(self)
        #: Set by `prepare`: why the fleet cannot be used for this claim, and what is left of
        #: CLAIM_BUDGET for it once the host name is resolved (None: not prepared).
        self._unusable: FleetError | ConfigError | None = None
        self._budget: float | None = None
        self._reservation: Reservation | None = None
        self._used = False  # whether `choose` took the reservation
        #: What `settle` does once the lock is free: (token, folded name to keep or "",
        #: folded names to give back), and the holder whose keeper must run.
        self._settling: tuple[str, str, list[str]] | None = None
        self._keep_for: Holder | None = None

    def token(self, holder: Holder) -> str:
        return node.token(self.node, holder.pid, holder.start)

    def prepare(self) -> None:
        """Before the allocator's lock (a claim, a rename): read the password file and find
        the host's addresses, so that nothing waits on a file or on DNS under the lock.

        getaddrinfo has no time bound (an unresponsive DNS server holds it 10 s and more), so
        it gets the claim's budget, CLAIM_BUDGET, and its answer is kept a short while
        (dns.py); what is left of the budget is what the claim then waits for Redis.
        """
        from codename_shell.fleet.client import literal

        began = time.monotonic()
        self._unusable = None
        try:
            if recent_failure(self.dir):
                return  # reserve will not wait for the fleet anyway
            target = self.config.target()
            if target.scheme != "unix":
                # An IP address needs no lookup, nor the module that looks up and keeps one.
                found = literal(target.host, target.port)
                if found is None:
                    from codename_shell.fleet import dns

                    found = dns.addresses(self.dir, target, began + CLAIM_BUDGET)
                self.store.addresses = found
        except (FleetError, ConfigError) as e:
            self._unusable = e
        finally:
            self._budget = max(0.0, CLAIM_BUDGET - (time.monotonic() - began))

    def reserve(self, me: Holder, theme: str, blocked: dict[str, Holder], wanted: str | None,
                kind: str) -> None:
        """Reserve a name for `me` in Redis, before the local lock, within CLAIM_BUDGET.

        `blocked` are the names held on this host (a look without the lock). A name asked
        for (`wanted`) that the fleet cannot reserve is refused; otherwise a fleet that does
        not answer, or answers oddly, leaves `choose` to give a host-qualified name. The
        reserved name's lease file is written here, before any presence file shows it.
        """
        from codename_shell.pick import pick

        self._reservation = None
        if wanted is not None and "@" in wanted:
            # `Pam@laptop~3f2a9c` is how a host-qualified name reads: taken as a plain name
            # in Redis it could be another host's holder's, held there without Redis.
            raise CodenameError(f"cannot use {wanted!r}: in a fleet, '@' is kept for "
                                "host-qualified names")
        want = None
        if wanted is not None:
            short, full = pick(self.settings, theme, blocked, wanted)  # refuses a local holder's
            want = (short, node.fold(short), full)
        local = sorted({node.fold(node.base(name)) for name in blocked})
        cast = [(short, node.fold(short), full) for short, full in self.settings.cast(theme)]
        row = Holder("-", kind=kind, pid=me.pid, start=me.start, boot=me.boot, host=me.host,
                     ns=me.ns, tty=liveness.tty_name(me.tty_nr), tty_nr=me.tty_nr, theme=theme,
                     machine=me.machine)
        if self._budget is None:
            self.prepare()  # not called before (a caller of its own): bounded all the same
        budget, self._budget = self._budget or 0.0, None
        token = self.token(me)
        sent = lease_clock()
        self.store.lean = True
        failure = recent_failure(self.dir)
        try:
            if failure:  # a burst of starts in an outage must not each wait for it
                raise FleetUnreachable(failure)
            if self._unusable is not None:
                raise self._unusable
            verdict, name, full, before = self.store.claim(time.monotonic() + budget, token,
                                                           row_tail(row), local, cast, want)
        except FleetQuiet as e:
            self.store.close()
            if wanted is not None:
                raise CodenameError(f"cannot reserve {wanted} across the fleet: {e}") from None
            self._reservation = Reservation(token, error=str(e))
            return
        except (FleetError, ConfigError) as e:
            self.store.close()
            if not failure:
                note_failure(self.dir, str(e))
                if self.store.addresses is not None:
                    from codename_shell.fleet import dns

                    dns.forget(self.dir)  # the host may have moved: look it up again next time
            if wanted is not None:
                raise CodenameError(f"cannot reserve {wanted} across the fleet: {e}") from None
            self._reservation = Reservation(token, error=str(e))
            return
        finally:
            self.store.lean = False
        if verdict == "held":
            self.store.close()
            raise CodenameError(_held_by(wanted or "", name))
        self._reservation = Reservation(token, name, full, before, sent)
        try:
            paths.ensure_private_dir(self.dir)
            lease.write(self.dir, me.ident, name, sent, self.timing)
        except (OSError, CodenameError):
            pass  # no lease file: the prompt shows the host-qualified name until the keeper's

    def choose(self, settings: Settings, theme: str, blocked: dict[str, Holder],
               wanted: str | None) -> tuple[str, str]:
        """Under the lock: the reserved name, unless a holder here took it meanwhile; else a
        host-qualified name picked from `blocked` (the locked survey), with one line why."""
        from codename_shell.pick import pick

        r = self._reservation
        self._used = r is not None and bool(r.name) and node.fold(r.name) not in blocked
        if r is not None and self._used:
            return r.name, r.full
        if wanted is not None:
            raise CodenameError(f"{wanted} could not be reserved across the fleet just now; "
                                "try again")
        why = ""
        if r is not None:
            why = f"{r.name} was taken on this host meanwhile" if r.name else r.error
        base = {node.fold(node.base(h.name)): h for h in blocked.values()}
        short, full = pick(settings, theme, base, None)
        name = node.qualify(short, self.node)
        if why:
            self.source.warn(f"{why}; this name is {name} until the fleet answers again")
        return name, node.qualify(full, self.node)

    def recorded(self, replacing: list[Holder], recorded: bool) -> None:
        """Under the lock, once the allocator recorded the chosen name (`recorded`) or failed
        to: what `settle` gives back. Whatever the holder does not show goes: recorded, its
        old names (and a reservation it did not use); not recorded (a full disk), the new
        name, and the old one stays."""
        r = self._reservation
        if r is None:
            return  # nothing was reserved: the keeper sets what the holder shows
        olds = [node.fold(h.name) for h in replacing if not node.is_qualified(h.name)]
        new = node.fold(r.name) if r.name else ""
        if recorded:
            keep = new if self._used else ""
            drop = {*olds, r.before, new} - {keep, ""}
        else:
            keep = olds[0] if olds else ""
            drop = {new} - {keep, ""}
        self._settling = (r.token, keep, sorted(drop))

    def settle(self) -> None:
        """After the lock: give back what `recorded` (or `choose`) left to give back, and make
        sure a keeper runs. Best effort within CLAIM_BUDGET: what is not given back here
        lapses with its lease, or the keeper's next renewal gives it back (scripts.SETTLE)."""
        settling, self._settling = self._settling, None
        reservation, self._reservation = self._reservation, None
        try:
            if settling is not None:
                token, keep, drop = settling
                if drop:
                    self.store.settle(time.monotonic() + CLAIM_BUDGET, token, keep, drop)
        except (FleetError, ConfigError):
            pass
        finally:
            self.store.close()
        if reservation is not None or self._keep_for is not None:
            self._keep_for = None
            self.ensure_keeper()

    def released(self, holders: list[Holder]) -> None:
        """Released here: no lease file vouches for their names any more, and the keeper
        gives the names back at its next tick (their processes may live on: a lease file
        would make them look mid-claim)."""
        for h in holders:
            lease.forget(self.dir, h.ident)

    def reap_host(self, host: str) -> int:
        """`codename reap --host HOST`: every other node of that hostname is forgotten by the
        fleet with all it held; how many names went back."""
        try:
            return self.store.reap_host(time.monotonic() + CLAIM_BUDGET * 4, host)
        except (FleetError, ConfigError) as e:
            raise CodenameError(f"{e}; the fleet's names of host {host} stay until it answers"
                                ) from None
        finally:
            self.store.close()

    def kept(self, holder: Holder) -> None:
        """A holder asked again and keeps its name: its lease needs a keeper."""
        self._keep_for = holder

    def ensure_keeper(self) -> None:
        """Make sure a keeper runs to renew this host's leases (one that died comes back here:
        every codename command with a fleet calls this, and so does a prompt that finds it
        gone)."""
        try:
            try:
                start_keeper(self.dir)
            except FileNotFoundError:  # the first claim here: the directory comes now
                paths.ensure_private_dir(self.dir)
                start_keeper(self.dir)
        except (OSError, CodenameError, NotImplementedError) as e:  # no setsid in posix_spawn
            self.source.warn(f"the fleet keeper cannot start ({e}); names are renewed only "
                             "while claims run")


def row_tail(holder: Holder) -> str:
    """`holder`'s row after its name and full name, for a script to complete with a name."""
    fields = holder.to_row().split("\t")
    # to_row writes the name, then `full=` (never empty: a holder's full name defaults to its
    # name), then the rest.
    return "".join("\t" + f for f in fields[2:])


def _held_by(wanted: str, value: str) -> str:
    from codename_shell.errors import printable

    token, _, row = value.partition("\t")
    if token.startswith("roster:"):
        host = next((f[5:] for f in row.split("\t") if f.startswith("host=")), "")
        return printable(f"{wanted} is held by an entry of a roster on host {host or '?'} "
                         "(fleet); pick another name")
    try:
        h = Holder.from_row(row, "fleet")
    except RowError:
        return f"{wanted} is held in the fleet; pick another name"
    return printable(f"{wanted} is held by pid {h.pid} on host {h.host} ({h.kind}, fleet); "
                     "pick another name")


# --- handing over to the keeper (on the claim's path, so here rather than in keeper.py) -------

LOCK_NAME = "keeper.lock"


def recent_failure(directory: str) -> str:
    """Why the fleet did not answer, when that was under FAILURE_MEMORY seconds ago; else ""."""
    try:
        with open(os.path.join(directory, FAILURE_NAME), "rb") as f:
            when, _, why = f.read(4096).decode("utf-8", "replace").partition("\t")
        age = lease_clock() - float(when)
    except (OSError, ValueError):
        return ""
    if not 0 <= age < FAILURE_MEMORY:
        return ""
    return f"{why.strip()} ({age:.0f} s ago; not waited for again yet)"


def note_failure(directory: str, why: str) -> None:
    """Remember that the fleet did not answer (`why` is safe to show: URLs in it are `shown`)."""
    from codename_shell import fileio

    try:
        paths.ensure_private_dir(directory)
        fileio.write_atomic(os.path.join(directory, FAILURE_NAME),
                            f"{lease_clock()!r}\t{why}\n".encode("utf-8", "replace"))
    except (OSError, CodenameError):
        pass  # the next claim waits for the fleet again: slower, never wrong


def forget_failure(directory: str) -> None:
    try:
        os.unlink(os.path.join(directory, FAILURE_NAME))
    except OSError:
        pass


def keeper_running(directory: str) -> bool:
    """Whether a keeper holds its lock in `directory` (a probe that takes no lock for long).
    FileNotFoundError when `directory` is missing."""
    fd = os.open(os.path.join(directory, LOCK_NAME),
                 os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's shared lock at once
    return False


def supervise(runtime_dir: str) -> None:
    """Any codename command on a host of the fleet brings back a keeper that died (a kill -9,
    the OOM killer, logind ending a session): a probe of its lock, and a start when nobody
    holds it. Only where a claim made the fleet dir: a host that never claimed keeps nothing."""
    where = directory(runtime_dir)
    try:
        if os.path.isdir(where):
            start_keeper(where)
    except (OSError, NotImplementedError):
        pass  # the next claim says why, if it is still so


def start_keeper(directory: str) -> bool:
    """Start a keeper unless one runs; never wait for it. True when one was started."""
    if keeper_running(directory):
        return False
    _spawn_keeper()
    return True


def _spawn_keeper() -> None:
    """A detached keeper: its own session, stdio on /dev/null (a shell reading `$(codename
    init …)` waits for EOF on stdout, which an inherited pipe would never give), default
    signal dispositions and mask (a claim may block or ignore some), and nothing waited for.
    posix_spawn (vfork and exec) costs a shell start far less than a fork of Python would."""
    import _signal  # type: ignore[import-not-found]  # the C half of `signal`, which imports enum

    null = os.devnull
    actions = [(os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_DUP2, 1, 2)]
    defaults = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT)
    argv = keeper_argv()
    os.posix_spawn(argv[0], argv, os.child_environ(), file_actions=actions, setsid=True,
                   setsigmask=(), setsigdef=defaults)


def keeper_argv() -> list[str]:
    """The keeper's command line: this interpreter, and this very package (the code that
    claimed is the code that keeps), whatever the directory it starts in holds."""
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (f"import sys; sys.path.insert(0, {package_parent!r}); "
            "from codename_shell.fleet.keeper import main; sys.exit(main())")
    return [sys.executable, "-c", code]
