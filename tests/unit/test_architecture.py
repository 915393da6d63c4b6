"""The layout keeps its promises: layers import downwards only, adapters stay thin, modules small.

Read from the source (ast), so a violation names the file and the import:
- no import cycle among the project's modules (imports inside functions count: they are cycles
  at run time; `if TYPE_CHECKING:` imports count too: the layers hold for types as well);
- an adapter (loader/adapters/) never imports the orchestration or the pure decisions above it;
- boto3 clients are made in one place (loader/deps.py) and used only by adapters;
- no module of loader/ or config/ over MAX_LINES lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("loader", "config", "setup_cli", "redshift_standin", "local_aws")
MAX_LINES = 400
ABOVE_ADAPTERS = (
    "loader.decisions",
    "loader.service",
    "loader.reconcile",
    "loader.lifecycle",
    "loader.registration",
    "loader.admin",
    "loader.runtime",
)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _resolve(importer: str, node: ast.ImportFrom | ast.Import) -> Iterator[str]:
    """The project modules an import statement names (a package's names resolve to its
    submodules where they are modules, else to the package itself)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name in MODULES:
                yield alias.name
        return
    base = node.module or ""
    if node.level:
        package = importer.split(".")
        is_package = MODULES[importer].name == "__init__.py"
        package = package if is_package else package[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    for alias in node.names:
        child = f"{base}.{alias.name}"
        if child in MODULES:
            yield child
        elif base in MODULES:
            yield base


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(*, types_too: bool = True) -> dict[str, dict[str, int]]:
    """module -> {imported project module: line}."""
    graph: dict[str, dict[str, int]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        typing_only = set() if types_too else _type_checking_lines(tree)
        edges: dict[str, int] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and node.lineno not in typing_only:
                for target in _resolve(name, node):
                    if target != name:
                        edges.setdefault(target, node.lineno)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
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
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    assert cycles(imports()) == []


def test_adapters_never_import_the_layers_above_them() -> None:
    graph = imports()
    wrong = [
        f"{name} imports {target} (line {line})"
        for name, edges in graph.items()
        if name.startswith("loader.adapters.")
        for target, line in edges.items()
        if target.startswith(ABOVE_ADAPTERS)
    ]
    assert wrong == []


@pytest.mark.parametrize("package", PACKAGES)
def test_boto3_clients_are_used_only_inside_adapters(package: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if "adapters" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "deps.client(" in line or "deps().client(" in line
    ]
    assert wrong == []


def test_no_module_of_the_lambda_or_the_configuration_is_over_the_size_limit() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for package in ("loader", "config")
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: lines for path, lines in sizes.items() if lines > MAX_LINES} == {}


def test_the_checks_see_a_cycle_and_a_thin_adapter_broken() -> None:
    # GIVEN a graph with a cycle through three modules, and one without
    looped = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    # THEN the cycle is found, and only it
    assert cycles(looped) == [["a", "b", "c"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []
    # AND the real graph is read: the handler imports the runtime (lazily)
    assert "loader.runtime" in imports()["loader.handler"]
