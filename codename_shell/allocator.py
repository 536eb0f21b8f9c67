"""The allocator: under one lock, union every source, verify every row, reap ghosts, pick, record.

This is the fix for the two Tobys. The old allocator asked one source (a daemon's job roster)
who was alive; a spare that kept its heartbeat in a presence file was invisible to it and its
name was handed out again. Here a name is taken if *any* source shows a live holder for it,
and a row is only believed after its process has been checked (see `liveness`).
"""

from __future__ import annotations

import fcntl
import os
import time

from codename_shell import casts, liveness, paths
from codename_shell.errors import CodenameError, LockTimeout
from codename_shell.holders import Holder
from codename_shell.sources import LedgerSource, PresenceSource, RosterSource, Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.config import Settings

LOCK_TIMEOUT = 2.0  # seconds; past this a shell start gives up rather than hang


class Lock:
    """An exclusive flock on a dedicated file in the state dir, waited for at most LOCK_TIMEOUT.

    Every read-decide-write of names happens inside it, so two claims can never both see a
    name as free. flock is released by the kernel when the process dies: a kill -9 mid-claim
    cannot wedge the next one.
    """

    def __init__(self, state_dir: str, timeout: float | None = None) -> None:
        self.path = os.path.join(state_dir, "lock")
        self.timeout = LOCK_TIMEOUT if timeout is None else timeout
        self.fd = -1

    def __enter__(self) -> Lock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    raise LockTimeout(f"{self.path} stayed locked for {self.timeout:.0f} s; "
                                      "is a codename process stuck? (`codename doctor`)") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.02)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the only descriptor releases the flock


class Survey:
    """Every holder every source knows, merged per process and name, each judged live or not."""

    def __init__(self, sources: list[Source], ttl: int) -> None:
        self.sources = sources
        self.ttl = ttl
        self.holders: list[Holder] = []
        self.live: list[Holder] = []
        self.ghosts: list[Holder] = []
        self._merge()
        now = time.time()
        for h in self.holders:
            (self.live if liveness.is_live(h, ttl, now) else self.ghosts).append(h)

    def _merge(self) -> None:
        # Rows from different sources about the same process and name are one holder,
        # vouched for by each of those sources.
        index: dict[tuple[str, str, int | None], list[Holder]] = {}
        for source in self.sources:
            for row in source.holders():
                bucket = index.setdefault((row.name, row.host, row.pid), [])
                twin = next((h for h in bucket if h.same_process(row)), None)
                if twin is None:
                    bucket.append(row)
                    self.holders.append(row)
                    continue
                twin.sources.append(source.label)
                twin.beat = max(twin.beat or 0, row.beat or 0)
                if twin.start is None and row.start is not None:
                    # Prefer the row that can prove which process it is.
                    for key in ("start", "boot", "ns", "tty", "tty_nr", "full", "kind", "since"):
                        setattr(twin, key, getattr(row, key))

    @property
    def problems(self) -> list[str]:
        return [p for s in self.sources for p in s.problems]

    def taken(self) -> dict[str, Holder]:
        return {h.name: h for h in self.live}

    def holding(self, me: Holder) -> list[Holder]:
        return [h for h in self.live if h.same_process(me) and h.start is not None]

    def duplicates(self) -> dict[str, list[Holder]]:
        """Names held by more than one live holder: the bug this tool exists to prevent."""
        by_name: dict[str, list[Holder]] = {}
        for h in self.live:
            by_name.setdefault(h.name, []).append(h)
        return {name: hs for name, hs in by_name.items() if len(hs) > 1}


