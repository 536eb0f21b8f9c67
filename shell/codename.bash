# codename hook for bash, printed by `codename init bash` for `eval` in ~/.bashrc.
# The __CN_*__ words were replaced by values quoted for bash; the rest is fixed text.
# Drawing a prompt and leaving the shell start no process: builtins only. Every function
# ends in an explicit status so `set -e`, `set -u` and `pipefail` in the rc file are harmless,
# and nothing here runs `return` at the top level (that would return from ~/.bashrc).
#
# What the shell shows follows what it holds: at each prompt it reads its presence file (a
# nested shell reads its holder's) and takes the name from there, so a release or a rename
# done anywhere reaches this prompt, its $CODENAME and its title at the next redraw.
# shellcheck shell=bash

__codename_name=__CN_NAME__
__codename_full=__CN_FULL__
__codename_id=__CN_ID__
__codename_presence=__CN_PRESENCE__
__codename_owner=__CN_OWNER__
__codename_bin=(__CN_BIN__)
__codename_show_prompt=__CN_PROMPT__
__codename_show_title=__CN_TITLE__
# The holder's colour as claimed (a 256-colour index, or empty), and whether to paint [Name]
# with it at all (`[prompt] colour` in config.toml; NO_COLOR is looked at every prompt).
__codename_colour_given=__CN_COLOUR__
__codename_paint=__CN_PAINT__
# With a fleet: this holder's lease file, the host qualifier (`@vm~3f2a9c`) and how to start
# a keeper (codename_shell/fleet/lease.py); all empty without one.
__codename_lease=__CN_LEASE__
__codename_qualifier=__CN_QUALIFIER__
__codename_keeper=(__CN_KEEPER__)
# Kept when the rc file is sourced again, so what was put in PS1 before can still be taken out.
__codename_prefix_shown=${__codename_prefix_shown-}
__codename_title_shown=${__codename_title_shown-}
__codename_title_printed=${__codename_title_printed-}
__codename_own_title_shown=${__codename_own_title_shown-}
# The presence row last applied; anything else makes the next prompt apply the file again.
__codename_row=$'\n'
# What the presence file names (the name and full name), and what the lease file says: the
# name it vouches for, until when (CLOCK_BOOTTIME seconds), and when it is due for renewal.
__codename_held=''
__codename_held_full=''
# The SGR sequence that paints [Name] (see __codename_set_colour); PS1 refers to it.
__codename_sgr=$'\e[1;36m'
__codename_leased=''
__codename_until=0
__codename_renew_by=0
__codename_revived=0
__codename_next=0 # see __codename_next_due
# Whose mtime says when this shell last read its presence file (made 0600 by the claim beside
# it). A nested shell has none: it reads its holder's file at every prompt.
__codename_seen=''
if [[ $__codename_owner == 1 && -n $__codename_presence ]]; then
    __codename_seen=$__codename_presence.seen
fi
# Messages left by `codename tell` (codename_shell/inbox.py) wait beside the presence file (a
# nested shell shows its holder's): `.inbox` holds them, `.shown` says which were shown (the
# writers drop those), `.looked`'s mtime says when a prompt last read `.inbox`.
__codename_inbox=''
__codename_shown=''
__codename_looked=''
if [[ -n $__codename_presence ]]; then
    __codename_inbox=$__codename_presence.inbox
    __codename_shown=$__codename_presence.shown
    __codename_looked=$__codename_presence.looked
fi

