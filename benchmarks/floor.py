"""The validation floor: PyYAML's C loader and a schema validator in a plain loop.

No positions, no semantic rules, no report: the least any schema validator of YAML files in
Python has to do. `run.py` times `ocsrun validate` against this on the same files, with the
fastest validator available (jsonschema-rs, native) and, as a second row, jsonschema. Files
are found the way `ocsrun validate DIR` finds them (sorted walk, hidden directories skipped).

    python benchmarks/floor.py SCHEMA DIR [--validator jsonschema-rs|jsonschema]

Prints `N files, K invalid`; exits 1 if any file is invalid.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


def files_under(directory: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [
            Path(root) / n for n in names if n.endswith((".yaml", ".yml")) and not n.startswith(".")
        ]
    return sorted(found)


def is_valid_for(schema: dict[str, Any], name: str) -> Callable[[Any], bool]:
    """Built once, reused for every file."""
    if name == "jsonschema-rs":
        import jsonschema_rs

        return jsonschema_rs.Draft202012Validator(schema).is_valid
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema).is_valid


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("schema", type=Path)
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--validator", choices=("jsonschema-rs", "jsonschema"), default="jsonschema-rs"
    )
    args = parser.parse_args(argv)
    is_valid = is_valid_for(json.loads(args.schema.read_text(encoding="utf-8")), args.validator)
    files = files_under(args.directory)
    invalid = 0
    for path in files:
        data = yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
        invalid += not is_valid(data)
    print(f"{len(files)} files, {invalid} invalid")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
