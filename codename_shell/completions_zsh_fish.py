"""zsh and fish completion for codename, written from the parser's spec (completions.py):
zsh's `_arguments` (loaded from fpath at the first TAB), fish's `complete` lines.
"""

from __future__ import annotations

from codename_shell.completions import Command, Option, header, sq

# --- zsh --------------------------------------------------------------------------------------

def _zsh_escape(text: str) -> str:
    """Text inside an _arguments `[description]` or a `:message:`."""
    for ch in "\\[]:":
        text = text.replace(ch, "\\" + ch)
    return text


def _zsh_action(choices: list[str], kind: str | None) -> str:
    if choices:
        return "(" + " ".join(c.replace("\\", "\\\\").replace(" ", "\\ ").replace(")", "\\)")
                              for c in choices) + ")"
    return {"theme": "_codename_themes", "name": "_codename_names",
            "command": "_codename_commands",
            "file": "_files", "executable": "_command_names -e"}.get(kind or "", " ")


def _zsh_option(o: Option) -> list[str]:
    excludes = f"({' '.join(o.excludes)})" if o.excludes else ""
    if o.flags in (["-h", "--help"], ["-V", "--version"]):
        excludes = "(- *)"  # nothing else is used with these
    specs = []
    for flag in o.flags:
        if len(o.flags) > 1 and not excludes:
            others = " ".join(f for f in o.flags if f != flag)
            prefix = f"({others})"
        else:
            prefix = excludes
        spec = f"{prefix}{flag}"
        if o.takes_value and flag.startswith("--"):
            spec += "="
        spec += f"[{_zsh_escape(o.help)}]"
        if o.takes_value:
            colon = "::" if o.value_optional else ":"
            spec += f"{colon}{_zsh_escape(o.metavar.lower())}:{_zsh_action(o.choices, o.complete)}"
        specs.append(spec)
    return specs


def _zsh_positionals(c: Command) -> list[str]:
    specs = []
    for p in c.positionals:
        message = _zsh_escape(p.name.lower())
        action = _zsh_action(p.choices, p.complete)
        if p.many:
            # The rest of the line is a command of its own (`run -- make test`).
            specs.append(f"*::{message}:_codename_command_line" if p.complete == "executable"
                         else f"*:{message}:{action}")
        else:
            specs.append(f"{'::' if p.optional else ':'}{message}:{action}")
    return specs


def write_zsh(top: Command, commands: list[Command]) -> str:
    out = ["#compdef codename\n", header("zsh")]
    described = " ".join(sq(f"{c.name.replace(':', chr(92) + ':')}:{c.help}") for c in commands)
    out.append(f"""
# The themes config.toml has, asked of codename itself: a process, but only when a theme name
# is being completed.
_codename_themes() {{
  local -a themes
  themes=(${{(f)"$(codename themes --names 2>/dev/null)"}})
  _wanted themes expl theme compadd -a themes
}}

# The names held now (`codename who --names`): a process, but only when a name is completed.
_codename_names() {{
  local -a names
  names=(${{(f)"$(codename who --names 2>/dev/null)"}})
  _wanted names expl name compadd -a names
}}

# `run [--name N] -- CMD ARG...`: from CMD on, a command line of its own.
_codename_command_line() {{
  if [[ ${{words[1]-}} == -- ]]; then
    shift words
    (( CURRENT -= 1 ))
  fi
  _normal
}}

_codename_commands() {{
  local -a commands
  commands=({described})
  _describe -t commands 'codename command' commands
}}

_codename() {{
  local curcontext=$curcontext state line ret=1
  typeset -A opt_args
  _arguments -C \\
""")
    for s in [s for o in top.options for s in _zsh_option(o)]:
        out.append(f"    {sq(s)} \\\n")
    out.append("    ':command:_codename_commands' \\\n    '*::argument:->argument' && ret=0\n")
    out.append("  if [[ $state == argument ]]; then\n"
               "    curcontext=${curcontext%:*:*}:codename-$words[1]:\n"
               "    case $words[1] in\n")
    for c in commands:
        specs = [s for o in c.options for s in _zsh_option(o)] + _zsh_positionals(c)
        body = " \\\n          ".join(sq(s) for s in specs)
        out.append(f"      {sq(c.name)})\n        _arguments -S \\\n          {body} && ret=0\n"
                   "        ;;\n")
    out.append("    esac\n  fi\n  return ret\n}\n")
    # Autoloaded from fpath (how install.sh sets it up), the file's body runs as _codename;
    # sourced by hand after compinit, it registers itself.
    out.append("""
if [[ ${funcstack[1]-} == _codename ]]; then
  _codename "$@"
elif (( ${+functions[compdef]} )); then
  compdef _codename codename
fi
""")
    return "".join(out)


