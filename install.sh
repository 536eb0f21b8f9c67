#!/bin/sh
# install.sh: install codename for this user and hook it into the shell's rc file.
#
#   ./install.sh                 install, and hook the shell you run it from
#                                (found with shellingham, else $SHELL)
#   ./install.sh --shell zsh     hook that shell (repeat --shell for more than one)
#   ./install.sh --all           hook each of bash, zsh and fish installed here
#   ./install.sh --fleet         also install what the fleet needs (the `fleet` extra) into
#                                the same install; add [fleet] to config.toml to use it
#   ./install.sh --uninstall     remove the hook blocks, the completions and the install;
#                                config.toml and the state directory stay
#   ./install.sh --purge         --uninstall, then also remove what codename made: its
#                                config.toml, state and runtime directories (listed first;
#                                any other file of yours in its config directory stays)
#
# codename is installed from the checkout this script lives in: with pipx when pipx is on
# the PATH, else into a private virtual environment under
# ${XDG_DATA_HOME:-~/.local/share}/codename/venv with a launcher in ~/.local/bin.
# The hook is one marked block (# >>> codename >>> ... # <<< codename <<<) in ~/.bashrc,
# ${ZDOTDIR:-~}/.zshrc or ~/.config/fish/conf.d/codename.fish. Running the script twice
# is the same as running it once. It asks no questions and never reads stdin.
# Each hooked shell also gets codename's completions (`codename completions SHELL`) where it
# loads them lazily, at the first TAB after `codename`: bash-completion's user directory,
# ${XDG_DATA_HOME:-~/.local/share}/zsh/site-functions (put on fpath by the zsh block), and
# ~/.config/fish/completions.
#
# Environment, for packagers and the test suite (the defaults are what users get):
#   CODENAME_PYTHON          the Python 3.11+ that builds the venv         (python3)
#   CODENAME_INSTALL_METHOD  pipx or venv                                  (pipx if found)
#   CODENAME_INSTALL_SOURCE  what pip installs, e.g. a wheel built before  (this checkout)
#   CODENAME_PIP_ARGS        more pip arguments, e.g. "--no-index --no-deps"
#   CODENAME_BIN_DIR         where the launcher goes                       (~/.local/bin)

set -eu

PACKAGE=codename-shell

say() { printf 'codename: %s\n' "$*"; }
die() {
    printf 'codename: %s\n' "$*" >&2
    exit 1
}
usage() {
    printf 'usage: %s [--shell bash|zsh|fish]... [--all] [--fleet] [--uninstall | --purge]\n' "$0"
}

# --- arguments ----------------------------------------------------------------------------
shells=''
all=0
fleet=0
uninstall=0
purge=0
while [ $# -gt 0 ]; do
    case $1 in
        --shell)
            [ $# -ge 2 ] || {
                usage >&2
                exit 2
            }
            want=$2
            shift 2
            set -- "--shell=$want" "$@"
            continue
            ;;
        --shell=*)
            want=${1#--shell=}
            case $want in
                bash | zsh | fish) shells="$shells $want" ;;
                *) die "unknown shell '$want': choose bash, zsh or fish" ;;
            esac
            ;;
        --all) all=1 ;;
        --fleet) fleet=1 ;;
        --uninstall) uninstall=1 ;;
        --purge)
            uninstall=1
            purge=1
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            exit 2
            ;;
    esac
    shift
done

[ -n "${HOME:-}" ] || die "HOME is not set"
here=$(cd "$(dirname "$0")" && pwd -P)
data_dir=${XDG_DATA_HOME:-$HOME/.local/share}/codename
venv=$data_dir/venv
bin_dir=${CODENAME_BIN_DIR:-$HOME/.local/bin}
python=${CODENAME_PYTHON:-python3}
config_home=${XDG_CONFIG_HOME:-$HOME/.config}
data_home=${XDG_DATA_HOME:-$HOME/.local/share}

rc_file() {
    case $1 in
        bash) printf '%s\n' "$HOME/.bashrc" ;;
        zsh) printf '%s\n' "${ZDOTDIR:-$HOME}/.zshrc" ;;
        fish) printf '%s\n' "$config_home/fish/conf.d/codename.fish" ;;
    esac
}

