"""The package's modules form layers: no two of them import each other, however indirectly.

A circle (`errors` imported `paths` to log a traceback while `paths` raised `errors`' errors)
makes the lower layer know the upper one: whichever is imported first decides what the other
sees half-made, and neither can be understood or tested alone. Every import counts, also one
inside a function (that is how the old circle hid). Imports for type checkers alone (under
`if TYPE_CHECKING:`) do not count: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "codename_shell"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: set[str], name: str | None = None) -> set[str]:
    """The package's modules `path` (module `name`) imports; `from codename_shell import x`
    names module x."""
    found = set()
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                   for stmt in block.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import mod` imports the module mod (pkg's __init__ runs first, as for
            # any submodule: the package's own business); `from pkg import name`, pkg itself.
            subs = [f"{node.module}.{a.name}" for a in node.names]
            names = [s for s in subs if s in modules]
            if len(names) < len(subs):
                names.append(node.module)
        else:
            continue
        found |= {n for n in names if n in modules}
    me = name or module_name(path)
    # A package and its own modules are one unit: a module taking a helper from its
    # package's __init__ (`from codename_shell.fleet import lease_clock` in fleet/dns.py)
    # is that unit's business, not one layer knowing another.
    return {m for m in found if m != me and not me.startswith(m + ".")}


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {name: imports_of(path, modules) for name, path in files.items()}


def circle(edges: dict[str, set[str]]) -> list[str] | None:
    """One circle in `edges`, as the path around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], node, nxt] if nxt in path else [node, nxt]
            if nxt not in state:
                found = visit(nxt, [*path, node])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start, [])
            if found:
                return found
    return None


# The command line on top: it parses arguments and calls the rest; below it, no module knows
# it is there. (`help` and `completions`, which need the parser itself, live in cli.)
FRONT = {"codename_shell.__main__", "codename_shell.launcher", "codename_shell.cli",
         "codename_shell.commands", "codename_shell.doctor"}


def test_the_module_graph_below_the_command_line_has_no_circle() -> None:
    edges = graph()
    assert "codename_shell.paths" in edges and edges["codename_shell.errors"] == set()
    core = {name: found - FRONT for name, found in edges.items() if name not in FRONT}
    assert circle(core) is None, " -> ".join(circle(core) or [])


def test_no_module_of_the_package_is_in_a_circle_front_end_included() -> None:
    edges = graph()
    assert circle(edges) is None, " -> ".join(circle(edges) or [])


def test_no_module_below_the_command_line_imports_it() -> None:
    edges = graph()
    wrong = {name: found & FRONT for name, found in edges.items()
             if name not in FRONT and found & FRONT}
    assert wrong == {}


def test_the_circle_finder_finds_one() -> None:
    # The check above is only worth something if it can fail.
    assert circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert circle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_an_import_inside_a_function_counts(tmp_path: Path) -> None:
    # The old circle: errors imported paths inside log_exception, paths errors at the top.
    (tmp_path / "errors.py").write_text("def log():\n    from codename_shell import paths\n")
    found = imports_of(tmp_path / "errors.py", {"codename_shell.paths"}, "codename_shell.errors")
    assert found == {"codename_shell.paths"}


MODULE_LINES = 450  # what one reads at a sitting; past it, a module holds more than one idea


def test_no_module_is_longer_than_one_reads_at_a_sitting() -> None:
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MODULE_LINES}
    assert long == {}
