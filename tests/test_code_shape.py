"""The package stays readable: no function over 40 lines (its docstring not counted) without a
one-line reason in a ``# long: ...`` comment just above it, and no module over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "impasto"
MAX_FUNCTION_LINES = 40
MAX_MODULE_LINES = 400


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(name, lines) of each function over ``limit`` lines, docstring left out, unless the line
    above its ``def`` (or its first decorator) is a ``# long:`` reason."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        length = node.end_lineno - node.lineno + 1
        doc = node.body[0] if node.body and isinstance(node.body[0], ast.Expr) else None
        if doc is not None and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
            length -= doc.end_lineno - doc.lineno + 1
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        reason = lines[first - 2].strip() if first >= 2 else ""
        if length > limit and not reason.startswith("# long:"):
            found.append((node.name, length))
    return found


def test_the_rule_sees_a_long_function_and_its_reason():
    body = "\n".join(f"    x{i} = {i}" for i in range(41))
    assert long_functions(f"def f():\n    '''Doc.'''\n{body}\n") == [("f", 42)]  # the def line and 41 of body
    assert long_functions(f"# long: one table, read as one\ndef f():\n{body}\n") == []
    assert long_functions("def f():\n    '''A\n    long\n    doc.'''\n    return 1\n", limit=2) == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_functions_and_modules_are_short(path: Path):
    source = path.read_text(encoding="utf-8")
    assert long_functions(source) == []
    assert len(source.splitlines()) <= MAX_MODULE_LINES
