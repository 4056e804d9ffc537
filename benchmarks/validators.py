"""The yes/no schema check alone, validator against validator, in one process on the same data.

Loads every runbook under DIR with ocsrun's own loader once, then times each validator's
`is_valid` over all of them, interleaved, best of REPS. Every validator must say "valid" for
every file of the corpus (the timing of a wrong answer does not count).

    python benchmarks/validators.py DIR [--reps 3] [--compiled FILE]

`--compiled FILE` adds a hand-written compiler with `compile_schema(schema)` (the one ocsrun
used before jsonschema-rs: `git show 865ad63:ocsrun/runbook/schemacompile.py > FILE`).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ocsrun.runbook.loader import load_document
from ocsrun.runbook.schema import load_schema


def validators(compiled: Path | None) -> dict[str, Callable[[Any], bool]]:
    schema = load_schema()
    found: dict[str, Callable[[Any], bool]] = {}
    try:
        import jsonschema_rs

        found["jsonschema-rs"] = jsonschema_rs.Draft202012Validator(schema).is_valid
    except ImportError:
        pass
    if compiled is not None:
        spec = importlib.util.spec_from_file_location("schemacompile", compiled)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found["hand-written compiler"] = module.compile_schema(schema)
    from jsonschema import Draft202012Validator

    found["jsonschema"] = Draft202012Validator(schema).is_valid
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--compiled", type=Path)
    args = parser.parse_args(argv)
    files = sorted(args.directory.rglob("*.yaml"))
    data = [load_document(path).data for path in files]
    best: dict[str, float] = {}
    for _ in range(args.reps):
        for name, is_valid in validators(args.compiled).items():
            start = time.perf_counter()
            valid = sum(1 for item in data if is_valid(item))
            took = time.perf_counter() - start
            if valid != len(data):
                print(f"{name}: {valid} of {len(data)} valid; expected all", file=sys.stderr)
                return 1
            best[name] = min(best.get(name, took), took)
    for name, took in best.items():
        print(f"{name}: {took:.3f}s for {len(data)} files (best of {args.reps})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
