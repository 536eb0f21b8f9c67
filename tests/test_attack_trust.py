"""What codename trusts, attacked: config data that tries to run, files others could write,
a root shell with the user's HOME, a Ctrl-C mid start, links where files should be.

Each test recreates one attack from issue 7 with the real CLI, real shells on a pty, a real
second user and real signals, and states what must happen instead.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import tomli_w
from conftest import IN_CI, REPO, World, require
from helpers import assert_one_line_error, require_root, require_strace
from terminals import (
    PLAIN_PROMPT,
    PROMPT,
    SHELLS,
    Terminal,
    rc_path,
    shell_argv,
    wait_until,
    write_rc,
)

import codename_shell
from codename_shell import crashlog, launcher
from codename_shell.hook import INTERRUPTED

PACKAGE = Path(codename_shell.__file__).resolve().parent


def codename_as(world: World, *args: str, umask: int | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`codename ARGS` in `world`, under `umask` if given."""
    return subprocess.run([sys.executable, "-m", "codename_shell", *args],
                          env={**world.env, **(env or {})}, capture_output=True, text=True,
                          timeout=60, cwd=world.home, umask=-1 if umask is None else umask)


def mode(path: Path) -> int:
    return path.lstat().st_mode & 0o7777


def one_warning(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# --- config data never runs as code ---------------------------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_a_theme_named_like_a_command_runs_nothing_when_a_full_name_holds_a_placeholder(
        world: World, shell: str) -> None:
    pwned = world.root / "pwned"
    world.write_config(tomli_w.dumps({
        "theme": "crew",
        "themes": {
            "crew": {"names": [{"name": "Ada", "full": "Ada __CN_THEMES__ Lovelace"}]},
            f"$(echo ran >> {pwned})": {"names": ["Bob"]},
        },
    }))
    write_rc(world, shell)
    t = Terminal(world, shell)
    try:
        assert t.ask('"$CODENAME"') == "Ada"
        assert t.ask('"$CODENAME_FULL"') == "Ada __CN_THEMES__ Lovelace"
        t.run("true")  # a prompt or two later: the prompt hook ran too
        assert not pwned.exists(), pwned.read_text()
        assert "command not found" not in t.screen() and "Unknown command" not in t.screen()
    finally:
        t.close()


# --- files others could write: created private, refused when not ours alone ---------------

def test_under_umask_000_codename_creates_its_directories_and_files_private(world: World) -> None:
    shutil.rmtree(world.config)
    shutil.rmtree(world.home / ".local")
    r = codename_as(world, "theme", "parks", umask=0)
    assert r.returncode == 0, r.stderr
    sleeper = world.sleeper()
    r = codename_as(world, "claim", "--pid", str(sleeper.pid), umask=0)
    assert r.returncode == 0, r.stderr

    made = [world.config, world.config / "codename", world.home / ".local", world.state,
            world.state / "codename"]
    assert {str(d): oct(mode(d)) for d in made} == {str(d): "0o700" for d in made}
    assert oct(mode(world.config_file)) == "0o600"
    assert oct(mode(world.ledger)) == "0o600"


def test_under_umask_077_the_directories_codename_makes_are_still_usable(world: World) -> None:
    shutil.rmtree(world.home / ".local")
    r = codename_as(world, "claim", "--pid", str(world.sleeper().pid), umask=0o777)
    assert r.returncode == 0, r.stderr
    assert oct(mode(world.state / "codename")) == "0o700"


@pytest.mark.parametrize("loose", ["file", "dir"])
def test_a_config_others_could_write_is_refused_with_one_line_and_the_defaults(
        world: World, loose: str) -> None:
    path = world.write_config('theme = "parks"\n')
    path.chmod(0o600)
    path.parent.chmod(0o700)
    r = world.run("theme")
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "parks", "")  # and now cached

    (path if loose == "file" else path.parent).chmod(0o666 if loose == "file" else 0o777)
    r = world.run("theme")  # config.toml's bytes are the same: the cache must not vouch for it
    assert r.returncode == 0
    assert r.stdout.strip() == "office"
    warning = one_warning(r.stderr)
    assert "writable by group or others" in warning and "using the defaults" in warning


def test_theme_refuses_to_edit_a_config_others_could_write(world: World) -> None:
    path = world.write_config('# mine\ntheme = "parks"\n')
    path.chmod(0o666)
    r = world.run("theme", "office")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "refusing to edit" in r.stderr.splitlines()[-1], r.stderr
    assert path.read_text() == '# mine\ntheme = "parks"\n'