# `~/x` instead of `/home/me/x` in messages.
pretty() {
    case $1 in
        "$HOME"/*) printf '%s/%s\n' '~' "${1#"$HOME"/}" ;;
        *) printf '%s\n' "$1" ;;
    esac
}

# The rc file edits (one marked block added, replaced or removed, every other byte kept) are
# codename_shell/rcfile.py, run as a plain script: it needs nothing but the standard library,
# so it works before the install and after the uninstall alike. A file it cannot edit (an
# immutable ~/.bashrc, a block whose end line was deleted by hand) is one line on stderr from
# it and exit status 1, the file left as it was.
rc_edit() {
    "$rc_python" "$here/codename_shell/rcfile.py" "$@" </dev/null
}

# A word the shell reads back as exactly $1 (POSIX single quotes; fish needs \\ and \' too).
quote() {
    if [ "$2" = fish ]; then
        printf "'%s'" "$(printf '%s' "$1" | sed -e "s/[\\\\']/\\\\&/g")"
    else
        printf "'%s'" "$(printf '%s' "$1" | sed -e "s/'/'\\\\''/g")"
    fi
}

# The hook: the launcher by its absolute path, so that it works before ~/.local/bin is on the
# PATH (many systems add it only at the next login). Should the launcher go away later (a
# wiped venv, a moved install), a shell starts with one line saying what to do, never a raw
# `No such file or directory` or a screenful of fish errors. fish reads conf.d/ for every
# fish, `fish -c` and scripts too: only an interactive one asks codename for a name.
hook_line() {
    launcher_word=$(quote "$launcher" "$1")
    missing="codename: $launcher is missing (run install.sh again)"
    case $1 in
        fish)
            printf 'if status is-interactive\n'
            printf '    if test -x %s\n        %s init fish | source\n' "$launcher_word" "$launcher_word"
            printf '    else\n        echo %s >&2\n    end\nend\n' "$(quote "$missing" fish)"
            ;;
        *)
            if [ "$1" = zsh ]; then
                zsh_completion_lines
            fi
            printf 'if [ -x %s ]; then\n' "$launcher_word"
            # shellcheck disable=SC2016 # the $(...) is for the rc file, not for us
            printf '    eval "$(%s init %s)"\n' "$launcher_word" "$1"
            printf 'else\n    echo %s >&2\nfi\n' "$(quote "$missing" "$1")"
            ;;
    esac
}

# --- completions --------------------------------------------------------------------------
# Where each shell loads a command's completions from at its first TAB, and nothing at start.
completion_file() {
    case $1 in
        bash)
            # bash-completion reads the first directory of this colon-separated list.
            user_dir=${BASH_COMPLETION_USER_DIR:-$data_home/bash-completion}
            printf '%s\n' "${user_dir%%:*}/completions/codename"
            ;;
        zsh) printf '%s\n' "$data_home/zsh/site-functions/_codename" ;;
        fish) printf '%s\n' "$config_home/fish/completions/codename.fish" ;;
    esac
}

# The zsh block's lines for completion: the directory goes on fpath, so a compinit run later
# in .zshrc finds _codename; when compinit ran before the block (oh-my-zsh, prezto), the
# function is registered now. Builtins and one function call: nothing is loaded at start.
zsh_completion_lines() {
    zsh_dir=$(quote "$(dirname "$(completion_file zsh)")" zsh)
    # shellcheck disable=SC2016 # the $-expressions are for the rc file, not for us
    printf 'fpath=(%s ${fpath:#%s})\n' "$zsh_dir" "$zsh_dir"
    # shellcheck disable=SC2016
    printf 'if (( ${+functions[compdef]} )); then\n    autoload -Uz _codename && compdef _codename codename\nfi\n'
}

# A ~/.zshrc that install.sh creates (there was none: zsh would have run its first-run wizard)
# starts with what that wizard recommends, so a new account gets history and Tab completion
# (compinit), not a shell whose Tab lists file names. They are inside codename's block, so
# --uninstall removes the file it made, whole.
new_zshrc_lines() {
    # shellcheck disable=SC2016 # the $-expressions are for the rc file, not for us
    printf 'HISTFILE=${ZDOTDIR:-$HOME}/.zsh_history\nHISTSIZE=10000\nSAVEHIST=10000\n'
    printf 'setopt hist_ignore_dups share_history\nbindkey -e\n'
    printf 'autoload -Uz compinit && compinit -i\n'
}

# A file install.sh wrote (it says so in its first lines): the only kind it replaces or removes.
ours() {
    head -n 3 "$1" 2>/dev/null | grep -q 'generated by `codename completions'
}

install_completion() {
    file=$(completion_file "$1")
    if { [ -e "$file" ] || [ -L "$file" ]; } && ! ours "$file"; then
        say "left $(pretty "$file") alone (it is not ours): no $1 completions installed"
        return 0
    fi
    mkdir -p "$(dirname "$file")" || die "could not create $(pretty "$(dirname "$file")")"
    if ! "$launcher" completions "$1" </dev/null >"$file.tmp.$$" || ! mv -f "$file.tmp.$$" "$file"; then
        rm -f "$file.tmp.$$"
        die "could not write $(pretty "$file")"
    fi
    say "$1 completions: $(pretty "$file")"
    if [ "$1" = bash ] && ! have_bash_completion; then
        say "note: TAB completion in bash needs the bash-completion package, which was not found"
    fi
}

have_bash_completion() {
    for candidate in /usr/share/bash-completion/bash_completion /etc/bash_completion \
        /usr/local/share/bash-completion/bash_completion \
        /usr/local/etc/profile.d/bash_completion.sh /opt/homebrew/etc/profile.d/bash_completion.sh; do
        if [ -f "$candidate" ]; then return 0; fi
    done
    return 1
}

# A login bash (what tmux, ssh and macOS Terminal start) reads the first of ~/.bash_profile,
# ~/.bash_login and ~/.profile, and not ~/.bashrc. That file gets the hook too, for an
# interactive bash only (~/.profile is also read by sh), unless it reads ~/.bashrc itself
# (Debian's ~/.profile does): then it runs once, from there. With none of the three, we
# create ~/.profile: a ~/.bash_profile would hide a ~/.profile made later.
login_file() {
    for candidate in .bash_profile .bash_login .profile; do
        if [ -e "$HOME/$candidate" ] || [ -L "$HOME/$candidate" ]; then
            printf '%s\n' "$HOME/$candidate"
            return 0
        fi
    done
    printf '%s\n' "$HOME/.profile"
}

# Whether FILE reads ~/.bashrc: a line that is not a comment names it, or names ~/.profile
# and that one does (Fedora's ~/.bash_profile reads ~/.profile, Debian's ~/.profile ~/.bashrc).
reads_bashrc() {
    mentions "$1" '\.bashrc' ||
        { [ "$1" != "$HOME/.profile" ] && mentions "$1" '\.profile' && mentions "$HOME/.profile" '\.bashrc'; }
}

mentions() {
    [ -f "$1" ] && grep -v '^[[:space:]]*#' "$1" 2>/dev/null | grep -q "$2"
}

# The login file's block: bash only (sh reads ~/.profile too), interactive only, and not in a
# shell that the ~/.bashrc hook named already (its own id, `<pid>-<start>`, begins with $$;
# a shell variable, so an `exec bash -l` starts afresh).
login_hook() {
    # shellcheck disable=SC2016 # the $-expressions are for the login file, not for us
    printf 'if [ -n "${BASH_VERSION-}" ]; then\n    case $- in\n        *i*)\n'
    # shellcheck disable=SC2016
    printf '            if [ -z "${__codename_id-}" ] || [ "${__codename_id%%%%-*}" != "$$" ]; then\n'
    hook_line bash | sed -e 's/^/                /'
    printf '            fi\n            ;;\n    esac\nfi\n'
}

pipx_has_codename() {
    command -v pipx >/dev/null 2>&1 && pipx list --short 2>/dev/null </dev/null |
        grep -q "^$PACKAGE "
}

# A launcher we made: a symlink into our venv.
our_launcher() {
    [ -L "$1" ] || return 1
    case $(readlink "$1") in
        "$venv"/*) return 0 ;;
    esac
    return 1
}

# --- uninstall ----------------------------------------------------------------------------
# The directories --purge removes, as codename itself names them (its paths module, run from
# this checkout so it works whatever is installed), else the XDG defaults.
codename_dirs() {
    PYTHONPATH=$here "$rc_python" -c '
from codename_shell import paths
found = [paths.config_dir(), paths.state_dir()]
try:
    found.append(paths.runtime_dir())
except Exception:
    pass  # no runtime dir we could use: nothing of ours is there
print("\n".join(found))
' </dev/null 2>/dev/null ||
        printf '%s\n' "$config_home/codename" "${XDG_STATE_HOME:-$HOME/.local/state}/codename"
}

# --purge: exactly what codename made, listed, then removed: its state directory and runtime
# directories (everything in them is codename's), and config.toml with the cache beside it;
# any other file in its config directory is the user's (a password_file, a roster) and stays.
# $1: the config, state and runtime directories as codename names them (codename_dirs).
purge_made() {
    config_dir=$(printf '%s\n' "$1" | sed -n 1p)
    made=''
    while IFS= read -r dir; do
        case $dir in
            */codename) ;;
            *) continue ;; # never anything but codename's own directories
        esac
        for path in "$dir" "$dir-fleet"; do
            if [ -e "$path" ] || [ -L "$path" ]; then made="$made$path
