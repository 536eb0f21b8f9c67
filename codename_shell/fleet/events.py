"""The fleet's history: every host's ledger rows in one capped Redis stream, for `codename log`.

`log --at 15:00` must give one answer on every host: who held each name at three, whichever
host it was on. Hosts share no files, only the Redis, and each host's ledger is the truth about
its own holders. So each host's keeper, which talks to Redis every tick anyway, appends the
rows its ledger gained since its last look to one stream (`XADD <prefix>events MAXLEN ~ N`),
verbatim, with its node id; `log` reads the stream back (XRANGE, in pages), takes every other
node's rows through the very reader of the local ledger (history.Reader, one per node), and
merges them with this host's own ledger, which it reads from disk as always.

Why a stream: it keeps arrival order, which is each node's write order (what the reader needs
to tell compaction's re-listings from claims); `MAXLEN ~` caps its memory at about EVENTS_MAX
rows however long the fleet runs (the oldest go first: the fleet's memory is the last
EVENTS_MAX events, this host's own ledger the rest); it survives its host (a host gone keeps
its history answerable); and one host publishing costs one pipelined round trip per tick that
has news. Not a key per row (unbounded) and not a ledger file on a shared disk (there is none).

The keeper's lease logic does not wait on it: publishing runs after the tick's guard, within a
short budget, and only while the fleet answers; what is not sent is sent next tick (the cursor,
in the fleet's runtime dir, moves only after Redis took the rows). The cursor follows the
ledger across compaction (a new file: the old one is read to its end first) and a cut back row
(a write undone). A row sent twice (a keeper restarted without its cursor, a reboot: a new node
id) is read once: rows are told apart by their text, which names the process and its time.

Everything read from the stream is another host's writing: a row is read by the same strict
reader as the local ledger (a name with a control character, a time that cannot be placed:
skipped with a warning), each bounded in size, and printed through `report.printable`.
"""

from __future__ import annotations

import os
import stat
import time

from codename_shell import fileio

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from codename_shell.config import Settings
    from codename_shell.fleet.store import Store
    from codename_shell.history import Row

STREAM = "events"  # the key after the fleet's prefix: `codename:events`
EVENTS_MAX = 20_000  # rows the stream keeps (about: `MAXLEN ~` trims whole nodes of it)
BATCH = 256  # rows one tick sends at most
CHUNK = 1 << 20  # bytes of the ledger read per look
LINE_MAX = 16 << 10  # a longer line is not a ledger row: skipped, never sent or read
PAGE = 1000  # entries a reader asks for at once (a reply stays far below the client's cap)
READ_BUDGET = 2.0  # seconds `log` waits for the fleet's history in all
CURSOR = "events.cursor"


class Publisher:
    """The keeper's half: new rows of this host's ledger.log to the stream, each sent once."""

    def __init__(self, store: Store, state_dir: str, directory: str, node: str,
                 host: str) -> None:
        self.store = store
        self.path = os.path.join(state_dir, "ledger.log")
        self.cursor_path = os.path.join(directory, CURSOR)
        self.node = node
        self.host = host
        self.key = f"{store.config.prefix}{STREAM}"
        self.fd = -1
        self.file: tuple[int, int] = (0, 0)  # (st_dev, st_ino) of the file `fd` reads
        self.offset = 0
        self.problem = ""  # why the last publish failed, or ""

    def tick(self, deadline: float, log: Callable[[str], None]) -> None:
        """`publish`, for the keeper: a failure is logged (once until it changes), never raised;
        the rows wait for the next tick."""
        from codename_shell.errors import ConfigError
        from codename_shell.fleet.client import FleetError

        try:
            self.publish(deadline)
            problem = ""
        except (FleetError, ConfigError, OSError) as e:
            self.store.close()
            problem = str(e)
        if problem != self.problem:
            self.problem = problem
            log(f"the fleet's history waits: {problem}" if problem else
                "this host's ledger rows reach the fleet's history again")

    def publish(self, deadline: float) -> int:
        """Send what the ledger gained since the last look (at most BATCH rows); how many were
        sent. Raises FleetError or ConfigError (nothing moves: sent again next time)."""
        lines, offset = self._news()
        if lines:
            self._send(deadline, lines)
        if offset != self.offset:
            self.offset = offset
            self._save()
        return len(lines)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _send(self, deadline: float, lines: list[str]) -> None:
        from codename_shell.fleet.client import FleetError
        from codename_shell.fleet.resp import ServerError

        commands = [("XADD", self.key, "MAXLEN", "~", EVENTS_MAX, "*", "node", self.node,
                     "host", self.host, "line", line) for line in lines]
        replies = self.store.connection(deadline).call(deadline, *commands)
        if any(isinstance(r, ServerError) for r in replies):
            raise FleetError(f"fleet {self.store.config.shown}: the server refused XADD")

    def _news(self) -> tuple[list[str], int]:
        """The whole rows after the cursor, and the offset past them."""
        if not self._follow():
            return [], self.offset
        data = os.pread(self.fd, CHUNK, self.offset)
        end = data.rfind(b"\n") + 1
        if end == 0:
            # No whole row: none yet (a row being written), or one longer than CHUNK (junk).
            return [], self.offset + (len(data) if len(data) == CHUNK else 0)
        lines: list[str] = []
        used = 0
        for raw in data[:end].split(b"\n")[:-1]:
            if len(lines) == BATCH:
                break
            used += len(raw) + 1
            if raw and len(raw) <= LINE_MAX:
                lines.append(raw.decode("utf-8", "replace"))
        return lines, self.offset + used

    def _follow(self) -> bool:
        """Keep `fd` on the ledger: the same file until it has been read to its end, then the
        one compaction put in its place (from its start). False when there is none."""
        try:
            now = os.stat(self.path, follow_symlinks=False)
        except OSError:
            now = None
        if self.fd >= 0:
            if os.fstat(self.fd).st_size < self.offset:
                self.offset = os.fstat(self.fd).st_size  # rows cut back (a write undone)
            if now is None or (now.st_dev, now.st_ino) == self.file or \
                    b"\n" in os.pread(self.fd, CHUNK, self.offset):
                return True
            self.close()  # compacted, and its old file sent to its last whole row
            self.offset = 0
        if now is None or not stat.S_ISREG(now.st_mode):
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return False
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return False
        self.fd, self.file = fd, (info.st_dev, info.st_ino)
        saved = self._load()
        if saved is not None and saved[:2] == self.file:
            self.offset = min(saved[2], info.st_size)
        return True

    def _load(self) -> tuple[int, int, int] | None:
        try:
            text = fileio.read_regular(self.cursor_path, 256, nofollow=True).decode()
            dev, ino, offset = (int(x) for x in text.split())
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        return dev, ino, offset

    def _save(self) -> None:
        try:
            fileio.write_atomic(self.cursor_path,
                                f"{self.file[0]} {self.file[1]} {self.offset}\n".encode())
        except OSError:
            pass  # a full disk: a restarted keeper sends these rows again, read once


