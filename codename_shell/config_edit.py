"""Changing config.toml for `codename theme`: the top-level `theme` line set or removed, every
comment, other key and byte of the file kept, written whole (a temp file renamed over it, its
owner and mode kept, through a symlink to where it points).
"""

from __future__ import annotations

from codename_shell import fileio, paths
from codename_shell import lean_os as os
from codename_shell.config import loads, read_bytes, trust_problem
from codename_shell.errors import ConfigError


def set_theme(theme: str | None) -> str:
    """Set (or with None remove) the top-level `theme`, keeping every comment and other key."""
    import tomllib

    path = paths.config_file()
    problem = trust_problem(path)
    if problem:
        raise ConfigError(f"refusing to edit {path}: {problem}")
    # Refuse to edit a file we cannot parse: we might destroy what we misread.
    content = read_bytes(path)
    before = loads(path, content) or {}
    # TOML lines end at \n only (splitlines would also cut at U+2028 inside a string).
    old = content.decode("utf-8") if isinstance(content, bytes) else ""
    lines = [line + "\n" for line in old.split("\n")]
    lines[-1] = lines[-1][:-1]
    if not lines[-1]:
        lines.pop()
    lines, at, comment = _take_top_level_theme(lines)
    if theme is not None:
        import tomli_w

        # Edit in place, keeping the comment the user wrote after the old value.
        line = tomli_w.dumps({"theme": theme})
        if at is None:
            at = _top_level_insert_at(lines)
        lines.insert(at, line.rstrip("\n") + comment + "\n" if comment else line)
    elif comment:  # --clear: the key goes, the user's comment stays on a line of its own
        assert at is not None
        lines.insert(at, comment.lstrip() + "\n")
    text = "".join(lines)
    expected = {k: v for k, v in before.items() if k != "theme"}
    if theme is not None:
        expected["theme"] = theme
    try:
        ok = tomllib.loads(text) == expected
    except (tomllib.TOMLDecodeError, RecursionError):
        ok = False
    if not ok:  # the line edit would have changed more than `theme`: touch nothing
        raise ConfigError(f"{path}: its layout is too unusual to edit safely; "
                          f"set `theme` there by hand")
    _write_through(path, text.encode("utf-8"))
    return path


def _write_through(path: str, data: bytes) -> None:
    """Replace the file atomically; a symlinked config.toml (a dotfiles repo) stays a link and
    the file it points to is the one replaced, as rcfile.py does for rc files."""
    real = os.path.realpath(path)
    try:
        paths.make_private_dirs(os.path.dirname(real))
    except OSError as e:
        raise ConfigError(f"cannot create {os.path.dirname(real)}: {e.strerror}") from None
    fileio.write_atomic(real, data, keep_mode_of=real)


def _is_table_header(line: str) -> bool:
    return line.lstrip().startswith("[")


def _take_top_level_theme(lines: list[str]) -> tuple[list[str], int | None, str]:
    """`lines` without the top-level `theme` line, where it stood, and its trailing comment."""
    out: list[str] = []
    at: int | None = None
    comment = ""
    top = True
    for line in lines:
        if _is_table_header(line):
            top = False
        key = line.split("=", 1)[0].strip().strip("\"'") if "=" in line else ""
        if top and key == "theme" and not line.lstrip().startswith("#"):
            at, comment = len(out), _trailing_comment(line)
            continue
        out.append(line)
    if out and not out[-1].endswith("\n") and len(out) < len(lines):
        out[-1] += "\n"
    return out, at, comment


def _trailing_comment(line: str) -> str:
    """The `# comment` after the value of a `key = value` line, with the blanks before it."""
    import tomllib

    body = line.rstrip("\r\n")
    for i, ch in enumerate(body):
        if ch != "#":
            continue
        try:
            tomllib.loads(body[:i])
        except tomllib.TOMLDecodeError:
            continue  # this '#' is inside the value
        return body[len(body[:i].rstrip()):]
    return ""


def _top_level_insert_at(lines: list[str]) -> int:
    """After the leading comments and keys, before the first [table]."""
    for i, line in enumerate(lines):
        if _is_table_header(line):
            # Keep a comment block that introduces the table attached to it.
            while i > 0 and lines[i - 1].lstrip().startswith("#"):
                i -= 1
            return i
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return len(lines)
