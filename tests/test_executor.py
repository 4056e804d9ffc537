"""The executor against the bundled runbooks, driven by the scripted operator.

Every step kind, gate kind, branch and failure path of the five runbooks. The
clock is fixed (Saturday 22:00 UTC unless a test moves it) and the machine's
local time zone is UTC, so time windows are deterministic.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from test_executor_helpers import Harness, harness, load

from ocsrun.errors import AnswersError, Interrupted, NoOperatorInput, RunAborted, exit_code_for
from ocsrun.run import events as ev
from ocsrun.run.operator import Screen
from ocsrun.runbook import model as m

GENERIC = """
defaults:
  after_step: done
  acknowledge: true
  gate: true
  checklist: all
  after_failure: goto
"""
TARGET = "ocs01.contoso.com"
SSS = {"action": "stop", "check_service_with_command": False, "service_name": "RTCSRV"}


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def finished_once(h: Harness) -> None:
    """No (step, attempt) is finished twice, and the run finished."""
    keys = [
        (d["step"], d["attempt"])
        for r in h.handle.saved
        if r.type in ev.FINISHING
        for d in [r.data]
    ]
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    assert h.handle.types()[-1] == ev.RUN_FINISHED


def auto_skipped(h: Harness) -> dict[str, dict[str, object]]:
    return {str(d["step"]): dict(d["values"]) for d in h.handle.of(ev.STEP_AUTO_SKIPPED)}


# --- services-start-stop ------------------------------------------------------------


def step_screen(h: Harness, path: str) -> Screen:
    """The (last) step screen of `path`: its lines name the step's id."""
    screens = [
        s
        for s in h.operator.transcript
        if s.kind == "step" and any(line.endswith(f" · id {path}") for line in s.lines)
    ]
    return screens[-1]


def sss_answers(roles: str = "single", typed: str = TARGET, extra: str = "") -> str:
    return f"""
defaults: {{after_step: done, acknowledge: true}}
steps:
  log-on: {{gate: true}}
  product-version: {{gate: true}}
  confirm-server: {{gate: {typed}}}
  roles-on-computer: {{choice: {roles}}}
  act.confirm-state: {{gate: true}}
{extra}"""


def test_single_role_branch_skips_the_other_with_its_values() -> None:
    h = harness(load("services-start-stop.yaml"), sss_answers(), params=SSS)
    assert h.run() == "done"
    assert h.done_steps() == [
        "product-version",
        "log-on",
        "confirm-server",
        "open-computer-management",
        "roles-on-computer",
        "act[stop].single-role",
        "act[stop].confirm-state",
        "act",
    ]
    skipped = auto_skipped(h)
    assert skipped["act[stop].multiple-roles"]["computer_roles"] == "single"
    assert skipped["act[stop].verify-with-command"]["check_service_with_command"] is False
    # A stop runs the Stop pass only: the whole Start pass is skipped with its reasons.
    assert {p for p in skipped if p.startswith("act[start].")} == {
        "act[start].single-role",
        "act[start].multiple-roles",
        "act[start].verify-with-command",
        "act[start].confirm-state",
    }
    assert h.handle.of(ev.CHOICE_ANSWERED)[0]["value"] == "single"
    finished_once(h)


def test_multiple_roles_branch_and_rendered_instructions() -> None:
    h = harness(load("services-start-stop.yaml"), sss_answers("multiple"), params=SSS)
    h.run()
    assert "act[stop].multiple-roles" in h.done_steps()
    assert "act[stop].single-role" in auto_skipped(h)
    step = step_screen(h, "act[stop].multiple-roles")
    # render's number, the step's title, and where it stands among the screens of this run
    assert "Point to **Stop**" in step.body and step.title.startswith("Step 6.2 · ")
    assert any(line.startswith("Screen 7 of 8 ") for line in step.lines)


def test_typed_confirmation_mismatch_fails_then_retry_passes() -> None:
    answers = sss_answers().replace(
        f"confirm-server: {{gate: {TARGET}}}",
        f"confirm-server: {{after_failure: retry, gate: [ocs02.contoso.com, {TARGET}]}}",
    )
    h = harness(load("services-start-stop.yaml"), answers, params=SSS)
    h.run()
    failed = h.handle.of(ev.GATE_FAILED)
    assert [(f["step"], f["failures"], f["action"]) for f in failed] == [
        ("confirm-server", 1, "retry")
    ]
    passed = [p for p in h.handle.of(ev.GATE_PASSED) if p["step"] == "confirm-server"]
    assert passed[0]["typed"] == TARGET and passed[0]["attempt"] == 2
    finished_once(h)