# --- fish -------------------------------------------------------------------------------------

def _fq(word: str) -> str:
    """`word` as one fish word."""
    return "'" + word.replace("\\", "\\\\").replace("'", "\\'") + "'"


FISH_RUNTIME = r"""
# Whether the word being completed is argument N (from 0) of COMMAND; N+ is N or later, `any`
# anywhere: `__codename_at COMMAND N [OPTION-TAKING-A-VALUE...]`. No command yet: COMMAND ''.
function __codename_at
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l command ''
    set -l n 0
    set -l skip 0
    for token in $tokens
        if test $skip = 1
            set skip 0
        else if test -z "$command"
            string match -q -- '-*' $token; or set command $token
        else if contains -- $token $argv[3..-1]
            set skip 1
        else if not string match -q -- '-*' $token
            set n (math $n + 1)
        end
    end
    test "$command" = "$argv[1]"; or return 1
    test "$argv[2]" = any; and return 0
    if string match -q -- '*+' $argv[2]
        test $n -ge (string trim -c + -- $argv[2])
    else
        test $n = $argv[2]
    end
end

# The themes config.toml has, asked of codename itself (the hook's `codename` function, or the
# one on the PATH): a process, but only when a theme name is being completed.
function __codename_themes
    codename themes --names 2>/dev/null
end

# The names held now (`codename who --names`): a process, but only when a name is completed.
function __codename_names
    codename who --names 2>/dev/null
end
"""


def _fish_kind(kind: str | None) -> str:
    return {"theme": "-a '(__codename_themes)'", "name": "-a '(__codename_names)'",
            "command": "-a '$__codename_commands'",
            "file": "-F", "executable": "-a '(__fish_complete_command)'"}.get(kind or "", "")


def write_fish(top: Command, commands: list[Command]) -> str:
    out = [header("fish"), FISH_RUNTIME, "\n"]
    out.append(f"set -g __codename_commands {' '.join(_fq(c.name) for c in commands)}\n")
    out.append("complete -c codename -e\ncomplete -c codename -f\n")
    for c in [top, *commands]:
        values = " ".join(_fq(f) for f in c.value_flags())
        where = f"{_fq(c.name)} any {values}".rstrip()
        cond = f"-n {_fq('__codename_at ' + where)}"
        for o in c.options:
            words = []
            for flag in o.flags:
                words.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
            line = f"complete -c codename {cond} {' '.join(words)}"
            if o.takes_value:
                line += " -r"
                if o.choices:
                    line += f" -f -a {_fq(' '.join(o.choices))}"
                elif o.complete:
                    line += f" {_fish_kind(o.complete)}"
                else:
                    line += " -f"
            out.append(f"{line} -d {_fq(o.help)}\n")
    no_command = f"-n {_fq('__codename_at ' + _fq('') + ' any')}"
    for c in commands:
        out.append(f"complete -c codename {no_command} -a {_fq(c.name)} -d {_fq(c.help)}\n")
    for c in commands:
        values = " ".join(_fq(f) for f in c.value_flags())
        for i, p in enumerate(c.positionals):
            last = i == len(c.positionals) - 1
            where = f"{_fq(c.name)} {f'{i}+' if p.many and last else i} {values}".rstrip()
            cond = f"-n {_fq('__codename_at ' + where)}"
            if p.choices:
                out.append(f"complete -c codename {cond} -a {_fq(' '.join(p.choices))}\n")
            elif p.complete == "executable" and p.many:
                first = f"-n {_fq('__codename_at ' + f'{_fq(c.name)} {i} {values}'.rstrip())}"
                rest = f"-n {_fq('__codename_at ' + f'{_fq(c.name)} {i + 1}+ {values}'.rstrip())}"
                out.append(f"complete -c codename {first} {_fish_kind('executable')}\n")
                out.append(f"complete -c codename {rest} -F\n")
            elif p.complete:
                out.append(f"complete -c codename {cond} {_fish_kind(p.complete)}\n")
    return "".join(out)
