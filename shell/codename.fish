# codename hook for fish, printed by `codename init fish` for `| source` in config.fish.
# The __CN_*__ words were replaced by values quoted for fish; the rest is fixed text.
# Drawing a prompt and leaving the shell start no process: builtins and functions only.
#
# What the shell shows follows what it holds: before each prompt it reads its presence file
# (a nested shell reads its holder's) and takes the name from there, so a release or a
# rename done anywhere reaches this prompt, its $CODENAME and its title at the next redraw.

set -g __codename_name __CN_NAME__
set -g __codename_full __CN_FULL__
set -g __codename_id __CN_ID__
set -g __codename_presence __CN_PRESENCE__
set -g __codename_owner __CN_OWNER__
set -g __codename_bin __CN_BIN__
set -g __codename_show_prompt __CN_PROMPT__
set -g __codename_show_title __CN_TITLE__
# The holder's colour as claimed (a 256-colour index, or empty), and whether to paint [Name]
# with it at all (`[prompt] colour` in config.toml; NO_COLOR is looked at every prompt).
set -g __codename_colour_given __CN_COLOUR__
set -g __codename_paint __CN_PAINT__
# With a fleet: this holder's lease file, the host qualifier (`@vm~3f2a9c`) and how to start
# a keeper (codename_shell/fleet/lease.py); all empty without one.
set -g __codename_lease __CN_LEASE__
set -g __codename_qualifier __CN_QUALIFIER__
set -g __codename_keeper __CN_KEEPER__
# The presence row last applied; anything else makes the next prompt apply the file again.
set -g __codename_row \n
# What the presence file names (the name and full name), and what the lease file says: the
# name it vouches for, until when (CLOCK_BOOTTIME seconds), and when it is due for renewal.
set -g __codename_held ''
set -g __codename_held_full ''
# The colour [Name] is painted in (see __codename_set_colour): a 256-colour index, or empty.
set -g __codename_colour ''
set -g __codename_leased ''
set -g __codename_until 0
set -g __codename_renew_by 0
set -g __codename_revived 0
set -g __codename_next 0 # see __codename_next_due
set -g __codename_exported '' # the name __codename_show last exported
# Whose mtime says when this shell last read its presence file (made 0600 by the claim beside
# it). A nested shell has none: it reads its holder's file at every prompt.
set -g __codename_seen ''
if test "$__codename_owner" = 1 -a -n "$__codename_presence"
    set __codename_seen $__codename_presence.seen
end
# Messages left by `codename tell` (codename_shell/inbox.py) wait beside the presence file (a
# nested shell shows its holder's): `.inbox` holds them, `.shown` says which were shown (the
# writers drop those), `.looked`'s mtime says when a prompt last read `.inbox`.
set -g __codename_inbox ''
set -g __codename_shown ''
set -g __codename_looked ''
if test -n "$__codename_presence"
    set __codename_inbox $__codename_presence.inbox
    set __codename_shown $__codename_presence.shown
    set __codename_looked $__codename_presence.looked
end

# The holder's colour from its row, checked as data: digits only, at most 255; else none,
# and [Name] is the cyan of rows that keep none (claimed by an older codename).
function __codename_set_colour
    set -g __codename_colour ''
    if string match -qr '^[0-9]{1,3}$' -- "$argv[1]"; and test "$argv[1]" -le 255
        set -g __codename_colour (math "$argv[1]")
    end
end

# Reads what this shell holds now. An emptied or removed presence file is a release, so the
# name goes; a runtime dir that is gone altogether (a tmp cleaner) is not: the ledger still
# holds the name, and it stays. `-f` first: a FIFO put in its place must not hang the prompt.
function __codename_sync
    set -l file $__codename_presence
    test -n "$file"; or return 0
    set -l row ''
    if test -f "$file"
        # Before the read, so that a change made after it is never older than this mark.
        if test -n "$__codename_seen" -a -f "$__codename_seen"
            true >$__codename_seen 2>/dev/null
        end
        read row <$file 2>/dev/null
    else if not test -d (string replace -r '/[^/]*$' '' -- $file)
        return 0
    end
    test -n "$__codename_lease"; and __codename_read_lease
    if test "$row" != "$__codename_row"
        set -g __codename_row $row
        # A row is `name<TAB>key=value…` (codename_shell/holders.py); no value holds a tab.
        set -l fields (string split \t -- $row)
        set -l full $fields[1]
        set -l colour ''
        for field in $fields[2..-1]
            if string match -q 'full=*' -- $field
                set full (string sub -s 6 -- $field)
            else if string match -q 'colour=*' -- $field
                set colour (string sub -s 8 -- $field)
            end
        end
        set -g __codename_held $fields[1]
        set -g __codename_held_full $full
        __codename_set_colour $colour
    end
    __codename_show
    return 0