"; fi
        done
    done <<EOF
$(printf '%s\n' "$1" | sed -n '2,$p')
EOF
    case $config_dir in
        */codename)
            if [ -e "$config_dir/config.toml" ] || [ -L "$config_dir/config.toml" ]; then
                made="$made$config_dir/config.toml
"
            fi
            ;;
    esac
    if [ -z "$made" ]; then
        return 0
    fi
    say "--purge: removing what codename made (config.toml, names held, the ledger):"
    printf '%s' "$made" | while IFS= read -r path; do printf '    %s\n' "$(pretty "$path")"; done
    printf '%s' "$made" | while IFS= read -r path; do rm -rf "$path"; done
    removed=$((removed + 1))
    case $config_dir in
        */codename)
            if ! rmdir "$config_dir" 2>/dev/null && [ -d "$config_dir" ]; then
                names=''
                for entry in "$config_dir"/* "$config_dir"/.[!.]*; do
                    if [ -e "$entry" ] || [ -L "$entry" ]; then names="$names ${entry##*/}"; fi
                done
                say "kept $(pretty "$config_dir"): it holds files of yours:$names"
            fi
            ;;
    esac
}

removed=0
did() {
    say "$*"
    removed=$((removed + 1))
}

if [ "$uninstall" = 1 ]; then
    rc_python=$python
    if [ -x "$venv/bin/python" ]; then
        rc_python=$venv/bin/python
    fi
    command -v "$rc_python" >/dev/null 2>&1 || die "$python not found: set CODENAME_PYTHON"
    purge_dirs=''
    if [ "$purge" = 1 ]; then
        purge_dirs=$(codename_dirs) # asked before the install goes
    fi
    for file in "$(rc_file bash)" "$(rc_file zsh)" "$(rc_file fish)" "$HOME/.bash_profile" \
        "$HOME/.bash_login" "$HOME/.profile"; do
        # A file it cannot edit stops the uninstall before the launcher goes, so that the
        # hook left in it keeps working (rc_edit said why, in one line).
        result=$(rc_edit remove "$file") || exit 1
        case $result in
            removed) did "removed the hook block from $(pretty "$file")" ;;
            deleted) did "removed $(pretty "$file") (install.sh had created it)" ;;
            unended) say "left $(pretty "$file") as it is: its codename block lost its end line (# <<< codename <<<), so where it ends is unknown; remove the codename lines there by hand" ;;
        esac
    done
    for shell in bash zsh fish; do
        file=$(completion_file "$shell")
        if [ -f "$file" ] && ours "$file"; then
            rm -f "$file"
            did "removed the $shell completions $(pretty "$file")"
            dir=$(dirname "$file")
            if rmdir "$dir" 2>/dev/null && [ "$shell" != fish ]; then
                rmdir "$(dirname "$dir")" 2>/dev/null || :
            fi
        fi
    done
    if our_launcher "$bin_dir/codename"; then
        rm -f "$bin_dir/codename"
        did "removed the launcher $(pretty "$bin_dir/codename")"
    fi
    if [ -d "$venv" ]; then
        rm -rf "$venv"
        did "removed the virtual environment $(pretty "$venv")"
    fi
    rmdir "$data_dir" 2>/dev/null || :
    if pipx_has_codename; then
        pipx uninstall "$PACKAGE" </dev/null >/dev/null
        did "removed the pipx install of $PACKAGE"
    fi
    if [ "$purge" = 1 ]; then
        purge_made "$purge_dirs"
    fi
    if [ "$removed" = 0 ]; then
        say "nothing to remove: no hook block, completions, launcher, virtual environment, pipx install$([ "$purge" = 1 ] && printf ', config or state') of codename found"
    elif [ "$purge" = 1 ]; then
        say "uninstalled, config and state included"
    else
        say "uninstalled; your config and state (names held, the ledger) are left in place (--purge removes them)"
    fi
    exit 0
