"""Beyond the roster: a session found, reached and told apart by its name (issue 21).

`where` says where NAME's session runs, `attach` brings its tmux pane up in this client, `tell`
leaves a line above its next prompt, and every name has a colour of its own. All of it tried
as a user meets it: real bash, zsh and fish in real tmux panes (tests/tmux_panes.py), a real
tmux client on a pseudo-terminal, the real CLI; for the fleet, hosts as namespaces and a real
redis-server.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from conftest import World
from fleet_hosts import Host
from helpers import (
    assert_one_line_error,
    marker_line,
    processes_after,
    require_strace,
    wait_for,
)
from terminals import PID, SHELLS, shell_argv, write_rc
from tmux_panes import Tmux

from codename_shell import colours, inbox, liveness


@pytest.fixture
def tmux(world: World) -> Iterator[Tmux]:
    """A tmux server of the test's own, in its world (write the rc files first)."""
    server = Tmux(world)
    yield server
    server.close()


def rc_files(world: World) -> None:
    for shell in SHELLS:
        write_rc(world, shell)


def name_in(tmux: Tmux, pane: str) -> str:
    return tmux.ask(pane, '"$CODENAME"')


def opened(tmux: Tmux, shell: str, name: str, session: str = "a") -> str:
    """A new pane running `shell`, once its shell has its name (`name`: shells started one
    after another get the cast's names in order)."""
    pane = tmux.open(shell, session=session)
    assert name_in(tmux, pane) == name
    return pane


def sign_as(world: World, name: str) -> None:
    """This test process holds `name` in the world: a `codename tell` it runs is signed so
    (the nearest holder up the caller's process tree, as `note` signs)."""
    assert world.claim(os.getpid(), "--name", name) == name


def inbox_of(world: World, ident: str) -> inbox.Inbox:
    return inbox.Inbox(str(world.presence_dir / ident))


# --- where -------------------------------------------------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_where_says_host_pid_tty_tmux_pane_cwd_kind_and_since(
        world: World, tmux: Tmux, shell: str) -> None:
    rc_files(world)
    opened(tmux, "bash", "Michael", "work")
    pane = opened(tmux, shell, "Dwight", "work")
    odd = world.home / "a dir with 'quotes' \"and\" $x"
    odd.mkdir()
    tmux.type(pane, f"cd {shell_word(str(odd), shell)}")
    pid = int(tmux.ask(pane, PID[shell]))
    tty = tmux("display-message", "-p", "-t", pane, "#{pane_tty}").strip()
    target = tmux("display-message", "-p", "-t", pane,
                  "#{session_name}:#{window_index}.#{pane_index}").strip()

    fullwidth = "\uff24\uff37\uff29\uff27\uff28\uff34"  # DWIGHT in fullwidth letters
    r = world.run("where", fullwidth, "--json")

    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert found["name"] == "Dwight" and found["kind"] == "terminal"
    assert found["host"] == liveness.host() and found["this_host"] is True
    assert found["pid"] == pid and found["tty"] == tty
    assert found["tmux"] == {"pane": pane, "target": target, "socket": tmux.socket}
    assert found["cwd"] == str(odd)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", found["since"])
    assert found["colour"] == colours.PALETTE[1]

    text = world.run("where", "dwight")
    assert text.returncode == 0, text.stderr
    lines = dict(line.split(None, 1) for line in text.stdout.splitlines())
    assert lines["name"] == "Dwight (Dwight Schrute)" and lines["pid"] == str(pid)
    assert lines["tty"] == tty.removeprefix("/dev/") and lines["tmux"] == f"{pane} {target}"
    assert lines["cwd"] == "~/a dir with 'quotes' \"and\" $x"
    assert lines["kind"] == "terminal" and lines["host"] == liveness.host()


def shell_word(text: str, shell: str) -> str:
    from codename_shell.shells import quote

    return quote(text, shell)