end

# Shows the messages `codename tell` left that no prompt has shown yet, each once, as inert
# text: `[from Pam] TEXT`. A line of .inbox is `seq<TAB>sender<TAB>text` (its writer took out
# every control character; what is left is printed through %s, never as a format, with no
# `echo -e`, and a control character that got in anyway is shown as `?`). `.looked` is
# marked before the read, as .seen is, so a message written meanwhile is newer than the mark
# and read at the next prompt. Builtins only (fish runs them in a substitution without a
# process).
function __codename_mail
    test -f "$__codename_looked"; and true >$__codename_looked 2>/dev/null
    set -l shown 0
    read -l seen <$__codename_shown 2>/dev/null
    and string match -qr '^[0-9]{1,12}$' -- "$seen"
    and set shown (math "$seen")
    set -l last $shown
    set -l content ''
    read -z content <$__codename_inbox 2>/dev/null
    for line in (string split \n -- $content)
        set -l fields (string split -m2 \t -- $line)
        if string match -qr '^[0-9]{1,12}$' -- "$fields[1]"; and test "$fields[1]" -gt $last
            set -l sender (string replace -ra '[\x00-\x1f\x7f-\x9f]' '?' -- "$fields[2]")
            set -l text (string replace -ra '[\x00-\x1f\x7f-\x9f]' '?' -- "$fields[3]")
            printf '[from %s] %s\n' "$sender" "$text" >&2
            set last (math "$fields[1]")
        end
    end
    if test $last -ne $shown; and test -f "$__codename_shown"
        printf '%s\n' $last >$__codename_shown 2>/dev/null
    end
end

# The lease file, checked as data: a deadline that is not a plain number vouches for nothing.
function __codename_read_lease
    set -l fields
    if test -f "$__codename_lease"
        read -l line <$__codename_lease 2>/dev/null
        and set fields (string split \t -- $line)
    end
    set -g __codename_until 0
    set -g __codename_renew_by 0
    set -g __codename_leased "$fields[2]"
    string match -qr '^[0-9]{1,12}$' -- "$fields[1]"; and set -g __codename_until $fields[1]
    string match -qr '^[0-9]{1,12}$' -- "$fields[3]"; and set -g __codename_renew_by $fields[3]
    return 0
end

# Exports what this shell shows: the name its presence file holds, but with a fleet a plain
# name only while its lease file vouches for it, by /proc/uptime (read by the shell itself:
# CLOCK_BOOTTIME, the clock leases are counted on); else its host-qualified form, which no
# other host can be given. No process needs to run for that: a dead keeper's names turn
# host-qualified here at the moment their leases may end in Redis.
function __codename_show
    set -l name $__codename_held
    set -l full $__codename_held_full
    set -g __codename_next 999999999999 # no deadline: nothing here changes with time
    if test -n "$__codename_lease" -a -n "$name"; and not string match -q '*@*' -- $name
        set -l up ''
        read -l line </proc/uptime 2>/dev/null
        and set up (string split -m1 . -- (string split -m1 ' ' -- $line)[1])[1]
        set -g __codename_next 0
        if not string match -qr '^[0-9]{1,12}$' -- "$up"
            set name $name$__codename_qualifier
            set full $full$__codename_qualifier
        else
            if test "$__codename_leased" != "$name"; or test $up -ge $__codename_until
                set name $name$__codename_qualifier
                set full $full$__codename_qualifier
            end
            if test $up -ge $__codename_renew_by -a $up -ge $__codename_revived
                __codename_revive $up
            end
            __codename_next_due $name
        end
    end
    if test -z "$name"
        set -e CODENAME
        set -e CODENAME_FULL
    else if test "$CODENAME" != "$name" -o "$CODENAME_FULL" != "$full"
        set -gx CODENAME $name
        set -gx CODENAME_FULL $full
    end
    set -g __codename_exported $name
    return 0
end

# The uptime at which what __codename_show decided may change with time alone: the renewal
# falling due (or the next revival allowed), and while the name is shown plain, its
# deadline. Until then a draw that finds the presence and lease files as last read shows
# what it showed (see __codename_on_prompt).
function __codename_next_due
    set -g __codename_next $__codename_renew_by
    test $__codename_revived -gt $__codename_next; and set -g __codename_next $__codename_revived
    if not string match -q '*@*' -- $argv[1]; and test $__codename_until -lt $__codename_next
        set -g __codename_next $__codename_until
    end
    return 0
