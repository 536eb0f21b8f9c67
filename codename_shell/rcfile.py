"""install.sh's edits of rc files: one marked block added, replaced or removed.

Everything else in the file is kept byte for byte. The block remembers what adding it changed
besides itself (a file it created, a final newline it supplied), so that removing it restores
the file exactly. A symlinked rc file (a dotfiles repo) is edited where it points.

install.sh runs this file as a plain script (standard library only), before codename is
installed and after it is uninstalled alike (its file writes are the checkout's own fileio,
standard library only too):

    python rcfile.py add PATH HOOK SHELL     prints created|added|updated|unchanged|by-hand
    python rcfile.py remove PATH             prints deleted|removed|none|absent|unended
                                             (unended: see `remove`)

A file that cannot be written (an immutable ~/.bashrc, a full disk) is one line on stderr and
exit status 1, with the file as it was and no temp file left behind.

A start line whose end line is gone (deleted by hand) does not make a block: reading it as
one would take every line after it, down to the next block's end, for codename's. Such a
line is the user's until proven otherwise (see `blocks` and `_repair`).
"""

from __future__ import annotations

import errno
import os
import sys

if not __package__:  # run as a script by install.sh: the checkout's codename_shell
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from codename_shell import fileio  # after the path it may need

BEGIN, END = "# >>> codename >>>", "# <<< codename <<<"
ABOUT = "# Added by the codename install.sh; install.sh --uninstall removes this block."
CREATED = "# (install.sh created this file)"
NEWLINE = "# (install.sh ended the line above this block with a newline)"


def blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) line indexes of each marked block, end inclusive.

    A block is a start line and the first end line after it with no other start line in
    between: a start line followed by another start line before any end (its end deleted by
    hand) is no block, only a line, and is found by `unended`.
    """
    found: list[tuple[int, int]] = []
    start = None
    for i, line in enumerate(lines):
        text = line.rstrip("\r\n")
        if text == BEGIN:
            start = i  # an earlier start still open had lost its end
        elif text == END and start is not None:
            found.append((start, i))
            start = None
    return found


def unended(lines: list[str]) -> list[int]:
    """Indexes of the start lines that begin no block (their end line is gone)."""
    inside = {i for start, end in blocks(lines) for i in range(start, end + 1)}
    return [i for i, line in enumerate(lines)
            if line.rstrip("\r\n") == BEGIN and i not in inside]


def _repair(lines: list[str], hook: str) -> list[str]:
    """`lines` with an end line put back after each unended block that is provably install.sh's:
    the start line, then only our own comment lines, then exactly the hook lines install.sh
    writes now. Anything else after a lone start line may be the user's: left as it is."""
    ours = {ABOUT, CREATED, NEWLINE}
    want = hook.splitlines()
    out = list(lines)
    for at in reversed(unended(lines)):
        i = at + 1
        while i < len(out) and out[i].rstrip("\r\n") in ours:
            i += 1
        if [x.rstrip("\r\n") for x in out[i:i + len(want)]] == want:
            end = i + len(want)
            if not out[end - 1].endswith("\n"):
                out[end - 1] += "\n"  # the file's last line: the end line goes below it
            out.insert(end, END + "\n")
    return out


class Unended(Exception):
    """A start line with no end line after it, which `_repair` could not prove ours."""


def write(path: str, text: str) -> None:
    """Replace the file (where it points, when it is a symlink) with `text`: a temp file beside
    it with its owner, group and mode, fsynced, renamed over it (see fileio)."""
    real = os.path.realpath(path)
    directory, name = os.path.split(real)
    os.makedirs(directory, exist_ok=True)
    data = text.encode("utf-8", errors="surrogateescape")
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is None:
            fileio.write_atomic(real, data, 0o644)  # a new rc file, as an editor makes one
        else:
            fileio.rewrite_keeping(dir_fd, name, data, st)
    finally:
        os.close(dir_fd)


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
            return f.read()
    except FileNotFoundError:
        return None


def add(path: str, hook: str, shell: str) -> str:
    """Put `hook` in the file's codename block (making one if needed); say what was done."""
    text = read(path)
    lines = [] if text is None else text.splitlines(keepends=True)
    lines = _repair(lines, hook)
    lone = unended(lines)
    if lone:
        raise Unended(f"{_pretty(path)}: line {lone[0] + 1} opens a codename block "
                      f"(`{BEGIN}`) that has no `{END}` line; put that line back where the "
                      "block ends (or delete the block), then run install.sh again")
    found = blocks(lines)
    inside = {i for start, end in found for i in range(start, end + 1)}
    by_hand = [line for i, line in enumerate(lines) if i not in inside
               and not line.lstrip().startswith("#") and f"codename init {shell}" in line]
    if by_hand and not found:
        return "by-hand"  # the user hooked codename in themselves: leave it to them
    notes = []
    if text is None:
        notes.append(CREATED)
    if found:
        old = [line.rstrip("\r\n") for line in lines[found[0][0]:found[0][1] + 1]]
        notes = [note for note in (CREATED, NEWLINE) if note in old]
    block = [BEGIN, ABOUT, *notes, *hook.splitlines(), END]
    new_block = "".join(line + "\n" for line in block)
    if found:
        start, end = found[0]
        before = "".join(lines[:start])
        after = "".join(line for i, line in enumerate(lines) if i > end and i not in inside)
        new = before + new_block + after
    else:
        body = text or ""
        if body and not body.endswith("\n"):
            block = [BEGIN, ABOUT, NEWLINE, *hook.splitlines(), END]
            new_block = "".join(line + "\n" for line in block)
            body += "\n"
        new = body + new_block
    if new == text:
        return "unchanged"
    write(path, new)
    return "created" if text is None else "added" if not found else "updated"