def test_command_gate_fails_then_passes_with_rendered_argv() -> None:
    params = {**SSS, "check_service_with_command": True}
    extra = "  act.verify-with-command: {after_failure: retry}\n"
    h = harness(
        load("services-start-stop.yaml"), sss_answers(extra=extra), params=params, exits=[1, 0]
    )
    h.run()
    assert len(h.gates.ran) == 2
    argv = h.gates.ran[0]
    assert argv[0] == "powershell.exe" and "ocs01.contoso.com" in argv[-1]
    assert "-ne 'Stopped'" in argv[-1]
    failed = h.handle.of(ev.GATE_FAILED)[0]
    assert failed["exit"] == 1 and "expected exit 0" in failed["reason"]
    assert [r["step"] for r in h.handle.of(ev.STEP_RETRY)] == ["act[stop].verify-with-command"]


def test_rehearsal_shows_but_never_runs_commands() -> None:
    params = {**SSS, "check_service_with_command": True}
    h = harness(load("services-start-stop.yaml"), sss_answers(), params=params, rehearsal=True)
    assert h.run() == "rehearsed"
    assert h.gates.ran == []
    passed = next(p for p in h.handle.of(ev.GATE_PASSED) if p["type"] == "command")
    assert passed["rehearsal"] is True and passed["executed"] is False
    assert h.handle.of(ev.RUN_STARTED)[0]["rehearsal"] is True
    assert h.handle.of(ev.RUN_FINISHED)[0]["outcome"] == "rehearsed"


def test_unconfirmed_gate_then_abort() -> None:
    answers = sss_answers().replace(
        "log-on: {gate: true}", "log-on: {gate: false, after_failure: abort}"
    )
    h = harness(load("services-start-stop.yaml"), answers, params=SSS)
    with pytest.raises(RunAborted) as caught:
        h.run()
    assert exit_code_for(caught.value) == 4
    assert h.handle.types()[-1] == ev.RUN_ABORTED
    assert h.handle.of(ev.RUN_ABORTED)[0]["step"] == "log-on"


# --- manual step outcomes -------------------------------------------------------------


SE = {"roles": ("front-end",), "check_services_with_command": False}


def test_skip_needs_a_reason_and_is_refused_for_required_steps() -> None:
    answers = (
        GENERIC
        + """
steps:
  stop-services: {after_step: skip, reason: services already stopped by the change team}
"""
    )
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    h.run()
    skipped = h.handle.of(ev.STEP_SKIPPED)
    assert [(s["step"], s["reason"]) for s in skipped] == [
        ("stop-services", "services already stopped by the change team")
    ]
    required = GENERIC + "steps:\n  open-computer-management: {after_step: skip, reason: x}\n"
    h2 = harness(load("deactivate-se-ee-roles.yaml"), required, params=SE)
    with pytest.raises(AnswersError, match="'skip' is not one of: done, failed"):
        h2.run()
    assert h2.handle.of(ev.RUN_INTERRUPTED)[0]["reason"] == "answers"


def test_note_failed_retry_then_done() -> None:
    answers = (
        GENERIC
        + """
steps:
  stop-services:
    after_step: [note, failed, done]
    note: RTCSRV took two minutes
    reason: the service did not stop
    after_failure: retry
"""
    )
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    h.run()
    types = [r.type for r in h.handle.saved if r.data.get("step") == "stop-services"]
    assert types == [
        ev.STEP_STARTED,
        ev.STEP_NOTE,
        ev.STEP_FAILED,
        ev.STEP_RETRY,
        ev.STEP_STARTED,
        ev.STEP_DONE,
    ]
    assert h.handle.of(ev.STEP_NOTE)[0]["text"] == "RTCSRV took two minutes"
    finished_once(h)


