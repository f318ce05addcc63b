"""The layers show in the folders, and imports only point down.

    hub/                      the application: CLI, API, operations, registry, demo, stack
    consumers/ producers/     the projections; the publisher, outbox and relay
    toolkit/                  settings, database, logs, Kafka topics, lifecycle, streaming
    schemas/ profiler_hub_kit the event models

A module may import its own package and any package on a lower floor, never one on a higher
floor, nor another package of its own floor: the projections and the producers know nothing of
each other (imports inside functions and under TYPE_CHECKING count too). This reads the source
with `ast`; nothing is imported or run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FLOORS: dict[str, int] = {
    "profiler_hub_kit": 0,
    "schemas": 0,
    "toolkit": 1,
    "consumers": 2,
    "producers": 2,
    "hub": 3,
}

SOURCES: dict[str, Path] = {
    "profiler_hub_kit": ROOT / "kit" / "profiler_hub_kit",
    **{package: ROOT / package for package in FLOORS if package != "profiler_hub_kit"},
}


def imported_packages(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in a module."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def upward_imports(package: str, tree: ast.AST) -> list[str]:
    """Imports from `package`'s module to a package on a higher floor, as 'line: target'."""
    floor = FLOORS[package]
    return [
        f"{line}: imports {target} (floor {FLOORS[target]}, above {package}'s {floor})"
        for line, target in imported_packages(tree)
        if target in FLOORS and FLOORS[target] > floor
    ]


def sideways_imports(package: str, tree: ast.AST) -> list[str]:
    """Imports from `package`'s module to another package of the same floor."""
    floor = FLOORS[package]
    return [
        f"{line}: imports {target} (floor {floor}, beside {package})"
        for line, target in imported_packages(tree)
        if target != package and FLOORS.get(target) == floor
    ]


def test_the_rule_catches_an_upward_import():
    tree = ast.parse("def f():\n    from hub.cli import main\nimport toolkit.db\n")
    assert upward_imports("toolkit", tree) == ["2: imports hub (floor 3, above toolkit's 1)"]
    assert upward_imports("hub", tree) == []


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_imports_point_down(package):
    source_root = SOURCES[package]
    modules = sorted(source_root.rglob("*.py"))
    assert modules, f"no modules found under {source_root}"
    violations = [
        f"{module.relative_to(ROOT)}:{finding}"
        for module in modules
        for finding in upward_imports(package, ast.parse(module.read_text(), str(module)))
    ]
    assert violations == []


def test_the_rule_catches_a_sideways_import():
    tree = ast.parse("import toolkit.db\nif True:\n    from consumers.missions import decide\n")
    assert sideways_imports("producers", tree) == [
        "3: imports consumers (floor 2, beside producers)"]
    assert sideways_imports("consumers", tree) == []


@pytest.mark.parametrize("package", ["consumers", "producers"])
def test_projections_and_producers_do_not_import_each_other(package):
    source_root = SOURCES[package]
    violations = [
        f"{module.relative_to(ROOT)}:{finding}"
        for module in sorted(source_root.rglob("*.py"))
        for finding in sideways_imports(package, ast.parse(module.read_text(), str(module)))
    ]
    assert violations == []
