"""A small Redis client of our own: RESP2 over one socket, with deadlines, for the fleet.

Why not redis-py: importing it costs about thirteen times a bare interpreter start, and
`codename init` (a shell start) talks to the fleet once. What the fleet needs is small: connect
(TCP, TLS for `rediss://`, or a unix socket), AUTH and SELECT, and run a few Lua scripts. The
wire format is Redis's own RESP2; `hiredis` (Redis's C protocol library, the parser redis-py
itself uses) packs and parses it when it is installed (the `fleet` extra), and a tiny
pure-Python codec does when it is not, so the fleet works with a plain `pip install`.

Every wait has a deadline (a `time.monotonic()` instant): a caller that may wait 0.5 s in all
waits 0.5 s in all, whatever mix of DNS lookup, connect, TLS handshake and replies that is.
Whatever answers is read as hostile (see the wire format below): bytes that are not a Redis
reply are FleetUnreachable, like silence, never another exception.

The password is never shown: `Target.shown` is the URL with it replaced by `***`, and no
message built here holds anything else of the URL.
"""

from __future__ import annotations

import _socket
import time

from codename_shell.errors import CodenameError, printable
from codename_shell.fleet.resp import (
    MAX_DEPTH,
    MAX_REPLY,
    BadReply,
    ServerError,
    _codec,
    _depth,
)
from codename_shell.fleet.url import Target


class FleetError(CodenameError):
    """The fleet's Redis could not be used: unreachable, refusing us, or answering oddly."""


class FleetUnreachable(FleetError):
    """No connection, or no answer before the deadline."""


class FleetQuiet(FleetError):
    """The fleet's data vanished a moment ago (an emptied Redis): no plain name is handed out
    for one lease, while the keepers set again the names their holders show (scripts.EPOCH)."""


class FleetAuthError(FleetError):
    """The server refused our credentials (or wants some we did not give)."""


# --- the connection ----------------------------------------------------------------------------

#: (family, socket address) pairs to connect to, as getaddrinfo gives them.
Addresses = list[tuple[int, tuple[object, ...]]]


class Connection:
    """One connection to the fleet's Redis; every call takes a monotonic deadline.

    The handshake (AUTH, SELECT) is not a round trip of its own: it goes out in the same write
    as the first command, so connecting and running one script is one round trip after TCP's.
    `addresses`: the host's addresses when already resolved (a claim resolves before the
    allocator's lock, see Fleet.prepare); else resolved here, within the deadline.
    """

    def __init__(self, target: Target, deadline: float, *, lean: bool = False,
                 addresses: Addresses | None = None) -> None:
        self.target = target
        pack, reader = _codec(lean)
        self._pack = pack
        self._reader = reader()  # type: ignore[operator]
        self._sock: _socket.socket | None = None
        self._sock = self._connect(deadline, addresses)
        self._handshake: list[tuple[object, ...]] = []
        if target.password:
            self._handshake.append(("AUTH", target.username, target.password) if target.username
                                   else ("AUTH", target.password))
        if target.db:
            self._handshake.append(("SELECT", target.db))

    def _connect(self, deadline: float, addresses: Addresses | None) -> _socket.socket:
        t = self.target
        where = t.shown
        try:
            if t.scheme == "unix":
                sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
                sock.settimeout(_left(deadline, where))
                try:
                    sock.connect(t.path)
                except BaseException:
                    sock.close()
                    raise
                return sock
            if addresses is None:
                addresses = resolve(t.host, t.port, deadline, where)
            if t.scheme == "rediss":
                return _tls(t, deadline, addresses)
            return _tcp(addresses, deadline, where)
        except FleetError:
            raise
        except TimeoutError:
            raise FleetUnreachable(f"fleet {where}: no answer within the time allowed") from None
        except OSError as e:
            raise FleetUnreachable(f"fleet {where}: {_why(e)}") from None

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def call(self, deadline: float, *commands: tuple[object, ...]) -> list[object]:
        """Send `commands` in one write, return their replies in order (errors as ServerError)."""
        sock = self._sock
        if sock is None:
            raise FleetUnreachable(f"fleet {self.target.shown}: the connection was closed")
        sent = self._handshake + list(commands)
        where = self.target.shown
        try:
            sock.settimeout(_left(deadline, where))
            sock.sendall(b"".join(self._pack(c) for c in sent))  # type: ignore[operator]
            replies = [self._read(sock, deadline) for _ in sent]
        except FleetError:
            self.close()
            raise
        except TimeoutError:
            self.close()
            raise FleetUnreachable(f"fleet {where}: no answer within the time allowed") from None
        except OSError as e:
            self.close()
            raise FleetUnreachable(f"fleet {where}: {_why(e)}") from None
        shook, self._handshake = self._handshake, []
        handshake, replies = replies[:len(shook)], replies[len(shook):]
        for command, reply in zip(shook, handshake, strict=True):
            if isinstance(reply, ServerError):
                self.close()
                raise _refusal(str(command[0]), str(reply), self.target)
        for reply in replies:
            if isinstance(reply, ServerError) and _unauthenticated(str(reply)):
                self.close()
                raise _refusal("", str(reply), self.target)
        return replies

    def _read(self, sock: _socket.socket, deadline: float) -> object:
        """The next reply. Anything that is not one (hiredis's ProtocolError, our BadReply, a
        reply past MAX_REPLY bytes or MAX_DEPTH levels) is FleetUnreachable: whoever answers
        there is not a Redis we can use."""
        reader = self._reader
        where = self.target.shown
        buffered = 0  # bytes fed since the last reply came out
        while True:
            try:
                reply = reader.gets()
            except Exception as e:  # hiredis.ProtocolError, BadReply: whatever a reader raises
                raise _not_redis(where, e) from None
            if reply is not False:
                if isinstance(reply, list) and _depth(reply) > MAX_DEPTH:
                    raise _not_redis(where, BadReply("arrays nested too deep"))
                return reply
            if buffered > MAX_REPLY:
                raise _not_redis(where, BadReply(f"a reply over {MAX_REPLY >> 20} MiB"))
            sock.settimeout(_left(deadline, where))
            data = sock.recv(65536)
            if not data:
                raise FleetUnreachable(f"fleet {where}: the server closed the connection")
            buffered += len(data)
            reader.feed(data)

    def script(self, deadline: float, sha: str, source: str, *args: object) -> object:
        """Run a Lua script: EVALSHA, and EVAL once when the server does not know it yet
        (a restarted server has no script cache)."""
        reply = self.call(deadline, ("EVALSHA", sha, 0, *args))[0]
        if isinstance(reply, ServerError) and str(reply).startswith("NOSCRIPT"):
            reply = self.call(deadline, ("EVAL", source, 0, *args))[0]
        if isinstance(reply, ServerError):
            raise FleetError(f"fleet {self.target.shown}: the server refused the script"
                             f"{_known(str(reply))}")
        return reply


