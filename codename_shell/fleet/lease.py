"""What a fleet name's lease is worth, and the file a terminal checks it against.

A plain fleet name (`Pam`) may be shown only while this host's lease on it certainly lives:
once it may have lapsed, another host can be given `Pam`. A fact saved once (the name in a
prompt) is not a fact that is still true, so the shell checks, at every prompt and with
builtins only, a deadline kept in a *lease file* beside its presence file:

    <fleet dir>/<holder id>.lease:  <deadline>\\t<name>\\t<renew by>\\t<sent>\\n

- deadline: whole seconds on CLOCK_BOOTTIME (the clock /proc/uptime shows, which a shell
  reads without a process) before which the lease on <name> is certain to be held.
- name: the name that lease is on. A prompt shows its presence file's name plain only when
  it is this name and uptime < deadline; otherwise the host-qualified form (`Pam@vm~3f2a9c`),
  which no other host can hand out.
- renew by: when the keeper should have renewed it again. A prompt that finds that moment
  past and no keeper running starts one (one process, after a fault only).
- sent: when the lease was sent (lease_clock), for the keeper to count from.

A claim writes the file when Redis granted the name; the keeper rewrites it after each
renewal that Redis confirmed, and sets the deadline to 0 at once when Redis says the name is
someone else's. Nothing else extends it. So no process has to run for the promise to hold: a
dead, stopped or starved keeper, a config.toml that vanished, a Redis that is gone all end in
the deadline passing, and the prompt showing the host-qualified name at that same moment.
"""

from __future__ import annotations

import time

from codename_shell import lean_os as os

SUFFIX = ".lease"

# --- time: the one place where the fleet decides what a lease is worth ----------------------
#
# A lease is set by the server, PX milliseconds from when the server handled the command. We
# note the moment we SENT it, which is earlier, so "sent + lease" is never later than the
# server's expiry as long as both clocks run at the same rate. They may not quite: DRIFT
# allows the server's clock to run up to 1% fast against ours (NTP keeps real clocks within
# 0.05%). So a lease counts as ours until sent + lease * (1 - DRIFT), and never longer: no
# answer from the server can stretch that, and none is waited for past it.
#
# The clock is CLOCK_BOOTTIME: monotonic (a wall-clock step cannot move it) and, unlike
# CLOCK_MONOTONIC, running through a suspend. A laptop that slept through its leases' end
# wakes up knowing they are gone, while the server (which did not sleep) let them expire. It
# is one clock for every process of the host (and every pid namespace on its kernel), so the
# keeper can count from a claim's note, and a shell can compare /proc/uptime with it.
DRIFT = 0.01


def lease_clock() -> float:
    """Seconds on CLOCK_BOOTTIME (CLOCK_MONOTONIC where there is none)."""
    clock = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
    return time.clock_gettime(clock)


class Timing:
    """How often the keeper looks, renews and gives up, for a lease of `lease` seconds."""

    def __init__(self, lease: float) -> None:
        self.lease = lease
        # Renewals at least every lease/3: two may fail and a third still be in time.
        self.renew_every = lease / 3
        # A look at /proc and the presence dir: a kill -9'd holder's name goes back within
        # tick + one round, well inside lease/3.
        self.tick = min(1.0, lease / 6)
        # How long one round may wait for the server before it counts as failed.
        self.round_timeout = min(2.0, lease / 6)
        # Time kept in hand to rewrite presence files (the allocator lock may be busy).
        self.guard = max(0.5, lease / 10)
        self.idle = max(2 * lease, 10.0)

    def expiry(self, sent: float) -> float:
        """The earliest moment the server may drop a lease sent at `sent` (lease_clock)."""
        return sent + self.lease * (1 - DRIFT)

    def deadline(self, sent: float) -> int:
        """The lease file's deadline: whole seconds, never past `expiry` (a prompt compares
        the whole seconds of /proc/uptime with it: `up < deadline` means before expiry)."""
        return max(0, int(self.expiry(sent)))

    def renew_by(self, sent: float) -> int:
        """When a renewal of a lease sent at `sent` should have come, with a tick and a
        round to spare: past it, a prompt looks whether the keeper still runs."""
        return int(sent + self.renew_every + self.tick + self.round_timeout) + 1

    def at_risk(self, sent: float, now: float) -> bool:
        """Whether a lease sent at `sent` must be given up now: the next tick, a round that
        times out and the rename itself could otherwise outlast it."""
        return now + self.tick + self.round_timeout + self.guard >= self.expiry(sent)


def server_ahead(last: tuple[float, int], sent: float, server_ms: int, back: float) -> float:
    """How far (ms) the server's clock ran ahead of ours between two rounds: `last` is the
    earlier round's (lease_clock when sent, the server's time in its answer), `sent` and
    `server_ms` the later one's, `back` the lease_clock when its answer came. The server read
    its clock after we sent and before we heard back, so its time moved by at most
    back - last sent, at DRIFT's rate; past that (> 0), it jumped (keys expired early)."""
    del sent  # the later round's own send time bounds nothing: its answer came at `back`
    return server_ms - last[1] - (back - last[0]) * 1000 * (1 + DRIFT)


def path(directory: str, ident: str) -> str:
    """The lease file of the holder `ident` (holders.ident) in the fleet dir `directory`."""
    return os.path.join(directory, ident + SUFFIX)


def write(directory: str, ident: str, name: str, sent: float, timing: Timing) -> None:
    """Vouch for `name` until the lease sent at `sent` may end (see the module docstring).

    Written whole and renamed into place (a prompt never reads half a line), then stamped
    with the time it is in place: a prompt reads it again only when it is not older than
    the prompt's last read (see the hooks' `.seen` mark)."""
    line = f"{timing.deadline(sent)}\t{name}\t{timing.renew_by(sent)}\t{sent!r}\n"
    _put(path(directory, ident), line.encode("utf-8"))


#: A `renew by` no prompt reaches: after [fleet] was removed, no keeper is to be started.
NEVER = 999_999_999_999


def lapse(directory: str, ident: str, name: str, *, final: bool = False) -> None:
    """The lease on `name` is gone (someone else holds the name, or `final`: the host left
    the fleet, and no keeper is to be started for it): deadline 0, at once."""
    renew_by = NEVER if final else 0
    try:
        _put(path(directory, ident), f"0\t{name}\t{renew_by}\t0.0\n".encode())
    except OSError:
        forget(directory, ident)  # no file vouches for nothing either


def _put(target: str, data: bytes) -> None:
    from codename_shell import fileio

    fileio.write_atomic(target, data)
    try:
        os.utime(target, follow_symlinks=False)
    except OSError:
        pass


def sent(directory: str, ident: str) -> float | None:
    """When the lease in `ident`'s file was sent, or None (no file, or one that says nothing)."""
    from codename_shell import fileio

    try:
        fields = fileio.read_regular(path(directory, ident), 512, nofollow=True).decode(
            "utf-8", "replace").split("\t")
        value = float(fields[3])
    except (OSError, ValueError, IndexError):
        return None
    return value if value > 0 else None


def forget(directory: str, ident: str) -> None:
    try:
        os.unlink(path(directory, ident))
    except OSError:
        pass
