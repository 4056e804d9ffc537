"""Where the schema and the bundled runbooks are, installed or in a checkout.

They live once, at the top of the repository (schemas/, runbooks/). A wheel maps
them into the package as `ocsrun._schemas` and `ocsrun._runbooks`; a checkout or
an editable install finds them beside the package.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

SCHEMA_FILE = "runbook.schema.json"


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location)
        if path.is_dir():
            return path
    return None


def _checkout_dir(name: str) -> Path | None:
    # Only trust a sibling folder when it is really our checkout, never a stray
    # "schemas" folder that happens to sit in site-packages.
    top = Path(__file__).resolve().parents[2]
    if not (top / "pyproject.toml").is_file():
        return None
    path = top / name
    return path if path.is_dir() else None


@cache
def schemas_dir() -> Path:
    found = _package_dir("ocsrun._schemas") or _checkout_dir("schemas")
    if found is None:
        raise FileNotFoundError("the ocsrun schema is not installed (package data missing)")
    return found


@cache
def runbooks_dir() -> Path:
    found = _package_dir("ocsrun._runbooks") or _checkout_dir("runbooks")
    if found is None:
        raise FileNotFoundError("the bundled runbooks are not installed (package data missing)")
    return found


def schema_path() -> Path:
    return schemas_dir() / SCHEMA_FILE
