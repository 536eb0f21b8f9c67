"""The casts names are drawn from: built-in ones (TOML files in casts/) and the user's own.

Every cast, built-in or not, goes through `validate`, so a name that could break a prompt,
a row or a terminal (control characters, newlines, tabs, blanks, duplicates) is never handed out.
"""

from __future__ import annotations

from codename_shell import lean_os as os

DEFAULT_THEME = "office"
BUILTIN_DIR = os.path.join(os.path.dirname(__file__), "casts")
MAX_NAME = 64
#: An overflow name ("Michael 2", … "Michael 100000") may be this much longer than its cast name.
OVERFLOW_SUFFIX = 7

# A cast is an ordered list of (short name, full name).
Cast = list[tuple[str, str]]


def fold(name: str) -> str:
    """The form two names are compared in: `Michael`, `michael` and `MICHAEL` are one name to a
    reader of the notes file, and so are the composed and decomposed spellings of `Zoë`, and
    the lookalikes NFKC maps to plain letters (`Michael` with a fullwidth, a mathematical bold
    or a circled M): a terminal shows them as Michael, so they are Michael.

    ASCII text is already NFKC, so the common case skips importing unicodedata (0.1 ms at every
    shell start). Casefolding can undo a normal form, hence NFKC again after it.
    """
    if name.isascii():
        return name.casefold()
    import unicodedata

    # Characters that render as nothing (variation selectors, joiners, fillers) are dropped:
    # `Michael\uFE0F` reads as Michael, so it is Michael.
    visible = "".join(c for c in unicodedata.normalize("NFKC", name) if not _invisible(c))
    return unicodedata.normalize("NFKC", visible.casefold())


# Unicode's Default_Ignorable_Code_Point ranges: code points a terminal draws as nothing.
_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)


def _invisible(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _IGNORABLE)


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
        if name is not None and problem is None and fold(name) in seen:
            problem = f"duplicate name {name!r} (names that differ only in case are one name)"
        if problem:
            errors.append(f"{where}: entry {i}: {problem}; it is never handed out")
            continue
        assert name is not None
        seen.add(fold(name))
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


def name_problem(name: str | None, longest: int = MAX_NAME) -> str | None:
    """Why `name` cannot be a name (or a full name), or None. The one check every name passes,
    wherever it comes from: config, `--name`, a roster, another host's row, Redis's answer.
    `longest`: an overflow name ("Michael 2") may run past MAX_NAME by its suffix."""
    if name is None:
        return "not a string (write \"Name\" or { name = \"Name\", full = \"Full Name\" })"
    if not name.strip() or not fold(name).strip():
        return "empty name"
    if not name.isprintable():
        return f"{name!r} holds control characters or line breaks"
    if name != name.strip():
        return f"{name!r} has leading or trailing blanks"
    if len(name) > longest:
        return f"name longer than {longest} characters"
    return None


def overflow_name(cast: Cast, taken: set[str]) -> tuple[str, str]:
    """When the whole cast is held: "Michael 2" … "Toby 2", then "Michael 3", … first free.

    `taken` holds folded names (see `fold`).
    """
    round_ = 2
    while True:
        for short, full in cast:
            candidate = f"{short} {round_}"
            if fold(candidate) not in taken:
                return candidate, f"{full} {round_}"
        round_ += 1
