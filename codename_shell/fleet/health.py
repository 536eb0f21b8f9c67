"""`codename doctor`'s fleet lines: can the fleet be reached, how fast, who holds what on which
host, whose keeper has gone quiet, and whether a password lies where others can read it."""

from __future__ import annotations

import os
import stat
import time

from codename_shell import liveness
from codename_shell.errors import ConfigError
from codename_shell.fleet import LOCK_NAME, keeper_running
from codename_shell.fleet.client import FleetError
from codename_shell.fleet.url import parse_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.config import Settings
    from codename_shell.doctor import Report
    from codename_shell.fleet import Fleet
    from codename_shell.holders import Holder


def check(out: Report, fleet: Fleet, settings: Settings, live: list[Holder]) -> None:
    """The fleet's lines; `fleet.source` has listed the fleet already (its error, if any, is
    a FAIL of its own among the sources)."""
    _check_secrets(out, fleet, settings)
    if fleet.source.error:
        return
    try:
        version, rtt = fleet.store.server(time.monotonic() + 1.0)
    except (FleetError, ConfigError) as e:
        out.bad("fleet", str(e), "check that Redis runs there and the url and password")
        return
    finally:
        fleet.store.close()
    out.ok("fleet", f"{fleet.config.shown}: Redis {version}, round trip {rtt * 1000:.1f} ms, "
           f"prefix {fleet.config.prefix!r}, lease {fleet.config.lease} s")
    _check_hosts(out, fleet)
    _check_keeper(out, fleet, live)


def _check_hosts(out: Report, fleet: Fleet) -> None:
    now = fleet.source.server_ms
    for entry in sorted(fleet.source.nodes, key=lambda n: (n.host, n.node)):
        mine = " (this host)" if entry.node == fleet.node else ""
        held = len(entry.rows)
        what = f"{entry.host}{mine}: {held} name{'s' if held != 1 else ''} held"
        # A keeper renews at least every lease/3; two missed renewals is quiet.
        quiet_after = entry.lease_ms * 2 / 3
        if entry.beat:
            age = (now - entry.beat) / 1000
            what += f", keeper renewed {age:.0f} s ago"
            quiet = held and now - entry.beat > quiet_after
        else:
            what += ", no keeper renewal yet"
            quiet = held and any(entry.lease_ms - ttl > quiet_after for _, ttl in entry.rows)
        if quiet:
            out.note("fleet host", f"{what}: its keeper has gone quiet; its names go back "
                     "when their leases end unless it comes back")
        else:
            out.ok("fleet host", what)


def _check_keeper(out: Report, fleet: Fleet, live: list[Holder]) -> None:
    here = [h for h in live if {"presence", "ledger"} & set(h.sources)
            and liveness.written_here(h)]
    try:
        running = keeper_running(fleet.dir)
    except FileNotFoundError:  # no claim here yet made the fleet's runtime dir
        running = False
    except OSError as e:
        out.bad("keeper", f"cannot tell whether one runs here ({e.strerror})",
                f"check {fleet.dir}")
        return
    if running:
        out.ok("keeper", f"running on this host ({_keeper_pid(fleet.dir)})")
    elif here:
        out.bad("keeper", f"none runs on this host, which holds {len(here)} name(s): their "
                "leases are not renewed and other hosts may take them",
                "open a new terminal or run `codename claim` (a claim starts the keeper)")
    else:
        out.ok("keeper", "not running (nothing held here; the next claim starts one)")


def _keeper_pid(directory: str) -> str:
    from codename_shell import fileio

    try:
        text = fileio.read_regular(os.path.join(directory, LOCK_NAME), 64, nofollow=True)
        pid = text.decode("ascii", "replace").strip()
    except OSError:
        return "pid ?"
    return f"pid {pid}" if pid.isdigit() else "pid ?"


def _check_secrets(out: Report, fleet: Fleet, settings: Settings) -> None:
    """A password in a file others may read is no secret."""
    url = (settings.fleet_in_file or {}).get("url") or ""
    try:
        in_file = bool(url) and bool(parse_url(url).password)
    except ConfigError:
        in_file = False
    if in_file and _readable_by_others(settings.path):
        out.bad("fleet secret", f"{settings.path} holds the fleet's password and others may "
                "read it", f"chmod 600 {settings.path}, or move the password to password_file "
                "or CODENAME_FLEET_URL")
    secret_file = fleet.config.password_file
    if secret_file and _readable_by_others(secret_file):
        out.bad("fleet secret", f"{secret_file} (password_file) may be read by others",
                f"chmod 600 {secret_file}")


def _readable_by_others(path: str) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))
