"""The fleet's state in Redis, behind a few calls: claim, renew, list. Each is one script.

`FleetConfig` is `[fleet]` from config.toml (with `CODENAME_FLEET_URL` already applied by
config.Settings). `Store` holds one connection and speaks the data model of `scripts`.
"""

from __future__ import annotations

import time

from codename_shell.errors import ConfigError, printable
from codename_shell.fleet import node, scripts
from codename_shell.fleet.client import Addresses, Connection, FleetError, FleetQuiet
from codename_shell.fleet.url import Target, parse_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_PREFIX = "codename"
EPOCH_FILE = "fleet.epoch"
DEFAULT_LEASE = 60
PASSWORD_MAX = 4096  # bytes of a password_file read at most


class FleetConfig:
    """`[fleet]`: where the Redis is, the key prefix, the lease, and where a password is."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.url: str = raw.get("url") or ""
        self.name: str = raw.get("name") or DEFAULT_PREFIX
        self.lease: int = raw.get("lease") or DEFAULT_LEASE
        self.password_file: str = raw.get("password_file") or ""
        self._target: Target | None = None

    @property
    def prefix(self) -> str:
        return f"{self.name}:"

    @property
    def lease_ms(self) -> int:
        return self.lease * 1000

    def target(self) -> Target:
        """The parsed URL, with the password_file's password when the URL has none."""
        if self._target is None:
            if not self.url:
                raise ConfigError("[fleet] has no url (set url, or CODENAME_FLEET_URL)")
            self._target = parse_url(self.url, self._password())
        return self._target

    @property
    def shown(self) -> str:
        """The URL as it may be printed (password as ***), or why it cannot be read."""
        try:
            return self.target().shown
        except ConfigError as e:
            return f"({e})"

    def _password(self) -> str:
        """The password_file's first line. Read at claims, under the allocator's lock, so as
        every such file: a regular file only, bounded (a FIFO would hang every shell start,
        /dev/stdin would read what the user types). A file that cannot be read is a fleet
        that cannot be used: names are host-qualified, with this one line."""
        from codename_shell import fileio

        if not self.password_file:
            return ""
        try:
            secret = fileio.read_regular(self.password_file, PASSWORD_MAX)
        except OSError as e:
            raise ConfigError(f"fleet password_file {printable(self.password_file)}: cannot "
                              f"read it ({printable(e.strerror or e)})") from None
        try:
            return secret.decode("utf-8").strip("\r\n")
        except UnicodeDecodeError:
            # Sent with U+FFFD in place of the byte, it would be another password, and the
            # server would say only that it is wrong.
            raise ConfigError(f"fleet password_file {printable(self.password_file)}: not UTF-8 "
                              "text") from None