end

# The lease was due for renewal and was not renewed: when no keeper runs (killed, the OOM
# killer, logind ending its session), start one: one process, after a fault only, at most
# every 10 s. A keeper that runs but cannot renew (stopped, cut off) is left alone: the
# deadline already shows its names host-qualified.
function __codename_revive
    set -g __codename_revived (math $argv[1] + 10)
    set -l lock (string replace -r '/[^/]*$' '' -- $__codename_lease)/keeper.lock
    set -l pid ''
    read pid <$lock 2>/dev/null
    if string match -qr '^[0-9]+$' -- "$pid"; and test -d /proc/$pid
        return 0
    end
    $__codename_keeper </dev/null >/dev/null 2>&1 &
    disown $last_pid 2>/dev/null
    return 0
end

# Whether the prompt draws the name itself: a tide `codename` item, or starship with an
# `env_var.CODENAME` module (the README's snippets; starship's config is read once).
function __codename_native
    contains codename $tide_left_prompt_items $tide_right_prompt_items; and return 0
    test "$STARSHIP_SHELL" = fish; or return 1
    if not set -q __codename_starship_native
        set -g __codename_starship_native 0
        set -l config $STARSHIP_CONFIG
        test -n "$config"; or set config ~/.config/starship.toml
        set -l text ''
        if test -f "$config"
            read -z text <$config 2>/dev/null
        end
        string match -q '*env_var.CODENAME*' -- $text; and set -g __codename_starship_native 1
    end
    test "$__codename_starship_native" = 1
end

# Put our prefix in the user's fish_prompt, and the name before their title. Done at the
# start and again at the first prompt: config.fish runs after conf.d/, and a fish_prompt
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
        # so it still sees the last command's $status and $pipestatus. The prefix goes at
        # the start of its last line: a prompt that opens with a blank line or spans two
        # (starship, tide) shows the name on the line the cursor is on, never alone above.
        # The substitution splits the lines itself, and the colours are looked up once
        # (`set_color` here, `string split` and `count` in substitutions cost ~300 µs a draw).
        set -g __codename_cyan (set_color --bold cyan)
        set -g __codename_plain (set_color normal)
        function fish_prompt --description 'codename: [name] before the prompt'
            set -l lines (__codename_user_prompt)
            if set -q lines[2]
                printf '%s\n' $lines[1..-2]
            end
            if set -q CODENAME[1]; and test -n "$CODENAME" -a "$CODENAME_PROMPT" != 0; and not __codename_native
                if test -n "$NO_COLOR" -o "$__codename_paint" != 1
                    printf '[%s] ' "$CODENAME"
                else if test -n "$__codename_colour"
                    # The 256-colour SGR itself: set_color takes names and RGB, not indices.
                    printf '\e[38;5;%sm[%s]%s ' "$__codename_colour" "$CODENAME" "$__codename_plain"
                else
                    printf '%s[%s]%s ' "$__codename_cyan" "$CODENAME" "$__codename_plain"
                end
            end
            printf '%s' $lines[-1]
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
            set -l user_title (__codename_user_title $argv)
            if test -n "$CODENAME"
                printf '[%s] %s' "$CODENAME" "$user_title"
            else
                printf '%s' "$user_title"
            end
        end
    end
end

# Gives the name back by emptying this shell's presence file: a redirection, no process. Only
# a file that is there: a release removed it, and the exit must not make one.
function __codename_give_back
    if test "$__codename_owner" = 1; and test "$fish_pid" = (string split -m1 -- - $__codename_id)[1]; and test -f "$__codename_presence"
        true >$__codename_presence 2>/dev/null
    end
end

# `codename rename` and `codename release` act on this terminal's holder (in a nested shell,
# the outer one); whatever ran, $CODENAME is brought in step with the presence file at once.
function codename --description 'codename, following this terminal\'s name'
    if not test -x "$__codename_bin[1]"
        # The install went away under this open terminal (`install.sh --uninstall`, a wiped
        # venv): one line instead of fish's five-line `Unknown command` trace.
        printf 'codename: not installed any more (%s is gone); open a new terminal\n' \
            $__codename_bin[1] >&2
        return 127
    end
    set -l args $argv
    if contains -- "$argv[1]" rename release; and not string match -q -r -- '^--pid(=|$)' $argv
        set -l pid $CODENAME_PID
        test -n "$pid"; or set pid $fish_pid
        set args $argv[1] --pid $pid $argv[2..-1]
    end
    if test "$argv[1]" = doctor
        # doctor is another process: it cannot see this shell's event handlers, and
        # $CODENAME_ID only says that the hook ran once. Tell it whether the next prompt runs
        # ours (only it: the variable is local to this block).
        set -l hook gone
        if set -q __codename_installed; and functions -q __codename_on_prompt
            set hook live
        end
        set -lx CODENAME_HOOK_STATE "fish $FISH_VERSION $hook"
        $__codename_bin $args
    else
        $__codename_bin $args
    end
    set -l rc $status
    __codename_sync
    # A fish_prompt or fish_title defined since (`fish_config prompt choose`, a prompt
    # framework set up at the prompt) replaced our wrapper: the name goes back into it now,
    # as the bash and zsh hooks are put back by the next `codename` command.
    set -q __codename_installed; and __codename_wrap
    return $rc