fi

# --- install ------------------------------------------------------------------------------
[ -f "$here/pyproject.toml" ] || die "$here is not a codename checkout (no pyproject.toml)"
source=${CODENAME_INSTALL_SOURCE:-$here}
pip_args=${CODENAME_PIP_ARGS:-}
extras=''
if [ "$fleet" = 1 ]; then
    extras='[fleet]' # pyproject.toml's optional dependencies for the fleet
fi

method=${CODENAME_INSTALL_METHOD:-}
if [ -z "$method" ]; then
    if command -v pipx >/dev/null 2>&1; then method=pipx; else method=venv; fi
fi

case $method in
    pipx)
        command -v pipx >/dev/null 2>&1 || die "CODENAME_INSTALL_METHOD=pipx but pipx is not on the PATH"
        say "installing $(pretty "$source") with pipx"
        # shellcheck disable=SC2086 # CODENAME_PIP_ARGS holds several words on purpose
        pipx install --force ${pip_args:+--pip-args="$pip_args"} "$source" </dev/null >/dev/null ||
            die "pipx install failed (see above)"
        if [ -n "$extras" ]; then
            # The extra's own requirements, into pipx's venv of codename, by the same spec.
            # shellcheck disable=SC2086
            pipx runpip "$PACKAGE" install --quiet $pip_args "$source$extras" </dev/null >/dev/null ||
                die "installing the fleet extra with pipx failed (see above)"
        fi
        pipx_bin=${PIPX_BIN_DIR:-}
        if [ -z "$pipx_bin" ]; then
            pipx_bin=$(pipx environment --value PIPX_BIN_DIR 2>/dev/null </dev/null) ||
                pipx_bin=$HOME/.local/bin
        fi
        launcher=$pipx_bin/codename
        rc_python=$python
        pipx_venvs=$(pipx environment --value PIPX_LOCAL_VENVS 2>/dev/null </dev/null) || pipx_venvs=''
        if [ -x "$pipx_venvs/$PACKAGE/bin/python" ]; then
            rc_python=$pipx_venvs/$PACKAGE/bin/python
            # codename's launcher over pipx's wrapper (see below). `pipx reinstall` and
            # `pipx upgrade` put the wrapper back: shells then start ~1 ms slower until this
            # script runs again (README, Startup speed).
            "$rc_python" -P -m codename_shell.launcher "$pipx_venvs/$PACKAGE/bin/codename" </dev/null ||
                die "could not write the launcher in $(pretty "$pipx_venvs/$PACKAGE/bin")"
        fi
        ;;
    venv)
        command -v "$python" >/dev/null 2>&1 || die "$python not found: install Python 3.11+ or set CODENAME_PYTHON"
        "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' </dev/null ||
            die "codename needs Python 3.11 or newer; $python is older (set CODENAME_PYTHON)"
        if ! "$venv/bin/python" -c '' </dev/null >/dev/null 2>&1; then
            rm -rf "$venv"
            mkdir -p "$data_dir"
            "$python" -m venv "$venv" </dev/null ||
                die "could not create a virtual environment (on Debian/Ubuntu: apt install python3-venv, or install pipx)"
            say "created the virtual environment $(pretty "$venv")"
        fi
        say "installing $(pretty "$source") into $(pretty "$venv")"
        # shellcheck disable=SC2086 # CODENAME_PIP_ARGS holds several words on purpose
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pip_args "$source$extras" \
            </dev/null || die "pip install failed (see above)"
        # pip's wrapper starts Python with `site`, which reads every .pth file of the venv at
        # every shell start; codename's launcher skips it for `init` (codename_shell/launcher.py).
        # -P: the installed code writes it, not the checkout this script may be run from (-m
        # would put the current directory first on sys.path).
        "$venv/bin/python" -P -m codename_shell.launcher "$venv/bin/codename" </dev/null ||
            die "could not write the launcher $(pretty "$venv/bin/codename")"
        launcher=$bin_dir/codename
        if [ -e "$launcher" ] || [ -L "$launcher" ]; then
            if ! our_launcher "$launcher"; then
                say "left $(pretty "$launcher") alone (it is not ours); the hook calls the venv directly"
                launcher=$venv/bin/codename
            fi
        fi
        if [ "$launcher" = "$bin_dir/codename" ]; then
            mkdir -p "$bin_dir"
            ln -sfn "$venv/bin/codename" "$launcher"
            say "launcher: $(pretty "$launcher")"
        fi
        rc_python=$venv/bin/python
        ;;
    *) die "CODENAME_INSTALL_METHOD must be pipx or venv, not '$method'" ;;
