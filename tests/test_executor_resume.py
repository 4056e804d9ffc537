"""Resuming: replaying the journal, continuing at the first unfinished step, staleness, changes."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from test_executor import (
    GENERIC,
    SE,
    Interrupting,
    _utc,  # noqa: F401 - the autouse fixture: local time is UTC here too
    finished_once,
)
from test_executor_helpers import harness, load

from ocsrun.errors import Interrupted
from ocsrun.run import events as ev
from ocsrun.run.state import changes, dump, replay
from ocsrun.runbook import model as m


def interrupted_at(
    step: str,
    answers: str = GENERIC,
    runbook: str = "deactivate-se-ee-roles.yaml",
    params: dict[str, object] | None = None,
):  # type: ignore[no-untyped-def]
    h = harness(load(runbook), answers, params=SE if params is None else params)
    inner = h.operator
    h.operator = Interrupting(inner, step, KeyboardInterrupt())  # type: ignore[assignment]
    with pytest.raises(Interrupted):
        h.run()
    h.operator = inner
    return h


def test_resume_continues_at_the_first_unfinished_step() -> None:
    h = interrupted_at("stop-services")
    before = list(h.done_steps())
    assert before[-1] == "sessions-completed"
    h.resume(GENERIC)
    after = h.done_steps()
    assert after[: len(before)] == before
    assert after[len(before)] == "stop-services"
    finished_once(h)
    assert Counter(after)["log-on"] == 1
    assert h.handle.of(ev.RUN_RESUMED)[0]["last"] == ev.RUN_INTERRUPTED


def test_resume_restores_choices_for_later_conditions() -> None:
    answers = GENERIC + "steps:\n  precaution: {choice: reroute}\n"
    h = interrupted_at("change-routes", answers, "deactivate-mediation-server.yaml", {})
    # The resumed run has no answer for the choice: it must come from the journal.
    h.resume(GENERIC)
    assert Counter(h.done_steps())["precaution"] == 1
    assert "wait-calls-hung-up" in h.done_steps()
    assert "call-logs-checked" in {str(d["step"]) for d in h.handle.of(ev.STEP_AUTO_SKIPPED)}
    finished_once(h)


def test_resume_inside_a_for_each_after_a_goto() -> None:
    answers = (
        GENERIC
        + """
steps:
  deactivate-roles[web-components].wizard.check-log:
    evidence: [wizard-failure.log, ocs01/web-components.html]
