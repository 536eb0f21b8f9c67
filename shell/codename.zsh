# codename hook for zsh, printed by `codename init zsh` for `eval` in ~/.zshrc.
# The __CN_*__ words were replaced by values quoted for zsh; the rest is fixed text.
# Drawing a prompt and leaving the shell start no process: builtins only. Functions use
# `emulate -L zsh` so the user's options (nounset, err_exit, ksh arrays…) cannot trip them;
# the helpers called only from those (no `emulate` of their own) inherit it.
#
# What the shell shows follows what it holds: at each prompt it reads its presence file (a
# nested shell reads its holder's) and takes the name from there, so a release or a rename
# done anywhere reaches this prompt, its $CODENAME and its title at the next redraw.

typeset -g __codename_name=__CN_NAME__
typeset -g __codename_full=__CN_FULL__
typeset -g __codename_id=__CN_ID__
typeset -g __codename_presence=__CN_PRESENCE__
typeset -g __codename_owner=__CN_OWNER__
typeset -ga __codename_bin
__codename_bin=(__CN_BIN__)
typeset -g __codename_show_prompt=__CN_PROMPT__
typeset -g __codename_show_title=__CN_TITLE__
# The holder's colour as claimed (a 256-colour index, or empty), and whether to paint [Name]
# with it at all (`[prompt] colour` in config.toml; NO_COLOR is looked at every prompt).
typeset -g __codename_colour_given=__CN_COLOUR__
typeset -g __codename_paint=__CN_PAINT__
# With a fleet: this holder's lease file, the host qualifier (`@vm~3f2a9c`) and how to start
# a keeper (codename_shell/fleet/lease.py); all empty without one.
typeset -g __codename_lease=__CN_LEASE__
typeset -g __codename_qualifier=__CN_QUALIFIER__
typeset -ga __codename_keeper
__codename_keeper=(__CN_KEEPER__)
# Kept when the rc file is sourced again, so what was put in PROMPT before can still be taken out.
typeset -g __codename_prefix_shown=${__codename_prefix_shown-}
typeset -g __codename_title_shown=${__codename_title_shown-}
typeset -g __codename_title_printed=${__codename_title_printed-}
typeset -g __codename_own_title_shown=${__codename_own_title_shown-}
typeset -g __codename_title_pname=${__codename_title_pname-}
# Under prompt_subst the prompt refers to these; their values are never expanded again.
typeset -g __codename_zprefix=${__codename_zprefix-}
typeset -g __codename_title_label=${__codename_title_label-}
typeset -g __codename_title_plabel=${__codename_title_plabel-}
typeset -g __codename_drawn=${__codename_drawn-}
typeset -ga __codename_retitled
# The presence row last applied; anything else makes the next prompt apply the file again.
typeset -g __codename_row=$'\n'
# What the presence file names (the name and full name), and what the lease file says: the
# name it vouches for, until when (CLOCK_BOOTTIME seconds), and when it is due for renewal.
typeset -g __codename_held='' __codename_held_full='' __codename_leased=''
# The colour [Name] is painted in (see __codename_set_colour): a 256-colour index, or empty.
typeset -g __codename_colour=''
typeset -g __codename_until=0 __codename_renew_by=0 __codename_revived=0 __codename_next=0
# The name __codename_show last exported (a draw with a fleet compares $CODENAME with it).
typeset -g __codename_exported=''
# Whose mtime says when this shell last read its presence file (made 0600 by the claim beside
# it). A nested shell has none: it reads its holder's file at every prompt.
typeset -g __codename_seen=''
[[ $__codename_owner == 1 && -n $__codename_presence ]] && __codename_seen=$__codename_presence.seen
# Messages left by `codename tell` (codename_shell/inbox.py) wait beside the presence file (a
# nested shell shows its holder's): `.inbox` holds them, `.shown` says which were shown (the
# writers drop those), `.looked`'s mtime says when a prompt last read `.inbox`.
typeset -g __codename_inbox='' __codename_shown='' __codename_looked=''
if [[ -n $__codename_presence ]]; then
  __codename_inbox=$__codename_presence.inbox
  __codename_shown=$__codename_presence.shown
  __codename_looked=$__codename_presence.looked
fi

