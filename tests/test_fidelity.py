"""Fidelity of the bundled runbooks to the source document, point by point.

Each step either cites the source (section, optional step number, a quote that stands verbatim
in that section and, with a number, in that numbered step) or says it is not in the source and
cites nothing. Discrepancy records quote the source verbatim. The orders the source imposes and
the pre-flight version gate are checked on the runbooks' data, and by rehearsals with answers.

The source text lives in the workplace's shared/ folder beside the checkout (it is not ours to
copy into the repository); OCSRUN_SOURCE_DIR points elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import DATA, ROOT, RUNBOOKS, run_main

SOURCE_FILE = "ocs2007-services-and-roles.txt"
SECTIONS = yaml.safe_load((DATA / "fidelity" / "source-sections.yaml").read_text("utf-8"))
RUNBOOK_FILES = sorted((RUNBOOKS / "ocs2007").glob("*.yaml"))
FRAGMENT_FILES = sorted((RUNBOOKS / "ocs2007" / "fragments").glob("*.yaml"))
ANSWERS = ROOT / "examples" / "rehearsals"


def _source_text() -> str:
    folder = Path(os.environ.get("OCSRUN_SOURCE_DIR", ROOT.parent / "shared" / "source"))
    path = folder / SOURCE_FILE
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the source document is missing in CI: {path}")
        pytest.skip(f"the source document is not beside this checkout ({path})")
    return path.read_text(encoding="utf-8")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Source:
    lines: tuple[str, ...]

    def section(self, name: str) -> str:
        spec = SECTIONS["sections"].get(name)
        assert spec is not None, f"section {name!r} is not a section of the source"
        start = self._heading(name, 0)
        ends = [self._heading(h, start + 1) for h in spec["until"]]
        end = min(ends, default=len(self.lines))
        return "\n".join(self.lines[start:end])

    def numbered_step(self, section: str, number: int, quote: str) -> bool:
        """The quote stands in a numbered step `number` of the section (any of its procedures)."""
        text = self.section(section)
        items = re.split(r"\n(?=  \d+\. )", text)
        wanted = _squash(quote)
        return any(
            item.startswith(f"  {number}. ") and wanted in _squash(_cut_at_heading(item))
            for item in items
        )

    def _heading(self, name: str, start: int) -> int:
        for index in range(start, len(self.lines)):
            if self.lines[index].strip() == name and not self.lines[index].startswith(" "):
                return index
        raise AssertionError(f"heading {name!r} not found in the source")


def _cut_at_heading(item: str) -> str:
    # A numbered step ends at the next unindented line (a heading), if any.
    lines = item.split("\n")
    kept = [lines[0]]
    for line in lines[1:]:
        if line and not line.startswith(" "):
            break
        kept.append(line)
    return "\n".join(kept)


@pytest.fixture(scope="module")
def source() -> Source:
    return Source(tuple(_source_text().split("\n")))


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _steps(steps: list[dict[str, Any]], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for step in steps:
        path = f"{prefix}{step['id']}"
        yield path, step
        nested = (step.get("for_each") or {}).get("steps") or []
        yield from _steps(nested, f"{path}.")


ALL_STEPS = [
    pytest.param(path.name, step_path, step, id=f"{path.stem}:{step_path}")
    for path in RUNBOOK_FILES + FRAGMENT_FILES
    for step_path, step in _steps(_load(path)["steps"])
]


@pytest.mark.parametrize(("file", "step_path", "step"), ALL_STEPS)
def test_every_step_cites_the_source_verbatim_or_says_it_is_not_in_it(
    source: Source, file: str, step_path: str, step: dict[str, Any]
) -> None:
    cited, added = step.get("source"), step.get("not_in_source")
    assert bool(cited) != bool(added), (
        f"{file} {step_path}: a step either cites the source or says why it is not in it"
    )
    if added:
        assert "not in the source" not in " ".join(step.get("notes") or []).lower(), (
            f"{file} {step_path}: say it once, in not_in_source"
        )
        return
    section, quote = cited["section"], cited.get("quote", "")
    assert quote, f"{file} {step_path}: a citation carries the source's words"
    assert _squash(quote) in _squash(source.section(section)), (
        f"{file} {step_path}: quote not verbatim in section {section!r}: {quote!r}"
    )
    if cited.get("step") is not None:
        assert source.numbered_step(section, cited["step"], quote), (
            f"{file} {step_path}: quote not in step {cited['step']} of {section!r}"
        )


DISCREPANCIES = [
    pytest.param(path.name, record, id=f"{path.stem}:{record['id']}")
    for path in RUNBOOK_FILES
    for record in _load(path)["metadata"].get("discrepancies") or []
]


@pytest.mark.parametrize(("file", "record"), DISCREPANCIES)
def test_discrepancy_records_quote_the_source_verbatim(
    source: Source, file: str, record: dict[str, Any]
) -> None:
    whole = _squash("\n".join(source.lines))
    assert _squash(record["source_text"]) in whole, f"{file} {record['id']}"
    assert record["safe_reading"].strip(), f"{file} {record['id']}: a safe reading is given"


def _top_ids(path: Path) -> list[str]:
    return [step["id"] for step in _load(path)["steps"]]


def _by_id() -> dict[str, Path]:
    return {_load(p)["metadata"]["id"]: p for p in RUNBOOK_FILES}


@pytest.mark.parametrize(
    ("runbook", "order"),
    [
        pytest.param(rb, order, id=rb)
        for rb, orders in SECTIONS["orders"].items()
        for order in orders
    ],
)
def test_source_order_holds(runbook: str, order: list[str]) -> None:
    ids = _top_ids(_by_id()[runbook])
    positions = [ids.index(step) for step in order]
    assert positions == sorted(positions), f"{runbook}: {order} out of order in {ids}"


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.stem)
def test_version_gate_is_the_first_step_and_aborts(path: Path) -> None:
    first = _load(path)["steps"][0]
    assert first["id"] == SECTIONS["version_gate"]
    assert first["gate"]["type"] == "confirm"
    assert first["gate"]["on_failure"]["action"] == "abort"
    assert "R2" in first["gate"]["on_failure"]["message"]
    assert "not_in_source" in first


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.stem)
def test_runbooks_claim_2007_only(path: Path) -> None:
    products = _load(path)["metadata"]["applies_to"]["products"]
    assert products == ["Office Communications Server 2007"]


def _journal(state: Path) -> list[dict[str, Any]]:
    import json

    (run_dir,) = (state / "runs").iterdir()
    lines = (run_dir / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture
def answers_file(tmp_path: Path) -> Any:
    """An example answers file with some answers changed, written where its relative
    evidence paths (../evidence/...) still resolve."""
    shutil.copytree(ROOT / "examples" / "evidence", tmp_path / "evidence")
    (tmp_path / "rehearsals").mkdir()

    def make(name: str, **extra: Any) -> Path:
        data = _load(ANSWERS / f"{name}.yaml")
        for key, value in extra.items():
            if key == "steps":
                data.setdefault("steps", {}).update(value)
            else:
                data[key] = value
        out = tmp_path / "rehearsals" / f"{name}.yaml"
        out.write_text(yaml.safe_dump(data), encoding="utf-8")
        return out

    return make


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.stem)
def test_version_gate_stops_an_r2_answer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, answers_file: Any, path: Path
) -> None:
    runbook = _load(path)["metadata"]["id"]
    answers = answers_file(path.stem, steps={"product-version": {"gate": False}})
    code, _out, err = run_main(capsys, "rehearse", runbook, "--answers", str(answers))
    assert code == 4, err
    journal = _journal(tmp_path / "state")
    aborted = [r for r in journal if r["type"] == "run.aborted"]
    assert aborted and aborted[-1]["data"]["step"] == "product-version"
    done = [r["data"].get("step") for r in journal if r["type"] == "step.done"]
    assert done == [], "nothing after the version gate ran"


def test_restart_is_one_run_stop_then_start(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, answers_file: Any
) -> None:
    answers = answers_file("services-start-stop", params={"action": "restart"})
    code, _out, err = run_main(
        capsys, "rehearse", "ocs2007.services-start-stop", "--answers", str(answers)
    )
    assert code == 0, err
    journal = _journal(tmp_path / "state")
    assert sum(r["type"] == "run.started" for r in journal) == 1
    passed = [r["data"]["step"] for r in journal if r["type"] == "gate.passed"]
    acted = [r["data"]["step"] for r in journal if r["type"] == "step.done"]
    assert passed.index("act[stop].confirm-state") < passed.index("act[start].confirm-state")
    assert acted.index("act[stop].multiple-roles") < acted.index("act[start].multiple-roles")


PASSES = {
    "stop": ("act[stop].confirm-state", "act[start].confirm-state"),
    "start": ("act[start].confirm-state", "act[stop].confirm-state"),
}


@pytest.mark.parametrize("action", sorted(PASSES))
def test_stop_or_start_alone_runs_one_pass(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, answers_file: Any, action: str
) -> None:
    answers = answers_file("services-start-stop", params={"action": action})
    code, _out, err = run_main(
        capsys, "rehearse", "ocs2007.services-start-stop", "--answers", str(answers)
    )
    assert code == 0, err
    journal = _journal(tmp_path / "state")
    passed = {r["data"]["step"] for r in journal if r["type"] == "gate.passed"}
    auto = {r["data"]["step"] for r in journal if r["type"] == "step.auto-skipped"}
    ran, skipped = PASSES[action]
    assert ran in passed
    assert skipped in auto


def test_edge_local_administrator_reading_is_journaled_with_its_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, answers_file: Any
) -> None:
    reason = "edge01 is in a workgroup in the perimeter network"
    answers = answers_file(
        "deactivate-edge-server",
        steps={"logon-account": {"choice": "local-administrator", "reason": reason}},
    )
    code, _out, err = run_main(
        capsys, "rehearse", "ocs2007.deactivate-edge-server", "--answers", str(answers)
    )
    assert code == 0, err
    journal = _journal(tmp_path / "state")
    (answer,) = [r for r in journal if r["type"] == "choice.answered"]
    assert answer["data"]["value"] == "local-administrator"
    assert answer["data"]["reason"] == reason


def test_edge_source_reading_needs_no_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _out, err = run_main(
        capsys,
        "rehearse",
        "ocs2007.deactivate-edge-server",
        "--answers",
        str(ANSWERS / "deactivate-edge-server.yaml"),
    )
    assert code == 0, err
    (answer,) = [r for r in _journal(tmp_path / "state") if r["type"] == "choice.answered"]
    assert answer["data"]["value"] == "rtc-universal-server-admins"
    assert "reason" not in answer["data"]


def _all_steps(path: Path) -> list[dict[str, Any]]:
    return [step for _path, step in _steps(_load(path)["steps"])]


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.stem)
def test_off_peak_windows_are_in_the_users_time_zone(path: Path) -> None:
    # The source's "off-peak hours" are the users', not the clock of the machine running ocsrun.
    windows = [
        s["gate"] for s in _all_steps(path) if (s.get("gate") or {}).get("type") == "time_window"
    ]
    assert all(gate.get("timezone") == "ask" for gate in windows), path.name


@pytest.mark.parametrize("path", RUNBOOK_FILES, ids=lambda p: p.stem)
def test_stale_confirmations_are_asked_again_only_at_checkpoints(path: Path) -> None:
    steps = _all_steps(path)
    if not any((s.get("gate") or {}).get("valid_for") for s in steps):
        return
    marked = [s["id"] for s in steps if s.get("checkpoint")]
    assert marked, f"{path.name}: a runbook with valid_for marks where staleness is checked"
    wizard_calls = [s["id"] for s in steps if s.get("uses")]
    assert wizard_calls, path.name
    for fragment in FRAGMENT_FILES:
        assert not any(s.get("checkpoint") for s in _all_steps(fragment)), fragment.name


def test_se_ee_sessions_confirmation_is_renewed_before_each_role() -> None:
    steps = {
        s["id"]: s for s in _load(RUNBOOKS / "ocs2007" / "deactivate-se-ee-roles.yaml")["steps"]
    }
    assert steps["sessions-completed"]["gate"]["valid_for"] == "15m"
    assert steps["deactivate-roles"].get("checkpoint") is True
