"""The package's modules import in one direction: no circle anywhere, imports inside functions included.

The graph is read from the source with ``ast`` (nothing is imported): an edge A → B for every
``import impasto.x``, ``from impasto.x import y`` (to the submodule impasto.x.y when there is one,
else to impasto.x) and relative import in A, wherever in A it stands.
"""

from __future__ import annotations

import ast
from pathlib import Path

import impasto

PACKAGE = "impasto"
ROOT = Path(impasto.__file__).parent


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name, for __init__.py)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name an ``from ... import`` reads from (relative ones resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, source: str, known: set[str], is_package: bool = False) -> set[str]:
    """The package's modules that ``module`` imports anywhere in ``source`` (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # ``from pkg import sub`` runs pkg/__init__.py first, then sub: an edge to each.
            origin = _absolute(module, is_package, node)
            names = [origin, *(f"{origin}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(name for name in names if name in known and name != module)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = module_files(root)
    known = set(files)
    return {name: imports_of(name, path.read_text(), known, path.name == "__init__.py")
            for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's circles: each strongly connected component of more than one module (Tarjan),
    and each module that imports itself; sorted, for a stable message."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_cycle_finder_finds_circles_and_only_circles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": set(), "f": {"f"}, "g": {"h"}, "h": {"g"}}
    assert cycles(graph) == [["a", "b", "c"], ["f"], ["g", "h"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_imports_are_read_from_functions_and_relative_forms():
    known = {"impasto.web", "impasto.web.api", "impasto.web.pages", "impasto.text", "impasto.jobs"}
    source = ("from impasto.web import api\nimport impasto.text\nfrom . import pages\n"
              "def f():\n    from impasto.jobs import states\n")
    # ``from pkg import sub`` is an edge to pkg (its __init__ runs first) and to sub
    assert imports_of("impasto.web.render", source, known) == {
        "impasto.web", "impasto.web.api", "impasto.text", "impasto.web.pages", "impasto.jobs"}
    # a name that is no submodule (a function of the package's __init__) is an edge to the package
    assert imports_of("impasto.web.api", "from impasto.web import services\n", known) == {"impasto.web"}
    # so a package whose __init__ imports a module that imports the package back is a circle
    assert cycles({"impasto.nst": {"impasto.nst.engine"}, "impasto.nst.engine": {"impasto.nst"}})


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert "impasto.jobs.store" in graph["impasto.web.api"]  # a function-level one: create_app's
    assert {"impasto.web.api", "impasto.web.pages"} <= graph["impasto"]
    assert len(graph) > 40


def test_no_module_of_the_package_imports_in_a_circle():
    circles = cycles(import_graph())
    assert not circles, "import circles:\n" + "\n".join(" ↔ ".join(circle) for circle in circles)
