"""`back` across scopes: into an earlier loop item, out of a loop, out of a fragment.

The runbook (tests/data/back/loop.yaml): prepare, a gate, a loop over two parts whose items
open the part and call a fragment (two manual steps and a gate), and a step after the loop.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pexpect
import pytest
from conftest import DATA, ROOT, cli_env, journal_records, run_child
from test_executor_helpers import harness

from ocsrun.errors import AnswersError
from ocsrun.run import events as ev
from ocsrun.run.state import replay
from ocsrun.runbook.build import load_runbook

RUNBOOK = DATA / "back" / "loop.yaml"

EVERY_WAY_BACK = """
defaults: {after_step: done, gate: true}
steps:
  each[left].open: {after_step: [back, back, done, done]}
  each[left].work.first: {after_step: [back, done]}
  each[right].open: {after_step: [back, done]}
  close: {after_step: [back, done]}
"""


def test_back_crosses_loop_items_loops_and_fragments() -> None:
    h = harness(load_runbook(RUNBOOK), EVERY_WAY_BACK, target=None)
    assert h.run() == "done"
    backs = [(b["step"], b["to"]) for b in h.handle.of(ev.STEP_BACK)]
    assert backs == [
        ("each[left].open", "prepare"),  # out of the loop, to the step before it
        ("each[left].open", "prepare"),
        ("each[left].work.first", "each[left].open"),  # out of the fragment
        ("each[right].open", "each[left].work.second"),  # the previous item's last one
        ("close", "each[right].work.second"),  # into the loop's last item, from after it
    ]
    # Every back is followed by the reset that makes its target and what follows it new.
    types = h.handle.types()
    for i, kind in enumerate(types):
        if kind == ev.STEP_BACK:
            assert types[i + 1] == ev.STEP_RETRY
    retries = list(h.handle.of(ev.STEP_RETRY))
    assert [r["step"] for r in retries] == [to for _, to in backs]
    into_item = retries[3]
    assert set(into_item["reset"]) == {
        "each",
        "each[left].work",
        "each[left].work.second",
        "each[left].work.checked",
        "each[right].open",
    }
    assert into_item["cause"] == "each[right].open"
    # Gates passed after a target are asked again: `ready` after each back to prepare, a
    # part's check after each back into its fragment.
    passed = [p["step"] for p in h.handle.of(ev.GATE_PASSED)]
    assert passed.count("ready") == 3
    assert passed.count("each[left].work.checked") == 2
    assert passed.count("each[right].work.checked") == 2
    done = h.done_steps()
    assert done.count("prepare") == 3 and done.count("close") == 1
    assert done.count("each[left].work.second") == 2 and done.count("each") == 2
    assert done[-1] == "close"
    # Replaying the journal gives every step finished: the resets were undone by the walk.
    state = replay(h.handle.records())
    assert all(s.outcome is not None for s in state.steps.values())


def test_back_is_offered_at_a_loops_first_step_and_a_fragments_first_step() -> None:
    # Asked with `back` only where it is offered; `back` not offered would be an AnswersError.
    answers = """
defaults: {after_step: done, gate: true}
steps:
  prepare: {after_step: back}
"""
    h = harness(load_runbook(RUNBOOK), answers, target=None)
    with pytest.raises(AnswersError, match="'back' is not one of"):
        h.run()  # nothing before the first manual step


def test_a_resume_after_a_back_asks_the_reset_steps_again() -> None:
    # The first session goes back from the second part into the first part's fragment and
    # stops there (its answers run out): the journal alone must say what is to do again.
    first = """
defaults: {after_step: done, gate: true}
steps:
  each[left].work.second: {after_step: [done]}
  each[right].open: {after_step: [back]}