def test_where_places_a_job_without_a_terminal_by_the_pane_it_came_from(
        world: World, tmux: Tmux) -> None:
    rc_files(world)
    pane = opened(tmux, "bash", "Michael")
    # Its own session, no controlling terminal: only its environment says where it came from.
    tmux.type(pane, "setsid -f codename run --name Andy -- sleep 300 </dev/null >/dev/null 2>&1")

    def found() -> dict[str, object] | None:
        r = world.run("where", "andy", "--json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    wait_for(lambda: found() is not None, "the job to hold Andy")
    job = found()
    assert job is not None
    try:
        assert job["kind"] == "job" and job["tty"] is None
        assert job["tmux"] == {"pane": pane, "target": "a:0.0", "socket": tmux.socket}
    finally:
        os.kill(int(str(job["pid"])), signal.SIGTERM)  # outside the pane: it outlives tmux


def test_where_without_a_live_holder_is_one_line_and_exit_1(world: World) -> None:
    holder = world.sleeper()
    assert world.claim(holder.pid) == "Michael"
    holder.kill()
    holder.wait()

    for name in ("michael", "Toby", "\x1b]0;x\x07"):
        line = assert_one_line_error(world.run("where", name))
        assert "no live holder of" in line and "\x1b" not in line
    assert world.run("where", "nobody", "--json").stdout == ""


# --- attach ------------------------------------------------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_attach_switches_the_client_to_the_pane_in_another_session_and_window(
        world: World, tmux: Tmux, shell: str) -> None:
    rc_files(world)
    mine = opened(tmux, shell, "Michael", "a")
    opened(tmux, "bash", "Dwight", "b")
    target = opened(tmux, "zsh", "Jim", "b")  # window 1 of session b
    tmux.attach("a")
    assert tmux.client_pane() == mine

    tmux.type(mine, "codename attach jim")

    wait_for(lambda: tmux.client_pane() == target, "the client to show Jim's pane")
    assert tmux("display-message", "-p", "-t", target, "#{window_active}").strip() == "1"
    tmux.wait_for(mine, f"attached to Jim: pane {target} (b:1.0)")


def test_attach_outside_tmux_says_where_the_name_is(world: World, tmux: Tmux) -> None:
    rc_files(world)
    pane = tmux.open("bash")
    assert name_in(tmux, pane) == "Michael"
    pid = tmux.ask(pane, "$$")

    line = assert_one_line_error(world.run("attach", "michael"))  # TMUX is not set here

    assert f"Michael is pid {pid} on host {liveness.host()}" in line
    assert f"tmux pane {pane} a:0.0" in line and "not in tmux" in line


def test_attach_to_a_name_in_no_pane_of_this_server_says_where_it_is(
        world: World, tmux: Tmux) -> None:
    rc_files(world)
    pane = tmux.open("bash")
    assert name_in(tmux, pane) == "Michael"
    sleeper = world.sleeper()
    assert world.claim(sleeper.pid) == "Dwight"

    out = world.root / "attach.out"
    tmux.type(pane, f"codename attach dwight 2> {out}; echo rc=$? >> {out}")
    wait_for(lambda: out.exists() and "rc=" in out.read_text(), "attach to answer")
    said = out.read_text().splitlines()
    assert said[-1] == "rc=1" and len(said) == 2
    assert f"Dwight is pid {sleeper.pid}" in said[0] and "no pane of this tmux server" in said[0]


# --- tell ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_a_told_terminal_shows_the_message_once_above_its_next_prompt(
        world: World, tmux: Tmux, shell: str) -> None:
    rc_files(world)
    sender, target = opened(tmux, "bash", "Michael"), opened(tmux, shell, "Dwight")

    tmux.type(sender, "codename tell dwight 'the build is green; go ahead'")
    tmux.wait_for(sender, "left for Dwight, shown above its next prompt")
    assert "[from" not in tmux.screen(target)  # nothing until its next prompt
    tmux.type(target, "")

    # Right above the prompt.
    tmux.wait_for(target, "[from Michael] the build is green; go ahead\n[Dwight] P> ")
    for _ in range(3):
        tmux.prompt(target)
    assert tmux.screen(target).count("[from Michael]") == 1
    assert tmux.screen(sender).count("[from") == 0


