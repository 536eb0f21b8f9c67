"""The allocator: under one lock, union every source, verify every row, reap ghosts, pick, record.

This is the fix for the two Tobys. The old allocator asked one source (a daemon's job roster)
who was alive; a spare that kept its heartbeat in a presence file was invisible to it and its
name was handed out again. Here a name is taken if *any* source shows a live holder for it,
and a row is only believed after its process has been checked (see `liveness`).
"""

from __future__ import annotations

import errno
import fcntl
import time

from codename_shell import casts, colours, fileio, liveness, paths, rowcache
from codename_shell import lean_os as os
from codename_shell.errors import CodenameError, LockTimeout, printable
from codename_shell.holders import Holder, ns_token
from codename_shell.pick import pick, same_name
from codename_shell.sources import LedgerSource, PresenceSource, Source
from codename_shell.sources.ledger import Entry, one_line, stamp_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from codename_shell.config import Settings
    from codename_shell.fleet import Fleet
    from codename_shell.sources.roster import RosterSource

LOCK_TIMEOUT = 2.0  # seconds a holder may go without progress; past this a shell start gives up
# Seconds of waiting in all, however the queue moves: never a hang. A burst of 1,000 claims
# on 2 cores (tmux-resurrect starting every pane at once) keeps the lock moving for over a
# minute, and the kernel's queue is not first come, first served: a claim may wait the burst out.
LOCK_LIMIT = 300.0
_POLL = 0.01  # seconds between looks at a busy lock while the wait is short, at most
# Past that, the looks thin out, to at most one in _POLL_LONG s: 1,000 waiters looking every
# 10 ms would take much of 2 cores from the holder they wait for. With many waiters someone
# looks within a fraction of a millisecond anyway; with few, the lock idles at most that long.
_LONG_WAIT = 0.1  # seconds
_POLL_LONG = 0.1  # seconds
_RECORD = 32  # bytes at the start of the lock file: "<pid> <nonce>" of its latest holder


class Lock:
    """An exclusive flock on `lock` in the state dir, waited for while its holders move on.

    Every read-decide-write of names happens inside it, so two claims can never both see a
    name as free. Whoever takes it writes who it is (pid and a nonce) at the start of the
    file. A waiter gives up (LockTimeout) only when the holder makes no progress for `timeout`
    seconds: a stuck process, not a long queue nor a starved one. Progress is a new holder (a
    queue of 1,000 claims passes the lock from holder to holder), or a holder that is
    runnable, running or waiting on the disk, or one whose CPU time grew: on 2 cores under a
    burst of 1,000 claims a holder may wait seconds for a CPU, and waiting for a CPU is not
    being stuck. Asleep, stopped, and no CPU time spent for `timeout` seconds is (a `flock`
    that sleeps, a SIGSTOPped claim). `limit` bounds the whole wait all the same (LOCK_LIMIT;
    a caller that passes `timeout` alone waits at most that long in all). flock is released
    by the kernel when its process dies, so a kill -9 at any point cannot wedge the next
    claim, and the record a dead holder leaves is only ever read while someone else holds
    the lock.
    """

    def __init__(self, state_dir: str, timeout: float | None = None,
                 limit: float | None = None) -> None:
        self.path = os.path.join(state_dir, "lock")
        self.timeout = LOCK_TIMEOUT if timeout is None else timeout
        if limit is None:
            # A caller that names its own timeout has a deadline of its own (the fleet's
            # keeper renews leases in time): it waits that long in all, as before.
            limit = LOCK_LIMIT if timeout is None else timeout
        self.limit = max(self.timeout, limit)
        self.fd = -1

    def __enter__(self) -> Lock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            self._wait(fd)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self._sign()
        return self

    def _wait(self, fd: int) -> None:
        began = changed = time.monotonic()
        holder = b""
        delay = 0.0005
        # The holder's (pid, CPU ticks) when last looked at, and when to look again: only
        # once its record has stood for half the timeout (a slow holder, not a queue).
        seen_busy: tuple[int, int] | None = None
        probe_at = began + self.timeout / 2
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            now = time.monotonic()
            seen = _holder_record(fd)
            if seen != holder:
                # Another holder than last time: the queue moves.
                holder, changed, seen_busy = seen, now, None
                probe_at = now + self.timeout / 2
            elif now >= probe_at:
                probe_at = now + self.timeout / 4
                busy = _holder_activity(fd)
                if busy is not None:
                    pid, ticks, running = busy
                    if running or (seen_busy is not None and seen_busy != (pid, ticks)):
                        changed = now  # starved or working: slow, not stuck
                    seen_busy = (pid, ticks)
            if now - changed >= self.timeout:
                raise LockTimeout(f"{printable(self.path)} stayed locked by one process for "
                                  f"{self.timeout:.0f} s without progress; is a codename "
                                  "process stuck? (`codename doctor`)")
            if now - began >= self.limit:
                raise LockTimeout(f"{printable(self.path)} stayed busy for {self.limit:.0f} s, "
                                  "passed from claim to claim without reaching this one")
            # A jitter of ±50% from the clock's own digits (no `random` at a shell start):
            # waiters that began together do not keep looking together.
            time.sleep(delay * (0.5 + time.monotonic_ns() % 1024 / 1024))
            waited = now - began
            delay = min(delay * 2, _POLL if waited < _LONG_WAIT else min(_POLL_LONG, waited / 10))

    def _sign(self) -> None:
        """Say who holds the lock now, for the waiters to tell progress from a stuck holder."""
        record = f"{os.getpid()} {time.monotonic_ns()}".encode().ljust(_RECORD - 1) + b"\n"
        try:
            os.pwrite(self.fd, record, 0)
        except OSError:
            # A full disk, if the file is new (overwriting its first block needs no room).
            # Waiters then see the previous record stay, and judge the holder by its CPU.
            pass

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the only descriptor releases the flock


