"""The packages' import graph: no cycles, and dependencies pointing one way.

Imports are read from the source, function-local ones included (a local import that only
dodges a cycle is still a cycle). Imports under ``if TYPE_CHECKING:`` never run, so the first
check leaves them out; a second, stricter one counts them too, and holds today.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("bot", "pipeline", "training")


def module_name(path: Path) -> str:
    """Return the dotted name of a source file."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    """Map every module of the packages to its file."""
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def is_type_checking_block(node: ast.AST) -> bool:
    """Tell whether a node is ``if TYPE_CHECKING:``."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(tree: ast.AST, package: str, *, type_only: bool = False) -> list[str]:
    """Return every module name the tree's imports may load.

    Imports under ``if TYPE_CHECKING:`` are left out unless ``type_only`` asks for them.
    """
    names: list[str] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if not type_only and is_type_checking_block(node):
            assert isinstance(node, ast.If)
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
        pending.extend(ast.iter_child_nodes(node))
    return names


def import_graph(*, type_only: bool = False) -> dict[str, set[str]]:
    """Map each module to the project modules it imports."""
    modules = all_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = {
            target
            for target in imported_names(tree, package, type_only=type_only)
            if target in modules and target != name
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle as a list of modules, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = "done"
        stack.pop()
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    """Report a cycle through three modules, so a passing check means something."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]


def test_function_local_imports_count_and_type_checking_ones_do_not() -> None:
    """Read an import inside a function as an edge, one under TYPE_CHECKING as none."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bot.client import EaselBot\n"
        "def later():\n    from bot.buttons import JobButtons\n"
    )
    names = imported_names(ast.parse(source), "bot")
    assert "bot.buttons" in names
    assert "bot.client" not in names


def test_no_package_has_an_import_cycle() -> None:
    """Find no cycle among the modules of bot, pipeline and training."""
    assert find_cycle(import_graph()) is None


def test_no_package_has_an_import_cycle_even_in_type_annotations() -> None:
    """Find no cycle even counting the imports that only type annotations use."""
    assert find_cycle(import_graph(type_only=True)) is None


def test_dependencies_point_one_way() -> None:
    """Keep pipeline free of bot and training, and bot free of training."""
    for module, targets in import_graph().items():
        top = module.split(".")[0]
        tops = {target.split(".")[0] for target in targets}
        if top == "pipeline":
            assert tops <= {"pipeline"}, module
        if top == "bot":
            assert "training" not in tops, module
