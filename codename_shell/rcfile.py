"""install.sh's edits of rc files: one marked block added, replaced or removed.

Everything else in the file is kept byte for byte. The block remembers what adding it changed
besides itself (a file it created, a final newline it supplied), so that removing it restores
the file exactly. A symlinked rc file (a dotfiles repo) is edited where it points.

install.sh runs this file as a plain script (standard library only), before codename is
installed and after it is uninstalled alike:

    python rcfile.py add PATH HOOK SHELL     prints created|added|updated|unchanged|by-hand
    python rcfile.py remove PATH             prints deleted|removed|none|absent
"""

from __future__ import annotations

import os
import sys

BEGIN, END = "# >>> codename >>>", "# <<< codename <<<"
ABOUT = "# Added by the codename install.sh; install.sh --uninstall removes this block."
CREATED = "# (install.sh created this file)"
NEWLINE = "# (install.sh ended the line above this block with a newline)"


def blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) line indexes of each marked block, end inclusive."""
    found: list[tuple[int, int]] = []
    start = None
    for i, line in enumerate(lines):
        text = line.rstrip("\r\n")
        if text == BEGIN and start is None:
            start = i
        elif text == END and start is not None:
            found.append((start, i))
            start = None
    return found


def write(path: str, text: str) -> None:
    real = os.path.realpath(path)
    os.makedirs(os.path.dirname(real), exist_ok=True)
    try:
        mode = os.stat(real).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    tmp = f"{real}.codename-install.tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, real)


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
        return "none"
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


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "add":
        print(add(argv[1], argv[2], argv[3]))
    elif len(argv) == 2 and argv[0] == "remove":
        print(remove(argv[1]))
    else:
        print("usage: rcfile.py add PATH HOOK SHELL | remove PATH", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
