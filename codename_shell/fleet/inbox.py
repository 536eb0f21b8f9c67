"""Messages for a holder on another host of the fleet: `codename tell` leaves them in Redis,
and the holder's own host's keeper carries them into its local inbox (codename_shell/inbox.py),
where its prompt shows them like any other.

The keys, under the fleet's prefix P (see scripts.py for the rest):

    P inbox:<token>   a list of "<sender>\\t<text>", oldest first, kept a day from the last
                      message: what waits for that holder on its way to its host
    P room:<token>    how many more its local inbox takes (its keeper's latest word): a tell
                      is refused once as many wait in the list, so that a holder has at most
                      inbox.MOST messages waiting here and there together, as far as its
                      keeper knows (a local tell since its last word may add to that: nothing
                      is dropped for it, the keeper carries only what fits)

A tell is one script: it checks that the token still holds the name in the fleet (a message
goes to the holder the sender saw, never to whoever holds the name next), and the room.
The keeper's side is one script a tick: it takes what fits from each of its holders' lists
and notes their room. What it took but could not write here yet (the allocator's lock busy)
it keeps and writes at its next tick. Everything read from Redis is data anyone with the
password may have written: the keeper cleans it like any other message (inbox.clean).

This module is imported only by `codename tell` and by the keeper: never at a shell start.
"""

from __future__ import annotations

import hashlib
import time

from codename_shell.errors import CodenameError, ConfigError, printable
from codename_shell.fleet.client import FleetError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.fleet import Fleet
    from codename_shell.fleet.keeper import Keeper
    from codename_shell.holders import Holder

KEEP_MS = 86_400_000  # how long messages wait in Redis for a keeper to carry them (a day)
TELL_BUDGET = 1.0  # seconds a tell waits for the fleet
VALUE_MAX = 8192  # bytes of a message value read from Redis; longer is cut

# ARGV: prefix, token, folded name, message, most waiting, ms to keep. Returns {"ok", how many
# wait in the list now}, {"full", how many wait here and at the holder} or {"gone"} (the
# token no longer holds the name).
TELL = r"""
local P, token, folded, message = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local most, keep = tonumber(ARGV[5]), tonumber(ARGV[6])
local value = redis.call('GET', P .. 'name:' .. folded)
if not value or string.sub(value, 1, #token + 1) ~= token .. '\t' then return {'gone'} end
local key = P .. 'inbox:' .. token
local room = tonumber(redis.call('GET', P .. 'room:' .. token) or most) or most
if room > most or room < 0 then room = most end
local waiting = redis.call('LLEN', key)
if waiting >= room then return {'full', most - room + waiting} end
redis.call('RPUSH', key, message)
redis.call('PEXPIRE', key, keep)
return {'ok', waiting + 1}
"""

# ARGV: prefix, ms to keep, then (token, room) per holder of the keeper's host. Takes at most
# `room` messages from each holder's list and notes what room is left (written only when it
# changed: most ticks write nothing). Returns {token, {message, ...}, ...} for those with any.
TAKE = r"""
local P, keep = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 2 do
  local token, room = ARGV[i], tonumber(ARGV[i + 1]) or 0
  local key = P .. 'inbox:' .. token
  local taken = {}
  if room > 0 and redis.call('EXISTS', key) == 1 then
    taken = redis.call('LRANGE', key, 0, room - 1)
    redis.call('LTRIM', key, #taken, -1)
  end
  local left = tostring(room - #taken)
  local note = P .. 'room:' .. token
  if redis.call('GET', note) ~= left then redis.call('SET', note, left, 'PX', keep) end
  if #taken > 0 then
    out[#out + 1] = token
    out[#out + 1] = taken
  end
end
return out
"""

TELL_SHA = hashlib.sha1(TELL.encode()).hexdigest()
TAKE_SHA = hashlib.sha1(TAKE.encode()).hexdigest()