# Single quotes on purpose: PS1 refers to variables and expands them at each prompt, so the
# name is shown as text (bash does not expand the result again) and a new name shows at once.
# shellcheck disable=SC2016
__codename_ps1_colour='\[${__codename_sgr-}\][${CODENAME-}]\[\e[0m\] '
# shellcheck disable=SC2016
__codename_ps1_plain='[${CODENAME-}] '
# shellcheck disable=SC2016
__codename_ps1_title='${__codename_title_label-}'
# The window title, when PS1 sets none: put in PS1 too, so bash writes it at each draw with
# no statement of ours (any program may have retitled the window meanwhile).
# shellcheck disable=SC2016
__codename_ps1_own_title='\[\e]0;${CODENAME-}\a\]'
# How a PS1 starts a window title (OSC 0 or 2), in each spelling bash decodes.
__codename_title_starts=('\e]0;' '\e]2;' '\033]0;' '\033]2;' $'\e]0;' $'\e]2;')

__codename_set_status() { return "${1:-0}"; }

# The SGR that paints [Name]: the holder's colour from its row (a 256-colour index, checked as
# data: digits only, at most 255, read as decimal whatever its leading zeros), or the cyan of
# rows that keep none (claimed by an older codename).
__codename_set_colour() {
    local colour=${1-}
    if [[ -n $colour && $colour != *[!0-9]* && ${#colour} -le 3 ]] && ((10#$colour <= 255)); then
        __codename_sgr=$'\e[38;5;'$((10#$colour))m
    else
        __codename_sgr=$'\e[1;36m'
    fi
    return 0
}

# Reads what this shell holds now. An emptied or removed presence file is a release, so the
# name goes; a runtime dir that is gone altogether (a tmp cleaner) is not: the ledger still
# holds the name, and it stays. `-f` first: a FIFO put in its place must not hang the prompt.
__codename_sync() {
    local file=$__codename_presence row='' full colour=''
    if [[ -z $file ]]; then
        return 0
    fi
    if [[ -f $file ]]; then
        # Before the reads, so that a change made after them is never older than this mark.
        if [[ -n $__codename_seen && -f $__codename_seen ]]; then
            { : >|"$__codename_seen"; } 2>/dev/null || :
        fi
        { IFS= read -r row <"$file"; } 2>/dev/null || :
    elif [[ ! -d ${file%/*} ]]; then
        return 0
    fi
    if [[ -n $__codename_lease ]]; then
        __codename_read_lease
    fi
    if [[ $row != "$__codename_row" ]]; then
        __codename_row=$row
        # A row is `name<TAB>key=value…` (codename_shell/holders.py); no value holds a tab.
        __codename_held=${row%%$'\t'*}
        full=$__codename_held
        if [[ $row == *$'\t'full=* ]]; then
            full=${row#*$'\t'full=}
            full=${full%%$'\t'*}
        fi
        __codename_held_full=$full
        if [[ $row == *$'\t'colour=* ]]; then
            colour=${row#*$'\t'colour=}
            colour=${colour%%$'\t'*}
        fi
        __codename_set_colour "$colour"
    fi
    __codename_show
    return 0
}

# Shows the messages `codename tell` left that no prompt has shown yet, each once, as inert
# text: `[from Pam] TEXT`. A line of .inbox is `seq<TAB>sender<TAB>text` (its writer took out
# every control character; what is left here is shown through %s, never as a format, and a
# control character that got in anyway is shown as `?`). `.looked` is marked before the
# read, as .seen is, so a message written meanwhile is newer than the mark and read at the
# next prompt. Builtins only: a read, a printf, a redirection.
__codename_mail() {
    local shown='' last seq sender text
    if [[ -f $__codename_looked ]]; then
        { : >|"$__codename_looked"; } 2>/dev/null || :
    fi
    { IFS= read -r shown <"$__codename_shown"; } 2>/dev/null || :
    if [[ -z $shown || $shown == *[!0-9]* || ${#shown} -gt 12 ]]; then
        shown=0
    fi
    last=$((10#$shown))
    while IFS=$'\t' read -r seq sender text; do
        if [[ -n $seq && $seq != *[!0-9]* && ${#seq} -le 12 ]] && ((10#$seq > last)); then
            printf '[from %s] %s\n' "${sender//[[:cntrl:]]/?}" "${text//[[:cntrl:]]/?}" >&3
            last=$((10#$seq))
        fi
    done 3>&2 2>/dev/null <"$__codename_inbox" # fd 3: the terminal; 2: a file gone meanwhile
    if ((last != 10#$shown)) && [[ -f $__codename_shown ]]; then
        { printf '%s\n' "$last" >|"$__codename_shown"; } 2>/dev/null || :
    fi
    return 0
}

# The lease file, checked as data: a deadline that is not a plain number vouches for nothing
# (bash would evaluate anything else in (( )) as code).
__codename_read_lease() {
    local deadline='' leased='' renew='' rest
    if [[ -f $__codename_lease ]]; then
        { IFS=$'\t' read -r deadline leased renew rest <"$__codename_lease"; } 2>/dev/null || :
    fi
    if [[ -z $deadline || $deadline == *[!0-9]* || ${#deadline} -gt 12 ]]; then
        deadline=0
    fi
    if [[ -z $renew || $renew == *[!0-9]* || ${#renew} -gt 12 ]]; then
        renew=0
    fi
    __codename_until=$deadline
    __codename_leased=$leased
    __codename_renew_by=$renew
    return 0
}

# Exports what this shell shows: the name its presence file holds, but with a fleet a plain
# name only while its lease file vouches for it, by /proc/uptime (read by the shell itself:
# CLOCK_BOOTTIME, the clock leases are counted on); else its host-qualified form, which no
# other host can be given. No process needs to run for that: a dead keeper's names turn
# host-qualified here at the moment their leases may end in Redis.
__codename_show() {
    local name=$__codename_held full=$__codename_held_full up='' rest
    __codename_next=999999999999 # no deadline: nothing here changes with time
    if [[ -n $__codename_lease && -n $name && $name != *@* ]]; then
        { read -r up rest </proc/uptime; } 2>/dev/null || up=''
        up=${up%%.*}
        __codename_next=0
        if [[ -z $up || $up == *[!0-9]* || $__codename_leased != "$name" ]] ||
            ((up >= __codename_until)); then
            name+=$__codename_qualifier
            full+=$__codename_qualifier
        fi
        if [[ -n $up && $up != *[!0-9]* ]]; then
            if ((up >= __codename_renew_by && up >= __codename_revived)); then
                __codename_revive "$up"
            fi
            __codename_next_due "$name"
        fi
    fi
    if [[ -z $name ]]; then
        unset CODENAME CODENAME_FULL
    elif [[ ${CODENAME-} != "$name" || ${CODENAME_FULL-} != "$full" ]]; then
        export CODENAME="$name" CODENAME_FULL="$full"
    fi
    return 0
}

# The uptime at which what __codename_show decided may change with time alone: the renewal
# falling due (or the next revival allowed), and while the name is shown plain, its
# deadline. Until then a draw that finds the presence and lease files as last read shows
# what it showed (see __codename_prompt).
__codename_next_due() {
    __codename_next=$((__codename_renew_by > __codename_revived ? __codename_renew_by : __codename_revived))
    if [[ $1 != *@* ]] && ((__codename_until < __codename_next)); then
        __codename_next=$__codename_until
    fi
    return 0
}

# The lease was due for renewal and was not renewed: when no keeper runs (killed, the OOM
# killer, logind ending its session), start one: one process, after a fault only, at most
# every 10 s. A keeper that runs but cannot renew (stopped, cut off) is left alone: the
# deadline already shows its names host-qualified.
__codename_revive() {
    local pid=''
    __codename_revived=$(($1 + 10))
    { IFS= read -r pid <"${__codename_lease%/*}/keeper.lock"; } 2>/dev/null || :
    if [[ -n $pid && $pid != *[!0-9]* && -d /proc/$pid ]]; then
        return 0
    fi
    ("${__codename_keeper[@]}" </dev/null >/dev/null 2>&1 &) 2>/dev/null
    return 0
}

# Whether the prompt draws the name itself: starship with an `env_var.CODENAME` module (the
# README's snippet). Its config is read once per shell, with a builtin.
__codename_native() {
    if [[ ${STARSHIP_SHELL-} != bash ]] || ! declare -F starship_precmd >/dev/null; then
        return 1
    fi
    if [[ -z ${__codename_starship_native-} ]]; then
        __codename_starship_native=0
        local config=${STARSHIP_CONFIG:-$HOME/.config/starship.toml} text=''
        if [[ -f $config ]]; then
            { IFS= read -r -d '' text <"$config"; } 2>/dev/null || :
        fi
        if [[ $text == *env_var.CODENAME* ]]; then
            __codename_starship_native=1
        fi
    fi
    if [[ $__codename_starship_native == 1 ]]; then
        # Its segment reads $CODENAME when starship_precmd runs: be in step before that.
        if [[ -z ${starship_precmd_user_func-} ]]; then
            starship_precmd_user_func=__codename_sync
        fi
        return 0
    fi
    return 1
}

# PS1 with our prefix at the start of its last line, so a prompt that opens with a blank
# line or spans two (starship, a `\n` in PS1) shows the name on the line the cursor is on,
# never alone on a line above. Sets __codename_ps1.
__codename_place() {
    local ps1=$1 prefix=$2 head=''
    if [[ $ps1 == *$'\n'* ]]; then
        head=${ps1%$'\n'*}$'\n'
        ps1=${ps1##*$'\n'}
    fi
    if [[ $ps1 == *'\n'* ]]; then
        head+=${ps1%'\n'*}'\n'
        ps1=${ps1##*'\n'}
    fi
    __codename_ps1=$head$prefix$ps1
}

# Puts the prefix in PS1 (again, if a PROMPT_COMMAND entry or a later rc line rebuilt PS1),
# or takes it out when the shell holds no name; puts the name in front of any title PS1 sets.
__codename_decorate() {
    local prefix='' title='' start ps1=${PS1-} label
    if [[ -n ${CODENAME-} && $__codename_show_prompt == 1 && ${CODENAME_PROMPT-} != 0 ]] &&
        ! __codename_native; then
        prefix=$__codename_ps1_colour
        if [[ -n ${NO_COLOR-} || $__codename_paint != 1 ]]; then
            prefix=$__codename_ps1_plain
        fi
        if ! shopt -q promptvars; then
            # PS1 is not expanded: the name goes in as text, backslashes doubled so that
            # bash shows them instead of reading `\w` as the working directory.
            label="[${CODENAME-}]"
            label=${label//\\/\\\\}
            prefix="$label "
            if [[ -z ${NO_COLOR-} && $__codename_paint == 1 ]]; then
                prefix="\\[$__codename_sgr\\]$label\\[\\e[0m\\] "
            fi
        fi
    fi
    if [[ $__codename_show_title == 1 ]]; then
        title=$__codename_ps1_title
        __codename_title_label=${CODENAME:+[$CODENAME] }
        if ! shopt -q promptvars; then
            title=${__codename_title_label//\\/\\\\}
        fi
    fi
    for label in "$__codename_prefix_shown" "$prefix" "$__codename_ps1_colour" \
        "$__codename_ps1_plain" "$__codename_own_title_shown" "$__codename_ps1_own_title"; do
        if [[ -n $label ]]; then
            ps1=${ps1//"$label"/}
        fi
    done
    __codename_title_in_ps1=''
    for start in "${__codename_title_starts[@]}"; do
        if [[ $ps1 == *"$start"* ]]; then
            __codename_title_in_ps1=1
            for label in "$__codename_title_shown" "$title"; do
                if [[ -n $label ]]; then
                    ps1=${ps1//"$start$label"/"$start"}
                fi
            done
            if [[ -n $title ]]; then
                ps1=${ps1//"$start"/"$start$title"}
            fi
        fi
    done
    __codename_title_shown=$title
    __codename_own_title_shown=''
    if [[ $__codename_show_title == 1 && -z $__codename_title_in_ps1 ]]; then
        if [[ -n ${CODENAME-} ]]; then
            __codename_own_title_shown=$__codename_ps1_own_title
            if ! shopt -q promptvars; then
                __codename_own_title_shown='\[\e]0;'${CODENAME//\\/\\\\}'\a\]'
            fi
            __codename_title_printed=$CODENAME
        elif [[ -n $__codename_title_printed ]]; then
            printf '\033]0;\007' # once, when the name went: the window keeps no stale name
            __codename_title_printed=''
        fi
    fi
    __codename_ps1=$ps1
    if [[ -n $prefix ]]; then
        __codename_place "$ps1" "$prefix"
    fi
    __codename_ps1=$__codename_own_title_shown$__codename_ps1
    if [[ $__codename_ps1 != "${PS1-}" ]]; then
        PS1=$__codename_ps1
    fi
    __codename_prefix_shown=$prefix
    return 0
}

# At each prompt: messages, then follow the presence file, then the prompt (the title is in
# it); at the first prompt, also make sure our EXIT trap survived the rest of the rc files.
# The presence file is read again only when it is not older than this shell's last read of it
# (whoever rewrites it sets its mtime to the time it is in place; a release removes it; a
# message left for it touches it): three stats instead of a read where only PS1 changed (a
# prompt framework's PROMPT_COMMAND builds it).
__codename_refresh() {
    if [[ -f $__codename_inbox && ! $__codename_looked -nt $__codename_inbox ]]; then
        __codename_mail
    fi
    if [[ ! -f $__codename_presence || ! $__codename_seen -nt $__codename_presence ||
        ! $__codename_seen -nt $__codename_lease ||
        (-n $__codename_lease && ! -f $__codename_lease && ${CODENAME-} != *@*) ]]; then
        __codename_sync
    fi
    # What decides the decoration; while neither it nor PS1 changed, PS1 is as we left it.
    # $BASHOPTS says whether promptvars is on (PS1 refers to the colour, or holds it).
    local state="${CODENAME-}|${CODENAME_PROMPT-}|${NO_COLOR-}|${STARSHIP_SHELL-}|${BASHOPTS-}"
    state+="|$__codename_sgr"
    if [[ ${PS1-} != "${__codename_ps1_set-}" || $state != "${__codename_state-}" ]]; then
        __codename_decorate
        __codename_ps1_set=${PS1-}
        __codename_state=$state
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
#
# Most draws have nothing to do: the presence file is older than this shell's last read of
# it (see __codename_refresh), and PS1 and what decides the decoration are as the last draw
# left them. That is one test here, three stats, no function call and no builtin command
# (each costs a few µs a draw: bench/README.md, where a draw's µs go). With a fleet, the
# lease is looked at too, since it runs out with time alone: one more stat and a read of
# /proc/uptime, and __codename_show only when something is due.
__codename_prompt() {
    local status=$?
    if [[ -z ${FUNCNAME[1]-} && -f $__codename_presence &&
        $__codename_seen -nt $__codename_presence && ${PS1-} == "${__codename_ps1_set-}" &&
        "${CODENAME-}|${CODENAME_PROMPT-}|${NO_COLOR-}|${STARSHIP_SHELL-}|${BASHOPTS-}|$__codename_sgr" == \
        "${__codename_state-}" ]]; then
        if [[ -z $__codename_lease ]]; then
            return "$status"
        fi
        # With a fleet: the lease file as last read (bash's -nt is true when it is missing:
        # no file vouches for nothing, so a plain name needs it there), and the moment when
        # what __codename_show decided may change (its deadline, its renewal) not come yet,
        # by /proc/uptime read here: no call, no /dev/null opened.
        if [[ (-f $__codename_lease || ${CODENAME-} == *@*) &&
            $__codename_seen -nt $__codename_lease && -r /proc/uptime ]] &&
            read -r __codename_up __codename_rest </proc/uptime &&
            [[ -n ${__codename_up%%.*} && ${__codename_up%%.*} != *[!0-9]* ]] &&
            ((${__codename_up%%.*} < __codename_next)); then
            return "$status"
        fi
    fi
    if [[ -n $__codename_lease ]]; then
        __codename_show
    fi
    if [[ -n ${FUNCNAME[1]-} ]]; then
        # Run by another prompt function (starship keeps the PROMPT_COMMAND it found and runs
        # it before drawing PS1 anew): only follow the name here, and have our own entry run
        # after theirs from the next prompt on (where starship's PS1, new at each draw, takes
        # it the long way, messages included).
        __codename_sync
        __codename_hook_prompt
    else
        __codename_refresh
    fi
    return "$status"
}

# Gives the name back by emptying this shell's presence file: a builtin, no process. Only a
# file that is there: a release removed it, and the exit must not make one (with the umask's
# mode). Then the user's own EXIT trap runs with the exit status it would have seen without us.
__codename_exit() {
    local status=$?
    if [[ $__codename_owner == 1 && $$ == "${__codename_id%%-*}" && -f $__codename_presence ]]; then
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
# goes through a scratch file beside the presence file (`<pid>-<start>.exit`, made 0600 by
# the claim; presence readers skip it and a release removes it) because $(...) would fork;
# when that file is not there (released, or the runtime dir was wiped) a fork is paid for.
__codename_hook_exit() {
    if [[ $__codename_owner != 1 ]]; then
        return 0
    fi
    local current='' scratch="$__codename_presence.exit"
    if [[ -f $scratch ]] && { trap -p EXIT >|"$scratch"; } 2>/dev/null; then
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

# `codename rename` and `codename release` act on this terminal's holder (in a nested shell,
# the outer one); whatever ran, $CODENAME is brought in step with the presence file at once,
# and the prompt hook is put back should a later line have taken it (see __codename_hooked).
codename() {
    local status=0 arg pid='' hook=gone
    if [[ ! -x ${__codename_bin[0]} ]]; then
        # The install went away under this open terminal (`install.sh --uninstall`, a wiped
        # venv): one line instead of bash's own `No such file or directory`.
        printf 'codename: not installed any more (%s is gone); open a new terminal\n' \
            "${__codename_bin[0]}" >&2
        return 127
    fi
    if [[ ${1-} == rename || ${1-} == release ]]; then
        for arg in "$@"; do
            if [[ $arg == --pid || $arg == --pid=* ]]; then
                pid=given
            fi
        done
        if [[ -z $pid ]]; then
            set -- "$1" --pid "${CODENAME_PID:-$$}" "${@:2}"
        fi
    fi
    if [[ ${1-} == doctor ]]; then
        # doctor is another process: it cannot see this shell's PROMPT_COMMAND, and
        # $CODENAME_ID only says that the hook ran once. Tell it whether the prompt still
        # runs our entry (only it, only for this command: nothing else inherits it).
        if [[ -n ${__codename_installed-} ]] && __codename_hooked live; then
            hook=live
        fi
        CODENAME_HOOK_STATE="bash ${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]} $hook" \
            "${__codename_bin[@]}" "$@" || status=$?
    else
        "${__codename_bin[@]}" "$@" || status=$?
    fi
    if [[ -n ${__codename_installed-} ]]; then
        __codename_hook_prompt
    fi
    __codename_sync
    return "$status"
}

# Whether our entry is in PROMPT_COMMAND (either form) or bash-preexec's precmd_functions:
# sourcing the rc file again must not add it twice, and must add it back if a later rc line
# replaced PROMPT_COMMAND. With `live`: whether the next prompt will run it, i.e. for
# precmd_functions, bash-preexec itself is still in PROMPT_COMMAND.
__codename_hooked() {
    local entry preexec=''
    for entry in ${PROMPT_COMMAND[@]+"${PROMPT_COMMAND[@]}"}; do
        if [[ $entry == *__codename_prompt* ]]; then
            return 0
        fi
        if [[ $entry == *__bp_* ]]; then
            preexec=1
        fi
    done
    for entry in ${precmd_functions[@]+"${precmd_functions[@]}"}; do
        if [[ $entry == __codename_refresh ]]; then
            [[ ${1-} != live || -n $preexec ]]
            return
        fi
    done
    return 1
}

# Where bash lets it, our entry outlives the user's later rc lines, since keeping codename's
# line last is easy to get wrong (`PROMPT_COMMAND='history -a'` below it is very common).
# bash 5.1+ runs every element of an array PROMPT_COMMAND, and a scalar assignment to an
# array sets element [0] only: ours goes above [0], which keeps what it held (the user's
# own command, or nothing: bash skips an empty element). A later `PROMPT_COMMAND=...`, or
# `"history -a; $PROMPT_COMMAND"`, then replaces just what it replaced without codename.
# (bash exports no array: an exported PROMPT_COMMAND is no longer passed on to children,
# where it named our function without its definition.) `unset PROMPT_COMMAND`,
# a new array, or any assignment before bash 5.1 still takes it away: then the next
# `codename` command typed puts it back, and `codename doctor` names the line.
__codename_hook_prompt() {
    if __codename_hooked; then
        return 0
    fi
    local newline=$'\n'
    if declare -p precmd_functions >/dev/null 2>&1; then
        precmd_functions+=(__codename_refresh) # bash-preexec owns PROMPT_COMMAND and $?
    elif ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501)); then
        PROMPT_COMMAND[0]=${PROMPT_COMMAND[0]-}
        PROMPT_COMMAND+=('__codename_prompt && :')
    else
        # shellcheck disable=SC2178 # the string form: bash before 5.1 has no other
        PROMPT_COMMAND="${PROMPT_COMMAND:+${PROMPT_COMMAND%;}$newline}__codename_prompt && :"
    fi
    return 0
}

__codename_install() {
    __codename_held=$__codename_name
    __codename_held_full=$__codename_full
    __codename_set_colour "$__codename_colour_given"
    if [[ -n $__codename_lease ]]; then
        __codename_read_lease
    fi
    __codename_show
    export CODENAME_PID="${__codename_id%%-*}" CODENAME_ID="$__codename_id"
    __codename_installed=1
    __codename_hook_prompt
    __codename_hook_exit
    __codename_decorate
    return 0
}

# A hook printed off a terminal (`codename init bash > file`, a cache) names no shell, and a
# cached one may name another: ask codename for this shell's name now, once (one Python
# process, as with the usual hook line), and run the hook it prints.
__codename_ask() {
    local __codename_asking=1 code
    code=$("${__codename_bin[@]}" init bash) || code=''
    eval "$code"
    return 0
}

# Whether the values above are this shell's: its own claim, or the name of the holder it
# runs nested in (whose id it inherited).
__codename_mine() {
    if [[ -z $__codename_id ]]; then
        return 1
    fi
    if [[ $__codename_owner == 1 ]]; then
        [[ $$ == "${__codename_id%%-*}" ]]
    else
        [[ ${CODENAME_ID-} == "$__codename_id" ]]
    fi
}

if [[ $- == *i* ]]; then
    if __codename_mine; then
        __codename_install
    elif [[ -z ${__codename_asking-} && -t 0 && ${TERM-} != dumb &&
        -z ${VSCODE_RESOLVING_ENVIRONMENT+set} ]]; then
        __codename_ask
    fi
elif [[ $__codename_owner == 1 && $$ == "${__codename_id%%-*}" && -f $__codename_presence ]]; then
    # Sourced by a shell that is not interactive after all: give the name straight back.
    { : >|"$__codename_presence"; } 2>/dev/null || :
fi