def _holder_record(fd: int) -> bytes:
    """The record the lock's latest holder wrote (b"" when there is none or it is unreadable)."""
    try:
        return os.pread(fd, _RECORD, 0)
    except OSError:
        return b""


def _holder_activity(fd: int) -> tuple[int, int, bool] | None:
    """(pid, CPU ticks spent, runnable or running now) of the process holding the flock on
    `fd`'s file, or None when that cannot be told (not Linux, a holder not visible here).

    The holder comes from the kernel's own table, /proc/locks, not from the record: a holder
    that has not signed yet (it is starved between its flock and its write), or a process
    that is not codename (`flock(1)`), leaves another process's record in place.
    """
    try:
        st = os.fstat(fd)
        table = _read_small("/proc/locks")
    except OSError:
        return None
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    inode = f":{st.st_ino}"
    pids: list[tuple[bool, int]] = []
    for line in table.split(b"\n"):
        # "1: FLOCK  ADVISORY  WRITE 1785 fe:00:2179292 0 EOF"; "1: -> FLOCK …" waits.
        fields = line.decode("ascii", "replace").split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].endswith(inode) \
                and fields[4].isdigit() and int(fields[4]) > 0:
            pids.append((fields[5] == device, int(fields[4])))
    if not pids:
        return None
    # An overlay shows its upper file's device here, not the one fstat gives: the inode
    # decides, the device only breaks a tie.
    pid = max(pids)[1]
    try:
        stat = _read_small(f"/proc/{pid}/stat")
    except OSError:
        return None
    after = stat[stat.rfind(b")") + 2:].split()
    try:
        # State, then utime and stime (fields 3, 14 and 15 of proc(5)). Runnable (R) or
        # waiting on the disk (D): it will go on by itself.
        return pid, int(after[11]) + int(after[12]), after[0] in (b"R", b"D")
    except (IndexError, ValueError):
        return None


