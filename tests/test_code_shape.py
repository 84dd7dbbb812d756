"""The package stays readable: no function over 40 lines (signature, docstring and decorators
included) without a one-line reason in a ``# long: ...`` comment just above it, and no module over
400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "impasto"
MAX_FUNCTION_LINES = 40
MAX_MODULE_LINES = 400


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(name, lines) of each function over ``limit`` lines from its first decorator to its end,
    unless the line above is a ``# long:`` reason."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        length = node.end_lineno - first + 1
        reason = lines[first - 2].strip() if first >= 2 else ""
        if length > limit and not reason.startswith("# long:"):
            found.append((node.name, length))
    return found


def test_the_rule_sees_a_long_function_and_its_reason():
    body = "\n".join(f"    x{i} = {i}" for i in range(41))
    assert long_functions(f"def f():\n{body}\n") == [("f", 42)]  # the def line and 41 of body
    assert long_functions(f"# long: one table, read as one\ndef f():\n{body}\n") == []
    assert long_functions("@cache\ndef f():\n    '''A\n    doc.'''\n    return 1\n", limit=4) == [("f", 5)]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_functions_and_modules_are_short(path: Path):
    source = path.read_text(encoding="utf-8")
    assert long_functions(source) == []
    assert len(source.splitlines()) <= MAX_MODULE_LINES
