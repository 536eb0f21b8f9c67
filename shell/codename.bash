# codename hook for bash, printed by `codename init bash` for `eval` in ~/.bashrc.
# The __CN_*__ words were replaced by values quoted for bash; the rest is fixed text.
# Drawing a prompt and leaving the shell start no process: builtins only. Every function
# ends in an explicit status so `set -e`, `set -u` and `pipefail` in the rc file are harmless,
# and nothing here runs `return` at the top level (that would return from ~/.bashrc).
# shellcheck shell=bash

__codename_name=__CN_NAME__
__codename_full=__CN_FULL__
__codename_id=__CN_ID__
__codename_presence=__CN_PRESENCE__
__codename_owner=__CN_OWNER__
__codename_bin=(__CN_BIN__)
__codename_themes=(__CN_THEMES__)
__codename_show_prompt=__CN_PROMPT__
__codename_show_title=__CN_TITLE__
# Kept when the rc file is sourced again, so the prefix shown before can still be taken out.
__codename_prefix_shown=${__codename_prefix_shown-}

# Single quotes on purpose: PS1 refers to $CODENAME and expands it at each prompt, so the
# name is shown as text (bash does not expand the result again) and a rename shows at once.
# shellcheck disable=SC2016
__codename_ps1_colour='\[\e[1;36m\][${CODENAME-}]\[\e[0m\] '
# shellcheck disable=SC2016
__codename_ps1_plain='[${CODENAME-}] '

__codename_set_status() { return "${1:-0}"; }

# Puts the prefix in front of PS1 (again, if a PROMPT_COMMAND entry or a later rc line rebuilt
# PS1) and, at the first prompt, makes sure our EXIT trap survived the rest of the rc files.
__codename_refresh() {
    if [[ $__codename_show_prompt == 1 ]]; then
        local prefix=$__codename_ps1_colour
        if [[ -n ${NO_COLOR-} ]]; then
            prefix=$__codename_ps1_plain
        fi
        if ! shopt -q promptvars; then
            # PS1 is not expanded: the name goes in as text, backslashes doubled so that
            # bash shows them instead of reading `\w` as the working directory.
            local label="[${CODENAME-}]"
            label=${label//\\/\\\\}
            prefix="$label "
            if [[ -z ${NO_COLOR-} ]]; then
                prefix="\\[\\e[1;36m\\]$label\\[\\e[0m\\] "
            fi
        fi
        if [[ ${PS1-} != "$prefix"* ]]; then
            PS1=${PS1-}
            PS1=${PS1//"$__codename_ps1_colour"/}
            PS1=${PS1//"$__codename_ps1_plain"/}
            if [[ -n $__codename_prefix_shown ]]; then
                PS1=${PS1//"$__codename_prefix_shown"/}
            fi
            PS1=$prefix$PS1
            __codename_prefix_shown=$prefix
        fi
    fi
    if [[ -z ${__codename_trap_checked-} ]]; then
        __codename_trap_checked=1
        __codename_hook_exit
    fi
    return 0
}

# The PROMPT_COMMAND entry. It runs last, so the user's entries see the real $? and PIPESTATUS
# first, and it hands $? back unchanged for PS1. The entry is `__codename_prompt && :`: a
# failure inside an && list neither trips `set -e` (which would close the shell after
# `false && true`) nor runs the user's ERR trap again.
__codename_prompt() {
    local status=$?
    __codename_refresh
    return "$status"
}

# Gives the name back by emptying this shell's presence file: a builtin, no process. Then the
# user's own EXIT trap runs with the exit status it would have seen without us.
__codename_exit() {
    local status=$?
    if [[ $__codename_owner == 1 && $$ == "${__codename_id%%-*}" ]]; then
        { : >|"$__codename_presence"; } 2>/dev/null || :
    fi
    if [[ -n ${__codename_user_exit-} ]]; then
        __codename_set_status "$status" && :
        eval "$__codename_user_exit"
    fi
    return 0
}

# `trap -p EXIT` prints `trap -- 'CODE' EXIT`; evaluated as arguments, CODE is the second.
__codename_take_trap() { __codename_user_exit=${2-}; }

# Chain onto the user's own EXIT trap (never replace it): ours runs, then theirs. `trap -p`
# goes through a scratch file beside the presence file (`<pid>-<start>.exit`, which presence
# readers skip and a release removes) because $(...) would fork; only when that file cannot
# be written (the runtime dir was wiped) is a fork paid for.
__codename_hook_exit() {
    if [[ $__codename_owner != 1 ]]; then
        return 0
    fi
    local current='' scratch="$__codename_presence.exit"
    if { trap -p EXIT >|"$scratch"; } 2>/dev/null; then
        IFS= read -r -d '' current <"$scratch" || :
    else
        current=$(trap -p EXIT) || :
    fi
    current=${current%$'\n'}
    if [[ $current == "trap -- '__codename_exit' EXIT" ]]; then
        return 0
    fi
    if [[ -n $current ]]; then
        eval "__codename_take_trap ${current#trap }"
    fi
    trap '__codename_exit' EXIT
    return 0
}

__codename_title() {
    if [[ $__codename_show_title == 1 ]]; then
        printf '\033]0;%s\007' "${CODENAME-}"
    fi
    return 0
}

# `codename rename` changes this terminal's name in place, so it runs in this shell.
codename() {
    if [[ ${1-} == rename ]]; then
        shift
        local code
        code=$("${__codename_bin[@]}" rename --pid "${CODENAME_PID:-$$}" --shell bash "$@") || return
        eval "$code"
        __codename_title
    else
        "${__codename_bin[@]}" "$@"
    fi
}

__codename_complete() {
    local cur=${COMP_WORDS[COMP_CWORD]-} prev=${COMP_WORDS[COMP_CWORD-1]-} word
    local -a words=()
    if ((COMP_CWORD == 1)); then
        words=(init claim release rename who themes theme reap doctor run heartbeat)
    else
        case $prev in
            init) words=(bash zsh fish) ;;
            theme) words=("${__codename_themes[@]}" --clear) ;;
            --kind) words=(terminal spare job) ;;
            who) words=(--json --markdown) ;;
            themes) words=(--json) ;;
            claim) words=(--pid --kind --name --json) ;;
            release | heartbeat) words=(--pid) ;;
            run) words=(--name --) ;;
        esac
    fi
    COMPREPLY=()
    for word in ${words[@]+"${words[@]}"}; do
        if [[ $word == "$cur"* ]]; then
            COMPREPLY+=("$word")
        fi
    done
    return 0
}

