"""Each bundled runbook driven to the end at a real terminal (pexpect), the screen checked.

What an operator at 2 a.m. relies on (issue 14): step numbers equal to `ocsrun render`'s,
true totals, the run id and journal head at start and end with the report command,
prompts that list their answers, `?`, `back`, `wait` for a window that opens a few
seconds later (OCSRUN_TEST_NOW stands the run's clock just before it), a missing target
asked with the runbook's example, and Markdown styled on a colour terminal, plain without.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pexpect
import pytest
from conftest import ROOT, journal_records

from ocsrun.review.render import StepView, build_view
from ocsrun.runbook.build import load_runbook

EVIDENCE = ROOT / "examples" / "evidence"
MAX_QUESTIONS = 400  # a question answered the same way for ever fails the test, never hangs it
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Wednesday 19:59:55 in London (GMT in November): the 20:00-06:00 off-peak window opens in 5 s.
BEFORE_WINDOW = "2026-11-25T19:59:55+00:00"
HEADER = re.compile(
    r"Step (?P<number>[\d.]+) · (?P<title>[^\r\n]+)\r?\n(?:(?!Step )[^\r\n]*\r?\n)*?"
    r"\s+Screen (?P<ordinal>\d+) of (?P<bound>(?:at most |at least |about )?)(?P<total>\d+)"
    r" · id (?P<path>\S+)"
)
PROMPTS = [  # up to the end of the question: on a colour terminal a style reset follows
    r"Type (\S+) to (?:acknowledge|confirm)",  # 0
    r"\[y/n\]",  # 1
    r"Your choice \(number or value, \? explains\)",  # 2
    r"Path to the file",  # 3
    r"(done / [^\r\n]*?) \(\? explains\)",  # 4 after a manual step
    r"wait / override / abort \(\? explains\)",  # 5
    r"Value for (\w+)",  # 6
    r"Run done",  # 7
]


@dataclass
class Drive:
    """How to answer one runbook, and what to try on the way."""

    runbook: str
    values: dict[str, str]  # param / target / timezone typed when asked
    args: tuple[str, ...] = ()
    colour: bool = False
    back_at: str = ""  # answer `back` once at this step path
    back_to: str = ""  # the previous manual step it must go back to
    again: str = ""  # a gate passed after back_to, which must be asked again
    explain_first: bool = True  # `?` at the first after-step question
    window: bool = True  # it has the off-peak window (waited for)
    log: str = ""  # the wizard log (examples/evidence); a loop's role picks wizard-ROLE.html
    fresh: Path = Path()  # where logs are copied when asked for (new mtime: "from this run")
    asked: list[str] = field(default_factory=list)


DRIVES = [
    Drive(
        "ocs2007.deactivate-se-ee-roles",
        {
            "target": "ocs-se01.contoso.com",
            "roles": "front-end, av-conferencing",
            "timezone": "Europe/London",
        },
        colour=True,
        # From a loop item's first step into the previous item's last manual step.
        back_at="deactivate-roles[front-end].start-wizard",
        back_to="deactivate-roles[av-conferencing].wizard.finish-and-view-log",
        again="deactivate-roles[av-conferencing].wizard.check-log",
    ),
    Drive(
        "ocs2007.deactivate-edge-server",
        {"target": "edge01.contoso.com", "timezone": "Europe/London"},
        log="wizard-edge.html",
        # From a fragment's first step out of it, to the step before its call.
        back_at="wizard.run-wizard",
        back_to="start-wizard",
    ),
    Drive(
        "ocs2007.deactivate-mediation-server",
        {"target": "med01.contoso.com"},
        args=("--tz", "Europe/London"),
        log="wizard-mediation.html",
    ),
    Drive(
        "ocs2007.deactivate-archiving-cdr-server",
        {"target": "arch01.contoso.com"},
        args=("--tz", "Europe/London"),
        log="wizard-archiving-cdr.html",
    ),
    Drive(
        "ocs2007.services-start-stop",
        {"target": "ocs01.contoso.com", "action": "stop"},
        args=("--tz", "Europe/London"),
        window=False,
    ),
]


def spawn(state: Path, drive: Drive) -> pexpect.spawn:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(state.parent),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
        "TERM": "xterm",
        "OCSRUN_TEST_NOW": BEFORE_WINDOW,
        # no-color.org: set but empty leaves colour on
        "NO_COLOR": "" if drive.colour else "1",
    }
    args = ["-m", "ocsrun", "run", drive.runbook, *drive.args, "--state-dir", str(state)]
    return pexpect.spawn(
        sys.executable, args, cwd=str(ROOT), env=env, encoding="utf-8", timeout=60,
        dimensions=(50, 100),
    )  # fmt: skip


def answer_all(child: pexpect.spawn, drive: Drive) -> tuple[str, str]:
    """Answer every question until `Run done`; returns the screen without and with styles."""
    seen: list[str] = []
    done: set[str] = set()  # "explained", "back", "waited"
    while True:
        assert len(seen) < MAX_QUESTIONS, "the same questions keep coming"
        i = child.expect(PROMPTS)
        seen.append((child.before or "") + (child.after or ""))
        here = (re.findall(r"· id (\S+)", ANSI.sub("", "".join(seen))) or [""])[-1]
        if i == 4:
            after_step(child, drive, here, done)
        elif i == 3:
            child.sendline(fresh_log(drive, here))
        elif i == 5:
            done.add("waited")
            child.sendline("wait")
            child.expect(r"Window opens in 0:00:0\d \(Ctrl-C stops waiting\)")
            child.expect("The window is open")
        elif i == 6:
            drive.asked.append(child.match.group(1))
            child.sendline(drive.values[child.match.group(1)])
        elif i == 7:
            break
        else:
            child.sendline(simple_answer(i, child, len(seen)))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.signalstatus
    assert ("waited" in done) == drive.window, "the off-peak window was not waited for"
    assert ("back" in done) == bool(drive.back_at)
    return ANSI.sub("", "".join(seen) + (child.before or "")), "".join(seen)


def simple_answer(i: int, child: pexpect.spawn, n: int) -> str:
    if i == 0:
        return str(child.match.group(1))  # the word to type, exactly
    if i == 1:
        return "Y" if n % 2 else "yes"  # any case
    return "1"


def fresh_log(drive: Drive, here: str) -> str:
    """The right sample log, copied now: the runbook refuses a log older than its wizard step."""
    import shutil

    role = re.search(r"\[([^\]]+)\]", here)
    name = f"wizard-{role.group(1)}.html" if role else drive.log
    drive.fresh.mkdir(parents=True, exist_ok=True)
    target = drive.fresh / name
    shutil.copyfile(EVIDENCE / name, target)
    return str(target)


STEP_TIME = re.compile(r"\[(?:\d+h)?(?:\d+m)?(?:\d+s)?\] $")  # `[3m05s] ` before the answers


def after_step(child: pexpect.spawn, drive: Drive, here: str, done: set[str]) -> None:
    offered = str(child.match.group(1))
    # Every prompt of a step starts with the step's own time so far.
    assert STEP_TIME.search(ANSI.sub("", child.before or "")), (child.before or "")[-80:]
    if drive.explain_first and "explained" not in done:
        done.add("explained")
        child.sendline("")  # Enter alone: the question again, its time afresh, no complaint
        child.expect(r"done / [^\r\n]*?\(\? explains\)")
        assert STEP_TIME.search(ANSI.sub("", child.before or ""))
        assert "Answer one of" not in (child.before or "")
        child.sendline("?")
        child.expect(r"done: the step was carried out as written")
        child.expect(r"abort: stop the run here")
        child.expect(r"\(\? explains\)")
    if drive.back_at and here == drive.back_at and "back" not in done:
        assert "back" in offered.split(" / ")
        done.add("back")
        child.sendline("BACK")
    else:
        child.sendline("Done")


def render_numbers(runbook: str) -> dict[str, str]:
    from ocsrun.runbook.catalog import resolve

    out: dict[str, str] = {}

    def walk(steps: tuple[StepView, ...]) -> None:
        for view in steps:
            out[view.path] = view.number
            walk(view.children)

    walk(build_view(load_runbook(resolve(runbook))).steps)
    return out


@pytest.mark.parametrize("drive", DRIVES, ids=[d.runbook.split(".")[1] for d in DRIVES])
def test_a_full_run_at_a_terminal(tmp_path: Path, drive: Drive) -> None:
    state = tmp_path / "state"
    drive.fresh = tmp_path / "logs"
    screen, raw = answer_all(spawn(state, drive), drive)

    # A missing --target is asked, with the runbook's description and example.
    assert drive.asked[0] == "target"
    assert re.search(r"target: .+\r?\n\s+Answer: e\.g\. \S+\.contoso\.com", screen)

    # Step numbers are render's; totals count the screens the operator saw.
    numbers = render_numbers(drive.runbook)
    headers = list(HEADER.finditer(screen))
    assert len(headers) >= 8
    for header in headers:
        static = re.sub(r"\[[^\]]*\]", "", header["path"])
        assert header["number"] == numbers[static], header.group(0)
    final_total = int(headers[-1]["total"])
    assert headers[-1]["bound"] == ""  # every answer given: exact
    assert len({h["path"] for h in headers}) == final_total
    assert max(int(h["ordinal"]) for h in headers) == final_total
    # A bare total is exact from the first screen on; one a choice may still change says
    # "at most", and when the choice changes it the screen says which answer did.
    (preflight,) = re.findall(r"(at most |at least |about )?(\d+) step screens", screen)[:1]
    for bound, total in [preflight, *((h["bound"], h["total"]) for h in headers)]:
        assert bound in {"", "at most "}, (bound, total)  # the bundled runbooks never grow
        assert int(total) == final_total if not bound else int(total) >= final_total
    if any(int(h["total"]) != final_total for h in headers) or int(preflight[1]) != final_total:
        assert re.search(
            rf"Step screens: {final_total} now \(was at most \d+\): the answer \w+ = \S+ "
            r"settles which steps run",
            screen,
        )

    # Run id and journal head at the start and at the end, and the report command.
    ids = re.findall(r"Run id: (\S+)", screen)
    # Each exactly twice (start, end): the end of a session prints the head once, not again.
    heads = re.findall(r"(?i)head: ([0-9a-f]{64})", screen)
    assert len(ids) == 2 and ids[0] == ids[1] and len(heads) == 2
    records = journal_records(state, ids[0])
    assert heads[-1] == records[-1]["hash"] and records[-1]["type"] == "run.finished"
    # The command is never broken across lines (it may move to a line of its own).
    report = re.search(r"Report:\s+(ocsrun runs report [^\r\n]+)", screen)
    assert report and report.group(1) == f"ocsrun runs report {ids[0]} --state-dir {state}"

    # Prompts list their answers up front; each step tells its own time.
    assert re.search(
        r"done / (skip / )?failed / retry / note / (back / )?abort \(\? explains\)", screen
    )
    assert re.search(r"Step [\d.]+ done in \d+s", screen)
    started = next(r for r in records if r["type"] == "run.started")
    assert started["data"]["timezone"] == "Europe/London"  # --tz, or asked
    waits = [r for r in records if r["type"] == "gate.wait"]
    assert len(waits) == drive.window
    assert all(w["data"]["timezone"] == "Europe/London" for w in waits)

    # Markdown: styled on a colour terminal, plain (markers dropped) otherwise.
    assert "**" not in screen
    if drive.colour:
        # `**RTCUniversalServerAdmins**` in the log-on step: bold, markers gone
        assert "\x1b[1mRTCUniversalServerAdmins\x1b[0m" in raw
    else:
        assert not ANSI.search(raw)

    if drive.back_at:
        backs = [r["data"] for r in records if r["type"] == "step.back"]
        assert [(b["step"], b["to"]) for b in backs] == [(drive.back_at, drive.back_to)]
        static = re.sub(r"\[[^\]]*\]", "", drive.back_to)
        assert f"Back to step {numbers[static]} " in screen
        done = [r["data"]["step"] for r in records if r["type"] == "step.done"]
        assert done.count(drive.back_at) == 1 and done.count(drive.back_to) == 2
        # A gate passed after the target is asked again.
        checks = [r["data"]["step"] for r in records if r["type"] == "gate.passed"]
        assert not drive.again or checks.count(drive.again) == 2


def test_an_empty_roles_list_is_refused_and_the_syntax_explained(tmp_path: Path) -> None:
    drive = DRIVES[0]
    child = spawn(tmp_path / "state", Drive(drive.runbook, {}, args=("--target", "s1.contoso.com")))
    child.expect(r"Answer: at least 1 of: av-conferencing, web-conferencing, web-components")
    child.expect("Value for roles: ")
    child.sendline("")
    child.expect("give at least 1 of")
    child.expect("Value for roles: ")
    child.sendline("?")
    child.expect("separate them with commas")
    child.expect("Value for roles: ")
    child.sendline("front-end")
    child.expect("Value for timezone: ")  # the bundled window says `timezone: ask`
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
