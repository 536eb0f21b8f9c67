"""Where codename keeps its files, and the safety checks those directories must pass.

The directories are the ones platformdirs names. On Linux the common case (XDG variables set,
or their documented defaults) is computed here directly, because importing platformdirs costs
about as much as starting the interpreter and this runs at every shell start. Anything unusual
(another OS, an unset or unsafe XDG_RUNTIME_DIR) is handed to platformdirs itself.
"""

from __future__ import annotations

import stat
import sys

from codename_shell import lean_os as os
from codename_shell.errors import UnsafeDirectory

APP = "codename"
PRIVATE = 0o700


def _xdg(var: str, default: str) -> str:
    value = os.getenv(var) or ""
    if os.path.isabs(value):
        return value
    return os.path.join(os.path.expanduser("~"), default)


def _platformdirs(kind: str) -> str:
    try:
        return _ask_platformdirs(kind)
    except PermissionError as e:
        # Its /tmp fallback is a symlink, foreign or writable by others: a refusal for the
        # user to act on, not an internal error.
        raise UnsafeDirectory(f"refusing to use the {kind} dir: {e}") from None


def _ask_platformdirs(kind: str) -> str:
    # platformdirs warns (RuntimeDirWarning) when it falls back; codename reports unsafe
    # directories itself, so the warning must never reach a terminal.
    import warnings

    import platformdirs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(getattr(platformdirs, f"user_{kind}_dir")(APP))


def config_dir() -> str:
    if sys.platform.startswith("linux"):
        return os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), APP)
    return _platformdirs("config")


def state_dir() -> str:
    if sys.platform.startswith("linux"):
        return os.path.join(_xdg("XDG_STATE_HOME", ".local/state"), APP)
    return _platformdirs("state")


def config_file() -> str:
    return os.path.join(config_dir(), "config.toml")


def runtime_dir() -> str:
    return runtime_choice()[0]


FALLBACK_RUNTIME = "runtime"  # below the state dir: see runtime_choice


def runtime_choice() -> tuple[str, str | None]:
    """The runtime dir (where presence files live), and why it is not platformdirs' own (None
    when it is).

    With no usable XDG_RUNTIME_DIR and no /run/user/<uid>, platformdirs falls back to
    `/tmp/runtime-<uid>`: a name anyone can take first. Someone else's (or a symlink, or
    one others can write) is never used, but refusing would leave the user with no name in
    any terminal for as long as the squatter likes. So codename keeps its presence files in
    `<state dir>/runtime` instead: in the user's own 0700 state dir, which no one else can
    make or swap, the same for every process of the user. `doctor` says why.
    """
    base = os.getenv("XDG_RUNTIME_DIR") or ""
    if sys.platform.startswith("linux") and os.path.isabs(base) and _acceptable_runtime_base(base):
        return os.path.join(base, APP), None
    try:
        return _ask_platformdirs("runtime"), None
    except PermissionError as e:
        why = str(e).removesuffix("; set XDG_RUNTIME_DIR instead")  # doctor says what to do
        return os.path.join(state_dir(), FALLBACK_RUNTIME), why


def _acceptable_runtime_base(base: str) -> bool:
    """platformdirs' test for $XDG_RUNTIME_DIR: a private 0700 dir of ours below safe parents."""
    try:
        info = os.lstat(base)
    except OSError:
        return False
    if directory_problem(base, info) or stat.S_IMODE(info.st_mode) != PRIVATE:
        return False
    return _parents_problem(base) is None


def directory_problem(path: str, info: os.stat_result | None = None) -> str | None:
    """Why `path` is not a directory only this user controls, or None when it is."""
    try:
        info = info or os.lstat(path)
    except FileNotFoundError:
        return f"{path} is missing"
    except OSError as e:
        return f"{path} cannot be checked: {e.strerror}"
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symlink"
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a directory"
    if info.st_uid != os.geteuid():
        return f"{path} is owned by uid {info.st_uid}, not {os.geteuid()}"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def _parents_problem(path: str) -> str | None:
    """A parent that another user could use to swap the directory out from under us."""
    parent = os.path.dirname(path.rstrip("/"))
    while parent and parent != path:
        try:
            info = os.lstat(parent)
        except OSError as e:
            return f"{parent} cannot be checked: {e.strerror}"
        if info.st_uid not in (0, os.geteuid()):
            return f"{parent} is owned by uid {info.st_uid}"
        writable = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if writable and not info.st_mode & stat.S_ISVTX:
            return f"{parent} is writable by others"
        path, parent = parent, os.path.dirname(parent)
    return None


