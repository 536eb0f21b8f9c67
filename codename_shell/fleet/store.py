"""The fleet's state in Redis, behind a few calls: claim, renew, list. Each is one script.

`FleetConfig` is `[fleet]` from config.toml (with `CODENAME_FLEET_URL` already applied by
config.Settings). `Store` holds one connection and speaks the data model of `scripts`.
"""

from __future__ import annotations

import time

from codename_shell.errors import ConfigError
from codename_shell.fleet import scripts
from codename_shell.fleet.client import Connection, FleetError, Target, parse_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_PREFIX = "codename"
DEFAULT_LEASE = 60


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
        if not self.password_file:
            return ""
        try:
            with open(self.password_file, "rb") as f:
                secret = f.read(4096)
        except OSError as e:
            raise ConfigError(f"fleet password_file {self.password_file}: cannot read it "
                              f"({e.strerror})") from None
        return secret.decode("utf-8", "replace").strip("\r\n")


class Store:
    """One connection to the fleet's Redis and the scripts that read and change it."""

    def __init__(self, config: FleetConfig, node: str, host: str) -> None:
        self.config = config
        self.node = node
        self.host = host
        #: A claim's store (one short reply to read): no hiredis import, see client._codec.
        self.lean = False
        self._conn: Connection | None = None

    def connection(self, deadline: float) -> Connection:
        if self._conn is None or self._conn._sock is None:
            self._conn = Connection(self.config.target(), deadline, lean=self.lean)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self, deadline: float, sha: str, source: str, *args: object) -> object:
        return self.connection(deadline).script(deadline, sha, source, *args)

    def claim(self, deadline: float, token: str, tail: str, blocked: list[str],
              cast: list[tuple[str, str, str]], want: tuple[str, str, str] | None = None
              ) -> tuple[str, str, str]:
        """Pick and reserve a name in one step: ("ok", name, full), or ("held", row, "") when
        `want` (name, folded, full) is someone else's."""
        args: list[object] = [self.config.prefix, self.node, token, self.config.lease_ms,
                              self.host, tail]
        args += [want[1], want[0], want[2]] if want else ["", "", ""]
        args.append(len(blocked))
        args += blocked
        for name, folded, full in cast:
            args += (name, folded, full)
        reply = self._run(deadline, scripts.CLAIM_SHA, scripts.CLAIM, *args)
        parts = [_text(x) for x in reply] if isinstance(reply, list) else []
        if parts[:1] == ["ok"] and len(parts) == 3:
            return parts[0], parts[1], parts[2]
        if parts[:1] == ["held"] and len(parts) == 2:
            return "held", parts[1], ""
        raise FleetError(f"fleet {self.config.shown}: no free name in the fleet")

    def renew(self, deadline: float, live: list[tuple[str, str, str]],
              gone: list[str]) -> tuple[list[str], list[str]]:
        """Renew (or set again) each live (token, folded name, row), compare-and-delete the
        names of `gone` tokens; return the verdict per live holder and the unknown tokens."""
        args: list[object] = [self.config.prefix, self.node, self.config.lease_ms, self.host,
                              len(live)]
        for entry in live:
            args += entry
        args += gone
        reply = self._run(deadline, scripts.RENEW_SHA, scripts.RENEW, *args)
        if not (isinstance(reply, list) and len(reply) == 2):
            raise FleetError(f"fleet {self.config.shown}: an odd answer to a renewal")
        verdicts, unknown = reply
        return [_text(v) for v in verdicts or []], [_text(t) for t in unknown or []]

    def listing(self, deadline: float) -> tuple[int, list[NodeRows]]:
        """The server's time (ms) and every node with its live rows."""
        reply = self._run(deadline, scripts.LIST_SHA, scripts.LIST, self.config.prefix)
        if not isinstance(reply, list) or not reply:
            raise FleetError(f"fleet {self.config.shown}: an odd answer to a listing")
        now = int(reply[0])
        nodes = []
        for entry in reply[1:]:
            node, info, beat, rows = entry
            host, _, lease = _text(info).rpartition("\t")
            values = [_text(v) for v in rows[0::2]]
            ttls = [int(t) for t in rows[1::2]]
            nodes.append(NodeRows(_text(node), host, int(lease or 0), int(beat or 0),
                                  list(zip(values, ttls, strict=True))))
        return now, nodes

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


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)

