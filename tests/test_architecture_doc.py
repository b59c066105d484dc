"""docs/ARCHITECTURE.md stays true: every ``file:function`` and file it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
REFERENCE = re.compile(r"`((?:bot|pipeline|training|tests|benchmarks)/[\w/]+\.py):([\w.]+)`")
PATH = re.compile(r"`((?:bot|pipeline|training|tests|benchmarks|docs)/[\w/.]*\w)`")


def defined_names(path: Path) -> set[str]:
    """Return the module's top-level names and ``Class.method`` names."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}.{item.name}"
                for item in node.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
            )
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def test_the_map_names_functions_that_exist() -> None:
    """Find every file:function the map names in that file."""
    references = REFERENCE.findall(DOC)
    assert len(references) > 20
    missing = [
        f"{file}:{name}"
        for file, name in references
        if not (ROOT / file).exists() or name not in defined_names(ROOT / file)
    ]
    assert missing == []


def test_the_map_names_files_that_exist() -> None:
    """Find every file and folder the map names in the repository."""
    named = [path for path in PATH.findall(DOC) if "NNNN" not in path]  # NNNN: a template
    assert len(named) > 20
    missing = [path for path in named if not (ROOT / path).exists()]
    assert missing == []