# Whether our entry is in PROMPT_COMMAND (either form) or bash-preexec's precmd_functions:
# sourcing the rc file again must not add it twice, and must add it back if a later rc line
# replaced PROMPT_COMMAND.
__codename_hooked() {
    local entry
    for entry in ${PROMPT_COMMAND[@]+"${PROMPT_COMMAND[@]}"} \
        ${precmd_functions[@]+"${precmd_functions[@]}"}; do
        if [[ $entry == *__codename_prompt* || $entry == __codename_refresh ]]; then
            return 0
        fi
    done
    return 1
}

__codename_install() {
    export CODENAME="$__codename_name" CODENAME_FULL="$__codename_full"
    export CODENAME_PID="${__codename_id%%-*}" CODENAME_ID="$__codename_id"
    if ! __codename_hooked; then
        local newline=$'\n'
        if declare -p precmd_functions >/dev/null 2>&1; then
            precmd_functions+=(__codename_refresh) # bash-preexec owns PROMPT_COMMAND and $?
        elif ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501)) &&
            [[ -n ${PROMPT_COMMAND+set} && ${PROMPT_COMMAND@a} == *a* ]]; then
            PROMPT_COMMAND+=('__codename_prompt && :') # the bash 5.1 array form
        else
            # shellcheck disable=SC2178 # the string form, where the array form is not in use
            PROMPT_COMMAND="${PROMPT_COMMAND:+${PROMPT_COMMAND%;}$newline}__codename_prompt && :"
        fi
    fi
    complete -F __codename_complete codename
    __codename_hook_exit
    __codename_title
    return 0
}

if [[ $- == *i* ]]; then
    __codename_install
elif [[ $__codename_owner == 1 ]]; then
    # Sourced by a shell that is not interactive after all: give the name straight back.
    { : >|"$__codename_presence"; } 2>/dev/null || :
fi