def test_abort_after_a_step() -> None:
    answers = GENERIC + "steps:\n  stop-services: {after_step: abort}\n"
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    with pytest.raises(RunAborted):
        h.run()
    assert h.handle.of(ev.RUN_ABORTED)[0]["step"] == "stop-services"


# --- for-each, evidence, goto ------------------------------------------------------------


def test_for_each_runs_in_declared_order_and_shows_position() -> None:
    params = {
        "roles": ("front-end", "av-conferencing", "web-components"),
        "check_services_with_command": False,
    }
    h = harness(load("deactivate-se-ee-roles.yaml"), GENERIC, params=params)
    h.run()
    checks = [s for s in h.done_steps() if s.endswith("check-log")]
    assert checks == [
        "deactivate-roles[av-conferencing].wizard.check-log",
        "deactivate-roles[web-components].wizard.check-log",
        "deactivate-roles[front-end].wizard.check-log",
    ]
    wizard = step_screen(h, "deactivate-roles[front-end].wizard.run-wizard")
    assert "Front End Server" in wizard.body and TARGET in wizard.body
    number = m.step_numbers(h.runbook.steps)["deactivate-roles.wizard.run-wizard"]
    assert number.count(".") == 2  # loop step . fragment step . its first step
    assert wizard.title == f"Step {number} · Go through the Deactivation Wizard"
    # the item once, on the header, not as a separate banner too
    assert wizard.lines[0] == "role 3/3: Front End Server"
    banners = [s for s in h.operator.transcript if "role 2/3: Web Components Server" in s.title]
    assert banners == []
    finished_once(h)


def test_failed_log_goes_back_to_the_wizard_and_counts_attempts() -> None:
    answers = (
        GENERIC
        + """
steps:
  deactivate-roles[front-end].wizard.check-log:
    evidence: [wizard-failure.log, wizard-empty.log, ocs01/front-end.html]
"""
    )
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    h.run()
    base = "deactivate-roles[front-end].wizard."
    failed = h.handle.of(ev.GATE_FAILED)
    assert [f["failures"] for f in failed] == [1, 2]
    assert any("Execution Result: Failure" in line for line in failed[0]["lines"])
    assert failed[0]["sha256"] and failed[0]["size"] > 0
    retries = h.handle.of(ev.STEP_RETRY)
    assert [r["step"] for r in retries] == [base + "run-wizard"] * 2
    assert retries[0]["reset"] == [
        base + "run-wizard",
        base + "finish-and-view-log",
        base + "check-log",
    ]
    done = Counter(h.done_steps())
    assert done[base + "run-wizard"] == 3 and done[base + "check-log"] == 1
    assert any("Check failed (failure 2)" in s.title for s in h.operator.transcript)
    finished_once(h)


def test_danger_warning_needs_the_word() -> None:
    h = harness(load("deactivate-se-ee-roles.yaml"), GENERIC, params=SE)
    h.run()
    acks = {a["warning"]: a["typed"] for a in h.handle.of(ev.RUNBOOK_WARNING_ACK)}
    assert acks == {"unsupported-product": None, "availability": None, "data-loss": "understood"}
    wrong = GENERIC + "warnings: {data-loss: yes please}\n"
    h2 = harness(load("deactivate-se-ee-roles.yaml"), wrong, params=SE)
    with pytest.raises(RunAborted, match="data-loss not confirmed"):
        h2.run()
    assert ev.STEP_STARTED not in h2.handle.types()
    # The word is a keyword: any case, but the whole word.
    h3 = harness(
        load("deactivate-se-ee-roles.yaml"),
        GENERIC + "warnings: {data-loss: ' Understood'}\n",
        params=SE,
    )
    assert h3.run() == "done"
    h4 = harness(
        load("deactivate-se-ee-roles.yaml"), GENERIC + "warnings: {data-loss: under}\n", params=SE
    )
    with pytest.raises(RunAborted, match="data-loss not confirmed"):
        h4.run()


def test_declined_warning_stops_before_any_step() -> None:
    answers = GENERIC + "warnings: {availability: false}\n"
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    with pytest.raises(RunAborted):
        h.run()
    assert ev.STEP_STARTED not in h.handle.types()