def test_a_config_owned_by_someone_else_is_refused_at_a_shell_start(world: World) -> None:
    require_root("to give config.toml to another uid")
    path = world.write_config('theme = "parks"\n')
    os.chown(path, 4242, 4242)
    r = world.run("theme")
    assert r.stdout.strip() == "office"
    assert "owned by uid 4242" in one_warning(r.stderr)
    write_rc(world, "bash")
    t = Terminal(world, "bash")
    try:
        lines = [line for line in t.startup.splitlines() if line.strip()]
        assert len(lines) == 2 and "owned by uid 4242" in lines[0], t.startup
        assert t.ask('"$CODENAME"') == "Michael"  # office, the default, not parks
    finally:
        t.close()
    r = world.run("theme", "office")
    assert r.returncode == 1 and "refusing to edit" in r.stderr
    assert path.read_text() == 'theme = "parks"\n'


def test_theme_writes_through_a_symlinked_config_and_keeps_the_link(world: World) -> None:
    dotfiles = world.home / "dotfiles" / "codename.toml"
    dotfiles.parent.mkdir()
    dotfiles.write_text('# from my dotfiles\ntheme = "office"\n')
    dotfiles.chmod(0o600)
    world.config_file.parent.mkdir(parents=True)
    world.config_file.symlink_to(dotfiles)

    r = world.run("theme", "parks")
    assert r.returncode == 0, r.stderr
    assert world.config_file.is_symlink()
    assert os.readlink(world.config_file) == str(dotfiles)
    assert dotfiles.read_text() == '# from my dotfiles\ntheme = "parks"\n'
    assert world.run("theme").stdout.strip() == "parks"


def test_a_config_nested_450_levels_deep_is_the_one_line_config_warning(world: World) -> None:
    depth = 450
    world.write_config("a = " + "{b = " * depth + "1" + "}" * depth + "\n")
    r = world.run("themes")
    assert r.returncode == 0, r.stderr
    warning = one_warning(r.stderr)
    assert "config.toml" in warning and "nested too deeply" in warning
    assert "internal error" not in warning
    r = world.run("theme", "parks")  # and an edit refuses the same way, in one line
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr


def test_errors_log_never_follows_a_symlink_and_is_private(world: World) -> None:
    state = world.state / "codename"
    state.mkdir(mode=0o700)
    victim = world.home / ".bashrc"
    victim.write_text("# the user's own file\n")
    (state / "errors.log").symlink_to(victim)

    def log() -> str:
        try:
            raise ValueError("boom")
        except ValueError:
            return crashlog.log_exception()

    assert "errors.log" not in log()
    assert victim.read_text() == "# the user's own file\n"
    assert (state / "errors.log").is_symlink()

    (state / "errors.log").unlink()
    old = os.umask(0)
    try:
        where = log()
    finally:
        os.umask(old)
    assert where == str(state / "errors.log")
    assert "ValueError: boom" in (state / "errors.log").read_text()
    assert oct(mode(state / "errors.log")) == "0o600"


# --- Ctrl-C during a shell start -----------------------------------------------------------

ENTRIES = ("module", "launcher")


def entry_argv(world: World, entry: str) -> list[str]:
    """How a shell start runs codename: `python -m codename_shell`, or install.sh's launcher."""
    if entry == "module":
        return [sys.executable, "-m", "codename_shell"]
    path = world.root / "bin" / "codename"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        launcher.write(str(path), sys.executable)
    return [str(path)]


def holding_open(path: Path) -> list[int]:
    """The pids that have `path` open."""
    pids = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) == str(path) for fd in fd_dir.iterdir()):
                pids.append(int(fd_dir.parent.name))
        except OSError:
            continue  # gone, or not ours to look at
    return pids


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.parametrize(("shell", "entry"), [("bash", "module"), ("bash", "launcher"),
                                              ("zsh", "launcher"), ("fish", "module")])
def test_ctrl_c_while_a_shell_start_waits_on_the_lock_is_one_quiet_line(
        world: World, shell: str, entry: str) -> None:
    flock = require("flock")
    state = world.state / "codename"
    state.mkdir(mode=0o700)
    lock = state / "lock"
    holder = subprocess.Popen([flock, str(lock), "sleep", "60"])
    world.children.append(holder)
    wait_until(lambda: holding_open(lock), "flock to take the lock")
    blockers = set(holding_open(lock))

    argv = " ".join(entry_argv(world, entry))
    line = (f"{argv} init fish | source" if shell == "fish"
            else f'eval "$({argv} init {shell})"')
    rc = rc_path(world, shell)
    rc.parent.mkdir(parents=True, exist_ok=True)
    rc.write_text(PLAIN_PROMPT[shell] + line + "\n")
    t = Terminal(world, shell, prompt=None)
    try:
        def waiting() -> bool:
            return any(b"init" in cmdline(p) for p in set(holding_open(lock)) - blockers)

        wait_until(waiting, "codename init to wait on the lock")
        t.child.sendintr()
        t.prompt = re.escape(PROMPT)
        t.wait_prompt()
        screen = t.screen()
        assert "Traceback" not in screen and "KeyboardInterrupt" not in screen, screen
        # The terminal echoes the Ctrl-C itself as ^C.
        said = [x.replace("^C", "").strip() for x in screen.splitlines() if "codename:" in x]
        assert said == [INTERRUPTED], screen
        assert t.ask('"$CODENAME"') == ""
    finally:
        t.close()