"""
    )
    h = harness(
        load("deactivate-se-ee-roles.yaml"),
        answers,
        params={"roles": ("web-components", "front-end"), "check_services_with_command": False},
    )
    inner = h.operator
    # Interrupt at the second role, after the first went through one goto.
    h.operator = Interrupting(
        inner, "deactivate-roles[front-end].start-wizard", KeyboardInterrupt()
    )  # type: ignore[assignment]
    with pytest.raises(Interrupted):
        h.run()
    h.resume(GENERIC)
    done = Counter(h.done_steps())
    base = "deactivate-roles[web-components].wizard."
    assert done[base + "run-wizard"] == 2 and done[base + "check-log"] == 1
    assert done["deactivate-roles[front-end].wizard.check-log"] == 1
    assert done["deactivate-roles"] == 1
    finished_once(h)


def test_expired_gate_is_asked_again_on_resume() -> None:
    h = interrupted_at("stop-services")
    h.clock.advance(minutes=20)
    h.resume(GENERIC)
    expired = h.handle.of(ev.GATE_EXPIRED)
    assert [(e["step"], e["before"]) for e in expired] == [("sessions-completed", "stop-services")]
    seqs = [r.type for r in h.handle.saved]
    resumed = seqs.index(ev.RUN_RESUMED)
    assert seqs.index(ev.GATE_EXPIRED, resumed) < seqs.index(ev.STEP_STARTED, resumed)
    from ocsrun.run.timeline import build

    timeline = build(h.handle.info, h.handle.saved)
    assert any("interrupted (Ctrl-C" in e for e in timeline.events)
    assert not any("without an interruption record" in e for e in timeline.events)


def test_a_crash_is_told_as_such_on_resume() -> None:
    from ocsrun.run.timeline import build

    h = interrupted_at("stop-services")
    # What a kill -9 leaves: the journal ends without run.interrupted.
    h.handle.saved = [r for r in h.handle.saved if r.type != ev.RUN_INTERRUPTED]
    h.resume(GENERIC)
    events = build(h.handle.info, h.handle.saved).events
    crash = [e for e in events if "without an interruption record (crash" in e]
    assert len(crash) == 1 and events.index(crash[0]) < len(events) - 1


def test_not_expired_gate_is_not_asked_again() -> None:
    h = interrupted_at("stop-services")
    h.clock.advance(minutes=5)
    h.resume(GENERIC)
    assert h.handle.of(ev.GATE_EXPIRED) == []


def test_changed_step_is_answered_again_unchanged_ones_are_not() -> None:
    h = interrupted_at("stop-services")
    steps = list(h.runbook.steps)
    i = next(i for i, s in enumerate(steps) if s.id == "log-on")
    steps[i] = dataclasses.replace(steps[i], instructions="Log on with the NEW account policy.")
    h.runbook = dataclasses.replace(h.runbook, steps=tuple(steps))
    h.resume(GENERIC)
    done = Counter(h.done_steps())
    assert done["log-on"] == 2 and done["backup"] == 1
    changed = [s.title for s in h.operator.transcript if "changed since" in s.title]
    assert changed and changed[0].startswith("Step 4 · Log on to the server")
    finished_once(h)


def test_changes_summarise_what_changed() -> None:
    rb = load("deactivate-se-ee-roles.yaml")
    old = dump(rb)
    assert changes(old, rb) == []
    assert changes(old, dataclasses.replace(rb, path="elsewhere/same.yaml")) == []
    steps = [s for s in rb.steps if s.id != "backup"]
    steps[0] = dataclasses.replace(steps[0], title="New title")
    newer = dataclasses.replace(
        rb,
        steps=tuple(steps),
        metadata=dataclasses.replace(rb.metadata, version="1.1.0"),
        params=rb.params[:1],
    )
    summary = changes(old, newer)
    assert "version 1.0.0 -> 1.1.0" in summary
    assert "params changed" in summary
    assert "step removed: backup" in summary
    assert f"step changed: {steps[0].id}" in summary


def test_replay_ignores_unknown_records_and_tracks_outcomes() -> None:
    answers = """
defaults: {after_step: done, acknowledge: true, gate: true, choice: single}
steps:
  confirm-server: {gate: ocs01.contoso.com}
"""
    params = {"action": "start", "check_service_with_command": False, "service_name": "RTCSRV"}
    h = harness(load("services-start-stop.yaml"), answers, params=params)
    h.run()
    h.handle.append("journal.torn-tail-set-aside", {"file": "journal.torn.1"})
    state = replay(h.handle.records())
    assert state.steps["roles-on-computer"].choice == ("computer_roles", "single")
    assert state.steps["act[start].multiple-roles"].outcome == ev.STEP_AUTO_SKIPPED
    assert state.params["action"] == "start"
    assert state.acknowledged == {"unsupported-product"}
    assert not state.finished  # the last record is not run.finished any more


def test_resume_of_a_runbook_with_call_restores_nested_choices() -> None:
    # A fragment with a choice: answers inside a finished call are restored for later steps.
    inner = m.Step(
        "pick",
        "Pick",
        "choice",
        choice=m.Choice(
            "colour", "?", (m.ChoiceOption("red", "Red"), m.ChoiceOption("blue", "Blue"))
        ),
    )
    call = m.Step("frag", "Fragment", "call", call=m.Call("f.yaml", "f", "F", (), (), (inner,)))
    later = m.Step("later", "Later", "action", when="colour == 'blue'")
    last = m.Step("last", "Last", "action")
    meta = m.Metadata("t", "T", "1", m.Source("d", "s"))
    rb = m.Runbook("runbook", meta, (), (), (call, later, last))
    answers = "defaults: {after_step: done}\nsteps:\n  frag.pick: {choice: blue}\n"
    h = harness(rb, answers, target=None)
    inner_op = h.operator
    # Stopped at `later`, whose `when:` needs the answer given inside the fragment.
    h.operator = Interrupting(inner_op, "later", KeyboardInterrupt())  # type: ignore[assignment]
    with pytest.raises(Interrupted):
        h.run()
    h.resume("defaults: {after_step: done}\n")
    assert Counter(h.done_steps()) == Counter({"frag.pick": 1, "frag": 1, "later": 1, "last": 1})
