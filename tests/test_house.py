"""The house stays one a newcomer can hold in their head, and docs/architecture.md stays true.

- No module of ``pingd`` is over MAX_MODULE_LINES lines, no function over
  MAX_FUNCTION_LINES (ARCHITECTURE.md's guideline, issue 11).
- docs/architecture.md names every module of ``pingd``, and every
  ``pingd/…py`` path and ``pingd/…py::name`` reference in it exists: a moved
  module or a renamed function fails here until the document follows.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "pingd"
ARCHITECTURE = REPO / "docs" / "architecture.md"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MODULES = sorted(path.relative_to(REPO).as_posix() for path in PACKAGE.rglob("*.py"))
REFERENCE = re.compile(r"`(pingd/[\w/]+\.py)(?:::([\w.]+))?`")


def test_the_architecture_document_exists() -> None:
    assert ARCHITECTURE.is_file(), "docs/architecture.md is what a newcomer reads first"


@pytest.mark.parametrize("module", MODULES)
def test_no_module_is_over_the_line_limit(module: str) -> None:
    lines = len((REPO / module).read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines: split it by use case"


@pytest.mark.parametrize("module", MODULES)
def test_no_function_is_over_the_line_limit(module: str) -> None:
    tree = ast.parse((REPO / module).read_text(encoding="utf-8"))
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{module}: " + ", ".join(long)


@pytest.mark.parametrize("module", [m for m in MODULES if not m.endswith("__init__.py")])
def test_the_architecture_document_names_every_module(module: str) -> None:
    assert f"`{module}" in ARCHITECTURE.read_text(encoding="utf-8"), (
        f"docs/architecture.md does not mention {module}: say its layer and what it holds"
    )


def defined_names(tree: ast.Module) -> set[str]:
    """Top-level classes, functions and assignments, and ``Class.method`` names."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}.{item.name}")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_every_reference_in_the_architecture_document_exists() -> None:
    references = REFERENCE.findall(ARCHITECTURE.read_text(encoding="utf-8"))
    assert len(references) > 20  # the document points into the code
    missing = []
    for path, name in references:
        if not (REPO / path).is_file():
            missing.append(path)
        elif name and name not in defined_names(ast.parse((REPO / path).read_text("utf-8"))):
            missing.append(f"{path}::{name}")
    assert not missing, f"docs/architecture.md names what does not exist: {sorted(set(missing))}"
