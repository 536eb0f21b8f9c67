"""Rendering the hook scripts in shell/ with values quoted for the shell that will run them.

Every value that goes into shell code goes through `quote`: a name, a path or a theme can
hold quotes, `$(...)`, backticks or `;` and must still arrive as plain text.
"""

from __future__ import annotations

import os

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
        text = f.read()
    for key, value in values.items():
        word = quote_words(value, shell) if isinstance(value, list) else quote(value, shell)
        text = text.replace(f"__CN_{key}__", word)
    return text


def assignments(shell: str, values: dict[str, str]) -> str:
    """Code that sets and exports variables in the running shell (for `codename rename`)."""
    lines = []
    for key, value in values.items():
        if shell == "fish":
            lines.append(f"set -gx {key} {quote(value, shell)}")
        else:
            lines.append(f"export {key}={quote(value, shell)}")
    return "\n".join(lines) + "\n"