"""
    h = harness(load_runbook(RUNBOOK), first, target=None)
    with pytest.raises(AnswersError, match=r"no answer left for each\[left\]\.work\.second"):
        h.run()
    assert h.handle.types()[-1] == ev.RUN_INTERRUPTED
    state = replay(h.handle.records())
    assert state.steps["each[left].work.second"].outcome is None
    assert state.steps["each[left].work.first"].outcome == ev.STEP_DONE
    assert state.steps["each"].outcome is None and state.steps["each[right].open"].outcome is None
    before = len(h.handle.saved)

    assert h.resume("defaults: {after_step: done, gate: true}") == "done"
    resumed = [r.data["step"] for r in h.handle.saved[before:] if r.type == ev.STEP_DONE]
    assert resumed == [
        "each[left].work.second",
        "each[left].work.checked",
        "each[left].work",
        "each[right].open",
        "each[right].work.first",
        "each[right].work.second",
        "each[right].work.checked",
        "each[right].work",
        "each",
        "close",
    ]
    # The first part's opening and first half were not reset: not asked again.
    asked = [a.step for a in h.operator.asked if a.name == "after_step"]
    assert "each[left].open" not in asked and "each[left].work.first" not in asked
    # One chain from the first record to the last.
    records = list(h.handle.records())
    assert all(r.prev == p.hash for p, r in itertools.pairwise(records))


def spawn(state: Path, *args: str) -> pexpect.spawn:
    env = {**cli_env(state), "TERM": "dumb", "LANG": "C.UTF-8"}
    return pexpect.spawn(
        sys.executable, ["-m", "ocsrun", *args, "--state-dir", str(state)], cwd=str(ROOT),
        env=env, encoding="utf-8", timeout=60, dimensions=(50, 100),
    )  # fmt: skip


AFTER_STEP = r"(done / [^\r\n]*?) \(\? explains\)"


def test_at_a_terminal_back_into_the_previous_item_then_ctrl_c_and_resume(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    child = spawn(state, "run", str(RUNBOOK))
    child.expect(r"Run id: (\S+)")
    run_id = child.match.group(1)
    here = ""
    while True:
        i = child.expect([AFTER_STEP, r"\[y/n\]", r"· id (\S+)"])
        if i == 2:
            here = child.match.group(1)
        elif i == 1:
            child.sendline("y")
        elif here == "each[right].open":
            assert "back" in child.match.group(1).split(" / ")
            child.sendline("back")
            break
        else:
            child.sendline("done")
    # The previous manual step is the first part's second half, inside its fragment.
    child.expect(r"Back to step 3\.2\.2 \(each\[left\]\.work\.second\)")
    child.expect(r"Step 3\.2\.2 · Second half")
    child.expect(r"· id each\[left\]\.work\.second")
    child.expect(AFTER_STEP)
    child.sendcontrol("c")
    # An interrupted session ends like any other: run id, head and report command, once.
    child.expect("Run stopped")
    child.expect(rf"Run id: {run_id}")
    child.expect(r"Head: ([0-9a-f]{64})")
    head = child.match.group(1)
    child.expect(r"Report:\s+ocsrun runs report \S+ --state-dir")
    child.expect(rf"resume with: ocsrun resume {run_id}")
    child.expect(pexpect.EOF)
    assert "ead: " not in (child.before or "")
    child.close()
    assert child.exitstatus == 130
    assert journal_records(state, run_id)[-1]["hash"] == head

    # The journal alone says what is to do again: the reset step first, then what follows.
    child = spawn(state, "resume", run_id)
    seen: list[str] = []
    while True:
        i = child.expect([AFTER_STEP, r"\[y/n\]", r"· id (\S+)", "Run done"])
        if i == 3:
            break
        if i == 2:
            seen.append(child.match.group(1))
        else:
            child.sendline("y" if i == 1 else "done")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    # Containers re-open (their headers), then the reset steps, then the rest.
    leaves = [p for p in seen if p not in {"each", "each[left].work", "each[right].work"}]
    assert leaves[:3] == ["each[left].work.second", "each[left].work.checked", "each[right].open"]
    assert "each[left].open" not in seen and "each[left].work.first" not in seen
    assert leaves[-1] == "close"
    verified = run_child(state, "runs", "verify", run_id)
    assert verified.returncode == 0, verified.stdout + verified.stderr
