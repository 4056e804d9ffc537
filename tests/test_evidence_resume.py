"""A failed gate's question survives an interruption, and an optional command check can be
skipped with a reason (issue 10, points 6 and 7). Executor-level, with the scripted operator."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from test_executor import GENERIC, SSS, sss_answers
from test_executor_helpers import harness, load

from ocsrun.errors import AnswersError, Interrupted, RunAborted
from ocsrun.run import events as ev

CHECK = "deactivate-roles[web-components].wizard.check-log"
SE = {"roles": ("web-components", "front-end"), "check_services_with_command": False}


class StopAt:
    """Raises KeyboardInterrupt at the first question named `name` about `step`."""

    def __init__(self, inner: Any, step: str, name: str) -> None:
        self.inner, self.step, self.name = inner, step, name

    def __getattr__(self, attr: str) -> Any:
        method = getattr(self.inner, attr)
        if attr == "show":
            return method

        def ask(question: Any, *args: Any) -> Any:
            if question.step == self.step and question.name == self.name:
                raise KeyboardInterrupt
            return method(question, *args)

        return ask


def test_the_goto_question_after_a_failed_log_is_asked_again_on_resume() -> None:
    answers = GENERIC + f"steps:\n  {CHECK}: {{evidence: [wizard-failure.log]}}\n"
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    inner = h.operator
    h.operator = StopAt(inner, CHECK, "after_failure")
    with pytest.raises(Interrupted):
        h.run()
    assert h.handle.types()[-2:] == [ev.GATE_FAILED, ev.RUN_INTERRUPTED]
    saved = len(h.handle.saved)
    h.resume(GENERIC + f"steps:\n  {CHECK}: {{evidence: [ocs01/web-components.html]}}\n")
    after = h.handle.saved[saved:]
    asked = [(a.step, a.name) for a in h.operator.asked if a.step.startswith(CHECK[:-9])]
    # The first question about that role on resume is the pending one, not the log again.
    assert asked[0] == (CHECK, "after_failure")
    first = next(r for r in after if r.data.get("step", "").startswith(CHECK[:-9]))
    assert first.type == ev.STEP_RETRY and first.data["cause"] == CHECK
    assert first.data["step"] == "deactivate-roles[web-components].wizard.run-wizard"
    # ...so the wizard ran again and the new log passed; the failed one was not re-checked.
    done = Counter(str(r.data["step"]) for r in after if r.type == ev.STEP_DONE)
    assert done["deactivate-roles[web-components].wizard.run-wizard"] == 1
    assert [r.data["step"] for r in after if r.type == ev.GATE_FAILED] == []
    assert h.handle.types()[-1] == ev.RUN_FINISHED


def test_an_interruption_at_the_question_twice_still_asks_it() -> None:
    answers = GENERIC + f"steps:\n  {CHECK}: {{evidence: [wizard-failure.log]}}\n"
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    inner = h.operator
    h.operator = StopAt(inner, CHECK, "after_failure")
    with pytest.raises(Interrupted):
        h.run()
    h.operator = StopAt(h.operator, CHECK, "after_failure")
    with pytest.raises(Interrupted):
        h.executor(resume=True).resume()
    with pytest.raises(RunAborted):
        h.resume(GENERIC + f"steps:\n  {CHECK}: {{after_failure: abort}}\n")
    assert h.handle.types()[-1] == ev.RUN_ABORTED
    # Each resume asked the pending question and checked no log.
    assert len(h.handle.of(ev.GATE_FAILED)) == 1
    assert h.handle.of(ev.RUN_ABORTED)[-1]["step"] == CHECK


def test_an_optional_command_check_that_fails_can_be_skipped_with_a_reason() -> None:
    params = {**SSS, "check_service_with_command": True}
    extra = (
        "  act.verify-with-command:\n    after_failure: skip\n"
        "    reason: no remote service access from this machine\n"
    )
    h = harness(
        load("services-start-stop.yaml"), sss_answers(extra=extra), params=params, exits=[1]
    )
    h.run()
    (skipped,) = h.handle.of(ev.STEP_SKIPPED)
    assert skipped["step"] == "act[stop].verify-with-command"
    assert skipped["reason"] == "no remote service access from this machine"
    assert skipped["optional"] == "check_service_with_command"
    question = next(a for a in h.operator.asked if a.name == "after_failure")
    assert "optional" in question.prompt
    assert h.handle.types()[-1] == ev.RUN_FINISHED


def test_a_required_gate_offers_no_skip() -> None:
    answers = (
        GENERIC + f"steps:\n  {CHECK}: {{evidence: [wizard-failure.log], after_failure: skip}}\n"
    )
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    with pytest.raises(AnswersError, match="'skip' is not one of: goto, abort"):
        h.run()
