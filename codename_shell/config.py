"""config.toml: reading it (through a cache) and choosing the theme in force (config_edit.py
changes its `theme` line).

Parsing TOML costs about as much as starting Python, and this runs at every shell start, so
the parsed and validated result (built-in casts included) is kept with `marshal` in the state
dir, keyed by a digest of config.toml's bytes (mtimes are too coarse to tell two quick edits
apart) and the built-in casts' size and mtime. Any edit to config.toml changes the key: it
takes effect at the next new terminal. The cache holds no secret: of the fleet url (which may
hold a password) it keeps where it stands in config.toml, and reads it from there (see
`_hide_secret`). Config is data, never code: nothing in it is evaluated.
"""

from __future__ import annotations

import marshal
import time

from codename_shell import __version__, casts, fileio, paths
from codename_shell import lean_os as os
from codename_shell.errors import CodenameError, ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_TTL = 600
CONFIG_MAX = 1 << 20  # bytes of config.toml read at most; past it, the defaults
# 3: relative roster paths are resolved beside config.toml; 4: [notes]; 5: [fleet];
# 6: unknown keys in [themes.*], their entries and [[rosters]] warn; 7: keyed by a digest,
# and no fleet password in it; 8: [prompt] colour
_CACHE_FORMAT = 8


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
        #: `[prompt] colour`: paint each name in its colour (the prompt, `who`); NO_COLOR in
        #: the environment turns it off too.
        self.colour: bool = data.get("colour", True)
        self.warnings: list[str] = data["warnings"]
        #: `[notes] path`: the shared notes file (`codename note`, `roster --write`), or None.
        self.notes: str | None = data.get("notes")
        #: `[fleet]` as config.toml has it (url, name, lease, password_file), or None.
        self.fleet_in_file: dict[str, Any] | None = data.get("fleet")
        #: The fleet in force: `[fleet]` with CODENAME_FLEET_URL's url, which wins (it keeps a
        #: password out of config.toml); None: names are distinct on this host only.
        self.fleet = self.fleet_in_file
        url = os.getenv("CODENAME_FLEET_URL")
        if url:
            self.fleet = {**(self.fleet or _FLEET_DEFAULTS), "url": url}

    def theme_in_force(self, today: int | None = None) -> tuple[str, str]:
        """(theme, why): CODENAME_THEME, else `theme`, else today's schedule, else office."""
        weekday = WEEKDAYS[time.localtime().tm_wday if today is None else today]
        for theme, why in (
            (os.getenv("CODENAME_THEME"), "CODENAME_THEME"),
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
    # Checked at every load, before the cache: the refusal is part of the cache key.
    problem = trust_problem(path)
    content = (_Refused(f"{problem}; not reading {path}, using the defaults") if problem
               else read_bytes(path))
    key = _cache_key(path, content)
    cache = os.path.join(paths.state_dir(), "config.cache")
    try:
        # Never a FIFO or a symlink: the cache is read at every shell start.
        cached = marshal.loads(fileio.read_regular(cache, CONFIG_MAX * 4, nofollow=True))
        if isinstance(cached, dict) and cached.get("key") == key:
            return Settings(_show_secret(cached["data"], content))
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError):
        pass
    data = _parse(path, content)
    kept = _hide_secret(data, content)
    try:
        if kept is not None:  # None: a secret that cannot be kept out of it: no cache
            paths.ensure_private_dir(paths.state_dir())
            fileio.write_atomic(cache, marshal.dumps({"key": key, "data": kept}))
    except (OSError, CodenameError):
        pass  # a cache we cannot write costs speed, not correctness
    return Settings(data)


def _hide_secret(data: dict[str, Any], content: bytes | OSError | None) -> dict[str, Any] | None:
    """`data` as the cache keeps it: the fleet url (which may hold the password) cut out,
    with where it stands in config.toml's bytes, to be read back from there (`_show_secret`);
    the key's digest vouches that those bytes are the same. None when the url is not in the
    bytes as written (a TOML escape inside it) and might hold a password: such a config is
    not cached."""
    fleet = data.get("fleet")
    if not isinstance(fleet, dict) or not fleet.get("url") or not isinstance(content, bytes):
        return data
    url: str = fleet["url"]
    raw = url.encode("utf-8")
    at = content.find(raw)
    if at < 0:
        # Only `user:password@`, `password=` or a %-escape of one can hold a password.
        return None if any(c in url for c in "@%") or "password" in url else data
    return {**data, "fleet": {**fleet, "url": None, "url_at": (at, at + len(raw))}}


def _show_secret(data: dict[str, Any], content: bytes | OSError | None) -> dict[str, Any]:
    """`_hide_secret` undone, from config.toml's bytes (already read for the key)."""
    fleet = data.get("fleet")
    if not isinstance(fleet, dict) or "url_at" not in fleet:
        return data
    if not isinstance(content, bytes):  # cannot be: the key holds the digest of bytes
        raise ValueError("no bytes to read the url from")
    start, end = fleet["url_at"]
    url = content[start:end].decode("utf-8")
    shown = {k: v for k, v in fleet.items() if k != "url_at"}
    return {**data, "fleet": {**shown, "url": url}}