def remove(path: str) -> str:
    """Take every codename block out, undoing what adding it changed; say what was done."""
    text = read(path)
    if text is None:
        return "absent"
    lines = text.splitlines(keepends=True)
    found = blocks(lines)
    if not found:
        return "unended" if unended(lines) else "none"
    notes: set[str] = set()
    for start, end in found:
        notes.update(line.rstrip("\r\n") for line in lines[start:end + 1])
    first, last = found[0][0], found[-1][1]
    inside = {i for start, end in found for i in range(start, end + 1)}
    before = "".join(lines[:first])
    middle = "".join(line for i, line in enumerate(lines) if first < i < last and i not in inside)
    after = "".join(lines[last + 1:])
    rest = middle + after
    if NEWLINE in notes and not rest and before.endswith("\n"):
        before = before[:-1]
    new = before + rest
    if CREATED in notes and not new:
        os.remove(os.path.realpath(path))
        return "deleted"
    write(path, new)
    return "removed"


def rc_files(shell: str) -> list[str]:
    """The files that start `shell` (interactive ones) where a hook line may be: install.sh's,
    and the ones people put it in by hand."""
    home = os.path.expanduser("~")
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    if shell == "bash":
        return [os.path.join(home, f) for f in (".bashrc", ".bash_profile", ".bash_login",
                                                  ".profile")]
    if shell == "zsh":
        zdot = os.environ.get("ZDOTDIR") or home
        return [os.path.join(zdot, f) for f in (".zshrc", ".zprofile", ".zshenv")]
    fish = os.path.join(config, "fish")
    return [os.path.join(fish, "conf.d", "codename.fish"), os.path.join(fish, "config.fish")]


def hook_in(path: str, shell: str) -> tuple[bool, list[str]]:
    """Whether `path` runs `codename init SHELL` (install.sh's block or a line by hand), and the
    words of the block that name the launcher it runs (`[ -x LAUNCHER ]`)."""
    try:
        text = read(path)
    except OSError:
        return False, []
    if text is None:
        return False, []
    lines = text.splitlines()
    found = blocks(lines)
    launchers = []
    for start, end in found:
        for line in lines[start:end + 1]:
            at = line.find(" -x ")
            if at >= 0 and line[at + 4:].strip():
                launchers.append(_unquote(line[at + 4:].lstrip(), fish=shell == "fish"))
    by_hand = any(f"codename init {shell}" in line and not line.lstrip().startswith("#")
                  for line in lines)
    return bool(found) or by_hand, launchers


def after_hook(path: str, shell: str) -> list[tuple[int, str]]:
    """The lines of `path` that run after its hook (install.sh's block, or the last line that
    runs `codename init SHELL` by hand), numbered from 1, comments left out: where a line
    that takes the hook away again would be."""
    try:
        text = read(path)
    except OSError:
        return []
    if text is None:
        return []
    lines = text.splitlines()
    last = max([end for _, end in blocks(lines)]
               + [i for i, line in enumerate(lines) if f"codename init {shell}" in line
                  and not line.lstrip().startswith("#")], default=None)
    if last is None:
        return []
    return [(i + 1, line) for i, line in enumerate(lines) if i > last
            and line.strip() and not line.lstrip().startswith("#")]


def _unquote(words: str, *, fish: bool) -> str:
    """The first word of `words` as install.sh quoted it: 'text', with '\\'' for a quote
    inside (POSIX), or \\' and \\\\ (fish)."""
    if not words.startswith("'"):
        return words.split()[0]
    out, i = [], 1
    while i < len(words):
        ch = words[i]
        if words.startswith("'\\''", i):
            out.append("'")
            i += 4
        elif fish and ch == "\\" and i + 1 < len(words) and words[i + 1] in "\\'":
            out.append(words[i + 1])
            i += 2
        elif ch == "'":
            break
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _pretty(path: str) -> str:
    """`~/x` for `/home/me/x`, as install.sh says it."""
    home = os.environ.get("HOME", "").rstrip("/")
    return "~" + path[len(home):] if home and path.startswith(home + "/") else path


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 4 and argv[0] == "add":
            print(add(argv[1], argv[2], argv[3]))
        elif len(argv) == 2 and argv[0] == "remove":
            print(remove(argv[1]))
        else:
            print("usage: rcfile.py add PATH HOOK SHELL | remove PATH", file=sys.stderr)
            return 2
    except Unended as e:
        print(f"codename: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        why = e.strerror or str(e)
        if isinstance(e, fileio.OwnerNotKept):
            why = f"{e}; it was left as it is"
        elif e.errno == errno.EPERM:
            why += " (is it immutable? `lsattr` shows an `i`)"
        print(f"codename: cannot edit {_pretty(argv[1])}: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