def read(settings: Settings, state_dir: str) -> tuple[list[tuple[str, str]], str]:
    """Every (node, row) of the fleet's stream but this node's own, oldest first, and why it
    could not be read ("" when it could). Waits READ_BUDGET at most."""
    from codename_shell import liveness
    from codename_shell.errors import ConfigError
    from codename_shell.fleet import node
    from codename_shell.fleet.client import FleetError
    from codename_shell.fleet.resp import ServerError
    from codename_shell.fleet.store import FleetConfig, Store

    assert settings.fleet is not None
    config = FleetConfig(settings.fleet)
    me = node.node_id(state_dir)
    store = Store(config, me, liveness.host())
    deadline = time.monotonic() + READ_BUDGET
    key = f"{config.prefix}{STREAM}"
    rows: list[tuple[str, str]] = []
    start = "-"
    try:
        for _ in range(EVENTS_MAX * 2 // PAGE + 2):  # `MAXLEN ~` may keep a little more
            reply = store.connection(deadline).call(
                deadline, ("XRANGE", key, start, "+", "COUNT", PAGE))[0]
            if isinstance(reply, ServerError) or not isinstance(reply, list):
                return rows, f"fleet {config.shown}: an odd answer to XRANGE"
            for entry in reply:
                found = _entry(entry)
                if found is None:
                    continue
                ident, who, line = found
                start = f"({ident}"
                if who != me and line:
                    rows.append((who, line))
            if len(reply) < PAGE:
                break
    except (FleetError, ConfigError) as e:
        return rows, str(e)
    finally:
        store.close()
    return rows, ""


def _entry(entry: object) -> tuple[str, str, str] | None:
    """(entry id, node, row) of one stream entry, or None when it is not one of ours."""
    if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], list):
        return None
    ident = _text(entry[0])
    values = [_text(v) for v in entry[1]]
    if ident is None or len(values) % 2:
        return None
    found = {k: v for k, v in zip(values[::2], values[1::2], strict=True) if k and v}
    line, who = found.get("line", ""), found.get("node", "")
    if not who.isalnum() or len(who) > 64 or not line or len(line) > LINE_MAX or "\n" in line:
        return ident, "", ""  # read past, not believed
    return ident, who, line


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def merge(local: list[Row], rows: list[tuple[str, str]]) -> tuple[list[Row], list[str]]:
    """This host's events and the other nodes' stream rows as one history, by time; and the
    warnings of rows that could not be read. A row sent twice, or a row this host's own
    ledger has (a node id from an earlier boot of this host), counts once."""
    from codename_shell.history import STAMP, Reader

    lines: dict[str, list[str]] = {}
    seen: set[str] = set()
    for who, line in rows:
        if line not in seen:
            seen.add(line)
            lines.setdefault(who, []).append(line)
    mine = {r[STAMP:] for r in local}
    merged = list(local)
    warnings: list[str] = []
    for who, found in lines.items():
        reader = Reader()
        merged += [r for r in reader.lines(found, f"fleet node {who}") if r[STAMP:] not in mine]
        warnings += reader.warnings
    merged.sort(key=lambda r: r[STAMP])
    return merged, warnings