esac

"$launcher" --version </dev/null >/dev/null 2>&1 || die "the installed $(pretty "$launcher") does not run"

# --- which shells -------------------------------------------------------------------------
if [ "$all" = 1 ]; then
    for shell in bash zsh fish; do
        if command -v "$shell" >/dev/null 2>&1; then shells="$shells $shell"; fi
    done
    [ -n "$shells" ] || die "none of bash, zsh or fish is installed"
elif [ -z "$shells" ]; then
    # The shell that ran this script: our parent, as shellingham sees the process tree
    # (from the install, else from the Python that built it).
    detected=''
    for detector in "$rc_python" "$python"; do
        detected=$("$detector" -c '
import sys
try:
    import shellingham
    print(shellingham.detect_shell(int(sys.argv[1]))[0])
except Exception:
    pass
' "$PPID" </dev/null 2>/dev/null) || detected=''
        if [ -n "$detected" ]; then break; fi
    done
    case $detected in
        bash | zsh | fish) ;;
        *) detected=$(basename "${SHELL:-}") ;;
    esac
    case $detected in
        bash | zsh | fish) shells=$detected ;;
        *) die "could not tell which shell you use (found '${detected:-nothing}'): run ./install.sh --shell bash|zsh|fish" ;;
    esac
fi

# --- the hook blocks ----------------------------------------------------------------------
report() {
    case $1 in
        created) say "created $(pretty "$2") with the $3 hook" ;;
        added) say "added the $3 hook to $(pretty "$2")" ;;
        updated) say "updated the $3 hook in $(pretty "$2")" ;;
        unchanged) say "the $3 hook in $(pretty "$2") is already in place" ;;
        by-hand) say "$(pretty "$2") already runs \`codename init ${3#login }\`; left it as it is" ;;
    esac
}

