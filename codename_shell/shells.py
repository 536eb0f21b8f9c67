"""Rendering the hook scripts in shell/ with values quoted for the shell that will run them.

Every value that goes into shell code goes through `quote`: a name, a path or a theme can
hold quotes, `$(...)`, backticks or `;` and must still arrive as plain text.
"""

from __future__ import annotations

from codename_shell import lean_os as os

SHELLS = ("bash", "zsh", "fish")


def quote(value: str, shell: str) -> str:
    """`value` as one literal word for `shell` (no re or shlex: this runs at every shell start)."""
    if shell == "fish":
        # Inside fish single quotes only \\ and \' are special.
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    # POSIX single quotes: nothing is special but the quote itself, written as '\''.
    return "'" + value.replace("'", "'\\''") + "'"


def quote_words(values: list[str], shell: str) -> str:
    return " ".join(quote(v, shell) for v in values)


def script_path(shell: str) -> str:
    """The hook file: inside the installed package, or shell/ beside it in a source checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "shell"), os.path.join(os.path.dirname(here), "shell")):
        path = os.path.join(candidate, f"codename.{shell}")
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"the {shell} hook script is missing from the installation")


def render(shell: str, values: dict[str, str | list[str]]) -> str:
    """The hook script for `shell` with each __CN_KEY__ replaced by its quoted value."""
    with open(script_path(shell), encoding="utf-8") as f:
        template = f.read()
    words = {key: quote_words(value, shell) if isinstance(value, list) else quote(value, shell)
             for key, value in values.items()}
    return substitute(template, words)


def substitute(template: str, words: dict[str, str]) -> str:
    """`template` with every __CN_KEY__ (KEY in A-Z) replaced by words[KEY], in one pass.

    One pass over the template only: a value is never searched for placeholders itself. Replacing
    the keys one after another would let a value holding `__CN_PRESENCE__` pull the next value
    in, unquoted, and a full name holding `$(...)` would run at every shell start. (No `re`: this
    runs at every shell start, and str.split is faster than importing it.)
    """
    pieces = template.split(_MARK)
    out = [pieces[0]]
    for piece in pieces[1:]:
        key, end, rest = piece.partition("__")
        if end and key.isascii() and key.isalpha() and key.isupper():
            if key not in words:
                raise KeyError(f"the hook template uses {_MARK}{key}__ but no value was given")
            out.append(words[key])
            out.append(rest)
        else:  # not a placeholder (the `__CN_*__` in a comment): kept as it is
            out.append(_MARK)
            out.append(piece)
    return "".join(out)


_MARK = "__CN_"


def assignments(shell: str, values: dict[str, str]) -> str:
    """Code that sets and exports variables in the running shell (for `codename rename`)."""
    lines = []
    for key, value in values.items():
        if shell == "fish":
            lines.append(f"set -gx {key} {quote(value, shell)}")
        else:
            lines.append(f"export {key}={quote(value, shell)}")
    return "\n".join(lines) + "\n"