def _not_redis(where: str, e: Exception) -> FleetUnreachable:
    what = str(e) if isinstance(e, BadReply) else f"{type(e).__name__}: {e}"
    return FleetUnreachable(f"fleet {where}: what answers there is not Redis "
                            f"({printable(what)[:120]})")


def _left(deadline: float, where: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FleetUnreachable(f"fleet {where}: no answer within the time allowed")
    return left


# --- finding the host ----------------------------------------------------------------------

def literal(host: str, port: int) -> Addresses | None:
    """`host` when it is an IP address (no lookup needed), else None."""
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(family, host)
        except OSError:
            continue
        return [(family, (host, port) if family == _socket.AF_INET else (host, port, 0, 0))]
    return None


class _Lookup:
    """One getaddrinfo in a daemon thread; `result` is filled when it ends."""

    def __init__(self, host: str, port: int) -> None:
        import threading  # ~1 ms: only for a host name, never on a cached or literal path

        self.result: Addresses | OSError | None = None
        self.thread = threading.Thread(target=self._run, args=(host, port), daemon=True,
                                       name="codename-resolve")
        self.thread.start()

    def _run(self, host: str, port: int) -> None:
        # An ASCII name goes in as bytes: given a str, getaddrinfo runs it through the idna
        # codec, whose import (re, enum, stringprep) costs most of a bare interpreter's start.
        name = host.encode("ascii") if host.isascii() else host
        try:
            infos = _socket.getaddrinfo(name, port, 0, _socket.SOCK_STREAM)
            self.result = [(family, address) for family, _k, _p, _n, address in infos]
        except OSError as e:
            self.result = e
        except ValueError:  # UnicodeError: a non-ASCII name the idna codec refuses
            self.result = OSError(0, "not a host name that can be looked up")


_lookups: dict[tuple[str, int], _Lookup] = {}


def resolve(host: str, port: int, deadline: float, where: str) -> Addresses:
    """`host`'s addresses, waiting for the lookup no later than `deadline`.

    getaddrinfo has no timeout of its own (an unresponsive DNS server holds it for 10 s and
    more), so it runs in a daemon thread that is given up on at the deadline; a later call
    for the same host waits for that same lookup rather than start another (a keeper asking
    every tick never piles up threads)."""
    found = literal(host, port)
    if found is not None:
        return found
    key = (host, port)
    lookup = _lookups.get(key)
    if lookup is None:
        lookup = _lookups[key] = _Lookup(host, port)
    lookup.thread.join(max(0.0, deadline - time.monotonic()))
    result = lookup.result
    if result is None:
        raise FleetUnreachable(f"fleet {where}: the host name did not resolve within the "
                               "time allowed")
    del _lookups[key]
    if isinstance(result, OSError):
        raise FleetUnreachable(f"fleet {where}: {_why(result)}")
    if not result:
        raise FleetUnreachable(f"fleet {where}: the host name has no address")
    return result


def _tcp(addresses: Addresses, deadline: float, where: str) -> _socket.socket:
    last: OSError = OSError("no address")
    for family, address in addresses:
        sock = _socket.socket(family, _socket.SOCK_STREAM)
        try:
            sock.settimeout(_left(deadline, where))
            sock.connect(address)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            return sock
        except OSError as e:
            sock.close()
            last = e
            if isinstance(e, TimeoutError):
                raise
    raise last


def _tls(t: Target, deadline: float, addresses: Addresses) -> _socket.socket:
    import socket
    import ssl

    context = ssl.create_default_context(cafile=t.ca or None)
    if not t.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    tcp = _tcp(addresses, deadline, t.shown)
    raw = socket.socket(tcp.family, tcp.type, tcp.proto, fileno=tcp.detach())
    try:
        raw.settimeout(_left(deadline, t.shown))
        return context.wrap_socket(raw, server_hostname=t.host)
    except ssl.SSLError as e:
        raw.close()
        raise FleetUnreachable(f"fleet {t.shown}: TLS failed ({e.reason or e})") from None
    except BaseException:
        raw.close()
        raise


def _why(e: OSError) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused (is redis-server running there?)"
    if isinstance(e, _socket.gaierror):
        return f"cannot resolve the host name ({e.strerror or e})"
    return e.strerror or type(e).__name__


# --- what the server refused ------------------------------------------------------------
#
# An error reply is named, never quoted: a server (or whatever answers in its place) may echo
# what it was sent, and what it was sent is the password: a server whose AUTH is renamed away
# answers "ERR unknown command 'AUTH', with args beginning with: '<the password>'", which
# would otherwise reach every shell start, `who`, `doctor` and keeper.log. What is shown is
# which command was refused and, for the error codes below, what the code means: our words.

#: Redis's error codes (the reply's first word) worth a hint, and the hint.
_CODES = {
    "READONLY": "a read-only replica: point the url at the primary",
    "MASTERDOWN": "a replica that lost its primary",
    "LOADING": "it is still loading its data",
    "BUSY": "it is busy running another script",
    "OOM": "it is out of memory",
    "MISCONF": "it cannot save its data",
    "NOPERM": "this user may not run it (ACL)",
    "NOSCRIPT": "it keeps no scripts",
    "CROSSSLOT": "a cluster: the fleet needs a single server",
    "MOVED": "a cluster: the fleet needs a single server",
}


def _code(reply: str) -> str:
    """The error code a reply starts with (`ERR`, `WRONGPASS`, …), or "" when it has none."""
    word = reply.split(" ", 1)[0]
    return word if word.isascii() and word.isalpha() and word.isupper() else ""


def _unauthenticated(reply: str) -> bool:
    """Whether an error reply says we are not (or wrongly) authenticated. A server that wants
    a password answers a long command with "ERR Protocol error: unauthenticated multibulk
    length" before it would say NOAUTH: a claim's script is such a command."""
    return _code(reply) in ("NOAUTH", "WRONGPASS") or "unauthenticated" in reply.lower()


def _known(reply: str) -> str:
    """` (what the server's error code means)` for a code in _CODES, else ""."""
    code = _code(reply)
    if code in _CODES:
        return f" ({code}: {_CODES[code]})"
    if code == "ERR" and "unknown command" in reply.lower():
        return " (it does not offer the command: renamed, or not Redis)"
    return ""


def _refusal(command: str, reply: str, target: Target) -> FleetError:
    """The error reply to `command` of the handshake (AUTH, SELECT), or ("") a NOAUTH or
    WRONGPASS to a later command, named by what was refused."""
    where = target.shown
    code = _code(reply)
    lower = reply.lower()
    if code == "WRONGPASS" or (command == "AUTH" and "invalid password" in lower):
        return FleetAuthError(f"fleet {where}: the server refused the password; check the url "
                              "or password_file")
    if code == "NOAUTH" or (not command and _unauthenticated(reply)):
        return FleetAuthError(f"fleet {where}: the server wants a password (NOAUTH); give it "
                              "in the url or password_file")
    if command == "AUTH":
        if "without any password" in lower or "no password is set" in lower:
            hint = "it has no password set: leave the password out of the url"
        else:
            hint = "it may not offer AUTH (renamed, or a proxy in front); check the url or " \
                   "password_file"
        return FleetAuthError(f"fleet {where}: the server refused AUTH; {hint}")
    if command == "SELECT":
        return FleetError(f"fleet {where}: the server refused SELECT of database {target.db} "
                          "(it has fewer databases, or is a cluster)")
    return FleetError(f"fleet {where}: the server refused {command or 'a command'}"
                      f"{_known(reply)}")
