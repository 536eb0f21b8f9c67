"""lean_os, the `os` of init's modules, says what `os` says for what codename asks of it.

Its path functions are checked against posixpath's on any path hypothesis makes, and its
environment lookup against `os.environ`, in this process (where `os` is loaded and a test may
change the environment) and in one started as init is, with no `os` at all.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from codename_shell import lean_os

# Paths built from the pieces that make path functions go wrong: slashes (one, two, three),
# dots, `~`, and ordinary names.
PIECES = st.sampled_from(["/", "//", "///", ".", "..", "~", "~root", "a", "b.c", " ", "é"])
PATHS = st.lists(PIECES, max_size=8).map("".join)


@given(PATHS, st.lists(PATHS, max_size=3))
def test_join_is_posixpaths(first: str, rest: list[str]) -> None:
    assert lean_os.path.join(first, *rest) == posixpath.join(first, *rest)


@given(PATHS)
def test_the_path_splitting_functions_are_posixpaths(p: str) -> None:
    assert lean_os.path.dirname(p) == posixpath.dirname(p)
    assert lean_os.path.basename(p) == posixpath.basename(p)
    assert lean_os.path.isabs(p) == posixpath.isabs(p)
    assert lean_os.path.normpath(p) == posixpath.normpath(p)
    assert lean_os.path.abspath(p) == posixpath.abspath(p)
    assert lean_os.path.expanduser(p) == posixpath.expanduser(p)


def test_the_file_tests_are_os_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for name in ("file", "dir", "dangling", "nowhere", "file/below", "nul\0byte"):
        p = str(tmp_path / name)
        assert lean_os.path.exists(p) == os.path.exists(p), name
        assert lean_os.path.lexists(p) == os.path.lexists(p), name
        assert lean_os.path.isdir(p) == os.path.isdir(p), name


def test_getenv_follows_os_environ_once_os_is_loaded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CODENAME_LEAN_TEST", "set here, after the start")
    assert lean_os.getenv("CODENAME_LEAN_TEST") == "set here, after the start"
    monkeypatch.delenv("CODENAME_LEAN_TEST")
    assert lean_os.getenv("CODENAME_LEAN_TEST") is None


def test_getenv_without_os_reads_the_environment_as_os_decodes_it() -> None:
    # Started as init is (-S: no site, so nothing loads os). A value that is not UTF-8 comes
    # back with the surrogates os.environ gives it; an unset one is None.
    code = ("import sys; sys.path[:0] = [sys.argv[1]]\n"
            "from codename_shell import lean_os\n"
            "assert 'os' not in sys.modules, 'os was loaded'\n"
            "print(ascii(lean_os.getenv('CODENAME_LEAN_TEST')))\n"
            "print(ascii(lean_os.getenv('CODENAME_LEAN_UNSET')))\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(lean_os.__file__)))
    env = {k.encode(): v.encode() for k, v in os.environ.items()}
    env.pop(b"CODENAME_LEAN_UNSET", None)
    value = b"Zo\xc3\xab \xff"
    env[b"CODENAME_LEAN_TEST"] = value
    r = subprocess.run([sys.executable, "-SP", "-c", code, root], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [ascii(os.fsdecode(value)), "None"]


def test_a_child_gets_the_environment_as_it_is_now(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CODENAME_LEAN_TEST", "for the keeper")
    assert lean_os.child_environ() == dict(os.environ)
    # posix's own `environ` (bytes, a snapshot of the start) is not there to be misread.
    assert not hasattr(lean_os, "environ")