def _read_small(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


#: A quick survey reads /proc for every holder while there are no more than this many (see
#: `Survey`); past that, for those whose verdict a person sees and a window of WINDOW more.
FULL_CHECKS = 64
#: ~8.5 µs each; a ghost under a reused pid among 1,000 holders is found in ~60 claims.
WINDOW = 16


class Survey:
    """Every holder every source knows, merged per process and name, each judged live or not.

    `quick` (a claim, a rename, a heartbeat: what a shell start waits for): a holder of this
    host is judged dead when no process has its pid, which is certain, and otherwise live
    without reading /proc to tell which process runs under that pid. Reading it is ~8.5 µs a
    holder, most of a claim among 1,000 (bench row 3). So a ghost whose pid now runs another
    process, or a zombie, may keep its name a little longer; a live holder is never judged
    dead, so no name is ever handed out twice. /proc is still read for the holders whose
    verdict a person sees: those holding a name in `sure` (the names a claim hands out first,
    the one asked for), those only the ledger knows (a wiped runtime dir: their presence files
    are written back only for a process that runs), all of them when there are no more than
    FULL_CHECKS, and past that a window of WINDOW that moves from survey to survey (by the
    clock), so that a ghost under a reused pid is found in time. A ghost whose pid is free
    again, the common case (a shell killed with -9, its pid not reused yet), is found by every
    survey.
    """

    def __init__(self, sources: list[Source], ttl: int, *, quick: bool = False,
                 sure: frozenset[str] = frozenset()) -> None:
        self.sources = sources
        self.ttl = ttl
        self.holders: list[Holder] = []
        #: Not known dead: ALIVE, or UNKNOWN (another host's row, an unreadable /proc entry).
        self.live: list[Holder] = []
        #: Of those, the ones this host saw run (in a quick survey, maybe only by their pid).
        self.alive: list[Holder] = []
        self.ghosts: list[Holder] = []
        self._merge()
        self._judge(quick, sure)

    def _judge(self, quick: bool, sure: frozenset[str]) -> None:
        here = liveness.host()
        count = len(self.holders)
        quick = quick and count > FULL_CHECKS
        first = time.monotonic_ns() // 1000 % count if quick else 0
        for i, h in enumerate(self.holders):
            lighter = quick and (i - first) % count >= WINDOW and \
                "presence" in h.sources and casts.fold(h.name) not in sure
            verdict = liveness.status(h, here, quick=lighter)
            (self.ghosts if verdict == liveness.DEAD else self.live).append(h)
            if verdict == liveness.ALIVE:
                self.alive.append(h)

    def _merge(self) -> None:
        # Rows from different sources about the same process and name are one holder,
        # vouched for by each of those sources.
        index: dict[tuple[str, str, int | None], list[Holder]] = {}
        for source in self.sources:
            for row in source.holders():
                key = (row.name, row.host, row.pid)
                bucket = index.get(key)
                if bucket is None:  # the first row about it: most rows of a large survey
                    index[key] = [row]
                    self.holders.append(row)
                    continue
                for twin in bucket:
                    if twin.same_process(row):
                        break
                else:
                    bucket.append(row)
                    self.holders.append(row)
                    continue
                twin.sources.append(source.label)
                twin.beat = max(twin.beat or 0, row.beat or 0)
                if twin.start is None and row.start is not None:
                    # Prefer the row that can prove which process it is.
                    for field in ("start", "boot", "ns", "tty", "tty_nr", "full", "kind",
                                  "since", "colour"):
                        setattr(twin, field, getattr(row, field))

    @property
    def problems(self) -> list[str]:
        return [p for s in self.sources for p in s.problems]

    def taken(self) -> dict[str, Holder]:
        """Live holders by folded name (`casts.fold`): `michael` is taken while Michael lives."""
        return {casts.fold(h.name): h for h in self.live}

    def holding(self, me: Holder) -> list[Holder]:
        return [h for h in self.live if h.same_process(me) and h.start is not None]

    def duplicates(self) -> dict[str, list[Holder]]:
        """Names held by more than one live holder: the bug this tool exists to prevent."""
        by_name: dict[str, list[Holder]] = {}
        for h in self.live:
            by_name.setdefault(casts.fold(h.name), []).append(h)
        return {hs[0].name: hs for hs in by_name.values() if len(hs) > 1}


class Allocator:
    """Claims, releases and reaps names for processes, keeping every writable source in step."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state_dir = paths.state_dir()
        self.runtime_dir = paths.runtime_dir()
        self.presence = PresenceSource(self.runtime_dir)
        self.ledger = LedgerSource(self.state_dir)
        self.sources: list[Source] = [self.presence, self.ledger]
        self.rosters: list[RosterSource] = []
        if settings.rosters:  # its module loads only then (see sources/__init__)
            from codename_shell.sources import RosterSource

            self.rosters = [RosterSource(p, self.state_dir) for p in settings.rosters]
            self.sources += self.rosters
        #: With [fleet]: the Redis shared with other hosts, one more source, and where names
        #: are reserved (see fleet/). Without, no fleet module is even imported.
        self.fleet: Fleet | None = None
        #: After `reap(host)` with a fleet: how many of that host's names the fleet gave back.
        self.fleet_reaped = 0
        #: After `reap(host)`: that host's rows kept for being of this very kernel (see reap).
        self.reap_kept: list[Holder] = []
        #: A keeper of the fleet runs here though config.toml shows no [fleet] (a moment's
        #: blink: an editor's save): names handed out now are host-qualified (see _assign).
        self.fleet_blink = False
        if settings.fleet is not None:
            from codename_shell.fleet import Fleet

            self.fleet = Fleet(settings, self.state_dir, self.runtime_dir)
            self.sources.append(self.fleet.source)
        elif os.path.isdir(self.runtime_dir.rstrip("/") + "-fleet"):
            from codename_shell.fleet import directory, keeper_running

            try:
                self.fleet_blink = keeper_running(directory(self.runtime_dir))
            except OSError:
                pass

    def _prepare(self) -> None:
        paths.ensure_private_dir(self.state_dir)
        base = os.path.dirname(self.runtime_dir)
        if not os.path.exists(base):
            # platformdirs' /tmp fallback: a runtime dir must be private from its base up.
            paths.ensure_private_dir(base)
        paths.ensure_private_dir(self.runtime_dir)

    def survey(self) -> Survey:
        return Survey(self.sources, self.settings.ttl)

    def _quick_survey(self, theme: str, wanted: str | None = None) -> Survey:
        """The survey of a claim (see `Survey`): /proc is read for the holders of the names
        handed out first (`theme`'s cast) and of the one asked for."""
        sure = {casts.fold(short) for short, _ in self.settings.cast(theme)}
        if wanted is not None:
            sure.add(casts.fold(wanted))
        return Survey(self.sources, self.settings.ttl, quick=True, sure=frozenset(sure))

    # --- the locked operations ----------------------------------------------------------

    def claim(self, pid: int, kind: str = "terminal", name: str | None = None) -> Holder:
        """The name `pid` holds, claiming the first free one (or `name`) if it holds none."""
        me = self._begin(pid, name)
        theme, _ = self.settings.theme_in_force()
        self._reserve(me, theme, name, kind)
        try:
            with _Recording("the claim"), Lock(self.state_dir):
                survey = self._reaped_survey(theme, name)
                mine = survey.holding(me)
                if mine and (name is None or same_name(mine[0].name, name)):
                    holder = self._keep(mine[0])
                else:
                    holder = self._assign(survey, me, kind, name, theme, replacing=mine)
        finally:
            self._settle()
        rowcache.save(self.state_dir, self.presence)  # the lock is free: nobody waits on it
        return holder

    def rename(self, pid: int, name: str | None = None) -> Holder:
        """Give `pid` another name: `name`, or the next free one of today's cast."""
        me = self._begin(pid, name)
        theme, _ = self.settings.theme_in_force()
        self._reserve(me, theme, name, None)
        try:
            with _Recording("the new name"), Lock(self.state_dir):
                survey = self._reaped_survey(theme, name)
                mine = survey.holding(me)
                if not mine:
                    raise CodenameError(f"pid {pid} holds no name to change")
                if name is not None and same_name(name, mine[0].name):
                    return mine[0]
                holder = self._assign(survey, me, mine[0].kind, name, theme, replacing=mine,
                                      avoid=mine[0].name)
        finally:
            self._settle()
        rowcache.save(self.state_dir, self.presence)
        return holder

    def _reserve(self, me: Holder, theme: str, name: str | None, kind: str | None) -> None:
        """With a fleet, reserve the name in Redis before the lock (`kind` None: a rename).

        No network round trip happens under the lock: a slow or far Redis would otherwise
        hold every other shell start of this host in line behind it. The names held here are
        read without the lock (a look, no writes); the locked part checks the reserved name
        against the survey it makes, and falls back to a host-qualified name when a holder
        took it here meanwhile (see Fleet.choose).
        """
        if self.fleet is None or any(s.blind for s in self.sources):
            return  # no fleet; or a blind source, which the locked part refuses
        survey = self._quick_survey(theme, name)
        mine = survey.holding(me)
        if kind is None:  # a rename
            if not mine or (name is not None and same_name(name, mine[0].name)):
                return  # nothing to reserve: the locked part says so, or keeps the name
            kind = mine[0].kind
        elif mine and (name is None or same_name(mine[0].name, name)):
            return  # it keeps its name
        avoid = mine[0].name if mine and name is None else None
        self.fleet.reserve(me, theme, _blocked(survey, mine, avoid), name, kind)

    def _settle(self) -> None:
        """After the lock: the fleet's half of what the locked part decided (see Fleet.settle)."""
        if self.fleet is not None:
            self.fleet.settle()

    def _begin(self, pid: int, name: str | None) -> Holder:
        """Checks that need no lock: the process runs, the name is usable, the dirs are safe."""
        me = _identify(pid)
        _check_wanted(name)
        self._prepare()
        # Before the lock: other claims need not wait on it.
        self.presence.known = rowcache.load(self.state_dir)
        self._load_rosters(name)
        if self.fleet is not None:
            self.fleet.prepare()  # its password file and DNS, bounded, before the lock
        return me

    def _load_rosters(self, wanted: str | None = None) -> None:
        """Read the rosters now, before the lock: other launchers write them without it, so
        a moment earlier answers as well, and a big roster's parse then delays no other claim.
        Call it only right before a locked survey, which takes the rows read here: only what
        that survey must know of, the rows of names a claim may hand out or `wanted` (see
        RosterSource.load), so that a roster of a million rows costs a claim next to nothing."""
        if not self.rosters:
            return
        names = frozenset(casts.fold(short) for cast in self.settings.casts.values()
                          for short, _ in cast)
        for roster in self.rosters:
            roster.load(names, wanted)

    def _reaped_survey(self, theme: str, wanted: str | None) -> Survey:
        survey = self._quick_survey(theme, wanted)
        self._reap(survey)
        self._restore_presence(survey)
        return survey

    def _restore_presence(self, survey: Survey) -> None:
        """Put back the presence files a wiped runtime dir took from live holders of this host.

        A prompt shows what its presence file says; once a claim has made the runtime dir
        again, a missing file reads as "released", and that terminal would drop a name the
        ledger still holds for it. Only rows this host can check are restored: they are live
        because their very process runs.
        """
        for h in survey.live:
            if "ledger" in h.sources and "presence" not in h.sources and h.start is not None \
                    and liveness.written_here(h):
                try:
                    self.presence.record(h)
                    h.sources.append("presence")
                except OSError:
                    pass  # a full disk: the ledger row still holds the name

    def _assign(self, survey: Survey, me: Holder, kind: str, name: str | None, theme: str, *,
                replacing: list[Holder], avoid: str | None = None) -> Holder:
        blind = [s.blind for s in self.sources if s.blind]
        if blind:
            # A source we cannot read may hold any name: handing one out could make two Tobys.
            raise CodenameError(f"{blind[0]}; no name is handed out until it can be read "
                                "(fix it, or remove it from config.toml)")
        blocked = _blocked(survey, replacing, avoid)
        if self.fleet is not None:  # reserved fleet-wide before the lock (see _reserve)
            short, full = self.fleet.choose(self.settings, theme, blocked, name)
        elif self.fleet_blink:
            short, full = self._blink_pick(theme, blocked, name)
        else:
            short, full = pick(self.settings, theme, blocked, name)
        holder = Holder(short, full=full, kind=kind, pid=me.pid, start=me.start, boot=me.boot,
                        host=me.host, ns=me.ns, tty=liveness.tty_name(me.tty_nr), tty_nr=me.tty_nr,
                        theme=theme, machine=me.machine, colour=_colour(survey, replacing))
        try:
            self._record(holder, released=replacing)
        except BaseException:
            if self.fleet is not None:  # not recorded: the new name goes back, the old stays
                self.fleet.recorded(replacing, False)
            raise
        if self.fleet is not None:  # recorded: only now does the old name go back
            self.fleet.recorded(replacing, True)
        self.ledger.compact_if_needed()  # never fails the claim: a full disk defers it
        holder.sources = ["presence", "ledger"]
        return holder

    def _blink_pick(self, theme: str, blocked: dict[str, Holder],
                    name: str | None) -> tuple[str, str]:
        """A host-qualified name while config.toml blinks: the fleet may hold any plain name
        on another host, and no claim can ask it now. The keeper, which still knows the
        fleet, swaps in a plain name once it can."""
        from codename_shell.fleet import node

        if name is not None:
            raise CodenameError(f"cannot reserve {name} across the fleet: config.toml shows "
                                "no [fleet] right now (being saved?); try again")
        base = {node.fold(node.base(h.name)): h for h in blocked.values()}
        short, full = pick(self.settings, theme, base, None)
        tag = node.node_id(self.state_dir)
        return node.qualify(short, tag), node.qualify(full, tag)

    def _keep(self, holder: Holder) -> Holder:
        # The same process asking again: same name. Heal the sources that lost its row
        # (a wiped runtime dir takes presence files with it).
        if "presence" not in holder.sources and "ledger" not in holder.sources:
            self._record(holder)  # known to another source only: both rows, or neither
        elif "presence" not in holder.sources:
            self.presence.record(holder)
        elif "ledger" not in holder.sources:
            self.ledger.append([("claimed", holder)])
        if self.fleet is not None:
            self.fleet.kept(holder)  # the keeper that renews its lease runs
        return holder

    def release(self, pid: int, at: float | None = None) -> list[Holder]:
        """Give back every name `pid` holds; an empty list when it held none. `at`: when it
        let go, if that was before now (a job that ended while this waited for the lock)."""
        self._prepare()
        me = liveness.identify(pid)
        self._load_rosters()
        with _Recording("the release"), Lock(self.state_dir):
            survey = self.survey()
            if me is not None:
                mine = [h for h in survey.holders if h.same_process(me)]
            else:
                mine = [h for h in survey.holders
                        if h.pid == pid and liveness.written_here(h)]
            # Only rows codename keeps can be given back: a roster is its launcher's to edit.
            mine = [h for h in mine if {"presence", "ledger"} & set(h.sources)]
            self._forget([Entry("released", h, at=at) for h in mine])
            if self.fleet is not None:
                self.fleet.released(mine)
            return mine

    def reap(self, host: str | None = None) -> list[Holder]:
        """Remove ghost rows everywhere codename may write; return them.

        With `host`, also that host's rows that cannot be checked from here: a host that is gone
        for good never reaps its own, and time alone proves nothing, so a person decides.
        Rows this host can check are judged by /proc as always, whatever `host` says.
        """
        self._prepare()
        self._load_rosters()
        with _Recording("the reaping"), Lock(self.state_dir):
            survey = self.survey()
            reaped = self._reap(survey)
            by_hand = [] if host is None else [
                h for h in survey.live if h.host == host and {"presence", "ledger"} & set(h.sources)
                and liveness.status(h) == liveness.UNKNOWN]
            # A row of this very kernel (its boot id) is of another pid namespace of this
            # machine (a container or `unshare -p` sharing $HOME, with our hostname or its
            # own), or a process here whose /proc entry we may not read: alive or not is for
            # its own side to say, and a claim there reaps it once its process ends. A
            # hostname names no machine: removing these removed live terminals.
            self.reap_kept = [h for h in by_hand if h.boot and h.boot == liveness.boot_id()]
            by_hand = [h for h in by_hand if h not in self.reap_kept]
            self._forget([self._closing(h, False) for h in by_hand])
            reaped += by_hand
            self.presence.remove_unreadable()
            self.ledger.drop_unreadable()  # what doctor promises: unreadable rows go
            self.ledger.compact_if_needed()
        if host is not None and self.fleet is not None:
            # After the lock (a round trip): that host's names in the fleet, its rosters'
            # entries too, which only its own keeper or a person may free (fleet/scripts.REAP).
            self.fleet_reaped = self.fleet.reap_host(host)
        return reaped

    def heartbeat(self, pid: int) -> Holder:
        me = _identify(pid)
        self._prepare()
        self._load_rosters()
        with _Recording("the heartbeat"), Lock(self.state_dir):
            mine = self._quick_survey(self.settings.theme_in_force()[0]).holding(me)
            if not mine:
                # A pid is only this pid namespace's: the holder may be another host's.
                raise CodenameError(f"pid {pid} holds no name on this host; `codename claim "
                                    f"--pid {pid}` first, or run heartbeat on the holder's own "
                                    "host (and pid namespace)")
            holder = mine[0]
            holder.beat = int(time.time())
            self._record(holder, "heartbeat")
            # A spare that heartbeats for years must cost a claim what none does: its rows
            # are compacted like a claim's (only its latest heartbeat is kept; see ledger).
            self.ledger.compact_if_needed()  # never fails the heartbeat: a full disk defers it
            return holder

    # --- helpers, lock held -------------------------------------------------------------

    def _reap(self, survey: Survey) -> list[Holder]:
        released = set(self.presence.released)
        # A dead row in someone else's roster is ignored: not ours to edit.
        reaped = [g for g in survey.ghosts if {"presence", "ledger"} & set(g.sources)]
        self._forget([self._closing(g, (g.pid, g.start, ns_token(g.ns)) in released)
                      for g in reaped])
        for pid, start, ns in released:  # emptied presence files whose ledger row is gone
            self.presence.remove(pid, start, ns)
        return reaped

    def _closing(self, ghost: Holder, released: bool) -> Entry:
        """The ledger row that closes a ghost's name, stamped when it let go as far as can be
        known: a shell that exited emptied its presence file then (its mtime); one that was
        killed is `reaped` now, with the last moment it was seen alive (`seen=`)."""
        if released:
            ident = (ghost.pid or 0, ghost.start, ns_token(ghost.ns))
            return Entry("released", ghost, at=self.presence.let_go.get(ident))
        seen = self.presence.last_seen(ghost)
        return Entry("reaped", ghost, fields=(f"seen={stamp_of(seen)}",) if seen > 0 else ())

    def _record(self, holder: Holder, event: str = "claimed",
                released: list[Holder] | None = None) -> None:
        """Write `holder`'s presence file and its ledger row (`event`: claimed, heartbeat),
        closing `released`'s rows, all of it or nothing, whatever write fails (a full disk).

        The order makes that so: the presence row goes to a temp file first (readers skip
        it), then the ledger rows are appended in one write (cut back if short), and only
        then is the temp file renamed into place; a failed rename cuts the rows back out. So
        a presence file never appears without its ledger row, nor a row without its file.
        A rename's old name needs no file removed: the new row replaces it (same process,
        same file). A rename is one `renamed` row naming the old name (`from=`), however it
        came about (`rename`, or `claim --name` by a process holding another name).
        """
        released = released or []
        rows: list[tuple[str, Holder] | Entry] = []
        if released and event == "claimed":
            first, *others = released
            rows += [("released", old) for old in others if "ledger" in old.sources]
            rows.append(Entry("renamed", holder, fields=(f"from={one_line(first.name)}",)))
        elif event == "claimed":
            where = _cwd(holder.pid)
            rows.append(Entry(event, holder, fields=(f"cwd={where}",) if where else ()))
        else:
            rows.append((event, holder))
        record_rows(self.presence, self.ledger, holder, lambda: self.ledger.append(rows))
        for old in released:
            if "presence" in old.sources and \
                    self.presence.path_for(old) != self.presence.path_for(holder):
                self.presence.forget(old, "released")

    def _forget(self, rows: list[Entry]) -> None:
        """Close each holder's rows with its event (`released`, `reaped`), all or nothing.

        The ledger rows go first, in one write; then the presence files. A presence file that
        cannot be removed cuts the rows back out, so neither source is left saying more than
        the other.
        """
        closing = [e for e in rows if "ledger" in e.holder.sources]
        mark = self.ledger.append(closing) if closing else None
        try:
            for e in rows:
                if "presence" in e.holder.sources:
                    self.presence.forget(e.holder, e.event)
        except BaseException:
            if mark is not None:
                self.ledger.undo(mark)
            raise


def record_rows(presence: PresenceSource, ledger: LedgerSource, holder: Holder,
                append: Callable[[], int]) -> None:
    """`holder`'s presence file and the ledger rows `append` writes, both or neither (see
    `Allocator._record`); `append` returns the ledger's size before its rows. The fleet's
    keeper renames with it too."""
    tmp = presence.stage(holder)
    try:
        mark = append()
        try:
            presence.commit(tmp, holder)
        except BaseException:
            ledger.undo(mark)
            raise
    except BaseException:
        fileio.discard(tmp)
        raise


class _Recording:
    """Turns a write that failed under the lock (a full disk) into one line for the user.

    The writes themselves leave nothing half done (see `Allocator._record`); this only says
    what was not recorded and why, instead of an internal error.
    """

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, e: BaseException | None, tb: object) -> None:
        # Only a file's error: a fleet's socket error (an OSError too) is the fleet's to say.
        if isinstance(e, OSError) and e.filename:
            raise _not_recorded(e, self.what) from None


def _not_recorded(e: OSError, what: str) -> CodenameError:
    where = printable(e.filename)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return CodenameError(f"no space left on the disk of {where}: {what} was not recorded; "
                             "free some space there (`codename doctor` checks)")
    return CodenameError(f"{where}: {printable(e.strerror)}; {what} was not recorded")


def _blocked(survey: Survey, replacing: list[Holder], avoid: str | None) -> dict[str, Holder]:
    """The names a new name must not be: every live holder's, less those `replacing` gives
    back (a rename's old name), plus `avoid` (a rename wants another name than this one)."""
    taken = survey.taken()
    for old in replacing:
        taken.pop(casts.fold(old.name), None)
    if avoid is not None and replacing:
        taken[casts.fold(avoid)] = replacing[0]
    return taken


def _colour(survey: Survey, replacing: list[Holder]) -> int:
    """The colour of a holder that takes a name: the one it had (a rename keeps it for the
    holder's life), else the first no other live holder here shows (see `colours`)."""
    for old in replacing:
        if old.colour is not None:
            return old.colour
    return colours.pick(colours.of(h) for h in survey.live if h not in replacing)


def _check_wanted(name: str | None) -> None:
    problem = casts.name_problem(name) if name is not None else None
    if problem:
        raise CodenameError(f"cannot use that name: {problem}")


def _cwd(pid: int | None) -> str:
    """Where process `pid` is (for its claim's ledger row), or "" when that cannot be read or
    would not fit in a row (a tab, a newline, a control character in the path)."""
    try:
        where = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""
    return where if where.isprintable() else ""


def _identify(pid: int) -> Holder:
    me = liveness.identify(pid)
    if me is None:
        raise CodenameError(f"no running process with pid {pid}")
    return me