def send(fleet: Fleet, token: str, holder: Holder, sender: str, text: str) -> int:
    """Leave `text` from `sender` for `holder` (token `token`) of another host; how many of
    its messages now wait in the fleet. CodenameError (one line) when the fleet cannot be
    asked, the holder no longer holds its name there, or MOST already wait."""
    from codename_shell import inbox
    from codename_shell.fleet import node

    store = fleet.store
    deadline = time.monotonic() + TELL_BUDGET
    value = f"{inbox.clean(sender)}\t{inbox.clean(text)}"
    try:
        reply = store.connection(deadline).script(
            deadline, TELL_SHA, TELL, fleet.config.prefix, token, node.fold(holder.name), value,
            inbox.MOST, KEEP_MS)
    except (FleetError, ConfigError) as e:
        raise CodenameError(f"{e}; nothing was left for {printable(holder.name)}") from None
    finally:
        store.close()
    parts = [_text(x) for x in reply] if isinstance(reply, list) else []
    if parts[:1] == ["ok"] and len(parts) == 2 and parts[1].isdigit():
        return int(parts[1])
    name = printable(holder.name)
    if parts[:1] == ["full"]:
        raise CodenameError(f"{name} has {inbox.MOST} messages waiting, the most kept; yours "
                            "was not left (try again once its prompt has shown them)")
    if parts == ["gone"]:
        raise CodenameError(f"{name} on host {printable(holder.host)} let go of its name in the "
                            "fleet a moment ago; nothing was left")
    raise CodenameError(f"fleet {fleet.config.shown}: an odd answer to a message; nothing was "
                        f"left for {name}")


class Courier:
    """The keeper's part: each tick, carry the messages other hosts left for this host's
    holders into their local inboxes."""

    def __init__(self, keeper: Keeper) -> None:
        self.keeper = keeper
        #: Messages taken from Redis but not written here yet, by token (the lock was busy).
        self.pending: dict[str, list[tuple[str, str]]] = {}
        #: Why the last try failed, or "": said once in keeper.log, not at every tick.
        self.failing = ""

    def carry(self, holders: dict[str, Holder], deadline: float) -> None:
        """Take what fits from Redis for `holders` (token -> holder) and write it here, all
        before `deadline` (time.monotonic). Best effort: what fails now is tried next tick."""
        from codename_shell import inbox

        terminals = {t: h for t, h in holders.items() if h.kind == "terminal"}
        self.pending = {t: m for t, m in self.pending.items() if t in terminals}
        self.write(terminals, deadline)
        rooms = []
        for t, h in terminals.items():
            box = inbox.Inbox(self.keeper.presence.path_for(h))
            rooms.append((t, max(0, inbox.MOST - box.waiting() - len(self.pending.get(t, [])))))
        if not rooms or time.monotonic() >= deadline:
            return
        store = self.keeper.store
        try:
            reply = store.connection(deadline).script(
                deadline, TAKE_SHA, TAKE, self.keeper.fleet.config.prefix, KEEP_MS,
                *[x for pair in rooms for x in pair])
        except (FleetError, ConfigError) as e:
            store.close()
            if str(e) != self.failing:
                self.keeper.log(f"messages from other hosts wait: {e}")
            self.failing = str(e)
            return
        self.failing = ""
        items = reply if isinstance(reply, list) else []
        for token, values in zip(items[0::2], items[1::2], strict=False):
            t = _text(token)
            if t in terminals and isinstance(values, list):
                self.pending.setdefault(t, []).extend(
                    _message(v) for v in values if isinstance(v, bytes))
        self.write(terminals, deadline)

    def write(self, terminals: dict[str, Holder], deadline: float) -> None:
        """Write the pending messages into their holders' inboxes, under the allocator's
        lock (waited for until `deadline` at most)."""
        from codename_shell import inbox
        from codename_shell.errors import LockTimeout
        from codename_shell.lock import Lock

        if not any(self.pending.values()):
            return
        try:
            with Lock(self.keeper.state_dir, timeout=max(0.05, deadline - time.monotonic())):
                for t, messages in list(self.pending.items()):
                    presence = self.keeper.presence.path_for(terminals[t])
                    if not inbox.holds(presence, terminals[t]):
                        del self.pending[t]  # released or renamed: nobody to show them to
                        continue
                    left = inbox.Inbox(presence).add(messages)
                    self.pending[t] = messages[left:]
        except LockTimeout:
            return  # the next tick
        except OSError as e:
            self.keeper.log(f"a message could not be written here ({printable(e)}); trying "
                            "again")


def _message(value: bytes) -> tuple[str, str]:
    """(sender, text) of a value from Redis: data, cleaned like any message."""
    from codename_shell import inbox

    text = value[:VALUE_MAX].decode("utf-8", "replace")
    sender, _, body = text.partition("\t")
    return inbox.clean(sender)[:200] or "?", inbox.clean(body)[:inbox.TEXT_MAX]


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
