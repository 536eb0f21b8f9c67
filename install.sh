#!/bin/sh
# install.sh: install codename for this user and hook it into the shell's rc file.
#
#   ./install.sh                 install, and hook the shell you run it from
#                                (found with shellingham, else $SHELL)
#   ./install.sh --shell zsh     hook that shell (repeat --shell for more than one)
#   ./install.sh --all           hook each of bash, zsh and fish installed here
#   ./install.sh --uninstall     remove the hook blocks and the install; config.toml and
#                                the state directory stay
#
# codename is installed from the checkout this script lives in: with pipx when pipx is on
# the PATH, else into a private virtual environment under
# ${XDG_DATA_HOME:-~/.local/share}/codename/venv with a launcher in ~/.local/bin.
# The hook is one marked block (# >>> codename >>> ... # <<< codename <<<) in ~/.bashrc,
# ${ZDOTDIR:-~}/.zshrc or ~/.config/fish/conf.d/codename.fish. Running the script twice
# is the same as running it once. It asks no questions and never reads stdin.
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
    printf 'usage: %s [--shell bash|zsh|fish]... [--all] [--uninstall]\n' "$0"
}

# --- arguments ----------------------------------------------------------------------------
shells=''
all=0
uninstall=0
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
        --uninstall) uninstall=1 ;;
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
# so it works before the install and after the uninstall alike.
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
# PATH (many systems add it only at the next login). fish would answer a missing command
# with a screenful of error; this says it in one line.
hook_line() {
    launcher_word=$(quote "$launcher" "$1")
    case $1 in
        fish)
            printf 'if test -x %s\n    %s init fish | source\nelse\n' "$launcher_word" "$launcher_word"
            printf '    echo %s >&2\nend\n' "$(quote "codename: $launcher is missing (run install.sh again)" fish)"
            ;;
        *)
            # shellcheck disable=SC2016 # the $(...) is for the rc file, not for us
            printf 'eval "$(%s init %s)"\n' "$launcher_word" "$1"
            ;;
    esac
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
if [ "$uninstall" = 1 ]; then
    rc_python=$python
    if [ -x "$venv/bin/python" ]; then
        rc_python=$venv/bin/python
    fi
    command -v "$rc_python" >/dev/null 2>&1 || die "$python not found: set CODENAME_PYTHON"
    for shell in bash zsh fish; do
        file=$(rc_file "$shell")
        case $(rc_edit remove "$file") in
            removed) say "removed the hook block from $(pretty "$file")" ;;
            deleted) say "removed $(pretty "$file") (install.sh had created it)" ;;
        esac
    done
    if our_launcher "$bin_dir/codename"; then
        rm -f "$bin_dir/codename"
        say "removed the launcher $(pretty "$bin_dir/codename")"
    fi
    if [ -d "$venv" ]; then
        rm -rf "$venv"
        say "removed the virtual environment $(pretty "$venv")"
    fi
    rmdir "$data_dir" 2>/dev/null || :
    if pipx_has_codename; then
        pipx uninstall "$PACKAGE" </dev/null >/dev/null
        say "removed the pipx install of $PACKAGE"
    fi
    say "uninstalled; your config and state (names held, the ledger) are left in place"
    exit 0
fi

# --- install ------------------------------------------------------------------------------
[ -f "$here/pyproject.toml" ] || die "$here is not a codename checkout (no pyproject.toml)"
source=${CODENAME_INSTALL_SOURCE:-$here}
pip_args=${CODENAME_PIP_ARGS:-}

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
            "$rc_python" -m codename_shell.launcher "$pipx_venvs/$PACKAGE/bin/codename" </dev/null ||
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
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pip_args "$source" \
            </dev/null || die "pip install failed (see above)"
        # pip's wrapper imports `re` at every shell start; codename's own launcher does not.
        "$venv/bin/python" -m codename_shell.launcher "$venv/bin/codename" </dev/null ||
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
for shell in $shells; do
    file=$(rc_file "$shell")
    result=$(rc_edit add "$file" "$(hook_line "$shell")" "$shell") ||
        die "could not edit $(pretty "$file")"
    case $result in
        created) say "created $(pretty "$file") with the $shell hook" ;;
        added) say "added the $shell hook to $(pretty "$file")" ;;
        updated) say "updated the $shell hook in $(pretty "$file")" ;;
        unchanged) say "the $shell hook in $(pretty "$file") is already in place" ;;
        by-hand) say "$(pretty "$file") already runs \`codename init $shell\`; left it as it is" ;;
    esac
done

case :${PATH:-}: in
    *:"$(dirname "$launcher")":*) ;;
    *) say "note: $(pretty "$(dirname "$launcher")") is not on your PATH; add it to run \`codename\` by name" ;;
esac
say "done: open a new terminal and its prompt shows its name"
