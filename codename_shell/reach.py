"""Beyond the roster: finding one session by its name, and reaching it (`where`, `attach`,
`tell`).

A name is only worth saying ("Pam is rebasing") if it also takes you to Pam: where she runs
(host, pid, terminal, tmux pane, directory), her pane brought up in this tmux client, a line
left above her next prompt. Names are compared as every reader compares them (casts.fold:
`pam`, `PAM` and a fullwidth Pam are Pam). The holders come from the same survey as
`who`'s, so a session every source vouches for is found wherever it runs, other hosts of the
fleet included (commands.py makes the surveys; this module decides what to say and do).
"""

from __future__ import annotations

import time

from codename_shell import activity, casts, colours, liveness, report, tmux
from codename_shell.errors import CodenameError, printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.fleet import Fleet
    from codename_shell.holders import Holder


def match(holders: list[Holder], name: str) -> Holder | None:
    """The live holder of `name` among `holders` (folded names compared), the oldest if
    more than one answers; a host-qualified name (`Pam@vm~3f2a9c`) answers to `Pam` when no
    holder has `Pam` itself."""
    want = casts.fold(name)
    found = [h for h in holders if casts.fold(h.name) == want]
    if not found:
        found = [h for h in holders if "@" in h.name
                 and casts.fold(h.name.rpartition("@")[0]) == want]
    return min(found, key=lambda h: (h.since or 0, h.name)) if found else None


def here(holder: Holder) -> bool:
    """Whether `holder` is a process of this host (its /proc and tmux can be asked)."""
    return holder.pid is not None and liveness.written_here(holder)


class Whereabouts:
    """Where a holder is: itself, what this host can see of it (cwd, tmux pane)."""

    def __init__(self, holder: Holder) -> None:
        self.holder = holder
        self.local = here(holder)
        seen = activity.observe(holder) if self.local else holder.activity
        self.cwd = seen.cwd if seen is not None else ""
        self.pane = tmux.pane_of(holder) if self.local else None

    def to_dict(self) -> dict[str, object]:
        h = self.holder
        return {**report.as_dict(h), "cwd": self.cwd, "colour": colours.of(h),
                "tmux": self.pane.to_dict() if self.pane is not None else None,
                "this_host": self.local}

    def lines(self) -> str:
        """Aligned `key  value` lines, every value printable."""
        h = self.holder
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(h.since)) if h.since else "-"
        rows = [("name", h.name if h.full == h.name else f"{h.name} ({h.full})"),
                ("host", h.host or "-"), ("pid", str(h.pid or "-")), ("kind", h.kind),
                ("tty", h.tty.removeprefix("/dev/") if h.tty else "-"),
                ("tmux", self._pane() or "-"), ("cwd", activity.tilde(self.cwd) or "-"),
                ("since", since)]
        return "".join(f"{key:<6} {printable(value)}\n" for key, value in rows)

    def summary(self) -> str:
        """One line: `Pam is pid 4242 on host vm (terminal, pts/3, tmux pane %3 work:1.0, in
        ~/src/billing)`."""
        h = self.holder
        parts = [h.kind]
        if h.tty:
            parts.append(h.tty.removeprefix("/dev/"))
        if self._pane():
            parts.append(f"tmux pane {self._pane()}")
        if self.cwd:
            parts.append(f"in {activity.tilde(self.cwd)}")
        pid = f"pid {h.pid}" if h.pid is not None else "an entry without a pid"
        return printable(f"{h.name} is {pid} on host {h.host or '?'} ({', '.join(parts)})")

    def _pane(self) -> str:
        return f"{self.pane.id} {self.pane.target}" if self.pane is not None else ""


def attach(holder: Holder) -> tmux.Pane:
    """Switch this tmux client to `holder`'s pane (the same tmux server only); CodenameError
    with one line saying where it is otherwise."""
    import os

    where = Whereabouts(holder)
    socket = tmux.socket_of(os.environ.get("TMUX"))
    if not socket:
        raise CodenameError(f"{where.summary()}; attach works inside tmux, and this terminal "
                            "is not in tmux")
    if not where.local:
        raise CodenameError(f"{where.summary()}; attach reaches panes of this host's tmux "
                            "only")
    pane = tmux.pane_of(holder, [socket])
    if pane is None:
        raise CodenameError(f"{where.summary()}; it runs in no pane of this tmux server")
    tmux.switch(pane)
    return pane


def tell(holder: Holder, sender: Holder, text: str, *, state_dir: str, presence: str,
         fleet_token: str | None, fleet: Fleet | None) -> int:
    """Leave `text` from `sender` for `holder`; how many of its messages wait now.

    A holder of this host gets it in its inbox (`presence` is its presence file); one of
    another host through the fleet (`fleet_token`, the Fleet), whose keeper there carries it.
    Only a terminal shows messages (at its prompt): anything else is refused, so that no
    message waits for a prompt that never comes."""
    from codename_shell import inbox

    text = inbox.message(text)
    name = printable(holder.name)
    if holder.kind != "terminal":
        raise CodenameError(f"{name} is a {printable(holder.kind)} (pid {holder.pid}): it has "
                            "no prompt to show a message at; tell the terminal it runs in")
    if here(holder) and {"presence", "ledger"} & set(holder.sources):
        return inbox.leave(state_dir, presence, holder, sender.name, text)
    if fleet_token is not None and fleet is not None:
        from codename_shell.fleet.inbox import send

        return send(fleet, fleet_token, holder, sender.name, text)
    where = ", ".join(holder.sources)
    raise CodenameError(f"{name} is known only from {printable(where)}, with no terminal of "
                        "codename's to leave a message at")
