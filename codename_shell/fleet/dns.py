"""The fleet host's addresses for a claim: looked up within a time bound, and kept a short while.

A claim must never wait long for the fleet, and it holds the allocator's lock while it talks
to Redis, so the host name is resolved before the lock (Fleet.prepare) and within the claim's
budget (client.resolve: getaddrinfo, which has no timeout of its own, in a thread given up on
at the deadline). The answer is kept in the fleet's runtime dir for TTL seconds: a burst of
shell starts looks the name up once, and most starts pay neither the lookup nor the import of
`threading` it needs. An IP address or a unix socket needs none of this.
"""

from __future__ import annotations

from codename_shell import lean_os as os
from codename_shell.fleet.client import Addresses, literal, resolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.fleet.url import Target

NAME = "addresses"
#: Seconds an answer is kept. Short: a failover that moves the fleet's name to another
#: address is followed within it (a claim meanwhile gets a host-qualified name, never a wrong one).
TTL = 30.0
_MAX = 4096  # bytes of the cache file read at most
_FAMILIES = {"4": 2, "6": 10}  # AF_INET, AF_INET6 on Linux (the cache is this host's alone)


def addresses(directory: str, target: Target, deadline: float) -> Addresses:
    """`target`'s addresses: literal, kept from a lookup under TTL seconds ago, or looked up
    now, by `deadline` (client.FleetUnreachable when it fails or does not end in time)."""
    found = literal(target.host, target.port)
    if found is not None:
        return found
    found = _cached(directory, target.host, target.port)
    if found is not None:
        return found
    found = resolve(target.host, target.port, deadline, target.shown)
    _keep(directory, target.host, target.port, found)
    return found


def forget(directory: str) -> None:
    """Drop the kept answer (the fleet did not answer there: look the name up again)."""
    try:
        os.unlink(os.path.join(directory, NAME))
    except OSError:
        pass


def _cached(directory: str, host: str, port: int) -> Addresses | None:
    from codename_shell import fileio
    from codename_shell.fleet.lease import lease_clock

    try:
        text = fileio.read_regular(os.path.join(directory, NAME), _MAX, nofollow=True).decode()
        head, *rows = text.splitlines()
        until, kept_host, kept_port = head.split("\t")
        if (kept_host, kept_port) != (host, str(port)) or not lease_clock() < float(until):
            return None
        found: Addresses = []
        for row in rows:
            family, address = row.split("\t")
            pair = (address, port) if family == "4" else (address, port, 0, 0)
            found.append((_FAMILIES[family], pair))
    except (OSError, ValueError, KeyError, UnicodeDecodeError):
        return None
    return found or None


def _keep(directory: str, host: str, port: int, found: Addresses) -> None:
    from codename_shell import fileio, paths
    from codename_shell.errors import CodenameError
    from codename_shell.fleet.lease import lease_clock

    rows = []
    for family, address in found:
        tag = next((k for k, v in _FAMILIES.items() if v == family), None)
        if tag is None or "\t" in host or "\n" in host:
            return  # not one we can write down: looked up again next time
        rows.append(f"{tag}\t{address[0]}")
    text = f"{lease_clock() + TTL!r}\t{host}\t{port}\n" + "".join(f"{r}\n" for r in rows)
    try:
        paths.ensure_private_dir(directory)
        # Not durable: a kept answer lasts TTL seconds and a damaged one reads as none.
        fileio.write_atomic(os.path.join(directory, NAME), text.encode(), durable=False)
    except (OSError, CodenameError):
        pass  # the next claim looks it up again: slower, never wrong
