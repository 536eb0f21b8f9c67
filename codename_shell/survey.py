"""A survey: every holder every source knows, merged per process and name, each judged live
or not; what a claim, `who`, `doctor` and the keeper look at.
"""

from __future__ import annotations

import time

from codename_shell import casts, liveness
from codename_shell.holders import Holder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.sources import Source


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