def strace_inject_sigint() -> list[str]:
    """strace, set to send SIGINT to the traced process at its first open of a given path."""
    strace = require_strace()
    return [strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=openat",
            "-e", "inject=openat:signal=SIGINT:when=1"]


def opened_when_imported(module: str) -> list[str]:
    """strace -P options matching the file an import of `module` opens (source or bytecode)."""
    source = str(PACKAGE / f"{module}.py")
    return ["-P", source, "-P", importlib.util.cache_from_source(source)]


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("module", ["hook", "config"])  # init's first module; the config it reads
def test_ctrl_c_while_codename_loads_for_a_shell_is_one_line_and_no_traceback(
        world: World, entry: str, module: str) -> None:
    argv = [*strace_inject_sigint(), *opened_when_imported(module), *entry_argv(world, entry)]
    r = subprocess.run([*argv, "init", "bash"], env=world.env, capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", INTERRUPTED + "\n")


@pytest.mark.parametrize("entry", ENTRIES)
def test_ctrl_c_while_codename_loads_for_a_command_exits_130_quietly(
        world: World, entry: str) -> None:
    argv = [*strace_inject_sigint(), *opened_when_imported("cli"), *entry_argv(world, entry)]
    r = subprocess.run([*argv, "who"], env=world.env, capture_output=True, text=True,
                       timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (130, "", "")


# --- a root shell with the user's HOME ------------------------------------------------------

@dataclass
class User:
    name: str
    uid: int
    gid: int
    home: Path
    env: dict[str, str]
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def as_user(self, *argv: str) -> list[str]:
        return [require("setpriv"), f"--reuid={self.uid}", f"--regid={self.gid}",
                "--init-groups", *argv]

    def sleeper(self) -> subprocess.Popen[bytes]:
        """A live process of this user's (setpriv execs sleep: same pid)."""
        p = subprocess.Popen(self.as_user("sleep", "600"), env=self.env)
        self.children.append(p)
        return p


def user_python(user: User) -> tuple[str, dict[str, str]]:
    """An interpreter the user may run, and what it needs on PYTHONPATH to find codename and
    its dependencies: a copy of them the user may read (the checkout and its venv may sit in
    a private directory, as under /root, where the user cannot even look)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, os.path.realpath(sys.executable),
                  getattr(sys, "_base_executable", ""), shutil.which(version) or "",
                  "/usr/bin/" + version, "/usr/local/bin/" + version, "/usr/bin/python3"]
    env = {**user.env, "PYTHONPATH": str(readable_copy())}
    for python in dict.fromkeys(candidates):
        if not python:
            continue
        # Started by a shell of the user's, as `codename run` starts a command: setpriv
        # may start an interpreter that the user could not start itself.
        probe = subprocess.run(user.as_user("/bin/sh", "-c", 'exec "$0" -c "$1"', python,
                                            "import codename_shell, tomli_w"),
                               env=env, capture_output=True, timeout=60)
        if probe.returncode == 0:
            return python, env
    message = "no Python the second user may run"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


_COPIES: list[Path] = []


def readable_copy() -> Path:
    """codename (package and hook scripts) and the libraries it imports, copied once per run
    into a directory any user may read, removed when the run ends."""
    if _COPIES:
        return _COPIES[0]
    import atexit

    top = Path(tempfile.mkdtemp(prefix="cn-readable-"))
    atexit.register(shutil.rmtree, top, ignore_errors=True)
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "codename_shell", top / "codename_shell", ignore=skip)
    if (REPO / "shell").is_dir():
        shutil.copytree(REPO / "shell", top / "shell", ignore=skip)
    for module in ("tomli_w", "platformdirs", "shellingham"):
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None, module
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, top / origin.parent.name, ignore=skip)
        else:
            shutil.copy2(origin, top / origin.name)
    for path in [top, *top.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    _COPIES.append(top)
    return top


@pytest.fixture
def other_user() -> Iterator[User]:
    """A throwaway user with a home of its own, removed (home and all) afterwards."""
    require_root("to add a user")
    useradd, userdel = require("useradd"), require("userdel")
    name = f"cn{uuid.uuid4().hex[:10]}"
    subprocess.run([useradd, "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
    runtime = Path(tempfile.mkdtemp(prefix="cn-run-"))
    user = None
    try:
        entry = pwd.getpwnam(name)
        os.chown(runtime, entry.pw_uid, entry.pw_gid)
        runtime.chmod(0o700)
        home = Path(entry.pw_dir)
        env = {"HOME": str(home), "USER": name, "LOGNAME": name, "LANG": "C.UTF-8",
               "TERM": "xterm-256color", "XDG_RUNTIME_DIR": str(runtime),
               "XDG_CONFIG_HOME": str(home / ".config"),
               "XDG_STATE_HOME": str(home / ".local" / "state"),
               "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
               "PYTHONPATH": str(REPO), "HISTFILE": "/dev/null"}
        user = User(name, entry.pw_uid, entry.pw_gid, home, env)
        yield user
    finally:
        for p in user.children if user else []:
            p.kill()
            p.wait()
        shutil.rmtree(runtime, ignore_errors=True)
        r = subprocess.run([userdel, "-r", name], capture_output=True, text=True)
        assert r.returncode in (0, 6), f"userdel -r {name}: {r.stderr}"  # 6: no such user


def tree(top: Path) -> dict[str, tuple[int, int]]:
    """Every path under `top` with its owner and mode: what a test compares before and after."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [*dirnames, *filenames]:
            info = os.lstat(os.path.join(dirpath, name))
            found[os.path.join(dirpath, name)] = (info.st_uid, info.st_mode)
    return found


def test_a_root_shell_with_the_users_home_claims_and_creates_nothing_there(
        world: World, other_user: User) -> None:
    user = other_user
    bashrc = user.home / ".bashrc"
    bashrc.write_text(PLAIN_PROMPT["bash"] + 'eval "$(codename init bash)"\n')
    os.chown(bashrc, user.uid, user.gid)
    before = tree(user.home)

    # `sudo -E -s`: root's bash, reading the user's rc file, with the user's HOME and XDG dirs.
    argv = [shell_argv(world, "bash")[0], "--noprofile", "--rcfile", str(bashrc), "-i"]
    t = Terminal(world, "bash", env=user.env, argv=argv)
    try:
        lines = [line for line in t.startup.splitlines() if line.strip()]
        assert len(lines) == 2, t.startup
        assert f"HOME ({user.home}) belongs to uid {user.uid}" in lines[0]
        assert lines[0].endswith("this shell has no name")
        assert t.ask('"$CODENAME"') == ""
        assert tree(user.home) == before
    finally:
        t.close()

    # Other commands as root with that HOME: one clear line, nothing created either.
    sleeper = world.sleeper()
    r = subprocess.run([sys.executable, "-m", "codename_shell", "claim", "--pid",
                        str(sleeper.pid)], env=user.env, capture_output=True, text=True,
                       timeout=60, cwd=user.home)
    assert "refusing to create" in assert_one_line_error(r)
    r = subprocess.run([sys.executable, "-m", "codename_shell", "theme", "parks"],
                       env=user.env, capture_output=True, text=True, timeout=60, cwd=user.home)
    assert "refusing to create" in assert_one_line_error(r)
    assert tree(user.home) == before

    # And the user, whose HOME it is, is not locked out of anything.
    python, env = user_python(user)
    mine = user.sleeper()
    r = subprocess.run(user.as_user(python, "-m", "codename_shell", "claim", "--pid",
                                    str(mine.pid)),
                       env=env, capture_output=True, text=True, timeout=60, cwd=user.home)
    assert (r.returncode, r.stdout, r.stderr) == (0, "Michael\n", "")
    state = user.home / ".local" / "state" / "codename"
    info = state.stat()
    assert (info.st_uid, oct(info.st_mode & 0o777)) == (user.uid, "0o700")


def _own_private_group() -> bool:
    import grp
    import pwd

    me = pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(os.getegid())
    return group.gr_name == me.pw_name and all(m == me.pw_name for m in group.gr_mem) and \
        not any(p.pw_gid == group.gr_gid and p.pw_uid != me.pw_uid for p in pwd.getpwall())


def test_a_config_writable_by_the_user_s_own_private_group_is_read(world: World) -> None:
    """Debian and Ubuntu give each user a group of their own and umask 002: an editor saves
    config.toml 0664 in a 0775 directory. Only the user can write through that group."""
    if not _own_private_group():
        message = "this user's primary group is not a private group of its own"
        if IN_CI:
            pytest.fail(f"{message}; CI runs as root, whose group is")
        pytest.skip(message)
    path = world.write_config('theme = "parks"\n')
    path.chmod(0o664)
    path.parent.chmod(0o775)
    r = world.run("theme")
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "parks", "")


def test_a_config_writable_by_a_shared_group_is_refused(world: World) -> None:
    require_root("to give config.toml to a group that is not the user's own")
    path = world.write_config('theme = "parks"\n')
    os.chown(path, os.geteuid(), 4242)
    path.chmod(0o664)
    r = world.run("theme")
    assert r.stdout.strip() == "office"
    assert "writable by group or others" in one_warning(r.stderr)

