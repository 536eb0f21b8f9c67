"""config.toml: reading it (through a cache), choosing the theme in force, and editing `theme`.

Parsing TOML costs about as much as starting Python, and this runs at every shell start, so
the parsed and validated result (built-in casts included) is kept with `marshal` in the state
dir, keyed by config.toml's very bytes (a small file; mtimes are too coarse to tell two quick
edits apart) and the built-in casts' size and mtime. Any edit to config.toml changes the key:
it takes effect at the next new terminal. Config is data, never code: nothing in it is evaluated.
"""

from __future__ import annotations

import marshal
import os
import time

from codename_shell import __version__, casts, fileio, paths
from codename_shell.errors import CodenameError, ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_TTL = 600
_CACHE_FORMAT = 2


class Settings:
    """Everything config.toml (and the built-in casts) decide, validated."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.path: str = data["path"]
        self.theme: str | None = data["theme"]
        self.schedule: dict[str, str] = data["schedule"]
        # marshal keeps tuples, but a cast written by an older cache format may hold lists.
        self.casts: dict[str, casts.Cast] = {k: [(m[0], m[1]) for m in v]
                                              for k, v in data["casts"].items()}
        self.titles: dict[str, str] = data["titles"]
        self.user_themes: list[str] = data["user_themes"]
        self.rosters: list[str] = data["rosters"]
        self.ttl: int = data["ttl"]
        self.prompt: bool = data["prompt"]
        self.title: bool = data["title"]
        self.warnings: list[str] = data["warnings"]

    def theme_in_force(self, today: int | None = None) -> tuple[str, str]:
        """(theme, why): CODENAME_THEME, else `theme`, else today's schedule, else office."""
        weekday = WEEKDAYS[time.localtime().tm_wday if today is None else today]
        for theme, why in (
            (os.environ.get("CODENAME_THEME"), "CODENAME_THEME"),
            (self.theme, "config"),
            (self.schedule.get(weekday), f"schedule ({weekday})"),
        ):
            if theme:
                if theme in self.casts:
                    return theme, why
                self.warnings.append(f"unknown theme {theme!r} from {why}; using "
                                     f"{casts.DEFAULT_THEME!r}")
                break
        return casts.DEFAULT_THEME, "default"

    def cast(self, theme: str) -> casts.Cast:
        return self.casts.get(theme) or self.casts[casts.DEFAULT_THEME]


def load() -> Settings:
    """The settings in force, from the cache when config.toml and the casts are unchanged."""
    path = paths.config_file()
    content = _read_bytes(path)
    key = _cache_key(path, content)
    cache = os.path.join(paths.state_dir(), "config.cache")
    try:
        with open(cache, "rb") as f:
            cached = marshal.load(f)
        if isinstance(cached, dict) and cached.get("key") == key:
            return Settings(cached["data"])
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        pass
    data = _parse(path, content)
    try:
        paths.ensure_private_dir(paths.state_dir())
        fileio.write_atomic(cache, marshal.dumps({"key": key, "data": data}))
    except (OSError, CodenameError):
        pass  # a cache we cannot write costs speed, not correctness
    return Settings(data)


