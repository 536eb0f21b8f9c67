# codename hook for fish, printed by `codename init fish` for `| source` in config.fish.
# The __CN_*__ words were replaced by values quoted for fish; the rest is fixed text.
# Drawing a prompt and leaving the shell start no process: builtins and functions only.

set -g __codename_name __CN_NAME__
set -g __codename_full __CN_FULL__
set -g __codename_id __CN_ID__
set -g __codename_presence __CN_PRESENCE__
set -g __codename_owner __CN_OWNER__
set -g __codename_bin __CN_BIN__
set -g __codename_themes __CN_THEMES__
set -g __codename_show_prompt __CN_PROMPT__
set -g __codename_show_title __CN_TITLE__

if status is-interactive
    set -gx CODENAME $__codename_name
    set -gx CODENAME_FULL $__codename_full
    set -gx CODENAME_PID (string split -m1 -- - $__codename_id)[1]
    set -gx CODENAME_ID $__codename_id

    # Put our prefix before the user's fish_prompt, and the name before their title. Done
    # now and again at the first prompt: config.fish runs after conf.d/, and a fish_prompt
    # it defines would otherwise replace ours. A wrapper is never wrapped again.
    function __codename_wrap
        if test "$__codename_show_prompt" = 1; and not string match -q '*__codename_user_prompt*' -- (functions fish_prompt 2>/dev/null)
            functions -e __codename_user_prompt
            if functions -q fish_prompt
                functions -c fish_prompt __codename_user_prompt
            else
                function __codename_user_prompt
                    printf '%s> ' (prompt_pwd)
                end
            end
            # The user's prompt runs first, in a command substitution (no process in fish),
            # so it still sees the last command's $status and $pipestatus.
            function fish_prompt --description 'codename: [name] before the prompt'
                set -l user_prompt (__codename_user_prompt | string collect -N)
                if test -n "$NO_COLOR"
                    printf '[%s] ' "$CODENAME"
                else
                    printf '%s[%s]%s ' (set_color --bold cyan) "$CODENAME" (set_color normal)
                end
                printf '%s' $user_prompt
            end
        end
        # fish redraws the title at every prompt: the name goes in front of it there.
        if test "$__codename_show_title" = 1; and not string match -q '*__codename_user_title*' -- (functions fish_title 2>/dev/null)
            functions -e __codename_user_title
            if functions -q fish_title
                functions -c fish_title __codename_user_title
            else
                function __codename_user_title
                    prompt_pwd
                end
            end
            function fish_title --description 'codename: [name] before the title'
                set -l user_title (__codename_user_title $argv | string collect)
                printf '[%s] %s' "$CODENAME" "$user_title"
            end
        end
    end
    __codename_wrap
    function __codename_first_prompt --on-event fish_prompt
        functions -e __codename_first_prompt
        __codename_wrap
    end

    # Gives the name back by emptying this shell's presence file: a redirection, no process.
    if test "$__codename_owner" = 1; and not functions -q __codename_on_exit
        function __codename_on_exit --on-event fish_exit
            if test "$fish_pid" = (string split -m1 -- - $__codename_id)[1]
                true >$__codename_presence 2>/dev/null
            end
        end
    end

    # `codename rename` changes this terminal's name in place, so it runs in this shell.
    function codename --description 'codename, with `rename` acting on this shell'
        if test "$argv[1]" = rename
            set -l code ($__codename_bin rename --pid $CODENAME_PID --shell fish $argv[2..-1])
            or return
            string join \n -- $code | source
        else
            $__codename_bin $argv
        end
    end

    # Theme names come from config.toml: printed by a function, never expanded as code.
    function __codename_theme_words
        printf '%s\n' $__codename_themes --clear
    end

    complete -c codename -e
    complete -c codename -f
    complete -c codename -n __fish_use_subcommand -a 'init claim release rename who themes theme reap doctor run heartbeat'
    complete -c codename -n '__fish_seen_subcommand_from init' -a 'bash zsh fish'
    complete -c codename -n '__fish_seen_subcommand_from theme' -a '(__codename_theme_words)'
    complete -c codename -n '__fish_seen_subcommand_from who' -a '--json --markdown'
    complete -c codename -n '__fish_seen_subcommand_from themes' -a --json
    complete -c codename -n '__fish_seen_subcommand_from claim' -a '--pid --kind --name --json'
    complete -c codename -n '__fish_seen_subcommand_from release heartbeat' -a --pid
    complete -c codename -n '__fish_seen_subcommand_from run' -a '--name --'

    if test "$__codename_show_title" = 1
        printf '\e]0;%s\a' "$CODENAME"
    end
else if test "$__codename_owner" = 1
    # Sourced by a shell that is not interactive after all: give the name straight back.
    true >$__codename_presence 2>/dev/null
end