class _Refused(PermissionError):
    """config.toml, or its directory, is not the user's alone: read as if absent."""


def trust_problem(path: str) -> str | None:
    """Why config.toml must be neither read nor edited: it or its directory is someone else's,
    or writable by others, who could then choose what codename does. Two stats."""
    return paths.trust_problem(os.path.dirname(path)) or paths.trust_problem(path)


def read_bytes(path: str) -> bytes | OSError | None:
    """config.toml's bytes; None when absent; the error when it cannot be read."""
    try:
        # A FIFO or a device here would hang every shell start: regular files only, bounded.
        return fileio.read_regular(path, CONFIG_MAX)
    except FileNotFoundError:
        return None
    except OSError as e:
        return e


def _cache_key(path: str, content: bytes | OSError | None) -> tuple[object, ...]:
    stamps: list[object] = [_CACHE_FORMAT, __version__, path,
                            str(content) if isinstance(content, OSError) else _digest(content)]
    for p in casts.builtin_files():
        try:
            st = os.stat(p)
            stamps.append((p, st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            stamps.append((p, None))
    return tuple(stamps)


def _digest(content: bytes | None) -> bytes | None:
    """A BLAKE2b digest of config.toml's bytes, for the cache's key: the bytes themselves
    would put the fleet's password in the cache.

    Why BLAKE2b from `_blake2`: it is what hashlib.blake2b is, without hashlib's import of
    OpenSSL (measured: `import hashlib` 2.2 ms, `import _blake2` 0.12 ms, `import zlib`
    0.28 ms, at every shell start). A cryptographic digest, so no edit can leave the key as
    it was; zlib.crc32 with size, mtime_ns and inode would be as cheap, but a same-size edit
    within one mtime tick (a coarse filesystem) would then rest on 32 bits of CRC."""
    if content is None:
        return None
    try:
        import _blake2
    except ImportError:  # a Python built without it
        import hashlib

        return hashlib.sha256(content).digest()
    return _blake2.blake2b(content).digest()


def _parse(path: str, content: bytes | OSError | None) -> dict[str, Any]:
    builtin, titles, warnings = casts.load_builtin()
    data: dict[str, Any] = {
        "path": path, "theme": None, "schedule": {}, "casts": builtin, "titles": titles,
        "user_themes": [], "rosters": [], "ttl": DEFAULT_TTL, "prompt": True, "title": True,
        "colour": True, "warnings": warnings,
    }
    try:
        raw = loads(path, content)
    except ConfigError as e:
        warnings.append(str(e))
        return data
    if raw is not None:
        _apply(raw, data, path)
    return data


def read_toml(path: str) -> dict[str, Any] | None:
    """config.toml as a dict, None when absent; ConfigError naming file, line and column."""
    return loads(path, read_bytes(path))


def loads(path: str, content: bytes | OSError | None) -> dict[str, Any] | None:
    import tomllib

    if content is None:
        return None
    if isinstance(content, _Refused):
        raise ConfigError(str(content))
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
    except RecursionError:  # tomllib recurses once per level of nested inline tables
        raise ConfigError(f"{path}: nested too deeply to read; using the defaults") from None


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
        elif key == "prompt" and isinstance(value, dict):
            _apply_prompt(value, data, bad)
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
        elif key == "notes":
            _apply_notes(value, data, bad)
        elif key == "fleet":
            _apply_fleet(value, data, bad)
        else:
            bad(key, _unknown_key(_TOP_LEVEL + _TABLES))


#: The keys of the [prompt] table, and what each must be.
PROMPT_KEYS = {"colour": "true or false"}


def _apply_prompt(value: dict[str, Any], data: dict[str, Any], bad: Any) -> None:
    """`[prompt]`, the table form of `prompt` (`prompt = false` is the other: TOML has one
    `prompt` or the other). Its keys: PROMPT_KEYS."""
    for key, entry in value.items():
        if key == "colour" and isinstance(entry, bool):
            data["colour"] = entry
        elif key in PROMPT_KEYS:
            bad(f"prompt.{key}", f"must be {PROMPT_KEYS[key]}")
        else:
            bad(f"prompt.{key}", "is not a setting codename knows (in [prompt]: "
                f"{', '.join(PROMPT_KEYS)})")


def _apply_schedule(value: object, data: dict[str, Any], bad: Any) -> None:
    if not isinstance(value, dict):
        bad("schedule", "must be a table of weekday = \"theme\"")
        return
    for day, theme in value.items():
        if day.lower() in WEEKDAYS and isinstance(theme, str):
            data["schedule"][day.lower()] = theme
        else:
            bad(f"schedule.{day}", f"must be a weekday set to a theme name (the days are "
                f"{', '.join(WEEKDAYS)})")


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
        _unknown_keys(table, ("names",), f"themes.{theme}", bad)
        entries = table.get("names")
        for i, entry in enumerate(entries if isinstance(entries, list) else [], 1):
            if isinstance(entry, dict):
                _unknown_keys(entry, ("name", "full"), f"themes.{theme}.names[{i}]", bad)
        cast, problems = casts.validate(entries, origin=path, theme=theme)
        data["warnings"].extend(problems)
        if cast:
            data["casts"][theme] = cast
            data["user_themes"].append(theme)


def _unknown_keys(table: dict[str, Any], known: tuple[str, ...], where: str, bad: Any) -> None:
    """Warn of each key of `table` codename does not read: a setting put in the wrong table
    (`prompt = false` appended under [themes.crew]) would otherwise be ignored in silence."""
    for key in table:
        if key in known:
            continue
        if key in _TOP_LEVEL:
            # TOML puts every key after a [table] header into that table.
            bad(f"{where}.{key}", f"is not a setting of [{where.split('[')[0]}]; `{key}` goes "
                "at the top of the file, before the first [table]")
        else:
            bad(f"{where}.{key}", _unknown_key(known))


_TOP_LEVEL = ("theme", "prompt", "title", "heartbeat_ttl")
_TABLES = ("schedule", "themes", "rosters", "notes", "fleet")


def _unknown_key(valid: tuple[str, ...]) -> str:
    """What a key codename does not read is told: the keys it does read there."""
    return f"is not a setting codename knows (the settings here: {', '.join(valid)})"


def _apply_rosters(value: object, data: dict[str, Any], bad: Any) -> None:
    if not isinstance(value, list):
        bad("rosters", "must be [[rosters]] tables with a `path`")
        return
    for i, entry in enumerate(value, 1):
        roster = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(entry, dict):
            _unknown_keys(entry, ("path",), f"rosters[{i}]", bad)
        if isinstance(roster, str) and roster.strip():
            # A relative path means beside config.toml, not wherever the shell happens to be.
            where = os.path.dirname(data["path"])
            data["rosters"].append(os.path.join(where, os.path.expanduser(roster)))
        else:
            bad(f"rosters[{i}]", "needs a `path` string")


def _apply_notes(value: object, data: dict[str, Any], bad: Any) -> None:
    if not isinstance(value, dict):
        bad("notes", "must be a table with a `path`, like [notes] path = \"~/notes/sync.md\"")
        return
    for key, entry in value.items():
        if key != "path":
            bad(f"notes.{key}", _unknown_key(("path",)))
        elif isinstance(entry, str) and entry.strip() and entry.isprintable():
            # Relative means beside config.toml, as for rosters.
            where = os.path.dirname(data["path"])
            data["notes"] = os.path.join(where, os.path.expanduser(entry))
        else:
            bad("notes.path", "must be a file name")


_FLEET_DEFAULTS: dict[str, Any] = {"url": "", "name": "codename", "lease": 60, "password_file": ""}
FLEET_MIN_LEASE = 3  # seconds; a keeper renews every lease/3 and keeps time in hand


def _apply_fleet(value: object, data: dict[str, Any], bad: Any) -> None:
    """`[fleet]`. A value that is wrong is ignored with a warning that never quotes it (a url
    may hold a password); a fleet without a usable url still counts as a fleet, one that
    cannot be reached: names are then host-qualified, never possibly shared."""
    if not isinstance(value, dict):
        bad("fleet", "must be a table: [fleet] with url, name and lease")
        return
    fleet = dict(_FLEET_DEFAULTS)
    for key, entry in value.items():
        if key == "url" and isinstance(entry, str) and entry.strip():
            fleet["url"] = entry.strip()
        elif key == "name" and isinstance(entry, str) and entry.isprintable() \
                and entry.strip() == entry and 0 < len(entry) <= 64:
            fleet["name"] = entry
        elif key == "lease" and isinstance(entry, int) and not isinstance(entry, bool) \
                and FLEET_MIN_LEASE <= entry <= 86400:
            fleet["lease"] = entry
        elif key == "password_file" and isinstance(entry, str) and entry.strip():
            # Relative means beside config.toml, as for rosters.
            fleet["password_file"] = os.path.join(os.path.dirname(data["path"]),
                                                  os.path.expanduser(entry))
        elif key in _FLEET_DEFAULTS:
            what = {"url": "must be a redis://, rediss:// or unix:// url",
                    "name": "must be a key prefix (printable, no blanks at its ends)",
                    "lease": f"must be a whole number of seconds, {FLEET_MIN_LEASE} to 86400",
                    "password_file": "must be a file name"}[key]
            bad(f"fleet.{key}", what)
        else:
            bad(f"fleet.{key}", _unknown_key(tuple(_FLEET_DEFAULTS)))
    data["fleet"] = fleet