class Store:
    """One connection to the fleet's Redis and the scripts that read and change it."""

    def __init__(self, config: FleetConfig, node: str, host: str, state_dir: str = "") -> None:
        self.config = config
        self.node = node
        self.host = host
        #: Where the epoch this host last saw is kept ("": nowhere, a store of its own).
        self.state_dir = state_dir
        #: A claim's store (one short reply to read): no hiredis import, see resp._codec.
        self.lean = False
        #: The host's addresses when resolved ahead (see Fleet.prepare); else each connection
        #: resolves them within its deadline.
        self.addresses: Addresses | None = None
        self._conn: Connection | None = None

    def connection(self, deadline: float) -> Connection:
        if self._conn is None or self._conn._sock is None:
            self._conn = Connection(self.config.target(), deadline, lean=self.lean,
                                    addresses=self.addresses)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self, deadline: float, sha: str, source: str, *args: object) -> object:
        return self.connection(deadline).script(deadline, sha, source, *args)

    def claim(self, deadline: float, token: str, tail: str, blocked: list[str],
              cast: list[tuple[str, str, str]], want: tuple[str, str, str] | None = None
              ) -> tuple[str, str, str, str]:
        """Pick and reserve a name in one step: ("ok", name, full, the folded name the token
        held before or ""), or ("held", value, "", "") when `want` (name, folded, full) is
        someone else's. A name held before keeps its key until `settle`."""
        args: list[object] = [self.config.prefix, self.node, token, self.config.lease_ms,
                              self.host, tail]
        args += [want[1], want[0], want[2]] if want else ["", "", ""]
        args.append(self.known_epoch())
        args.append(len(blocked))
        args += blocked
        for name, folded, full in cast:
            args += (name, folded, full)
        reply = self._run(deadline, scripts.CLAIM_SHA, scripts.CLAIM, *args)
        items = reply if isinstance(reply, list) else []
        parts = [_text(x) for x in items]
        if parts[:1] == ["ok"] and len(parts) == 4:
            why = _refused(items, blocked, want)
            if why:
                raise FleetError(f"fleet {self.config.shown}: its answer to a claim was refused "
                                 f"({why})")
            return parts[0], parts[1], parts[2], parts[3]
        if parts[:1] == ["held"] and len(parts) == 2:
            return "held", parts[1], "", ""
        if parts[:1] == ["quiet"] and len(parts) == 2:
            left = int(parts[1]) / 1000 if parts[1].isdigit() and len(parts[1]) < 12 else 0
            raise FleetQuiet(f"the fleet {self.config.shown} lost its data a moment ago (an "
                             f"emptied or restarted Redis); plain names wait {left:.0f} s "
                             "while every host sets its own again")
        if parts == ["full"]:
            raise FleetError(f"fleet {self.config.shown}: no free name in the fleet")
        raise FleetError(f"fleet {self.config.shown}: an odd answer to a claim")

    def settle(self, deadline: float, token: str, keep: str, drop: list[str]) -> None:
        """After a claim that reserved a name: keep the folded name `keep` ("" for none) for
        `token`, give back each of `drop` that the token holds (see scripts.SETTLE)."""
        self._run(deadline, scripts.SETTLE_SHA, scripts.SETTLE, self.config.prefix, self.node,
                  token, keep, *drop)

    def renew(self, deadline: float, live: list[tuple[str, str, str, str]],
              gone: list[str]) -> tuple[list[str], list[str], int]:
        """Renew (or set again) each live (token, folded name, row, "1" when its lease still
        lives else "0"), compare-and-delete the names of `gone` tokens; return the verdict
        per live holder, the unknown tokens and the server's clock (ms)."""
        args: list[object] = [self.config.prefix, self.node, self.config.lease_ms, self.host,
                              self.known_epoch(), len(live)]
        for entry in live:
            args += entry
        args += gone
        reply = self._run(deadline, scripts.RENEW_SHA, scripts.RENEW, *args)
        if not (isinstance(reply, list) and len(reply) == 4
                and all(isinstance(part, list) for part in reply[:2])
                and len(reply[0]) == len(live) and isinstance(reply[2], int)):
            raise FleetError(f"fleet {self.config.shown}: an odd answer to a renewal")
        verdicts, unknown, now, epoch = reply
        self.saw_epoch(_text(epoch))
        return [_text(v) for v in verdicts], [_text(t) for t in unknown], now

    # --- the epoch this host last saw (scripts.EPOCH) -----------------------------------------
    #
    # Kept in the state dir (it outlives a reboot, as the fleet's data may not): a host that
    # knew an epoch and finds none or another knows the fleet's data was lost, and no plain name
    # is handed out for a lease; a host new to the fleet (no file) does not hold that up.

    def _epoch_file(self) -> str:
        from codename_shell import lean_os as os

        return os.path.join(self.state_dir, EPOCH_FILE) if self.state_dir else ""

    def known_epoch(self) -> str:
        from codename_shell import fileio

        path = self._epoch_file()
        if not path:
            return ""
        try:
            prefix, _, epoch = fileio.read_regular(path, 256, nofollow=True).decode(
                "utf-8", "replace").strip().partition("\t")
        except OSError:
            return ""
        return epoch if prefix == self.config.prefix and epoch.isdigit() else ""

    def saw_epoch(self, epoch: str) -> None:
        from codename_shell import fileio

        path = self._epoch_file()
        if not path or not epoch.isdigit() or len(epoch) > 20 or epoch == self.known_epoch():
            return
        try:
            fileio.write_atomic(path, f"{self.config.prefix}\t{epoch}\n".encode())
        except OSError:
            pass  # remembered next time: a quiet period not started is a lease's window

    def quiet(self, deadline: float) -> None:
        """Start a quiet period fleet-wide (scripts.QUIET): keys may have expired early."""
        self._run(deadline, scripts.QUIET_SHA, scripts.QUIET, self.config.prefix,
                  self.config.lease_ms)

    def reap_host(self, deadline: float, host: str) -> int:
        """Forget every other node named `host`, with all it held (scripts.REAP); how many
        names went back."""
        reply = self._run(deadline, scripts.REAP_SHA, scripts.REAP, self.config.prefix,
                          self.node, host)
        if not isinstance(reply, int):
            raise FleetError(f"fleet {self.config.shown}: an odd answer to a reaping")
        return reply

    def listing(self, deadline: float) -> tuple[int, list[NodeRows], int]:
        """The server's time (ms), every node with its live rows, and how many entries were
        skipped as unreadable. Every value is checked and held within its range: any member
        of the fleet (or anyone with the password) can write anything there."""
        reply = self._run(deadline, scripts.LIST_SHA, scripts.LIST, self.config.prefix)
        if not isinstance(reply, list) or not reply or not isinstance(reply[0], int) \
                or reply[0] < 0:
            raise FleetError(f"fleet {self.config.shown}: an odd answer to a listing")
        now = reply[0]
        nodes = []
        skipped = 0
        for entry in reply[1:]:
            node = _node_rows(entry, now)
            if node is None:
                skipped += 1
            else:
                nodes.append(node)
        return now, nodes, skipped

    def server(self, deadline: float) -> tuple[str, float]:
        """(redis_version, round-trip seconds of one PING)."""
        conn = self.connection(deadline)
        sent = time.monotonic()
        conn.call(deadline, ("PING",))
        rtt = time.monotonic() - sent
        info = _text(conn.call(deadline, ("INFO", "server"))[0])
        version = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                        if line.startswith(("redis_version:", "valkey_version:"))), "?")
        return version, rtt


