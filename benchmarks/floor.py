"""The validation floor: PyYAML's C loader and jsonschema's Draft 2020-12 validator in a loop.

No positions, no semantic rules, no report: the least any schema validator of YAML files in
Python has to do. `run.py` times `ocsrun validate` against this on the same files. Files are
found the way `ocsrun validate DIR` finds them (sorted walk, hidden directories skipped).

    python benchmarks/floor.py SCHEMA DIR
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator


def files_under(directory: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [
            Path(root) / n for n in names if n.endswith((".yaml", ".yml")) and not n.startswith(".")
        ]
    return sorted(found)


def main(argv: list[str]) -> int:
    schema = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema)  # built once, reused for every file
    files = files_under(Path(argv[1]))
    errors = 0
    for path in files:
        data = yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
        errors += sum(1 for _ in validator.iter_errors(data))
    print(f"{len(files)} files, {errors} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
