"""Answers files, the scripted operator's lookup rules, and the terminal operator's output."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from ocsrun.errors import AnswersError
from ocsrun.run.operator import Ask, Screen, ScriptedOperator, load_answers, parse_answers
from ocsrun.run.terminal import TerminalOperator, _match, _reraise
from ocsrun.runbook import model as m
from ocsrun.sanitize import clean


def scripted(text: str, base: Path = Path("/answers")) -> ScriptedOperator:
    return ScriptedOperator(parse_answers(text, base))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "top level must be a mapping"),
        ("stepz: {}", "unknown key 'stepz'"),
        ("steps: {a: 1}", "steps.a must be a mapping"),
        ("defaults: [1]", "defaults must be a mapping"),
        ("steps: {a: [}", "not valid YAML/JSON"),
    ],
)
def test_malformed_answers_files(text: str, message: str) -> None:
    with pytest.raises(AnswersError, match=message):
        parse_answers(text, Path("."), "a.yaml")


def test_json_answers_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"steps": {"x": {"gate": true}}}')
    assert load_answers(path).steps == {"x": {"gate": True}}
    assert parse_answers("", tmp_path).steps == {}
    with pytest.raises(AnswersError, match="cannot read"):
        load_answers(tmp_path / "missing.yaml")


def test_lookup_exact_then_without_items_then_defaults() -> None:
    op = scripted("""
defaults: {after_step: done}
steps:
  loop[b].inner: {after_step: skip}
  loop.inner: {after_step: note}
""")
    ask = lambda step: Ask(step, "after_step", "?")  # noqa: E731
    actions = ("done", "skip", "note")
    assert op.action(ask("loop[b].inner"), actions) == "skip"
    assert op.action(ask("loop[a].inner"), actions) == "note"
    assert op.action(ask("other"), actions) == "done"


def test_sequences_are_consumed_per_step_and_run_out() -> None:
    op = scripted("steps: {g: {gate: [false, true]}}")
    ask = Ask("g", "gate", "ok?")
    assert [op.confirm(ask), op.confirm(ask)] == [False, True]
    with pytest.raises(AnswersError, match="no answer left for g: gate"):
        op.confirm(ask)


def test_checklist_lists_are_items_not_sequences() -> None:
    op = scripted("steps: {c: {checklist: [one, two]}}\ndefaults: {checklist: all}")
    items = ("one", "two", "three")
    assert op.checklist(Ask("c", "checklist", "?"), items) == ("one", "two")
    assert op.checklist(Ask("c", "checklist", "?"), items) == ("one", "two")
    assert op.checklist(Ask("d", "checklist", "?"), items) == items


def test_evidence_paths_are_relative_to_the_answers_file(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "answers").mkdir()
    (tmp_path / "logs" / "ok.log").write_text("ok\n")
    op = scripted("steps: {e: {evidence: '\"../logs/ok.log\"'}}", tmp_path / "answers")
    assert op.file(Ask("e", "evidence", "?"), "") == str((tmp_path / "logs" / "ok.log").resolve())


def test_a_single_evidence_answer_that_cannot_be_read_stops_a_list_goes_on(
    tmp_path: Path,
) -> None:
    op = scripted("steps: {e: {evidence: missing.log}}", tmp_path)
    with pytest.raises(AnswersError, match=r"'missing\.log' is not a readable file"):
        op.file(Ask("e", "evidence", "?"), "")
    listed = scripted("steps: {e: {evidence: [missing.log, other.log]}}", tmp_path)
    assert listed.file(Ask("e", "evidence", "?"), "") == str(tmp_path / "missing.log")
    assert listed.file(Ask("e", "evidence", "?"), "") == str(tmp_path / "other.log")


def test_wrong_types_and_values_are_named() -> None:
    op = scripted("steps: {g: {gate: maybe, choice: purple, after_step: later}}")
    with pytest.raises(AnswersError, match="g: gate expects true or false"):
        op.confirm(Ask("g", "gate", "?"))
    with pytest.raises(AnswersError, match="'purple' is not one of: red, blue"):
        op.choose(Ask("g", "choice", "?"), (("red", "Red"), ("blue", "Blue")))
    with pytest.raises(AnswersError, match="'later' is not one of"):
        op.action(Ask("g", "after_step", "?"), ("done",))


def test_warnings_run_level_step_level_and_default() -> None:
    op = scripted("""