class NodeRows:
    """One node as the fleet lists it: host, lease, keeper beat, and (row, ttl ms) pairs."""

    __slots__ = ("beat", "host", "lease_ms", "node", "rows")

    def __init__(self, node: str, host: str, lease_ms: int, beat: int,
                 rows: list[tuple[str, int]]) -> None:
        self.node = node
        self.host = host
        self.lease_ms = lease_ms
        self.beat = beat
        self.rows = rows


def _node_rows(entry: object, now: int) -> NodeRows | None:
    """One node of a listing, its values held within range; None when it cannot be read."""
    if not (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[3], list)):
        return None
    node, info, beat, rows = entry
    if not (isinstance(node, bytes) and isinstance(info, bytes) and isinstance(beat, int)):
        return None
    host, _, lease = _text(info).rpartition("\t")
    lease_ms = int(lease) if lease.isdigit() and len(lease) < 12 else 0
    lease_ms = min(max(lease_ms, 1000), 86400 * 1000)  # config's range of leases
    pairs = []
    for value, ttl in zip(rows[0::2], rows[1::2], strict=False):
        if isinstance(value, bytes) and isinstance(ttl, int):
            pairs.append((_text(value), min(max(ttl, 0), lease_ms)))
    # A keeper's beat is the server's time when it renewed: never later than now.
    return NodeRows(_text(node)[:64], host[:255], lease_ms, min(max(beat, 0), now), pairs)


def _refused(reply: list[object], blocked: list[str],
             want: tuple[str, str, str] | None) -> str:
    """Why a claim's answer {"ok", name, full, folded name held before} cannot be taken, or "".

    What Redis answers is data: anyone who can write there (a member of the fleet, anyone with
    the password, a proxy in between) chooses it. So the name is checked as a name from config
    is, and a name held on this host (`blocked`, folded) is refused even when Redis grants it:
    two holders here must never share one. The reason never quotes the answer.
    """
    texts = [_strict(x) for x in reply[1:]]
    if None in texts:
        return "not UTF-8 text"
    name, full, before = (t or "" for t in texts)
    why = node.unusable(name, full)
    if why:
        return why
    if "@" in name:
        return "a host-qualified name"
    folded = node.fold(name)
    if folded in blocked:
        return "a name held on this host"
    if want is not None and folded != want[1]:
        return "not the name asked for"
    if not before.isprintable() or len(before) > 1024:
        return "an odd name held before"
    return ""


def _strict(value: object) -> str | None:
    """A string the server sent, when it is UTF-8 text; else None."""
    if not isinstance(value, bytes):
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)

