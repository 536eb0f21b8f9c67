"""The allocator: under one lock, union every source, verify every row, reap ghosts, pick, record.

This is the fix for the two Tobys. The old allocator asked one source (a daemon's job roster)
who was alive; a spare that kept its heartbeat in a presence file was invisible to it and its
name was handed out again. Here a name is taken if *any* source shows a live holder for it,
and a row is only believed after its process has been checked (see `liveness`).
"""

from __future__ import annotations

import time

from codename_shell import casts, colours, liveness, paths, rowcache
from codename_shell import lean_os as os
from codename_shell.errors import CodenameError
from codename_shell.holders import Holder, ns_token
from codename_shell.lock import Lock
from codename_shell.pick import pick, same_name
from codename_shell.recording import Recording, record_rows
from codename_shell.sources import LedgerSource, PresenceSource, Source
from codename_shell.sources.ledger import Entry, one_line, stamp_of
from codename_shell.survey import Survey

TYPE_CHECKING = False
if TYPE_CHECKING:

    from codename_shell.config import Settings
    from codename_shell.fleet import Fleet
    from codename_shell.sources.roster import RosterSource

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
            with Recording("the claim"), Lock(self.state_dir):
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
            with Recording("the new name"), Lock(self.state_dir):
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
        with Recording("the release"), Lock(self.state_dir):
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
        with Recording("the reaping"), Lock(self.state_dir):
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
        with Recording("the heartbeat"), Lock(self.state_dir):
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