class Allocator:
    """Claims, releases and reaps names for processes, keeping every writable source in step."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state_dir = paths.state_dir()
        self.runtime_dir = paths.runtime_dir()
        self.presence = PresenceSource(self.runtime_dir)
        self.ledger = LedgerSource(self.state_dir)
        self.sources: list[Source] = [self.presence, self.ledger]
        self.sources += [RosterSource(p) for p in settings.rosters]

    def _prepare(self) -> None:
        paths.ensure_private_dir(self.state_dir)
        base = os.path.dirname(self.runtime_dir)
        if not os.path.exists(base):
            # platformdirs' /tmp fallback: a runtime dir must be private from its base up.
            paths.ensure_private_dir(base)
        paths.ensure_private_dir(self.runtime_dir)

    def survey(self) -> Survey:
        return Survey(self.sources, self.settings.ttl)

    # --- the locked operations ----------------------------------------------------------

    def claim(self, pid: int, kind: str = "terminal", name: str | None = None) -> Holder:
        """The name `pid` holds, claiming the first free one (or `name`) if it holds none."""
        me = self._begin(pid, name)
        with Lock(self.state_dir):
            survey = self._reaped_survey()
            mine = survey.holding(me)
            if mine and (name is None or mine[0].name == name):
                return self._keep(mine[0])
            return self._assign(survey, me, kind, name, replacing=mine)

    def rename(self, pid: int, name: str | None = None) -> Holder:
        """Give `pid` another name: `name`, or the next free one of today's cast."""
        me = self._begin(pid, name)
        with Lock(self.state_dir):
            survey = self._reaped_survey()
            mine = survey.holding(me)
            if not mine:
                raise CodenameError(f"pid {pid} holds no name to change")
            if name == mine[0].name:
                return mine[0]
            return self._assign(survey, me, mine[0].kind, name, replacing=mine,
                                avoid=mine[0].name)

    def _begin(self, pid: int, name: str | None) -> Holder:
        """Checks that need no lock: the process runs, the name is usable, the dirs are safe."""
        me = _identify(pid)
        _check_wanted(name)
        self._prepare()
        return me

    def _reaped_survey(self) -> Survey:
        survey = self.survey()
        self._reap(survey)
        return survey

    def _assign(self, survey: Survey, me: Holder, kind: str, name: str | None, *,
                replacing: list[Holder], avoid: str | None = None) -> Holder:
        blind = [s.blind for s in self.sources if s.blind]
        if blind:
            # A source we cannot read may hold any name: handing one out could make two Tobys.
            raise CodenameError(f"{blind[0]}; no name is handed out until it can be read "
                                "(fix it, or remove it from config.toml)")
        taken = survey.taken()
        for old in replacing:  # a rename: the old name goes back first
            taken.pop(old.name, None)
        theme, _ = self.settings.theme_in_force()
        blocked = dict(taken)
        if avoid is not None:
            blocked[avoid] = replacing[0]
        short, full = self._pick(theme, blocked, name)
        for old in replacing:
            self._forget(old, "released")
        holder = Holder(short, full=full, kind=kind, pid=me.pid, start=me.start, boot=me.boot,
                        host=me.host, ns=me.ns, tty=_tty_name(me.tty_nr), tty_nr=me.tty_nr,
                        theme=theme)
        self.presence.record(holder)
        self.ledger.record(holder)
        self.ledger.compact_if_needed()
        holder.sources = ["presence", "ledger"]
        return holder

    def _pick(self, theme: str, taken: dict[str, Holder], wanted: str | None) -> tuple[str, str]:
        cast = self.settings.cast(theme)
        if wanted is not None:
            if wanted in taken:
                h = taken[wanted]
                # A roster row may carry no pid: name the source that vouches for it instead.
                who = f"pid {h.pid}" if h.pid is not None else "an entry without a pid"
                raise CodenameError(f"{wanted} is held by {who} ({h.kind}, "
                                    f"{', '.join(h.sources)}); pick another name")
            full = next((f for cast_ in self.settings.casts.values()
                         for s, f in cast_ if s == wanted), wanted)
            return wanted, full
        for short, full in cast:
            if short not in taken:
                return short, full
        return casts.overflow_name(cast, set(taken))

    def _keep(self, holder: Holder) -> Holder:
        # The same process asking again: same name. Heal the sources that lost its row
        # (a wiped runtime dir takes presence files with it).
        if "presence" not in holder.sources:
            self.presence.record(holder)
        if "ledger" not in holder.sources:
            self.ledger.record(holder)
        return holder

    def release(self, pid: int) -> list[Holder]:
        """Give back every name `pid` holds; an empty list when it held none."""
        self._prepare()
        me = liveness.identify(pid)
        with Lock(self.state_dir):
            survey = self.survey()
            if me is not None:
                mine = [h for h in survey.holders if h.same_process(me)]
            else:
                mine = [h for h in survey.holders
                        if h.pid == pid and h.host == liveness.host()]
            # Only rows codename keeps can be given back: a roster is its launcher's to edit.
            mine = [h for h in mine if {"presence", "ledger"} & set(h.sources)]
            for h in mine:
                self._forget(h, "released")
            return mine

    def reap(self) -> list[Holder]:
        """Remove ghost rows everywhere codename may write; return them."""
        self._prepare()
        with Lock(self.state_dir):
            survey = self.survey()
            reaped = self._reap(survey)
            self.presence.remove_unreadable()
            self.ledger.compact_if_needed()
            return reaped

    def heartbeat(self, pid: int) -> Holder:
        me = _identify(pid)
        self._prepare()
        with Lock(self.state_dir):
            mine = self.survey().holding(me)
            if not mine:
                raise CodenameError(f"pid {pid} holds no name; `codename claim --pid {pid}` first")
            holder = mine[0]
            holder.beat = int(time.time())
            self.presence.record(holder)
            self.ledger.beat(holder)
            return holder

    # --- helpers, lock held -------------------------------------------------------------

    def _reap(self, survey: Survey) -> list[Holder]:
        released = set(self.presence.released)
        reaped = []
        for ghost in survey.ghosts:
            if not any(s in ("presence", "ledger") for s in ghost.sources):
                continue  # a dead row in someone else's roster: ignored, not ours to edit
            clean = (ghost.pid, ghost.start) in released
            self._forget(ghost, "released" if clean else "reaped")
            reaped.append(ghost)
        for pid, start in released:  # emptied presence files whose ledger row is gone already
            self.presence.remove(pid, start)
        return reaped

    def _forget(self, holder: Holder, event: str) -> None:
        if "presence" in holder.sources:
            self.presence.forget(holder, event)
        if "ledger" in holder.sources:
            self.ledger.forget(holder, event)


def _check_wanted(name: str | None) -> None:
    problem = casts.name_problem(name) if name is not None else None
    if problem:
        raise CodenameError(f"cannot use that name: {problem}")


def _identify(pid: int) -> Holder:
    me = liveness.identify(pid)
    if me is None:
        raise CodenameError(f"no running process with pid {pid}")
    return me


def _tty_name(tty_nr: int | None) -> str:
    """/proc's tty_nr as a device path: the holder's controlling terminal, shown by `who`."""
    if not tty_nr:
        return ""
    major = (tty_nr >> 8) & 0xFFF
    minor = (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)
    if 136 <= major <= 143:
        return f"/dev/pts/{(major - 136) * 256 + minor}"
    if major == 4 and minor < 64:
        return f"/dev/tty{minor}"
    return f"tty {major}:{minor}"