HOSTILE = ("\x1b]0;pwned\x07\x1b[31mred\x1b[0m \x9b2J %F{red}%B%% \\e[1m \\033[7m %s %n "
           "$(touch pwned) `touch pwned` ${HOME} \x7f\x00\u202e\u2028 end")


@pytest.mark.parametrize("shell", SHELLS)
def test_a_message_is_shown_as_inert_text_whoever_sent_it(
        world: World, tmux: Tmux, shell: str) -> None:
    rc_files(world)
    target = tmux.open(shell)
    assert name_in(tmux, target) == "Michael"
    sign_as(world, "Pam")
    raw = world.root / "raw"
    tmux("pipe-pane", "-t", target, f"cat >> {raw}")  # every byte the pane is sent

    r = world.run("tell", "michael", HOSTILE.replace("\x00", ""))
    assert r.returncode == 0, r.stderr
    tmux.type(target, "")

    screen = tmux.wait_for(target, "[from Pam] ")
    line = next(x for x in screen.splitlines() if x.startswith("[from Pam] "))
    assert line == ("[from Pam] \\x1b]0;pwned\\x07\\x1b[31mred\\x1b[0m \\x9b2J %F{red}%B%% "
                    "\\e[1m \\033[7m %s %n $(touch pwned) `touch pwned` ${HOME} \\x7f\\u202e "
                    " end")  # U+2028, a line separator, became a blank
    wait_for(lambda: raw.exists() and b"end" in raw.read_bytes(), "the raw output")
    sent = raw.read_bytes()
    shown = sent[sent.index(b"[from Pam]"):]
    shown = shown[:shown.index(b"end")]
    for byte in (b"\x1b", b"\x07", b"\xc2\x9b", b"\x7f", b"\x00", b"\xe2\x80\xae"):
        assert byte not in shown, (byte, shown)
    assert tmux("display-message", "-p", "-t", target, "#{pane_title}").strip() != "pwned"
    assert not (world.home / "pwned").exists()
    assert "\x1b[31m" not in tmux("capture-pane", "-e", "-p", "-t", target)  # no red


@pytest.mark.parametrize("shell", SHELLS)
def test_no_process_starts_at_a_prompt_that_shows_a_message(
        world: World, tmux: Tmux, shell: str) -> None:
    strace = require_strace()
    rc_files(world)
    trace = world.root / "trace"
    pane = tmux.open(shell, argv=[strace, "-f", "-qq", "-o", str(trace), "-e",
                                  "trace=execve,fork,vfork,clone,clone3",
                                  *shell_argv(world, shell)])
    assert name_in(tmux, pane) == "Michael"
    sign_as(world, "Pam")
    tmux.type(pane, "/bin/echo codename-test-marker")  # after this: prompts and the exit only
    wait_for(lambda: "codename-test-marker\n[Michael] P> " in tmux.screen(pane), "the marker")

    assert world.run("tell", "michael", "lunch?").returncode == 0
    tmux.type(pane, "")
    wait_for(lambda: "[from Pam] lunch?\n[Michael] P> " in tmux.screen(pane),
             "the message above a prompt")
    tmux.type(pane, "")
    tmux.type(pane, "exit")
    wait_for(lambda: pane not in tmux("list-panes", "-a", "-F", "#{pane_id}", check=False),
             "the shell to exit")

    lines = trace.read_text().splitlines()
    assert processes_after(lines, marker_line(lines)) == []


def test_the_21st_waiting_message_is_refused_and_none_is_lost(
        world: World, tmux: Tmux) -> None:
    rc_files(world)
    target = tmux.open("bash")
    assert name_in(tmux, target) == "Michael"
    sign_as(world, "Pam")

    for i in range(1, inbox.MOST + 1):
        r = world.run("tell", "michael", f"message {i}")
        assert r.returncode == 0, r.stderr
    refused = assert_one_line_error(world.run("tell", "michael", "one too many"))
    assert f"Michael has {inbox.MOST} messages waiting" in refused and "not left" in refused

    tmux.type(target, "")
    screen = tmux.wait_for(target, f"[from Pam] message {inbox.MOST}")
    shown = [line for line in screen.splitlines() if line.startswith("[from Pam]")]
    assert shown == [f"[from Pam] message {i}" for i in range(1, inbox.MOST + 1)]

    # Shown: they no longer wait, and the next message is left.
    assert world.run("tell", "michael", "room again").returncode == 0
    tmux.type(target, "")
    tmux.wait_for(target, "[from Pam] room again")
    assert tmux.screen(target).count("[from Pam]") == inbox.MOST + 1