def home() -> str:
    return os.path.expanduser("~")


def home_problem() -> str | None:
    """Why this process must leave HOME alone (it is another user's), or None when it is ours.

    A root shell started with the user's HOME (`sudo -E -s`, `su -m`) would otherwise create
    root-owned directories in it, and every later shell of the user would be refused them.
    """
    where = home()
    try:
        owner = os.stat(where).st_uid
    except OSError as e:
        return f"HOME ({where}) cannot be checked: {e.strerror}"
    if owner != os.geteuid():
        return (f"HOME ({where}) belongs to uid {owner}, not to this uid ({os.geteuid()}): "
                f"codename creates nothing there")
    return None


def trust_problem(path: str) -> str | None:
    """Why the file or directory at `path` (links followed) is not this user's alone, or None.

    Someone else's file, or one others may write, could be swapped for content of their
    choosing: codename reads it as if the user had written it.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"{path} cannot be checked: {e.strerror}"
    if info.st_uid != os.geteuid():
        return f"{path} is owned by uid {info.st_uid}, not {os.geteuid()}"
    if info.st_mode & stat.S_IWOTH or (info.st_mode & stat.S_IWGRP
                                       and not _private_group(info.st_gid)):
        return f"{path} is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def _private_group(gid: int) -> bool:
    """Whether `gid` is this user's own group and no one else's: a user private group, as
    Debian and Ubuntu make one per user (with umask 002, an editor saves config.toml 0664, and
    writable by that group is writable by the user alone). Only asked of a group-writable
    file, so the pwd and grp lookups cost nothing at an ordinary shell start."""
    if gid != os.getegid():
        return False
    import grp
    import pwd

    try:
        group, me = grp.getgrgid(gid), pwd.getpwuid(os.geteuid())
    except KeyError:
        return False
    if group.gr_name != me.pw_name or any(m != me.pw_name for m in group.gr_mem):
        return False
    return not any(p.pw_gid == gid and p.pw_uid != me.pw_uid for p in pwd.getpwall())


def make_private_dirs(path: str) -> None:
    """Create `path` and any missing parent, each 0700 whatever the umask.

    Refused (UnsafeDirectory) where a new directory would land in someone else's: another
    user's HOME, or a directory owned by neither this user nor root. Root creating
    `~/.local/state` in a user's HOME locks that user out of it.
    """
    path = os.path.abspath(path)
    missing: list[str] = []
    parent = path
    while not os.path.lexists(parent):
        missing.append(parent)
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    if not missing:
        return
    owner = os.stat(parent).st_uid if os.path.isdir(parent) else os.geteuid()
    if owner not in (0, os.geteuid()):
        raise UnsafeDirectory(f"refusing to create {path}: {parent} belongs to uid {owner}, "
                              f"not to this uid ({os.geteuid()})")
    if _under(path, home()):
        problem = home_problem()
        if problem:
            raise UnsafeDirectory(f"refusing to create {path}: {problem}")
    for new in reversed(missing):
        try:
            os.mkdir(new, PRIVATE)
        except FileExistsError:
            continue  # made meanwhile by a concurrent start: checked like any existing dir
        # mkdir's mode passes through the umask, which may take the owner's own bits away.
        os.chmod(new, PRIVATE)


def _under(path: str, top: str) -> bool:
    top = os.path.abspath(top)
    return path == top or path.startswith(top.rstrip("/") + "/")


def ensure_private_dir(path: str) -> str:
    """Create `path` (0700) if missing and refuse it unless it is ours alone; return it."""
    try:
        make_private_dirs(path)
    except FileExistsError:
        pass  # a file or a dangling link in the way: directory_problem says which
    except OSError as e:
        raise UnsafeDirectory(f"cannot create {path}: {e.strerror}") from None
    problem = directory_problem(path)
    if problem:
        raise UnsafeDirectory(f"refusing to use {problem}; fix or remove it")
    return path