for shell in $shells; do
    file=$(rc_file "$shell")
    hook=$(hook_line "$shell")
    if [ "$shell" = zsh ] && { [ ! -e "$file" ] || grep -qxF '# (install.sh created this file)' "$file"; }; then
        hook="$(new_zshrc_lines)
$hook"
    fi
    result=$(rc_edit add "$file" "$hook" "$shell") || exit 1
    report "$result" "$file" "$shell"
    install_completion "$shell"
    if [ "$shell" = zsh ] && [ "$result" = by-hand ]; then
        say "note: for completions, put $(pretty "$(dirname "$(completion_file zsh)")") on fpath before compinit in $(pretty "$file")"
    fi
    if [ "$shell" = bash ]; then
        file=$(login_file)
        if reads_bashrc "$file"; then
            # It runs ~/.bashrc: a block here too would hook a login bash twice.
            case $(rc_edit remove "$file") in
                removed | deleted) say "$(pretty "$file") reads ~/.bashrc: took our block out of it" ;;
            esac
        else
            result=$(rc_edit add "$file" "$(login_hook)" bash) || exit 1
            report "$result" "$file" "login bash"
        fi
    fi
done

case :${PATH:-}: in
    *:"$(dirname "$launcher")":*) ;;
    *) say "note: $(pretty "$(dirname "$launcher")") is not on your PATH: hooked terminals run \`codename\` all the same (their hook calls it by its full path); add it to the PATH for scripts and other programs" ;;
esac
say "done: open a new terminal and its prompt shows its name"
