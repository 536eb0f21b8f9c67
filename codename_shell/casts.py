"""The casts names are drawn from: built-in ones (TOML files in casts/) and the user's own.

Every cast, built-in or not, goes through `validate`, so a name that could break a prompt,
a row or a terminal (control characters, newlines, tabs, blanks, duplicates) is never handed out.
"""

from __future__ import annotations

import os

DEFAULT_THEME = "office"
BUILTIN_DIR = os.path.join(os.path.dirname(__file__), "casts")
MAX_NAME = 64

# A cast is an ordered list of (short name, full name).
Cast = list[tuple[str, str]]


def builtin_files() -> list[str]:
    return sorted(
        os.path.join(BUILTIN_DIR, f) for f in os.listdir(BUILTIN_DIR) if f.endswith(".toml")
    )


def load_builtin() -> tuple[dict[str, Cast], dict[str, str], list[str]]:
    """Built-in casts by theme name, their titles, and any problem found in them."""
    import tomllib

    casts: dict[str, Cast] = {}
    titles: dict[str, str] = {}
    errors: list[str] = []
    for path in builtin_files():
        theme = os.path.basename(path)[: -len(".toml")]
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            errors.append(f"{path}: {e}")
            continue
        cast, problems = validate(data.get("names"), origin=path, theme=theme)
        errors.extend(problems)
        if cast:
            casts[theme] = cast
            titles[theme] = str(data.get("title", theme))
    return casts, titles, errors


def validate(raw: object, *, origin: str, theme: str) -> tuple[Cast, list[str]]:
    """The usable members of a cast as written, and one message per entry refused."""
    where = f"{origin}: theme {theme!r}"
    if not isinstance(raw, list):
        return [], [f"{where}: `names` must be a list of names"]
    cast: Cast = []
    errors: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw, 1):
        name, full = _entry(entry)
        problem = name_problem(name) or (name_problem(full) if full is not None else None)
        if name is not None and problem is None and name in seen:
            problem = f"duplicate name {name!r}"
        if problem:
            errors.append(f"{where}: entry {i}: {problem}; it is never handed out")
            continue
        assert name is not None
        seen.add(name)
        cast.append((name, full or name))
    if not cast:
        errors.append(f"{where}: the cast is empty; the theme cannot be used")
    return cast, errors


def _entry(entry: object) -> tuple[str | None, str | None]:
    if isinstance(entry, str):
        return entry, None
    if isinstance(entry, dict):
        name, full = entry.get("name"), entry.get("full")
        return (name if isinstance(name, str) else None,
                full if isinstance(full, str) or full is None else "\0")
    return None, None


def name_problem(name: str | None) -> str | None:
    if name is None:
        return "not a string (write \"Name\" or { name = \"Name\", full = \"Full Name\" })"
    if not name.strip():
        return "empty name"
    if not name.isprintable():
        return f"{name!r} holds control characters or line breaks"
    if name != name.strip():
        return f"{name!r} has leading or trailing blanks"
    if len(name) > MAX_NAME:
        return f"name longer than {MAX_NAME} characters"
    return None


def overflow_name(cast: Cast, taken: set[str]) -> tuple[str, str]:
    """When the whole cast is held: "Michael 2" … "Toby 2", then "Michael 3", … first free."""
    round_ = 2
    while True:
        for short, full in cast:
            candidate = f"{short} {round_}"
            if candidate not in taken:
                return candidate, f"{full} {round_}"
        round_ += 1