def test_checklist_with_an_unticked_item_fails_then_passes() -> None:
    rb = load("deactivate-se-ee-roles.yaml")
    first = next(s for s in rb.steps if s.gate is not None and s.gate.type == "checklist")
    ticked = list(first.gate.items[:-1])
    answers = (
        GENERIC
        + f"""
steps:
  {first.id}:
    checklist: {ticked!r}
    after_failure: abort
"""
    )
    h = harness(rb, answers, params=SE)
    with pytest.raises(RunAborted):
        h.run()
    failed = h.handle.of(ev.GATE_FAILED)[0]
    assert failed["lines"] == [first.gate.items[-1]]


# --- time windows and staleness -----------------------------------------------------------


def test_closed_window_override_is_journaled_with_reason() -> None:
    answers = (
        GENERIC
        + """
steps:
  off-peak: {window: override, override_reason: CAB approved CHG-1234 for a weekday}
"""
    )
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    h.clock.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday noon
    h.run()
    overridden = h.handle.of(ev.GATE_OVERRIDDEN)
    assert [(o["step"], o["reason"]) for o in overridden] == [
        ("off-peak", "CAB approved CHG-1234 for a weekday")
    ]
    assert overridden[0]["window"]["now"].startswith("wed 2026-11-25 12:00")


def test_closed_window_abort() -> None:
    answers = GENERIC + "steps:\n  off-peak: {window: abort}\n"
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    h.clock.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    with pytest.raises(RunAborted, match="outside the time window"):
        h.run()


class MovingClock:
    """Moves the harness clock by `minutes` at the first question about `step`."""

    def __init__(self, h: Harness, step: str, minutes: float) -> None:
        self.h, self.step, self.minutes, self.moved = h, step, minutes, False
        self.inner = h.operator

    def __getattr__(self, name: str) -> object:
        method = getattr(self.inner, name)
        if name == "show":
            return method

        def ask(ask: object, *args: object) -> object:
            if getattr(ask, "step", None) == self.step and not self.moved:
                self.moved = True
                self.h.clock.advance(minutes=self.minutes)
            return method(ask, *args)

        return ask


def test_window_closing_mid_run_is_caught_before_the_next_step() -> None:
    answers = (
        GENERIC
        + """
steps:
  stop-services: {window: override, override_reason: finishing the last role}
"""
    )
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    h.clock.now = datetime(2026, 11, 27, 5, 50, tzinfo=UTC)  # Friday 05:50, window ends 06:00
    h.operator = MovingClock(h, "sessions-completed", 20)  # type: ignore[assignment]
    h.run()
    overridden = h.handle.of(ev.GATE_OVERRIDDEN)
    assert [(o["step"], o["before"], o["reason"]) for o in overridden] == [
        ("off-peak", "stop-services", "finishing the last role")
    ]
    # An override holds for that gate: later steps do not ask again.
    assert len([a for a in h.operator.inner.asked if a.name == "window"]) == 1


def test_stale_gate_is_asked_again_at_the_next_checkpoint() -> None:
    answers = GENERIC + "steps:\n  sessions-completed: {gate: [true, true]}\n"
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    h.operator = MovingClock(h, "stop-services", 16)  # type: ignore[assignment]
    h.run()
    expired = h.handle.of(ev.GATE_EXPIRED)
    assert [(e["step"], e["valid_for"], e["before"]) for e in expired] == [
        # Not before open-computer-management: the runbook marks the role loop as the
        # checkpoint (docs/format.md), so a stale answer is asked again there.
        ("sessions-completed", 900, "deactivate-roles")
    ]
    passes = [p for p in h.handle.of(ev.GATE_PASSED) if p["step"] == "sessions-completed"]
    assert len(passes) == 2
    finished_once(h)
    # runs show / report tell it as what it was: stale, then re-confirmed; not a failure.
    from ocsrun.run.timeline import build

    line = next(
        s for s in build(h.handle.info, h.handle.saved).steps if s.step == "sessions-completed"
    )
    assert line.failures == [] and line.outcome == "done"
    assert "confirmation went stale" in line.history[0] and "valid for 15m00s" in line.history[0]
    assert line.history[1].endswith(" re-confirmed")


# --- mediation: the three precautions -----------------------------------------------------


