# codename hook for zsh, printed by `codename init zsh` for `eval` in ~/.zshrc.
# The __CN_*__ words were replaced by values quoted for zsh; the rest is fixed text.
# Drawing a prompt and leaving the shell start no process: builtins only. Functions use
# `emulate -L zsh` so the user's options (nounset, err_exit, ksh arrays…) cannot trip them.

typeset -g __codename_name=__CN_NAME__
typeset -g __codename_full=__CN_FULL__
typeset -g __codename_id=__CN_ID__
typeset -g __codename_presence=__CN_PRESENCE__
typeset -g __codename_owner=__CN_OWNER__
typeset -ga __codename_bin
__codename_bin=(__CN_BIN__)
typeset -ga __codename_themes
__codename_themes=(__CN_THEMES__)
typeset -g __codename_show_prompt=__CN_PROMPT__
typeset -g __codename_show_title=__CN_TITLE__
# Kept when the rc file is sourced again, so the prefix shown before can still be taken out.
typeset -g __codename_prefix_shown=${__codename_prefix_shown-}
typeset -g __codename_label=${__codename_label-}

__codename_precmd() {
  emulate -L zsh
  # compinit often runs after this hook was installed: register the completion once it has.
  if (( ! ${+__codename_completing} && ${+functions[compdef]} )); then
    typeset -g __codename_completing=1
    compdef __codename_complete codename
  fi
  [[ $__codename_show_prompt == 1 ]] || return 0
  # The name goes in as text, never as code: `%` is escaped for prompt expansion, and under
  # prompt_subst the prompt holds a reference to a variable, whose value is not re-expanded.
  __codename_label="[${${CODENAME-}//\%/%%}]"
  local label=$__codename_label
  if [[ -o prompt_subst ]]; then
    label='${__codename_label}'
  fi
  local prefix="$label "
  if [[ -z ${NO_COLOR-} ]]; then
    prefix="%B%F{cyan}$label%f%b "
  fi
  if [[ $PROMPT != "$prefix"* ]]; then
    if [[ -n $__codename_prefix_shown ]]; then
      PROMPT=${PROMPT//"$__codename_prefix_shown"/}
    fi
    PROMPT=$prefix$PROMPT
    __codename_prefix_shown=$prefix
  fi
  return 0
}

# Gives the name back by emptying this shell's presence file: a builtin, no process.
__codename_zshexit() {
  emulate -L zsh
  if [[ $__codename_owner == 1 && $$ == ${__codename_id%%-*} ]]; then
    { : >| "$__codename_presence" } 2>/dev/null
  fi
  return 0
}

# `codename rename` changes this terminal's name in place, so it runs in this shell.
codename() {
  emulate -L zsh
  if [[ ${1-} == rename ]]; then
    shift
    local code
    code=$("${__codename_bin[@]}" rename --pid "${CODENAME_PID:-$$}" --shell zsh "$@") || return
    eval "$code"
    __codename_title
  else
    "${__codename_bin[@]}" "$@"
  fi
}

__codename_complete() {
  emulate -L zsh
  local -a opts
  if (( CURRENT == 2 )); then
    opts=(init claim release rename who themes theme reap doctor run heartbeat)
  else
    case ${words[CURRENT-1]} in
      init) opts=(bash zsh fish) ;;
      theme) opts=("${__codename_themes[@]}" --clear) ;;
      --kind) opts=(terminal spare job) ;;
      who) opts=(--json --markdown) ;;
      themes) opts=(--json) ;;
      claim) opts=(--pid --kind --name --json) ;;
      release|heartbeat) opts=(--pid) ;;
      run) opts=(--name --) ;;
    esac
  fi
  compadd -a opts
}

__codename_title() {
  emulate -L zsh
  if [[ $__codename_show_title == 1 ]]; then
    print -rn -- $'\e]0;'"${CODENAME-}"$'\a'
  fi
  return 0
}

__codename_install() {
  emulate -L zsh
  export CODENAME=$__codename_name CODENAME_FULL=$__codename_full
  export CODENAME_PID=${__codename_id%%-*} CODENAME_ID=$__codename_id
  autoload -Uz add-zsh-hook
  # add-zsh-hook adds a function once, however often the rc file is sourced.
  add-zsh-hook precmd __codename_precmd
  if [[ $__codename_owner == 1 ]]; then
    add-zsh-hook zshexit __codename_zshexit
  fi
  __codename_title
  return 0
}

if [[ -o interactive ]]; then
  __codename_install
elif [[ $__codename_owner == 1 ]]; then
  # Sourced by a shell that is not interactive after all: give the name straight back.
  { : >| "$__codename_presence" } 2>/dev/null
fi
