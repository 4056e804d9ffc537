"""The import rule of docs/architecture.md, read from the source with `ast`.

Every `import` counts, at module level or inside a function (the CLI imports lazily, and a
lazy import is still a dependency). Package `__init__` side effects are not edges: importing
`ocsrun.run.views` runs `ocsrun/run/__init__.py`, which imports nothing.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "ocsrun"
BASICS = {
    "ocsrun",
    "ocsrun.errors",
    "ocsrun.gc_pause",
    "ocsrun.safe_io",
    "ocsrun.sanitize",
    "ocsrun.units",
}
WINGS = ("runbook", "store", "run", "review", "cli", "web")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The package's modules that `name` imports anywhere in its source."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*kept, base] if base else kept)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules() else base)
    return {m for m in found if m in modules() and m != name}


@cache
def graph() -> dict[str, frozenset[str]]:
    return {name: frozenset(imports_of(name)) for name in modules()}


def wing(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in WINGS else name


def violations(source_wing: str, forbidden: set[str]) -> list[str]:
    return sorted(
        f"{name} imports {target}"
        for name, targets in graph().items()
        if wing(name) == source_wing
        for target in targets
        if wing(target) in forbidden
    )


def test_the_graph_sees_lazy_imports() -> None:
    # cli.runs imports its views inside the command functions only.
    assert "ocsrun.run.views" in graph()["ocsrun.cli.runs"]
    assert "ocsrun.runbook.build" in graph()["ocsrun.cli.render"]
    assert "ocsrun.store.open" in graph()["ocsrun.api"]


def test_runbook_and_store_import_no_wing_above_them() -> None:
    above = {"run", "review", "cli", "web", "ocsrun.api"}
    assert violations("runbook", above) == []
    assert violations("store", above) == []


def test_store_does_not_import_runbook() -> None:
    assert violations("store", {"runbook"}) == []


def test_nothing_imports_the_cli() -> None:
    for source in ("runbook", "store", "run", "review", "web", "ocsrun.api"):
        assert violations(source, {"cli"}) == [], source


def test_review_uses_only_events_and_views_of_run() -> None:
    used = {t for n, ts in graph().items() if wing(n) == "review" for t in ts if wing(t) == "run"}
    assert used <= {"ocsrun.run.events", "ocsrun.run.views"}


def test_basics_import_no_wing() -> None:
    for name in BASICS & set(modules()):
        assert {t for t in graph()[name] if wing(t) in WINGS} == set(), name


def test_tests_take_root_and_the_cli_runner_from_conftest() -> None:
    """One ROOT and one way to call the CLI in-process (`run_main`, which checks the CLI's
    promises): test modules import them from conftest (and its journal reader)."""
    found = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "ROOT" for t in node.targets
            ):
                found.append(f"{path.name} defines ROOT")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in {"ocsrun.cli", "click.testing"}:
                names = {a.name for a in node.names}
                if names & {"main", "CliRunner"}:
                    found.append(f"{path.name} drives the CLI itself ({sorted(names)})")
    assert found == []


def cycles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for name in sorted(edges):
        if name not in index:
            visit(name)
    return found


def test_no_import_cycle_anywhere() -> None:
    seen = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()}
    assert cycles(seen) == [["a", "b", "c"]]  # the finder does find one
    assert cycles(graph()) == []