# The holder's colour from its row, checked as data: digits only, at most 255 (read as
# decimal whatever its leading zeros); else none, and [Name] is the cyan of rows that keep
# none (claimed by an older codename).
__codename_set_colour() {
  local colour=${1-}
  if [[ $colour == <-> && ${#colour} -le 3 ]] && (( 10#$colour <= 255 )); then
    __codename_colour=$(( 10#$colour ))
  else
    __codename_colour=''
  fi
  return 0
}

# Reads what this shell holds now. An emptied or removed presence file is a release, so the
# name goes; a runtime dir that is gone altogether (a tmp cleaner) is not: the ledger still
# holds the name, and it stays. `-f` first: a FIFO put in its place must not hang the prompt.
__codename_sync() {
  local file=$__codename_presence row='' full colour=''
  [[ -n $file ]] || return 0
  if [[ -f $file ]]; then
    # Before the reads, so that a change made after them is never older than this mark.
    [[ -n $__codename_seen && -f $__codename_seen ]] && { : >| $__codename_seen } 2>/dev/null
    # $(<file) is read by zsh itself, in one go: no fork, no byte-at-a-time `read`.
    row=${"$(<$file)"%%$'\n'*} 2>/dev/null
  elif [[ ! -d ${file:h} ]]; then
    return 0
  fi
  [[ -n $__codename_lease ]] && __codename_read_lease
  if [[ $row != "$__codename_row" ]]; then
    __codename_row=$row
    # A row is `name<TAB>key=value…` (codename_shell/holders.py); no value holds a tab.
    __codename_held=${row%%$'\t'*}
    full=$__codename_held
    if [[ $row == *$'\t'full=* ]]; then
      full=${${row#*$'\t'full=}%%$'\t'*}
    fi
    __codename_held_full=$full
    [[ $row == *$'\t'colour=* ]] && colour=${${row#*$'\t'colour=}%%$'\t'*}
    __codename_set_colour $colour
  fi
  __codename_show
  return 0
}

# Shows the messages `codename tell` left that no prompt has shown yet, each once, as inert
# text: `[from Pam] TEXT`. A line of .inbox is `seq<TAB>sender<TAB>text` (its writer took out
# every control character; what is left is printed with print -r, which expands no escape
# and no prompt sequence, and a control character that got in anyway is shown as `?`).
# `.looked` is marked before the read, as .seen is, so a message written meanwhile is newer
# than the mark and read at the next prompt. Builtins only.
__codename_mail() {
  local shown='' last seq sender text
  [[ -f $__codename_looked ]] && { : >| $__codename_looked } 2>/dev/null
  { IFS= read -r shown < $__codename_shown } 2>/dev/null
  [[ $shown == <-> && ${#shown} -le 12 ]] || shown=0
  last=$(( 10#$shown ))
  { while IFS=$'\t' read -r seq sender text; do
      if [[ $seq == <-> && ${#seq} -le 12 ]] && (( 10#$seq > last )); then
        print -ru3 -- "[from ${sender//[[:cntrl:]]/?}] ${text//[[:cntrl:]]/?}"
        last=$(( 10#$seq ))
      fi
    done < $__codename_inbox } 3>&2 2>/dev/null  # fd 3: the terminal; 2: a file gone meanwhile
  if (( last != 10#$shown )) && [[ -f $__codename_shown ]]; then
    { print -r -- $last >| $__codename_shown } 2>/dev/null
  fi
  return 0
}

# The lease file, checked as data: a deadline that is not a plain number vouches for nothing
# (zsh would evaluate anything else in (( )) as an expression).
__codename_read_lease() {
  local deadline='' leased='' renew='' rest
  if [[ -f $__codename_lease ]]; then
    { IFS=$'\t' read -r deadline leased renew rest < $__codename_lease } 2>/dev/null
  fi
  [[ -z $deadline || $deadline == *[^0-9]* || ${#deadline} -gt 12 ]] && deadline=0
  [[ -z $renew || $renew == *[^0-9]* || ${#renew} -gt 12 ]] && renew=0
  __codename_until=$deadline __codename_leased=$leased __codename_renew_by=$renew
  return 0
}

# Exports what this shell shows: the name its presence file holds, but with a fleet a plain
# name only while its lease file vouches for it, by /proc/uptime (read by the shell itself:
# CLOCK_BOOTTIME, the clock leases are counted on); else its host-qualified form, which no
# other host can be given. No process needs to run for that: a dead keeper's names turn
# host-qualified here at the moment their leases may end in Redis.
__codename_show() {
  local name=$__codename_held full=$__codename_held_full up='' rest
  __codename_next=999999999999  # no deadline: nothing here changes with time
  if [[ -n $__codename_lease && -n $name && $name != *@* ]]; then
    { read -r up rest < /proc/uptime } 2>/dev/null || up=''
    up=${up%%.*}
    __codename_next=0
    if [[ -z $up || $up == *[^0-9]* || $__codename_leased != "$name" ]] ||
        (( up >= __codename_until )); then
      name+=$__codename_qualifier
      full+=$__codename_qualifier
    fi
    if [[ -n $up && $up != *[^0-9]* ]]; then
      (( up >= __codename_renew_by && up >= __codename_revived )) && __codename_revive $up
      __codename_next_due $name
    fi
  fi
  if [[ -z $name ]]; then
    unset CODENAME CODENAME_FULL
  elif [[ ${CODENAME-} != "$name" || ${CODENAME_FULL-} != "$full" ]]; then
    export CODENAME=$name CODENAME_FULL=$full
  fi
  __codename_exported=$name
  return 0
}

# The uptime at which what __codename_show decided may change with time alone: the renewal
# falling due (or the next revival allowed), and while the name is shown plain, its
# deadline. Until then a draw that finds the presence and lease files as last read shows
# what it showed (see __codename_precmd).
__codename_next_due() {
  __codename_next=$(( __codename_renew_by > __codename_revived ? __codename_renew_by : __codename_revived ))
  [[ $1 != *@* ]] && (( __codename_until < __codename_next )) && __codename_next=$__codename_until
  return 0
}

# The lease was due for renewal and was not renewed: when no keeper runs (killed, the OOM
# killer, logind ending its session), start one: one process, after a fault only, at most
# every 10 s. A keeper that runs but cannot renew (stopped, cut off) is left alone: the
# deadline already shows its names host-qualified.
__codename_revive() {
  local pid=''
  __codename_revived=$(( $1 + 10 ))
  { IFS= read -r pid < ${__codename_lease:h}/keeper.lock } 2>/dev/null
  [[ -n $pid && $pid != *[^0-9]* && -d /proc/$pid ]] && return 0
  { "${__codename_keeper[@]}" </dev/null >/dev/null 2>&1 &! } 2>/dev/null
  return 0
}

# Whether the prompt draws the name itself: starship with an `env_var.CODENAME` module (the
# README's snippet), read once per shell, or a powerlevel10k `codename` segment.
__codename_native() {
  if (( ${+functions[p10k]} )); then
    return 0  # p10k rebuilds PROMPT at every prompt: the name is a segment there
  fi
  [[ ${STARSHIP_SHELL-} == zsh ]] || return 1
  if [[ -z ${__codename_starship_native-} ]]; then
    typeset -g __codename_starship_native=0
    local config=${STARSHIP_CONFIG:-$HOME/.config/starship.toml} text=''
    if [[ -f $config ]]; then
      { IFS= read -r -d '' text <$config } 2>/dev/null
    fi
    [[ $text == *env_var.CODENAME* ]] && __codename_starship_native=1
  fi
  [[ $__codename_starship_native == 1 ]]
}

# With powerlevel10k the name is a segment of its own (p10k rebuilds PROMPT at every prompt,
# so a prefix would not last): `codename`, first on the left unless the user placed one.
# p10k notices the changed element list and sets itself up again at its next prompt.
__codename_p10k() {
  (( ${+functions[p10k]} )) || return 0
  if (( ! ${+functions[prompt_codename]} )); then
    prompt_codename() {
      [[ -n ${CODENAME-} && $__codename_show_prompt == 1 && ${CODENAME_PROMPT-} != 0 ]] || return 0
      local fg=cyan
      [[ $__codename_paint == 1 && -n $__codename_colour ]] && fg=$__codename_colour
      p10k segment -f $fg -t "[${CODENAME//\%/%%}]"
    }
  fi
  if [[ $__codename_show_prompt == 1 && ${CODENAME_PROMPT-} != 0 ]] &&
      (( ! ${POWERLEVEL9K_LEFT_PROMPT_ELEMENTS[(Ie)codename]} )) &&
      (( ! ${POWERLEVEL9K_RIGHT_PROMPT_ELEMENTS[(Ie)codename]} )); then
    typeset -ga POWERLEVEL9K_LEFT_PROMPT_ELEMENTS
    POWERLEVEL9K_LEFT_PROMPT_ELEMENTS=(codename $POWERLEVEL9K_LEFT_PROMPT_ELEMENTS)
  fi
  return 0
}

# starship's PROMPT is `$(starship prompt …)`, whose output starts with a blank line: a prefix
# in front of it would stand alone above the prompt. Its output is kept in a variable instead
# and __codename_fix_drawn, a math function (called without a fork while the prompt is
# expanded), puts the prefix at the start of its last line.
__codename_fix_drawn() {
  emulate -L zsh
  [[ -n $__codename_zprefix ]] || return 0
  if [[ $__codename_drawn == *$'\n'* ]]; then
    __codename_drawn=${__codename_drawn%$'\n'*}$'\n'$__codename_zprefix${__codename_drawn##*$'\n'}
  else
    __codename_drawn=$__codename_zprefix$__codename_drawn
  fi
  return 0
}
functions -M __codename_fix_drawn 0 0 2>/dev/null

# Puts the prefix at the start of the prompt's last line (so a prompt that opens with a blank
# line or spans two shows the name on the line the cursor is on, never alone above it), or
# takes it out when the shell holds no name; puts the name in front of any title PROMPT sets.
__codename_decorate() {
  local want='' label ps1=$PROMPT start head=''
  __codename_zprefix=''
  if [[ -n ${CODENAME-} && $__codename_show_prompt == 1 && ${CODENAME_PROMPT-} != 0 ]] &&
      ! __codename_native; then
    # `%` is escaped for prompt expansion; a variable's value is not expanded again.
    label="[${CODENAME//\%/%%}]"
    __codename_zprefix="$label "
    if [[ -z ${NO_COLOR-} && $__codename_paint == 1 ]]; then
      # %F{33}: zsh writes the 256-colour SGR (\e[38;5;33m); the index was checked as digits.
      __codename_zprefix="%B%F{cyan}$label%f%b "
      [[ -n $__codename_colour ]] && __codename_zprefix="%F{$__codename_colour}$label%f "
    fi
    want=$__codename_zprefix
    [[ -o prompt_subst ]] && want='${__codename_zprefix}'
  fi
  if [[ -n $want && -o prompt_subst && $ps1 == '$('*')' && $ps1 != *__codename_drawn* ]]; then
    ps1='${${__codename_drawn::="'$ps1'"}+}${$((__codename_fix_drawn()))+}${__codename_drawn}'
  fi
  for label in "$__codename_prefix_shown" "$want"; do
    [[ -n $label ]] && ps1=${ps1//"$label"/}
  done
  local own=''
  if [[ $__codename_show_title == 1 ]]; then
    [[ -n $__codename_own_title_shown ]] && ps1=${ps1//"$__codename_own_title_shown"/}
    __codename_title_label=${CODENAME:+[$CODENAME] }
    __codename_title_plabel=${__codename_title_label//\%/%%}
    label=$__codename_title_plabel
    [[ -o prompt_subst ]] && label='${__codename_title_plabel}'
    for start in $'\e]0;' $'\e]2;'; do
      [[ $ps1 == *"$start"* ]] || continue
      [[ -n $__codename_title_shown ]] && ps1=${ps1//"$start$__codename_title_shown"/$start}
      ps1=${ps1//"$start$label"/$start}
      ps1=${ps1//"$start"/$start$label}
    done
    __codename_title_shown=$label
    # No title of the prompt's or the user's functions (see __codename_title): the title is
    # the name, put in PROMPT so that zsh writes it at each draw with nothing of ours run
    # (any program may have retitled the window); an empty one once when the name went.
    if (( ! $#__codename_retitled )) && [[ $ps1 != *$'\e]'[02]';'* ]]; then
      if [[ -n ${CODENAME-} ]]; then
        __codename_title_pname=${CODENAME//\%/%%}
        own=$'%{\e]0;'$__codename_title_pname$'\a%}'
        [[ -o prompt_subst ]] && own=$'%{\e]0;''${__codename_title_pname}'$'\a%}'
        __codename_title_printed=$CODENAME
      elif [[ -n $__codename_title_printed ]]; then
        print -rn -- $'\e]0;\a'
        __codename_title_printed=''
      fi
    fi
  fi
  # The prefix goes after the last newline, unless the starship wrapper places it.
  if [[ -n $want && $ps1 != *__codename_drawn* ]]; then
    if [[ $ps1 == *$'\n'* ]]; then
      head=${ps1%$'\n'*}$'\n'
      ps1=${ps1##*$'\n'}
    fi
    ps1=$head$want$ps1
  fi
  ps1=$own$ps1
  __codename_own_title_shown=$own
  [[ $ps1 == "$PROMPT" ]] || PROMPT=$ps1
  __codename_prefix_shown=$want
  return 0
}

# Runs a function that prints a window title with its output through the scratch file beside
# the presence file (made 0600 by the claim; a redirection and a read, no process), and
# prints that output with the name in front of each title (OSC 0 and 2) it sets. No
# `emulate` here: the wrapped function runs with the user's own options.
__codename_retitle() {
  local __codename_status=$? __codename_out=''
  local __codename_scratch=$__codename_presence.exit
  if [[ -z $__codename_title_label || -z $__codename_presence || ! -f $__codename_scratch ]]; then
    () { return $__codename_status }
    "$@"
    return
  fi
  () { return $__codename_status }
  { "$@" } >| $__codename_scratch
  __codename_status=$?
  { IFS= read -r -d '' __codename_out <$__codename_scratch } 2>/dev/null
  __codename_out=${__codename_out//$'\e]0;'/$'\e]0;'$__codename_title_label}
  __codename_out=${__codename_out//$'\e]2;'/$'\e]2;'$__codename_title_label}
  print -rn -- "$__codename_out"
  return $__codename_status
}

# Wraps the functions that print a window title (their code holds `]0;` or `]2;`): oh-my-zsh's
# `title`, a precmd or preexec of the user's. Looked for again when the hooks change or a
# wrapped one was defined anew (an rc file sourced again).
__codename_find_titles() {
  local key="${precmd_functions[*]-}|${preexec_functions[*]-}|${+functions[title]}" f body
  key+="|${+functions[precmd]}|${+functions[preexec]}|${+functions[p10k]}"
  if [[ $key == "${__codename_titles_key-}" ]]; then
    for f in $__codename_retitled; do
      [[ ${functions[$f]-} == *__codename_retitle* ]] || key=''
    done
    [[ -n $key ]] && return 0
  fi
  typeset -g __codename_titles_key=$key
  __codename_retitled=()
  for f in title precmd preexec $precmd_functions $preexec_functions; do
    [[ $f == __codename_* ]] && continue
    (( ${+functions[$f]} )) || continue
    body=${functions[$f]}
    if [[ $body == *__codename_retitle* ]]; then
      __codename_retitled+=($f)
    elif [[ $body == *']0;'* || $body == *']2;'* ]]; then
      functions[__codename_user_$f]=$body
      functions[$f]="__codename_retitle __codename_user_$f \"\$@\""
      __codename_retitled+=($f)
    fi
  done
  return 0
}

# The window (and tmux pane) title: the name goes in front of every title the user's prompt
# or functions set (their functions are wrapped here); when they set none, the title is the
# name, in PROMPT (see __codename_decorate).
__codename_title() {
  [[ $__codename_show_title == 1 ]] || return 0
  __codename_find_titles
  return 0
}

# The presence file is read again only when it is not older than this shell's last read of
# it (whoever rewrites it sets its mtime to the time it is in place; a release removes it):
# most draws cost three stats instead of a read (bench/README.md, the prompt figures).
__codename_precmd() {
  # Most draws have nothing to do: the presence file older than this shell's last read of it
  # (a message left touches it too), ours still last among the precmd functions, and the
  # functions that set a title as __codename_find_titles last saw them (powerlevel10k's
  # configuration may come later: with it, the long way each time). That is one test, made
  # before `emulate` (it reads scalars and subscripts, each with a default for nounset, and
  # compares quoted strings); the prompt is __codename_precmd_last's.
  if [[ ${+functions[p10k]} == 0 && -f $__codename_presence &&
      $__codename_seen -nt $__codename_presence &&
      ${precmd_functions[-1]-} == __codename_precmd_last &&
      ${__codename_titles_key-} == "${precmd_functions[*]-}|${preexec_functions[*]-}|${+functions[title]}|${+functions[precmd]}|${+functions[preexec]}|${+functions[p10k]}" ]]; then
    [[ -z $__codename_lease ]] && return 0
    # With a fleet: $CODENAME as __codename_show left it, the lease file as last read, and
    # the moment when what __codename_show decided may change with time alone (its
    # deadline, its renewal) not come yet, by /proc/uptime read here. zsh's -nt is false
    # when the second file is missing: a lease file not there takes the way below.
    local __codename_up __codename_rest  # set here, never in an enclosing scope
    if [[ ${CODENAME-} == "$__codename_exported" && $__codename_seen -nt $__codename_lease &&
        -r /proc/uptime ]] &&
        read -r __codename_up __codename_rest < /proc/uptime &&
        [[ -n ${__codename_up%%.*} && ${__codename_up%%.*} != *[^0-9]* ]] &&
        (( ${__codename_up%%.*} < __codename_next )); then
      return 0
    fi
    emulate -L zsh
    # No lease file vouches for nothing: without one, only a name shown qualified already
    # stays as it is; a plain one takes the long way, which reads the lease (none) again.
    if [[ $__codename_seen -nt $__codename_lease ||
        ( ! -e $__codename_lease && ${CODENAME-} == *@* ) ]]; then
      __codename_show
      return 0
    fi
  fi
  emulate -L zsh
  # Messages (one stat, on the long way only: whoever leaves one touches the presence file).
  [[ -f $__codename_inbox && ! $__codename_looked -nt $__codename_inbox ]] && __codename_mail
  # zsh's -nt is false when the second file is missing: a lease file not (yet) there is
  # looked for by -e.
  if [[ ! -f $__codename_presence || ! $__codename_seen -nt $__codename_presence ]] ||
      [[ -n $__codename_lease && -e $__codename_lease &&
        ! $__codename_seen -nt $__codename_lease ]] ||
      [[ -n $__codename_lease && ! -e $__codename_lease && ${CODENAME-} != *@* ]]; then
    __codename_sync
  elif [[ -n $__codename_lease ]]; then
    __codename_show  # a lease runs out with time alone: looked at every draw
  fi
  (( ${+functions[p10k]} )) && __codename_p10k
  # A prompt theme may build PROMPT anew in a precmd function of its own (promptinit's
  # `prompt adam1`, Debian's suggestion for new users): the prefix goes in after it.
  [[ ${precmd_functions[-1]-} == __codename_precmd_last ]] ||
    precmd_functions=(${precmd_functions:#__codename_precmd_last} __codename_precmd_last)
  __codename_title
  return 0
}

# Last of the precmd functions: the prefix, when what decides it or PROMPT changed since it
# was put in. A theme that builds PROMPT at each precmd mostly builds the same one: that one
# gets the decoration it got last time, without working it out again (~150 µs a draw).
__codename_precmd_last() {
  # What decides the decoration, and PROMPT, as this function last left them: nothing to do.
  # Tested before `emulate`, as __codename_precmd's test is (defaults for nounset, a count
  # that reads the same with ksh_arrays).
  [[ $PROMPT == "${__codename_prompt_set-}" && "${CODENAME-}|${CODENAME_PROMPT-}|${NO_COLOR-}|${STARSHIP_SHELL-}|${options[prompt_subst]}|${+functions[p10k]}|$__codename_colour|${#__codename_retitled[@]}" == "${__codename_state-}" ]] &&
    return 0
  emulate -L zsh
  local state="${CODENAME-}|${CODENAME_PROMPT-}|${NO_COLOR-}|${STARSHIP_SHELL-}"
  state+="|${options[prompt_subst]}|${+functions[p10k]}|$__codename_colour"
  state+="|${#__codename_retitled[@]}"
  if [[ $state == "${__codename_state-}" ]]; then
    [[ $PROMPT == "${__codename_prompt_set-}" ]] && return 0
    if [[ $PROMPT == "${__codename_prompt_built-}" ]]; then
      PROMPT=$__codename_prompt_set
      return 0
    fi
  fi
  typeset -g __codename_prompt_built=$PROMPT
  __codename_decorate
  typeset -g __codename_prompt_set=$PROMPT __codename_state=$state
  return 0
}

# Gives the name back by emptying this shell's presence file: a builtin, no process. Only a
# file that is there: a release removed it, and the exit must not make one.
__codename_zshexit() {
  emulate -L zsh
  if [[ $__codename_owner == 1 && $$ == ${__codename_id%%-*} && -f $__codename_presence ]]; then
    { : >| "$__codename_presence" } 2>/dev/null
  fi
  return 0
}

# `codename rename` and `codename release` act on this terminal's holder (in a nested shell,
# the outer one); whatever ran, $CODENAME is brought in step with the presence file at once,
# and the precmd hook is put back should a later line of .zshrc have emptied precmd_functions.
codename() {
  emulate -L zsh
  local -i rc=0
  local hook=gone
  if [[ ! -x ${__codename_bin[1]} ]]; then
    # The install went away under this open terminal (`install.sh --uninstall`, a wiped
    # venv): one line instead of zsh's `codename:6: no such file or directory`.
    print -ru2 -- "codename: not installed any more (${__codename_bin[1]} is gone);" \
      "open a new terminal"
    return 127
  fi
  if [[ ${1-} == (rename|release) && -z ${(M)@:#--pid(|=*)} ]]; then
    set -- "$1" --pid "${CODENAME_PID:-$$}" "${@[2,-1]}"
  fi
  if [[ ${1-} == doctor ]]; then
    # doctor is another process: it cannot see precmd_functions, and $CODENAME_ID only says
    # that the hook ran once. Tell it whether the next prompt runs ours (this command only).
    [[ -n ${__codename_installed-} ]] && (( ${precmd_functions[(Ie)__codename_precmd]} )) &&
      hook=live
    CODENAME_HOOK_STATE="zsh $ZSH_VERSION $hook" "${__codename_bin[@]}" "$@" || rc=$?
  else
    "${__codename_bin[@]}" "$@" || rc=$?
  fi
  if [[ -n ${__codename_installed-} ]] && (( ! ${precmd_functions[(Ie)__codename_precmd]} )); then
    __codename_hook_precmd
  fi
  __codename_sync
  return rc
}

# Ours first, so the title functions it wraps are wrapped before they run, and the prefix
# last (see __codename_precmd_last). add-zsh-hook adds a function once, however often the
# rc file is sourced.
__codename_hook_precmd() {
  emulate -L zsh
  autoload -Uz add-zsh-hook
  add-zsh-hook precmd __codename_precmd
  precmd_functions=(__codename_precmd ${precmd_functions:#__codename_precmd(|_last)}
    __codename_precmd_last)
  return 0
}

__codename_install() {
  emulate -L zsh
  __codename_held=$__codename_name __codename_held_full=$__codename_full
  __codename_set_colour $__codename_colour_given
  [[ -n $__codename_lease ]] && __codename_read_lease
  __codename_show
  export CODENAME_PID=${__codename_id%%-*} CODENAME_ID=$__codename_id
  typeset -g __codename_installed=1
  __codename_hook_precmd
  autoload -Uz add-zsh-hook
  if [[ $__codename_owner == 1 ]]; then
    add-zsh-hook zshexit __codename_zshexit
  fi
  __codename_p10k
  typeset -g __codename_titles_key=''  # an rc file sourced again may define them anew
  __codename_title
  __codename_decorate
  return 0
}

# A hook printed off a terminal (`codename init zsh > file`, a cache) names no shell, and a
# cached one may name another: ask codename for this shell's name now, once (one Python
# process, as with the usual hook line), and run the hook it prints.
__codename_ask() {
  local __codename_asking=1 __codename_code
  __codename_code=$("${__codename_bin[@]}" init zsh) || __codename_code=''
  eval "$__codename_code"
  return 0
}

# Whether the values above are this shell's: its own claim, or the name of the holder it
# runs nested in (whose id it inherited).
__codename_mine() {
  emulate -L zsh
  [[ -n $__codename_id ]] || return 1
  if [[ $__codename_owner == 1 ]]; then
    [[ $$ == ${__codename_id%%-*} ]]
  else
    [[ ${CODENAME_ID-} == "$__codename_id" ]]
  fi
}

if [[ -o interactive ]]; then
  if __codename_mine; then
    __codename_install
  elif [[ -z ${__codename_asking-} && -t 0 && ${TERM-} != dumb &&
      -z ${VSCODE_RESOLVING_ENVIRONMENT+set} ]]; then
    __codename_ask
  fi
elif [[ $__codename_owner == 1 && $$ == ${__codename_id%%-*} && -f $__codename_presence ]]; then
  # Sourced by a shell that is not interactive after all: give the name straight back.
  { : >| "$__codename_presence" } 2>/dev/null
fi