@pytest.mark.parametrize(
    ("precaution", "asked", "skipped"),
    [
        (
            "off-peak",
            {"off-peak", "call-logs-checked"},
            {
                "calls-completed-before-reroute",
                "change-routes",
                "wait-calls-hung-up",
                "no-calls-after-reroute",
            },
        ),
        (
            "reroute",
            {"change-routes", "wait-calls-hung-up"},
            {
                "off-peak",
                "call-logs-checked",
                "calls-completed-before-reroute",
                "no-calls-after-reroute",
            },
        ),
        (
            "both",
            {
                "off-peak",
                "calls-completed-before-reroute",
                "change-routes",
                "no-calls-after-reroute",
            },
            {"call-logs-checked", "wait-calls-hung-up"},
        ),
    ],
)
def test_mediation_precaution_branches(precaution: str, asked: set[str], skipped: set[str]) -> None:
    answers = GENERIC + f"steps:\n  precaution: {{choice: {precaution}}}\n"
    h = harness(load("deactivate-mediation-server.yaml"), answers)
    h.run()
    assert asked <= set(h.done_steps())
    assert set(auto_skipped(h)) == skipped
    assert all(v == {"precaution": precaution} for v in auto_skipped(h).values())
    finished_once(h)


def test_mediation_reroute_step_warning_is_acknowledged() -> None:
    answers = GENERIC + "steps:\n  precaution: {choice: reroute}\n"
    h = harness(load("deactivate-mediation-server.yaml"), answers)
    h.run()
    acks = [(a["step"], a["warning"]) for a in h.handle.of(ev.STEP_WARNING_ACK)]
    assert ("change-routes", "reroute-riskier") in acks


# --- archiving and edge -------------------------------------------------------------------


def test_archiving_cdr_full_run_with_wizard_retry() -> None:
    answers = (
        GENERIC
        + "steps:\n  wizard.check-log: {evidence: [wizard-failure.log, ocs01/archiving-cdr.html]}\n"
    )
    h = harness(load("deactivate-archiving-cdr-server.yaml"), answers)
    h.run()
    assert Counter(h.done_steps())["wizard.run-wizard"] == 2
    assert h.done_steps()[-2:] == ["wizard.check-log", "wizard"]
    finished_once(h)


def test_edge_roles_denied_aborts_at_once() -> None:
    answers = EDGE + "  edge-roles: {gate: false, after_failure: retry}\n"
    h = harness(load("deactivate-edge-server.yaml"), answers)
    with pytest.raises(RunAborted):
        h.run()
    assert h.handle.of(ev.GATE_FAILED)[0]["action"] == "abort"
    assert h.handle.of(ev.RUN_ABORTED)[0]["step"] == "edge-roles"


EDGE = GENERIC + "steps:\n  logon-account: {choice: rtc-universal-server-admins}\n"


def test_edge_full_run() -> None:
    h = harness(load("deactivate-edge-server.yaml"), EDGE)
    assert h.run() == "done"
    assert "wizard.check-log" in h.done_steps()
    finished_once(h)


# --- interruptions ------------------------------------------------------------------------


class Interrupting:
    """Raises `error` at the first question about `step`."""

    def __init__(self, inner: object, step: str, error: BaseException) -> None:
        self.inner, self.step, self.error = inner, step, error

    def __getattr__(self, name: str) -> object:
        method = getattr(self.inner, name)
        if name == "show":
            return method

        def ask(ask: object, *args: object) -> object:
            if getattr(ask, "step", None) == self.step:
                raise self.error
            return method(ask, *args)

        return ask


@pytest.mark.parametrize(
    ("error", "raised", "reason", "code"),
    [
        (KeyboardInterrupt(), Interrupted, "interrupt", 130),
        (EOFError(), NoOperatorInput, "end-of-input", 2),
    ],
)
def test_interrupt_is_journaled_with_resume_command(
    error: BaseException, raised: type[Exception], reason: str, code: int
) -> None:
    h = harness(load("deactivate-se-ee-roles.yaml"), GENERIC, params=SE)
    h.operator = Interrupting(h.operator, "log-on", error)  # type: ignore[assignment]
    with pytest.raises(raised) as caught:
        h.run()
    assert "ocsrun resume run-1" in str(caught.value)
    assert exit_code_for(caught.value) == code
    last = h.handle.saved[-1]
    assert last.type == ev.RUN_INTERRUPTED
    assert last.data == {"reason": reason, "step": "log-on"}


