"""bash completion for codename, written from the parser's spec (completions.py): plain bash,
loaded by bash-completion at the first TAB after `codename`.
"""

from __future__ import annotations

from codename_shell.completions import Command, Option, Positional, header, sq


def _case_words(words: list[str]) -> str:
    """Words as `case` patterns, each quoted so that nothing in it is a glob."""
    return " | ".join(sq(w) for w in words)


def _bash_value(command: Command, option: Option) -> str:
    """What completes the value of `option` (bash code run in _codename)."""
    if option.choices:
        return f"_codename_reply {' '.join(sq(c) for c in option.choices)}"
    return _bash_kind(option.complete)


def _bash_kind(kind: str | None) -> str:
    return {
        "theme": "_codename_themes",
        "name": "_codename_names",
        "command": "_codename_reply \"${_codename_commands[@]}\"",
        "file": "compopt -o default 2>/dev/null",
        "executable": "_codename_executables",
    }.get(kind or "", ":")


BASH_RUNTIME = r"""
# COMPREPLY gets each of the words given that starts with $cur.
_codename_reply() {
    local word
    for word in "$@"; do
        if [[ $word == "$cur"* ]]; then
            COMPREPLY+=("$word")
        fi
    done
}

# The themes config.toml has, asked of codename itself (the hook's `codename` function, or the
# one on the PATH): a process, but only when a theme name is being completed.
_codename_themes() {
    local line
    while IFS= read -r line; do
        if [[ $line == "$cur"* ]]; then
            printf -v line '%q' "$line"
            COMPREPLY+=("$line")
        fi
    done < <(codename themes --names 2>/dev/null)
}

# The names held now (`codename who --names`): a process, but only when a name is completed.
# Without regard to case, as codename compares names (`d` offers Dwight).
_codename_names() {
    local line
    while IFS= read -r line; do
        if [[ ${line,,} == "${cur,,}"* ]]; then
            printf -v line '%q' "$line"
            COMPREPLY+=("$line")
        fi
    done < <(codename who --names 2>/dev/null)
}

_codename_executables() {
    local IFS=$'\n'
    # shellcheck disable=SC2207 # one program name a line
    COMPREPLY=($(compgen -c -- "$cur"))
}

_codename() {
    local cur=${COMP_WORDS[COMP_CWORD]-} prev='' cmd='' word skip=''
    local -i i n=0
    COMPREPLY=()
    if ((COMP_CWORD > 0)); then
        prev=${COMP_WORDS[COMP_CWORD - 1]}
    fi
    # `--kind=te`: bash splits the word at `=`.
    if [[ $cur == = ]]; then
        cur=''
    elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi
    # The command is the first word that is not an option (codename's own take no value);
    # after it, the words that are neither options nor their values are its arguments.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ -n $skip ]]; then
            skip=''
        elif [[ $word == = ]]; then
            skip=1
        elif [[ -z $cmd ]]; then
            if [[ $word != -* ]]; then
                cmd=$word
            fi
        elif [[ $word != -* ]]; then
            n+=1
        elif [[ ${COMP_WORDS[i + 1]-} != = ]] && _codename_takes_value "$cmd" "$word"; then
            skip=1
        fi
    done
    if [[ $prev == -* ]] && _codename_takes_value "$cmd" "$prev"; then
        _codename_value "$cmd" "$prev"
        return 0
    fi
    if [[ $cur == -* ]]; then
        _codename_options "$cmd"
    elif [[ -z $cmd ]]; then
        _codename_reply "${_codename_commands[@]}"
    else
        _codename_argument "$cmd" "$n"
    fi
    return 0
}
"""


def write(top: Command, commands: list[Command]) -> str:
    out = [header("bash"), "# shellcheck shell=bash\n"]
    out.append(f"_codename_commands=({' '.join(sq(c.name) for c in commands)})\n")
    out.append(BASH_RUNTIME)

    # Whether option $2 of command $1 takes a value.
    lines = ["\n_codename_takes_value() {\n    case $1:$2 in\n"]
    for c in commands:
        flags = [f"{c.name}:{f}" for f in c.value_flags()]
        if flags:
            lines.append(f"        {_case_words(flags)}) return 0 ;;\n")
    lines.append("    esac\n    return 1\n}\n")
    out += lines

    lines = ["\n_codename_value() {\n    case $1:$2 in\n"]
    for c in commands:
        for o in c.options:
            if o.takes_value:
                flags = [f"{c.name}:{f}" for f in o.flags]
                lines.append(f"        {_case_words(flags)}) {_bash_value(c, o)} ;;\n")
    lines.append("    esac\n}\n")
    out += lines

    lines = ["\n_codename_options() {\n    case $1 in\n"]
    for c in [top, *commands]:
        words = " ".join(sq(f) for o in c.options for f in o.flags)
        lines.append(f"        {sq(c.name)}) _codename_reply {words} ;;\n")
    lines.append("    esac\n}\n")
    out += lines

    # Argument $2 (counting from 0) of command $1; the last one takes the rest if it may.
    lines = ["\n_codename_argument() {\n    case $1 in\n"]
    for c in commands:
        if not c.positionals:
            continue
        lines.append(f"        {sq(c.name)})\n            case $2 in\n")
        for i, p in enumerate(c.positionals):
            action = _bash_positional(p)
            pattern = "*" if p.many and i == len(c.positionals) - 1 else str(i)
            if p.many and p.complete == "executable":
                lines.append(f"                {i}) {action} ;;\n")
                lines.append("                *) compopt -o default 2>/dev/null ;;\n")
                continue
            lines.append(f"                {pattern}) {action} ;;\n")
        lines.append("            esac\n            ;;\n")
    lines.append("    esac\n}\n")
    out += lines
    out.append("\ncomplete -F _codename codename\n")
    return "".join(out)


def _bash_positional(p: Positional) -> str:
    if p.choices:
        return f"_codename_reply {' '.join(sq(c) for c in p.choices)}"
    return _bash_kind(p.complete)