end


# The long way of a draw: messages (one stat while none waits, two once one was shown), then
# the presence file.
function __codename_on_change
    if test -f "$__codename_inbox"; and not test "$__codename_looked" -nt "$__codename_inbox"
        __codename_mail
    end
    __codename_sync
end

function __codename_install
    set -g __codename_held $__codename_name
    set -g __codename_held_full $__codename_full
    __codename_set_colour $__codename_colour_given
    test -n "$__codename_lease"; and __codename_read_lease
    __codename_show
    set -gx CODENAME_PID (string split -m1 -- - $__codename_id)[1]
    set -gx CODENAME_ID $__codename_id
    set -g __codename_installed 1

    __codename_wrap
    function __codename_first_prompt --on-event fish_prompt
        functions -e __codename_first_prompt
        __codename_wrap
    end
    # Before fish_title and fish_prompt run: they show what __codename_sync found. Most
    # draws have nothing to follow: the presence file is older than this shell's last read
    # of it (whoever rewrites it sets its mtime to the time it is in place; a release removes
    # it; whoever leaves a message touches it). Such a draw costs this one test (three
    # stats, no read); messages are looked for on the long way only. Without a fleet there
    # is no lease to look at, and the handler is defined without those tests.
    if test -z "$__codename_lease"
        function __codename_on_prompt --on-event fish_prompt
            if not test -f "$__codename_presence" -a "$__codename_seen" -nt "$__codename_presence"
                __codename_on_change
            end
        end
    else
        # With a fleet, the lease too: $CODENAME as __codename_show left it, the file as last
        # read (no file vouches for nothing: without one, only a name shown qualified
        # already stays), and the moment when what __codename_show decided may change with
        # time alone (its deadline, its renewal) not come yet, by /proc/uptime read here.
        function __codename_on_prompt --on-event fish_prompt
            if test -f "$__codename_presence" -a "$__codename_seen" -nt "$__codename_presence"
                and test "$CODENAME" = "$__codename_exported"
                and begin
                    test -e "$__codename_lease" -a "$__codename_seen" -nt "$__codename_lease"
                    or begin
                        not test -e "$__codename_lease"; and string match -q '*@*' -- "$CODENAME"
                    end
                end
                if not test -r /proc/uptime
                    or not read -l -d . up rest </proc/uptime
                    or not string match -qr '^[0-9]{1,12}$' -- "$up"
                    or test "$up" -ge $__codename_next
                    __codename_show
                end
            else
                __codename_on_change
            end
        end
    end
    if test "$__codename_owner" = 1; and not functions -q __codename_on_exit
        function __codename_on_exit --on-event fish_exit
            __codename_give_back
        end
    end

    if test "$__codename_show_title" = 1
        printf '\e]0;%s\a' "$CODENAME"
    end
end

# A hook printed off a terminal (`codename init fish > file`, a cache) names no shell, and a
# cached one may name another: ask codename for this shell's name now, once (one Python
# process, as with the usual hook line), and run the hook it prints.
function __codename_ask
    set -g __codename_asking 1
    $__codename_bin init fish | source
    set -e __codename_asking
end

# Whether the values above are this shell's: its own claim, or the name of the holder it
# runs nested in (whose id it inherited).
function __codename_mine
    test -n "$__codename_id"; or return 1
    if test "$__codename_owner" = 1
        test "$fish_pid" = (string split -m1 -- - $__codename_id)[1]
    else
        test "$CODENAME_ID" = "$__codename_id"
    end
end

if status is-interactive
    if __codename_mine
        __codename_install
    else if not set -q __codename_asking; and test -t 0; and test "$TERM" != dumb; and not set -q VSCODE_RESOLVING_ENVIRONMENT
        __codename_ask
    end
else
    # Sourced by a shell that is not interactive after all: give the name straight back.
    __codename_give_back
end
