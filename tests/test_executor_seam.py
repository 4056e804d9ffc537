"""The executor's step helpers depend on `run.flow` only, never on the executor (issue 9)."""

from __future__ import annotations

import ast

import pytest
from conftest import ROOT

HELPERS = ("manual", "gatestep", "containers", "flow")


def imported_modules(name: str) -> set[str]:
    tree = ast.parse((ROOT / "ocsrun" / "run" / f"{name}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):  # TYPE_CHECKING blocks included: a cycle there is a cycle too
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("name", HELPERS)
def test_step_helper_does_not_import_the_executor(name: str) -> None:
    assert "ocsrun.run.executor" not in imported_modules(name)


def test_flow_imports_no_step_helper() -> None:
    helpers = {f"ocsrun.run.{h}" for h in HELPERS}
    assert imported_modules("flow").isdisjoint(helpers)
