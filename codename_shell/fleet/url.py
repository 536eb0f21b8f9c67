"""The fleet's url, read as data: `redis://`, `rediss://` (TLS) or `unix://`, with a password
and a database, into a `Target`; whatever it holds ends in a Target or one ConfigError line
that names what is wrong and never quotes the url (it may hold a password).

`Target.shown` is the url as it may be printed: the password replaced by `***`.
"""

from __future__ import annotations

from codename_shell.errors import ConfigError, printable

DEFAULT_PORT = 6379


class Target:
    """Where the fleet's Redis is, parsed from a URL; `shown` is safe to print."""

    __slots__ = ("ca", "db", "host", "password", "path", "port", "scheme", "username", "verify")

    def __init__(self, scheme: str, *, host: str = "", port: int = DEFAULT_PORT, path: str = "",
                 db: int = 0, username: str = "", password: str = "", ca: str = "",
                 verify: bool = True) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.db = db
        self.username = username
        self.password = password
        self.ca = ca
        self.verify = verify

    @property
    def shown(self) -> str:
        """The URL as it may be printed: any password is `***`, and what %-decoding made of
        the user name or socket path (`%1b` is ESC) escaped."""
        auth = ""
        if self.username or self.password:
            auth = f"{self.username}:{'***' if self.password else ''}@"
        if self.scheme == "unix":
            return printable(f"unix://{auth}{self.path}" + (f"?db={self.db}" if self.db else ""))
        host = f"[{self.host}]" if ":" in self.host else self.host
        return printable(f"{self.scheme}://{auth}{host}:{self.port}/{self.db}")


def parse_url(url: str, password: str = "") -> Target:
    """`redis://[[user]:password@]host[:port][/db]`, `rediss://…`, `unix://[…@]/path[?db=N]`.

    Hand-written (no urllib, which imports re and ipaddress at every shell start). `password`
    (from a password_file) is used when the URL carries none. Errors never quote the URL:
    it may hold the password.

    Whatever the URL holds ends in a Target or a ConfigError (one line, names and all
    host-qualified), never another exception: it comes from a file or an environment variable
    anyone may have written, and a control character, a byte that is not UTF-8 (an environment
    variable's, or a `%FF`) or a digit of another script (`²`, `٣`) would otherwise reach
    `int()`, a socket call or the wire as a ValueError.
    """
    if not url.isprintable():  # C0, C1, DEL, and the surrogates of bytes that are not UTF-8
        raise ConfigError("fleet url holds a control character or bytes that are not UTF-8")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("fleet url must start with redis://, rediss:// or unix://")
    rest, _, query = rest.partition("?")
    params = _query(query)
    auth, at, location = rest.rpartition("@")
    if not at:
        auth, location = "", rest
    user, colon, secret = auth.partition(":")
    if not colon:  # `redis://secret@host`, as redis-py reads it: a password alone
        user, secret = "", user
    user = _unquote(user, "user name")
    secret = _unquote(secret, "password") or params.get("password", "") or password
    verify = params.get("ssl_cert_reqs", "required").lower() not in ("none", "optional")
    target = Target(scheme, username=user, password=secret, ca=params.get("ssl_ca_certs", ""),
                    verify=verify)
    if "\0" in target.ca:
        raise ConfigError("fleet url: ssl_ca_certs holds a NUL byte")
    if scheme == "unix":
        target.path = _unquote(location, "socket path")
        if "\0" in target.path:
            raise ConfigError("fleet url: the socket path holds a NUL byte")
        target.db = _number(params.get("db", "0"), "database")
        if not target.path.startswith("/"):
            raise ConfigError("fleet url: unix:// needs an absolute path (unix:///run/redis.sock)")
        return target
    hostport, _, db = location.partition("/")
    target.db = _number(db or params.get("db", "0"), "database")
    if hostport.startswith("["):  # [::1]:6379
        host, _, port = hostport[1:].partition("]")
        port = port[1:] if port.startswith(":") else port
    else:
        host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    if not host:
        raise ConfigError("fleet url names no host")
    target.host = host
    target.port = _number(port, "port") if port else DEFAULT_PORT
    if not 0 < target.port < 65536:
        raise ConfigError("fleet url: the port must be 1 to 65535")
    return target


def _query(query: str) -> dict[str, str]:
    params = {}
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key:
            name = _unquote(key, "query")
            params[name] = _unquote(value, name if name in _QUERY else "query")
    return params


_QUERY = ("password", "db", "ssl_ca_certs", "ssl_cert_reqs")


def _unquote(text: str, what: str) -> str:
    """Percent-decoding (`%40` is `@`), for passwords with URL-special characters in them.
    Bytes that do not decode as UTF-8 (`%FF`) are a ConfigError naming `what`: sent as U+FFFD
    they would be another password, refused by a server that says only "wrong password"."""
    if "%" not in text:
        return text
    out = bytearray()
    raw = text.encode("utf-8")
    i = 0
    while i < len(raw):
        if raw[i] == 0x25 and _hex(raw[i + 1:i + 3]):
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"fleet url: the {what} is not UTF-8 once %-decoded") from None


def _hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)


def _number(text: str, what: str) -> int:
    # ASCII digits only: str.isdigit() is true of `²` (which int() refuses) and of `٣٧٩`
    # (which int() reads as 379), and a thousand digits are no port nor database either.
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        raise ConfigError(f"fleet url: the {what} must be a number")
    return int(text)