def test_missing_answer_names_the_question() -> None:
    h = harness(load("services-start-stop.yaml"), "defaults: {acknowledge: true}\n", params=SSS)
    with pytest.raises(AnswersError, match=r"product-version: gate"):
        h.run()


def test_answers_list_running_out_is_an_error_not_a_loop() -> None:
    answers = (
        GENERIC
        + """
steps:
  deactivate-roles.wizard.check-log: {evidence: [wizard-failure.log, wizard-failure.log]}
"""
    )
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    with pytest.raises(AnswersError, match="all 2 used"):
        h.run()


# --- secrets ----------------------------------------------------------------------------


def test_secret_never_reaches_screens_or_journal() -> None:
    from test_executor_helpers import build, runbook_dict

    rb = build(
        runbook_dict(
            [
                {
                    "id": "use",
                    "title": "Use it",
                    "instructions": "Password is {{ pw }}.",
                    "when": "pw != 'x'",
                },
                {
                    "id": "type",
                    "title": "Type it",
                    "gate": {
                        "type": "typed_confirmation",
                        "prompt": "Type {{ pw }}",
                        "expect": "{{ pw }}",
                    },
                },
                {
                    "id": "cmd",
                    "title": "Command",
                    "gate": {
                        "type": "command",
                        "prompt": "ok",
                        "command": {"argv": ["tool", "--pw={{ pw }}"]},
                    },
                },
            ],
            params={"pw": {"type": "string", "secret": True}},
        )
    )
    answers = "defaults: {after_step: done}\nsteps: {type: {gate: s3cr3t-value}}\n"
    h = harness(rb, answers, params={"pw": "s3cr3t-value"}, target=None)
    h.run()
    assert h.gates.ran == [("tool", "--pw=s3cr3t-value")]  # the command itself gets it
    journal = "".join(str(r.data) for r in h.handle.saved)
    screens = "".join(f"{s.title}{s.body}{s.lines}" for s in h.operator.transcript)
    prompts = "".join(a.prompt for a in h.operator.asked)
    for text in (journal, screens, prompts):
        assert "s3cr3t" not in text
    assert "Password is ***." in screens
    assert h.handle.of(ev.PARAM_SET) == [{"name": "pw", "value": "***"}]


def test_a_scalar_answer_that_keeps_failing_stops_instead_of_looping() -> None:
    answers = (
        GENERIC
        + """
steps:
  deactivate-roles.wizard.check-log: {evidence: wizard-failure.log}
"""
    )
    h = harness(load("deactivate-se-ee-roles.yaml"), answers, params=SE)
    with pytest.raises(AnswersError, match="asked 50 times"):
        h.run()
    assert h.handle.types()[-1] == ev.RUN_INTERRUPTED


def test_back_redoes_the_previous_manual_step_and_asks_its_gates_again() -> None:
    from test_executor_helpers import build, runbook_dict

    runbook = build(
        runbook_dict(
            [
                {"id": "first", "title": "First", "instructions": "Do it."},
                {"id": "check", "title": "Check", "gate": {"type": "confirm", "prompt": "ok?"}},
                {"id": "second", "title": "Second", "instructions": "Then this."},
            ]
        )
    )
    answers = """
defaults: {gate: true}
steps:
  first: {after_step: [done, done]}
  second: {after_step: [back, done]}
"""
    h = harness(runbook, answers, target=None)
    assert h.run() == "done"
    assert h.done_steps() == ["first", "check", "first", "check", "second"]
    (back,) = h.handle.of(ev.STEP_BACK)
    assert (back["step"], back["to"]) == ("second", "first")
    retry = h.handle.of(ev.STEP_RETRY)[-1]
    assert retry["step"] == "first" and set(retry["reset"]) == {"first", "check", "second"}
    assert len(h.handle.of(ev.GATE_PASSED)) == 2  # the gate after `first` asked again

    # `back` at the first step is not offered: there is nothing before it to do again.
    h = harness(runbook, "defaults: {after_step: back}", target=None)
    with pytest.raises(AnswersError, match="'back' is not one of: done, skip, failed, retry"):
        h.run()