def test_tells_at_once_lose_no_message(world: World) -> None:
    target = world.sleeper()
    assert world.claim(target.pid) == "Michael"
    sign_as(world, "Pam")
    results: list[int] = []

    def tell(i: int) -> None:
        results.append(world.run("tell", "michael", f"at once {i}").returncode)

    threads = [threading.Thread(target=tell, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert results == [0] * 12
    ident = next(p.name for p in world.presence_dir.iterdir()
                 if p.name.startswith(f"{target.pid}-") and "." not in p.name)
    last, waiting = inbox_of(world, ident).read()
    assert sorted(text for _, _, text in waiting) == sorted(f"at once {i}" for i in range(12))
    assert [seq for seq, _, _ in waiting] == list(range(1, 13)) and last == 12
    assert {sender for _, sender, _ in waiting} == {"Pam"}


def test_tell_is_refused_without_a_name_above_or_a_terminal_to_show_it(world: World) -> None:
    target = world.sleeper()
    assert world.claim(target.pid) == "Michael"
    job = world.sleeper()
    assert world.claim(job.pid, "--kind", "job") == "Dwight"

    line = assert_one_line_error(world.run("tell", "michael", "hello"))
    assert "no name to sign the message with" in line
    sign_as(world, "Pam")
    line = assert_one_line_error(world.run("tell", "dwight", "hello"))
    assert "Dwight is a job" in line and "no prompt" in line
    line = assert_one_line_error(world.run("tell", "toby", "hello"))
    assert "no live holder of toby" in line
    line = assert_one_line_error(world.run("tell", "michael"), code=1)
    assert "nothing to tell" in line
    assert not any(p.name.endswith(".inbox") for p in world.presence_dir.iterdir())


def test_a_release_takes_the_waiting_messages_with_it(world: World) -> None:
    target = world.sleeper()
    assert world.claim(target.pid) == "Michael"
    sign_as(world, "Pam")
    assert world.run("tell", "michael", "for the first Michael").returncode == 0
    assert any(p.name.endswith(".inbox") for p in world.presence_dir.iterdir())

    assert world.run("release", "--pid", str(target.pid)).returncode == 0
    nxt = world.sleeper()
    assert world.claim(nxt.pid) == "Michael"

    assert not any(p.name.endswith((".inbox", ".shown", ".looked"))
                   for p in world.presence_dir.iterdir())


# --- a colour per name ---------------------------------------------------------------------

def who_colours(world: World) -> dict[str, object]:
    r = world.run("who", "--json")
    assert r.returncode == 0, r.stderr
    return {str(row["name"]): row["colour"] for row in json.loads(r.stdout)}


def test_each_live_name_gets_a_distinct_colour_kept_for_its_life(world: World) -> None:
    sleepers = [world.sleeper() for _ in range(len(colours.PALETTE) + 3)]
    names = [world.claim(p.pid) for p in sleepers[:3]]
    assert who_colours(world) == dict(zip(names, colours.PALETTE[:3], strict=True))

    # Michael's colour is free again; Dwight, renamed, keeps his; the next claim takes
    # Michael's.
    assert world.run("release", "--pid", str(sleepers[0].pid)).returncode == 0
    assert world.run("rename", "--pid", str(sleepers[1].pid), "Toby").returncode == 0
    assert who_colours(world) == {"Toby": colours.PALETTE[1], "Jim": colours.PALETTE[2]}
    assert world.claim(sleepers[3].pid) == "Michael"
    assert who_colours(world)["Michael"] == colours.PALETTE[0]

    for p in sleepers[4:]:
        world.claim(p.pid)
    seen = list(who_colours(world).values())
    assert all(isinstance(c, int) and 0 <= c <= 255 for c in seen)
    assert set(seen) == set(colours.PALETTE)  # every colour in use, then given again:
    counts = [seen.count(c) for c in colours.PALETTE]
    assert max(counts) - min(counts) <= 1  # the least used first


def coloured(name: str, screen: str) -> bool:
    """Whether `screen` (capture-pane -e) shows `[name]` in a colour of its own: an SGR
    right before it sets a foreground (a reset, 39, is no colour)."""
    return re.search(rf"\x1b\[[0-9;]*(?:38;5;\d+|3[0-7]|9[0-7])m\[{name}\]", screen) is not None


@pytest.mark.parametrize("shell", SHELLS)
def test_the_prompt_paints_the_name_in_its_colour_unless_told_not_to(
        world: World, tmux: Tmux, shell: str) -> None:
    rc_files(world)
    first, second = opened(tmux, shell, "Michael"), opened(tmux, shell, "Dwight")
    plain = Tmux(world, {"NO_COLOR": "1"}, label="-plain")
    try:
        third = plain.open(shell)
        assert name_in(plain, third) == "Jim"
        shown = plain("capture-pane", "-e", "-p", "-t", third)
        assert "[Jim]" in shown and not coloured("Jim", shown)
    finally:
        plain.close()

    for pane, name, colour in ((first, "Michael", 33), (second, "Dwight", 166)):
        tmux.prompt(pane)
        painted = tmux("capture-pane", "-e", "-p", "-t", pane)
        assert re.search(rf"\x1b\[(?:[0-9;]*;)?38;5;{colour}m\[{name}\]", painted), painted
        # What the README's pane-border-format line shows on the pane's border.
        title = tmux("display-message", "-p", "-t", pane, "#{pane_title}").strip()
        assert title in (name, f"[{name}] ~")  # fish puts the name before its own title

    world.write_config("[prompt]\ncolour = false\n")
    fourth = tmux.open(shell)
    assert name_in(tmux, fourth) == "Jim"
    tmux.prompt(fourth)
    shown = tmux("capture-pane", "-e", "-p", "-t", fourth)
    assert "[Jim]" in shown and not coloured("Jim", shown)


def test_who_paints_names_on_a_terminal_only(world: World, tmux: Tmux) -> None:
    rc_files(world)
    pane = tmux.open("bash")
    assert name_in(tmux, pane) == "Michael"
    out = world.root / "who.piped"

    tmux.type(pane, f"codename who; codename who | cat > {out}; NO_COLOR=1 codename who")
    wait_for(lambda: out.exists() and tmux.screen(pane).count("terminal") >= 2, "who to print")

    painted = tmux("capture-pane", "-e", "-p", "-t", pane)
    rows = [line for line in painted.splitlines() if "terminal" in line and "Michael" in line]
    assert len(rows) == 2, painted
    assert re.search(r"\x1b\[(?:[0-9;]*;)?38;5;33mMichael", rows[0]), rows
    assert not re.search(r"\x1b\[[0-9;]*m", rows[1].split("Michael")[0]), rows  # NO_COLOR
    assert "\x1b" not in out.read_text()


def test_the_palette_reads_on_dark_and_light_and_is_given_out_in_order() -> None:
    def luminance(index: int) -> float:
        level = [0, 95, 135, 175, 215, 255]
        i = index - 16
        rgb = (level[i // 36], level[i // 6 % 6], level[i % 6])
        lin = [(v / 255 / 12.92) if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4
               for v in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    assert len(set(colours.PALETTE)) == len(colours.PALETTE) >= 12
    for index in colours.PALETTE:
        assert 16 <= index <= 231  # the cube: the same RGB in every 256-colour terminal
        lum = luminance(index)
        assert (lum + 0.05) / 0.05 >= 3.5 and 1.05 / (lum + 0.05) >= 3.5, index
    assert colours.pick([]) == colours.PALETTE[0]
    assert colours.pick([colours.PALETTE[0], 7]) == colours.PALETTE[1]
    assert colours.pick([*colours.PALETTE, colours.PALETTE[0]]) == colours.PALETTE[1]
    assert colours.by_name("Pam") == colours.by_name("PAM") in colours.PALETTE


def test_a_message_is_cleaned_to_one_inert_line() -> None:
    assert inbox.clean("  two\nlines\tand\x1b[31m red\x07 \u2028 \x9b ") == \
        "two lines and\\x1b[31m red\\x07   \\x9b"
    assert inbox.clean(inbox.clean("\x1b")) == inbox.clean("\x1b")
    with pytest.raises(inbox.CodenameError):
        inbox.message(" \n ")
    with pytest.raises(inbox.CodenameError):
        inbox.message("x" * (inbox.TEXT_MAX + 1))


def test_prompt_colour_in_config_is_checked_like_every_setting(world: World) -> None:
    world.write_config("[prompt]\ncolor = false\ncolour = \"no\"\n")
    r = world.run("themes")
    assert r.returncode == 0
    assert "`prompt.color` is not a setting codename knows (in [prompt]: colour)" in r.stderr
    assert "`prompt.colour` must be true or false" in r.stderr


# --- across the fleet ----------------------------------------------------------------------

MakeHost = Callable[..., Host]


def fleet_world(host: Host) -> World:
    """A World for `host`: its HOME, XDG dirs and environment."""
    return World(host.root, host.home, host.home / ".config", host.home / ".local" / "state",
                 host.runtime, dict(host.env))


def test_where_finds_a_holder_on_another_host(hosts: MakeHost) -> None:
    a, b = hosts("a-host"), hosts("b-host")
    pid = a.holder()
    assert a.claim(pid) == "Michael"

    r = b.codename("where", "MICHAEL", "--json")

    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert (found["name"], found["host"], found["pid"], found["kind"]) == (
        "Michael", "a-host", pid, "terminal")
    assert found["this_host"] is False and found["tmux"] is None and "fleet" in found["sources"]
    assert found["since"] and found["colour"] == colours.PALETTE[0]
    assert_one_line_error(b.codename("where", "toby"))
    line = assert_one_line_error(b.codename("attach", "michael",
                                            env={"TMUX": "/tmp/tmux-0/default,1,0"}))
    assert f"Michael is pid {pid} on host a-host" in line and "this host's tmux only" in line


def test_a_message_reaches_a_terminal_on_another_host(hosts: MakeHost) -> None:
    from terminals import Terminal

    a, b = hosts("a-host"), hosts("b-host")
    there = fleet_world(b)
    write_rc(there, "bash")
    argv = ["nsenter", "-t", str(b.init), "-u", "-p", "-m", "--", *shell_argv(there, "bash")]
    t = Terminal(there, "bash", argv=argv)
    try:
        assert t.ask('"$CODENAME"') == "Michael"
        r = a.run("sh", "-c", f"{_py()} -m codename_shell claim --pid $$ >/dev/null && "
                              f"{_py()} -m codename_shell tell michael 'from the other host'")
        assert r.returncode == 0, r.stderr
        assert "left for Michael" in r.stdout

        def shown() -> bool:
            return "[from Dwight] from the other host" in t.run("")

        wait_for(shown, "the message to reach host b's prompt", timeout=60)
        t.run("")
        assert t.screen().count("[from Dwight]") == 1
    finally:
        t.close()


def _py() -> str:
    return sys.executable


def test_a_holder_gone_from_the_fleet_is_told_nothing(hosts: MakeHost, redis: object) -> None:
    a, b = hosts("a-host"), hosts("b-host")
    pid = b.holder()
    assert b.claim(pid) == "Michael"
    assert b.codename("release", "--pid", str(pid)).returncode == 0
    wait_for(lambda: "Michael" not in redis.names().values(),  # type: ignore[attr-defined]
             "host b's keeper to give the name back")

    r = a.run("sh", "-c", f"{_py()} -m codename_shell claim --pid $$ --name Pam >/dev/null && "
                          f"{_py()} -m codename_shell tell michael hello")

    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        "codename: no live holder of michael"], r.stderr

