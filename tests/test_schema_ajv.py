"""The runbook schema compiles under Ajv 8 in strict mode with no extra options (what editors and
CI tools built on Ajv do), and Ajv agrees with ocsrun on the bundled runbooks (issue 13.5).

Ajv is installed from the npm registry into a temporary directory for the session. Without
node or npm the test is skipped on a workstation and fails in CI (CI=true), which has node.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

from ocsrun.runbook.loader import load_document

SCHEMA = ROOT / "schemas" / "runbook.schema.json"

CHECK_JS = """
const Ajv2020 = require("ajv/dist/2020").default;
const fs = require("fs");
const [schemaPath, ...documents] = process.argv.slice(2);
const ajv = new Ajv2020({strict: true});  // strict mode, nothing else allowed or added
let validate;
try {
  validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, "utf8")));
} catch (error) {
  console.log("COMPILE " + error.message);
  process.exit(3);
}
const verdicts = documents.map((path) => validate(JSON.parse(fs.readFileSync(path, "utf8"))));
console.log(JSON.stringify(verdicts));
"""


@pytest.fixture(scope="session")
def ajv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = "node and npm are needed to run Ajv"
        assert os.environ.get("CI") != "true", missing  # CI has node: never skip there
        pytest.skip(missing)
    where = tmp_path_factory.mktemp("ajv")
    installed = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(where), "ajv@8"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    script = where / "check.js"
    script.write_text(CHECK_JS, encoding="utf-8")
    return script


def run_ajv(script: Path, schema: Path, *documents: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(script), str(schema), *map(str, documents)],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def as_json(source: Path, target: Path) -> Path:
    target.write_text(json.dumps(load_document(source).data), encoding="utf-8")
    return target


def test_schema_compiles_in_strict_mode_and_agrees_on_the_bundled_runbooks(
    ajv: Path, tmp_path: Path
) -> None:
    files = sorted((ROOT / "runbooks").rglob("*.yaml"))
    documents = [as_json(f, tmp_path / f"{i}.json") for i, f in enumerate(files)]
    broken = tmp_path / "broken.json"
    data = json.loads(documents[0].read_text(encoding="utf-8"))
    data["steps"][0]["required"] = "yes"  # what a YAML 1.2 reader makes of `required: yes`
    broken.write_text(json.dumps(data), encoding="utf-8")
    done = run_ajv(ajv, SCHEMA, *documents, broken)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == [True] * len(files) + [False]


def test_a_union_type_is_what_strict_mode_refuses(ajv: Path, tmp_path: Path) -> None:
    # The check is real: the schema as it was (a union type) does not compile.
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    schema["$defs"]["size"] = {"type": ["integer", "string"]}
    loose = tmp_path / "loose.json"
    loose.write_text(json.dumps(schema), encoding="utf-8")
    done = run_ajv(ajv, loose)
    assert done.returncode == 3
    assert "COMPILE strict mode" in done.stdout