warnings: {big: false}
steps: {s: {warnings: {w: typed-wrong}}}
defaults: {acknowledge: true}
""")
    warning = m.RunbookWarning("t", m.Severity.WARNING)
    assert op.acknowledge(Ask("", "warning", "t", detail="big"), warning) is False
    assert op.acknowledge(Ask("", "warning", "t", detail="other"), warning) is True
    assert op.type_text(Ask("s", "warning", "t", detail="w"), "understood") == "typed-wrong"
    assert op.type_text(Ask("x", "warning", "t", detail="w"), "understood") == "understood"
    bare = scripted("{}")
    with pytest.raises(AnswersError, match="warning big"):
        bare.acknowledge(Ask("", "warning", "t", detail="big"), warning)


def test_params_come_from_the_params_section() -> None:
    op = scripted("params: {roles: [a, b]}")
    # A list comes back typed as a person would type it, which a list param accepts.
    assert op.text(Ask("", "param", "?", detail="roles")) == "a,b"
    with pytest.raises(AnswersError, match="no value for param other"):
        op.text(Ask("", "param", "?", detail="other"))


def test_scripted_operator_keeps_a_transcript_and_can_display() -> None:
    shown: list[Screen] = []
    op = ScriptedOperator(parse_answers("{}", Path(".")), display=shown.append)
    op.show(Screen("info", "hello"))
    assert op.transcript == shown == [Screen("info", "hello")]


# --- terminal --------------------------------------------------------------------------


def test_terminal_output_is_sanitised_and_plain_without_colour(
    capsys: pytest.CaptureFixture[str],
) -> None:
    op = TerminalOperator(colour=False)
    op.show(
        Screen(
            "step",
            "Step 1/2 \x1b]0;title\x07 x",
            "body \x1b[2J\x1b[31mred\x1b[0m\x08",
            ("line \x9b2J",),
            level="danger",
        )
    )
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "body red\\x08" in out and "Step 1/2  x" in out


def test_terminal_colour_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    TerminalOperator(colour=True).show(Screen("result", "ok", level="ok"))
    assert "\x1b[32m" in capsys.readouterr().out


def test_colour_off_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from ocsrun.run.terminal import colour_wanted

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colour_wanted(Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_wanted(Tty())
    monkeypatch.setenv("NO_COLOR", "")  # no-color.org: set but empty leaves colour on
    assert colour_wanted(Tty())


def test_abort_becomes_interrupt_or_end_of_input() -> None:
    def aborted(cause: BaseException) -> click.exceptions.Abort:
        try:
            try:
                raise cause
            except BaseException:
                raise click.exceptions.Abort() from None
        except click.exceptions.Abort as abort:
            return abort

    with pytest.raises(EOFError):
        _reraise(aborted(EOFError()))
    with pytest.raises(KeyboardInterrupt):
        _reraise(aborted(KeyboardInterrupt()))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("d", "done"), ("done", "done"), ("2", None), ("", None), ("x", None), ("re", "retry")],
)
def test_action_prefixes(raw: str, expected: str | None) -> None:
    assert _match(raw, ["done", "skip", "retry"], numbered=False) == expected


def test_choice_numbers() -> None:
    assert _match("2", ["left", "right"], numbered=True) == "right"
    assert _match("3", ["left", "right"], numbered=True) is None


def test_clean_keeps_text_and_newlines() -> None:
    assert clean("a\tb\nc\r\nd") == "a\tb\nc\nd"
    assert clean("\u202eevil") == "\\u202eevil"


def test_long_sequences_are_not_mistaken_for_loops() -> None:
    op = scripted("steps: {s: {after_step: %s}}" % (["note"] * 120 + ["done"]))
    answers = [op.action(Ask("s", "after_step", "?"), ("note", "done")) for _ in range(121)]
    assert answers[-1] == "done" and answers.count("note") == 120


def test_the_same_scalar_answer_asked_too_often_stops() -> None:
    op = scripted("defaults: {after_failure: retry}")
    ask = Ask("g", "after_failure", "?")
    for _ in range(50):
        op.action(ask, ("retry", "abort"))
    with pytest.raises(AnswersError, match="asked 50 times with the same answer"):
        op.action(ask, ("retry", "abort"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x [1]\nb: *x\n", "anchor"),
        ("defaults: !!python/object/apply:os.system [ls]\n", "python/object/apply"),
        ("defaults: {a: 1, a: 2}\n", "duplicate key 'a'"),
    ],
)
def test_answers_files_get_the_loader_guards(text: str, message: str) -> None:
    with pytest.raises(AnswersError, match=message):
        parse_answers(text, Path("."), "a.yaml")


def test_answers_file_must_be_a_regular_file(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "answers.yaml"
    os.mkfifo(fifo)
    with pytest.raises(AnswersError, match="not a regular file"):
        load_answers(fifo)
