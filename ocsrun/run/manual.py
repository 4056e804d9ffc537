"""What the operator decides on a step themselves: a choice, and the outcome of a manual step.

After a manual action step the operator picks done, skip (with a reason; not
offered for required steps), failed (with a reason, then retry or abort),
retry, note (then asked again), back (the previous manual step is done again, with
every step after it, across loop items and out of loops and fragments) or abort.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ocsrun.run import events as ev
from ocsrun.run.flow import RETRY, Back
from ocsrun.run.operator import Ask
from ocsrun.runbook import model as m

if TYPE_CHECKING:
    from ocsrun.run.flow import Outcome, StepHost

AFTER_STEP = ("done", "skip", "failed", "retry", "note", "back", "abort")


def choice(x: StepHost, step: m.Step, path: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """Ask a choice step; returns (variable, value) for the walk to pass on to later steps."""
    question = step.choice
    assert question is not None
    prompt = x.shown(question.prompt, context, path)
    options = tuple((o.value, o.label) for o in question.options)
    value = x.operator.choose(Ask(path, "choice", prompt), options)
    picked = next((o for o in question.options if o.value == value), None)
    if picked is not None and picked.reason:
        # A weaker reading the source does not give: the operator says why, on the record.
        reason = x.ask_text(Ask(path, "reason", f"Why {picked.label}?"))
        x.step_event(ev.CHOICE_ANSWERED, path, var=question.var, value=value, reason=reason)
    else:
        x.step_event(ev.CHOICE_ANSWERED, path, var=question.var, value=value)
    x.state.step(path).choice = (question.var, value)
    x.finish(step, path)
    return question.var, value


def after_step(x: StepHost, step: m.Step, path: str) -> Outcome:
    previous = x.previous_manual(path)
    actions = tuple(
        a
        for a in AFTER_STEP
        if (a != "skip" or step.skippable) and (a != "back" or previous is not None)
    )
    while True:
        action = x.operator.action(Ask(path, "after_step", "Step outcome"), actions)
        if action == "done":
            x.finish(step, path)
            return None
        if action == "back" and previous is not None:
            # The earlier step and everything after it are done again, wherever it is (an
            # earlier loop item, before the loop): the walk unwinds to its scope, resets them
            # (step.retry) and gates passed since are asked again.
            x.step_event(ev.STEP_BACK, path, to=previous)
            raise Back(previous)
        if action == "note":
            x.step_event(ev.STEP_NOTE, path, text=x.ask_text(Ask(path, "note", "Note")))
            continue
        if action == "skip":
            reason = x.ask_text(Ask(path, "reason", "Why skip this step?"))
            x.finish(step, path, ev.STEP_SKIPPED, reason=reason)
            return None
        if action == "failed":
            reason = x.ask_text(Ask(path, "reason", "What failed?"))
            x.step_event(ev.STEP_FAILED, path, reason=reason)
            action = x.operator.action(
                Ask(path, "after_failure", "The step failed"), ("retry", "abort")
            )
        if action == "retry":
            x.retry(path, cause=path)
            return RETRY
        x.abort(path, "operator chose abort")
