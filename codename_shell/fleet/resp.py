"""Redis's wire format, RESP2: packing a command and reading replies, by hiredis when it is
installed (the `fleet` extra) and by a small pure-Python reader when it is not, with one
behaviour either way. Whatever a server sends is read as hostile (below).
"""

from __future__ import annotations

from codename_shell import lean_os as os
from codename_shell.errors import printable


class ServerError(Exception):
    """An error reply (`-ERR …`, `-NOSCRIPT …`); its text is the server's, never ours."""


# --- the wire format ---------------------------------------------------------------------------
#
# What a server sends is read as hostile: a proxy, an HTTP server or a broken middlebox may
# answer in its place. Whatever the bytes, reading them ends in a reply or in
# FleetUnreachable (never another exception: the keeper must get to its guard, see keeper.py),
# and costs bounded memory and stack: at most MAX_REPLY bytes buffered for one reply, and
# arrays nested at most MAX_DEPTH deep (the fleet's own replies nest 3 deep).

MAX_REPLY = 16 << 20  # bytes; a listing of 40,000 holders is about that
MAX_DEPTH = 8


def _pure_pack(args: tuple[object, ...]) -> bytes:
    """RESP2 for one command: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class BadReply(Exception):
    """Bytes that are not a RESP2 reply we accept (garbage, too large, nested too deep)."""


class PureReader:
    """RESP2 replies from a byte stream, as hiredis.Reader gives them: `gets()` returns the
    next reply, or False while it is incomplete; an error reply is a ServerError instance.
    Bytes that are not RESP2 raise BadReply."""

    def __init__(self) -> None:
        self.buf = bytearray()
        #: Bytes the buffer must hold before parsing again can finish a reply (a bulk string
        #: whose length was announced): a big reply is parsed once, not once per chunk.
        self.need = 0

    def feed(self, data: bytes) -> None:
        self.buf += data

    def gets(self) -> object:
        if len(self.buf) < self.need:
            return False
        try:
            reply, end = self._parse(0, 0)
        except _Incomplete:
            return False
        del self.buf[:end]
        self.need = 0
        return reply

    def _line(self, at: int) -> tuple[bytes, int]:
        if at < len(self.buf) and self.buf[at] not in b"+-:$*":  # said at once: not RESP2
            raise BadReply(f"reply type {printable(chr(self.buf[at]))!r}")
        end = self.buf.find(b"\r\n", at)
        if end < 0:
            raise _Incomplete
        return bytes(self.buf[at:end]), end + 2

    def _parse(self, at: int, depth: int) -> tuple[object, int]:
        line, at = self._line(at)
        kind, body = line[:1], line[1:]
        if kind == b"+":
            return body, at
        if kind == b"-":
            return ServerError(body.decode("utf-8", "replace")), at
        if kind == b":":
            return _integer(body), at
        if kind == b"$":
            size = _integer(body)
            if size < 0:
                return None, at
            if size > MAX_REPLY:
                raise BadReply(f"a string of {size} bytes")
            if len(self.buf) < at + size + 2:
                self.need = at + size + 2
                raise _Incomplete
            if self.buf[at + size:at + size + 2] != b"\r\n":
                raise BadReply("a string longer than announced")
            return bytes(self.buf[at:at + size]), at + size + 2
        if kind == b"*":
            count = _integer(body)
            if count < 0:
                return None, at
            if depth >= MAX_DEPTH:
                raise BadReply("arrays nested too deep")
            if count > MAX_REPLY // 4:  # each item takes 4 bytes at least
                raise BadReply(f"an array of {count} items")
            items = []
            for _ in range(count):
                item, at = self._parse(at, depth + 1)
                items.append(item)
            return items, at
        raise BadReply("an empty line")  # not reached: _line looked at the type byte


def _integer(body: bytes) -> int:
    text = body[1:] if body[:1] == b"-" else body
    if not (0 < len(text) <= 19 and text.isdigit()):
        raise BadReply("a number that is not one")
    return int(body)


class _Incomplete(Exception):
    pass


def _depth(reply: object) -> int:
    """How deep arrays nest in `reply` (hiredis bounds it only in the thousands, and code
    that walks a reply recursively, `str()` included, fails well before that)."""
    deepest = 0
    stack = [(reply, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list):
            if depth >= MAX_DEPTH:
                return depth + 1
            stack.extend((x, depth + 1) for x in item)
        deepest = max(deepest, depth)
    return deepest


def _codec(lean: bool) -> tuple[object, object]:
    """(pack, Reader factory): hiredis when installed, else ours; the same behaviour either way.

    `lean` (a claim at a shell start, one short reply): ours even when hiredis is installed,
    since importing hiredis costs more than parsing one reply in Python.
    """
    if not lean and os.getenv("CODENAME_FLEET_PURE_RESP") != "1":  # tests run both
        try:
            import hiredis
        except ImportError:
            pass
        else:
            return (lambda args: hiredis.pack_command(args),
                    lambda: hiredis.Reader(replyError=ServerError))
    return _pure_pack, PureReader
