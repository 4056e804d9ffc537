"""Values that slip past validation stop a run cleanly: journaled, one line, an exit code.

Validation refuses each of these (rule `unusable-value`, see the hostile corpus); here the
runbook is built without the validator, as a runbook that changed under a resumed run or a
future check's blind spot would be, to show the run still never stays "running".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_executor_helpers import harness

from ocsrun.errors import RunFailed, exit_code_for
from ocsrun.run import events as ev
from ocsrun.run.gates import run_command
from ocsrun.runbook import model as m
from ocsrun.runbook.build import _Builder, _Where
from ocsrun.runbook.loader import load_document

ROUND2 = Path(__file__).resolve().parent / "data" / "hostile" / "round2"


def build_unchecked(path: Path) -> m.Runbook:
    """The model, built without the validator (which refuses these files)."""
    document = load_document(path, str(path))
    where = _Where(path, str(path), document.position)
    return _Builder(path, str(path)).runbook(document.data, where)


ANSWERS = "defaults: {after_step: done, gate: true, window: override, override_reason: test}\n"


@pytest.mark.parametrize("name", ["timezone-unknown.yaml", "timezone-path.yaml"])
def test_an_unknown_time_zone_stops_the_run_journaled(name: str) -> None:
    h = harness(build_unchecked(ROUND2 / name), ANSWERS, params={"mode": "fast"}, target=None)
    with pytest.raises(RunFailed, match="second: the run stopped") as stopped:
        h.run()
    assert exit_code_for(stopped.value) == 1
    assert "\n" not in stopped.value.message
    assert h.handle.types()[-1] == ev.RUN_INTERRUPTED
    (last,) = h.handle.of(ev.RUN_INTERRUPTED)
    assert last["reason"] == "error" and last["step"] == "second"


def test_a_nul_byte_in_argv_is_a_failed_command_not_a_crash() -> None:
    result = run_command(("/bin/echo", "a\x00b"), 10, 100)
    assert result.exit_code is None and "NUL byte" in result.error
