"""Messages between sessions: `codename tell Pam TEXT` leaves TEXT for Pam's holder, and Pam's
terminal shows it once, above its next prompt, as `[from Dwight] TEXT`.

A prompt starts no process, so the message must wait where a prompt can look at it with
builtins alone, cheaply, at every draw: in files beside the holder's presence file, in the
private runtime dir (a nested shell shows its holder's, as it shows its holder's name):

    <presence>.inbox   `#<last seq>`, then one line per message: `<seq>\\t<sender>\\t<text>`,
                       written whole and renamed into place (a prompt never reads half of it);
    <presence>.shown   the last seq a prompt showed: written by the hook (a redirection), read
                       here to drop what was shown and to count what still waits;
    <presence>.looked  its mtime: when a prompt last read .inbox. A prompt reads .inbox only
                       when .inbox is not older than that, and looks at it only when the
                       presence file changed: a writer touches that after the inbox (no stat
                       a draw while none waits).

Every writer (`tell`, the fleet's keeper bringing a message from another host) holds the
allocator's lock while it reads, decides and writes: two tells at once never lose one
another's message, and a release, which removes these files with the presence file under that
lock, never leaves an inbox behind for a process that reuses the pid. At most MOST wait for a
holder; a further one is refused with one line, so its sender knows it was not left (dropping
the oldest would lose a message nobody was told about).

Whoever sends it, a message is shown as inert text: newlines and tabs become blanks, every
other character a terminal could act on (ESC, BEL, C1 controls, U+2028, bidi overrides) is
written as a visible escape (`\\x1b`), and the hooks print it through `%s`, never as a format.
"""

from __future__ import annotations

from codename_shell import fileio
from codename_shell import lean_os as os
from codename_shell.errors import CodenameError, printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from codename_shell.holders import Holder

#: How many messages may wait for one holder; one more is refused.
MOST = 20
#: Characters of a message (after cleaning): a message is a line, not a file.
TEXT_MAX = 1000
INBOX_MAX = 256 << 10  # bytes of an .inbox read at most: MOST lines of TEXT_MAX, escaped
SUFFIXES = (".inbox", ".shown", ".looked")  # the files beside a presence file (see presence.py)
_FOLD = {ord(c): " " for c in "\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def clean(text: str) -> str:
    """`text` as one line of inert text: line and tab characters become blanks, any other
    character that is not printable becomes a visible escape (errors.printable)."""
    return printable(text.translate(_FOLD).strip())


def message(text: str) -> str:
    """The text of a message as it is left: cleaned, and refused (one line) when empty or
    longer than TEXT_MAX."""
    shown = clean(text)
    if not shown:
        raise CodenameError("nothing to tell: give the message after the name")
    if len(shown) > TEXT_MAX:
        raise CodenameError(f"a message is one line of at most {TEXT_MAX} characters; this "
                            f"one has {len(shown)}")
    return shown


class Inbox:
    """The files of one holder's messages, beside its presence file `presence`."""

    def __init__(self, presence: str) -> None:
        self.presence = presence
        self.path = presence + ".inbox"
        self.shown_path = presence + ".shown"
        self.looked_path = presence + ".looked"

    def read(self) -> tuple[int, list[tuple[int, str, str]]]:
        """(the last seq ever given, the messages no prompt has shown yet), oldest first."""
        last = 0
        waiting = []
        shown = self.shown()
        try:
            text = fileio.read_regular(self.path, INBOX_MAX, nofollow=True).decode(
                "utf-8", "replace")
        except FileNotFoundError:
            return shown, []
        except OSError:
            text = ""  # junk in its place: rewritten whole by the next message
        for line in text.split("\n"):
            if line.startswith("#") and line[1:].isdigit():
                last = max(last, int(line[1:]))
                continue
            seq, tab, rest = line.partition("\t")
            sender, tab2, body = rest.partition("\t")
            if not (tab and tab2 and seq.isascii() and seq.isdigit() and len(seq) <= 12):
                continue
            last = max(last, int(seq))
            if int(seq) > shown:
                waiting.append((int(seq), sender, body))
        return max(last, shown), waiting

    def shown(self) -> int:
        """The last seq a prompt showed; 0 when none, or unreadable (a prompt writing it at
        this very moment: then everything counts as waiting, never less)."""
        try:
            text = fileio.read_regular(self.shown_path, 64, nofollow=True)
        except OSError:
            return 0
        digits = text.strip()
        return int(digits) if digits.isdigit() and len(digits) <= 12 else 0

    def waiting(self) -> int:
        """How many messages wait (one stat when there is no inbox, the common case)."""
        return len(self.read()[1])

    def add(self, messages: list[tuple[str, str]]) -> int:
        """Leave each (sender, text) as it fits, oldest first: at most MOST wait in all. How
        many were left. The caller holds the allocator's lock and has checked the holder."""
        last, waiting = self.read()
        room = max(0, MOST - len(waiting))
        taken = messages[:room]
        if not taken:
            return 0
        for sender, text in taken:
            last += 1
            waiting.append((last, clean(sender), clean(text)))
        lines = [f"#{last}\n", *(f"{seq}\t{sender}\t{text}\n" for seq, sender, text in waiting)]
        # The hook writes .shown and marks .looked only where they are: made here, 0600, the
        # mark before the inbox, so that the inbox is never older than a new mark.
        for scratch in (self.shown_path, self.looked_path):
            make_private_file(scratch)
        fileio.write_atomic(self.path, "".join(lines).encode("utf-8"))
        # The rename keeps the temp file's mtime, which may be older than a prompt's mark
        # made meanwhile: the inbox is stamped now, so that prompt reads it again. Then the
        # presence file: a prompt looks beyond it only when it changed (the hooks' fast path
        # makes no stat for an inbox), and its content stays as it is.
        for path in (self.path, self.presence):
            try:
                os.utime(path, follow_symlinks=False)
            except OSError:
                pass
        return len(taken)


def make_private_file(path: str) -> None:
    """Create `path` empty, 0600, unless it is there; never through a symlink."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                     | os.O_CLOEXEC, 0o600)
    except OSError:
        return  # a prompt then reads the inbox at every draw while it is there: slower only
    os.close(fd)


def holds(presence: str, holder: Holder) -> bool:
    """Whether the presence file `presence` still names `holder` (not released, not renamed
    meanwhile): a message is left only for a holder that still shows the name it was sent
    to."""
    try:
        text = fileio.read_regular(presence, 1 << 16, nofollow=True)
    except OSError:
        return False
    row = text.decode("utf-8", "replace").split("\n", 1)[0]
    return row.split("\t", 1)[0] == holder.name


def leave(state_dir: str, presence: str, holder: Holder, sender: str, text: str) -> int:
    """Leave `text` from `sender` for `holder`, whose presence file is `presence`, under the
    allocator's lock; how many messages now wait. CodenameError when the holder no longer
    holds its name or MOST already wait."""
    from codename_shell.lock import Lock

    with Lock(state_dir):
        if not holds(presence, holder):
            raise CodenameError(f"{printable(holder.name)} let go of its name a moment ago; "
                                "nothing was left")
        box = Inbox(presence)
        try:
            left = box.add([(sender, text)])
        except OSError as e:
            raise CodenameError(f"{printable(box.path)}: {printable(e.strerror)}; nothing was "
                                "left") from None
        if not left:
            raise CodenameError(f"{printable(holder.name)} has {MOST} messages waiting, the most "
                                "kept; yours was not left (try again once its prompt has "
                                "shown them)")
        return box.waiting()