def _read_bytes(path: str) -> bytes | OSError | None:
    """config.toml's bytes; None when absent; the error when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        return e


def _cache_key(path: str, content: bytes | OSError | None) -> tuple[object, ...]:
    stamps: list[object] = [_CACHE_FORMAT, __version__, path,
                            str(content) if isinstance(content, OSError) else content]
    for p in casts.builtin_files():
        try:
            st = os.stat(p)
            stamps.append((p, st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            stamps.append((p, None))
    return tuple(stamps)


def _parse(path: str, content: bytes | OSError | None) -> dict[str, Any]:
    builtin, titles, warnings = casts.load_builtin()
    data: dict[str, Any] = {
        "path": path, "theme": None, "schedule": {}, "casts": builtin, "titles": titles,
        "user_themes": [], "rosters": [], "ttl": DEFAULT_TTL, "prompt": True, "title": True,
        "warnings": warnings,
    }
    try:
        raw = _loads(path, content)
    except ConfigError as e:
        warnings.append(str(e))
        return data
    if raw is not None:
        _apply(raw, data, path)
    return data


def read_toml(path: str) -> dict[str, Any] | None:
    """config.toml as a dict, None when absent; ConfigError naming file, line and column."""
    return _loads(path, _read_bytes(path))


def _loads(path: str, content: bytes | OSError | None) -> dict[str, Any] | None:
    import tomllib

    if content is None:
        return None
    try:
        if isinstance(content, OSError):
            raise content
        text = content.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}; using the defaults") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}; using the defaults") from None


def _apply(raw: dict[str, Any], data: dict[str, Any], path: str) -> None:
    warn: list[str] = data["warnings"]

    def bad(key: str, what: str) -> None:
        warn.append(f"{path}: `{key}` {what}; ignored")

    for key, value in raw.items():
        if key == "theme":
            if isinstance(value, str):
                data["theme"] = value
            else:
                bad(key, "must be a string")
        elif key in ("prompt", "title"):
            if isinstance(value, bool):
                data[key] = value
            else:
                bad(key, "must be true or false")
        elif key == "heartbeat_ttl":
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                data["ttl"] = value
            else:
                bad(key, "must be a positive number of seconds")
        elif key == "schedule":
            _apply_schedule(value, data, bad)
        elif key == "themes":
            _apply_themes(value, data, path, bad)
        elif key == "rosters":
            _apply_rosters(value, data, bad)
        else:
            bad(key, "is not a setting codename knows")


def _apply_schedule(value: object, data: dict[str, Any], bad: Any) -> None:
    if not isinstance(value, dict):
        bad("schedule", "must be a table of weekday = \"theme\"")
        return
    for day, theme in value.items():
        if day.lower() in WEEKDAYS and isinstance(theme, str):
            data["schedule"][day.lower()] = theme
        else:
            bad(f"schedule.{day}", "must be a weekday set to a theme name")


def _apply_themes(value: object, data: dict[str, Any], path: str, bad: Any) -> None:
    if not isinstance(value, dict):
        bad("themes", "must hold tables like [themes.crew]")
        return
    for theme, table in value.items():
        if not isinstance(table, dict):
            bad(f"themes.{theme}", "must be a table with `names`")
            continue
        if not theme.isprintable() or not theme.strip():
            bad(f"themes.{theme!r}", "has an unusable theme name")
            continue
        cast, problems = casts.validate(table.get("names"), origin=path, theme=theme)
        data["warnings"].extend(problems)
        if cast:
            data["casts"][theme] = cast
            data["user_themes"].append(theme)


def _apply_rosters(value: object, data: dict[str, Any], bad: Any) -> None:
    if not isinstance(value, list):
        bad("rosters", "must be [[rosters]] tables with a `path`")
        return
    for i, entry in enumerate(value, 1):
        roster = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(roster, str) and roster.strip():
            data["rosters"].append(os.path.expanduser(roster))
        else:
            bad(f"rosters[{i}]", "needs a `path` string")


# --- editing config.toml ---------------------------------------------------------------------

def set_theme(theme: str | None) -> str:
    """Set (or with None remove) the top-level `theme`, keeping every comment and other key."""
    import tomllib

    path = paths.config_file()
    # Refuse to edit a file we cannot parse: we might destroy what we misread.
    before = read_toml(path) or {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=True)
    except FileNotFoundError:
        lines = []
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
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:  # the line edit would have changed more than `theme`: touch nothing
        raise ConfigError(f"{path}: its layout is too unusual to edit safely; "
                          f"set `theme` there by hand")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fileio.write_atomic(path, text.encode("utf-8"), keep_mode_of=path)
    return path


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
