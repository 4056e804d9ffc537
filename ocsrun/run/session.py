"""Starting and resuming runs: everything between the command line and the executor.

Picks the operator (terminal, or scripted from an answers file), settles params
and the target, takes the (runbook, target) lock, creates or opens the run in
the store, and hands over to the `Executor`. The CLI calls `start` or `resume`
with parsed options and nothing else.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocsrun.errors import (
    EXIT_OK,
    LockHeld,
    NoOperatorInput,
    SnapshotMismatch,
    StateError,
)
from ocsrun.run import events as ev
from ocsrun.run.operator import Ask, Operator, Screen
from ocsrun.runbook import model as m

if TYPE_CHECKING:
    from ocsrun.run.operator import Answers
    from ocsrun.run.state import RunState
    from ocsrun.store.protocol import Lock, RunHandle, RunStore


@dataclass(frozen=True, slots=True)
class RunOptions:
    runbook: str
    params: tuple[str, ...] = ()
    target: str | None = None
    answers: Path | None = None
    rehearse: bool = False
    state_dir: Path | None = None
    break_lock: bool = False
    store: str | None = None  # a directory or a postgresql:// URL (exclusive with state_dir)
    tz: str | None = None  # --tz: the users' zone for `timezone: ask` windows


@dataclass(frozen=True, slots=True)
class ResumeOptions:
    run_id: str
    accept_changes: bool = False
    answers: Path | None = None
    state_dir: Path | None = None
    store: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """What a run is about, settled before anything is written."""

    runbook: m.Runbook
    path: Path
    target: str | None
    params: Mapping[str, m.ParamValue]
    rehearsal: bool
    timezone: str | None = None  # for windows that do not name their zone; None: local


def _store(state_dir: Path | None, location: str | None = None) -> RunStore:
    from ocsrun.store.open import chosen, open_store

    return open_store(chosen(location, state_dir))


def _operator(answers: Path | None, rehearsal: bool) -> tuple[Operator, Answers | None]:
    """The operator, and the parsed answers file (or None)."""
    if answers is not None:
        from ocsrun.run.operator import ScriptedOperator, load_answers
        from ocsrun.run.terminal import TerminalOperator

        parsed = load_answers(answers)
        # Scripted answers, but the screens still go to stdout: an automation log.
        return ScriptedOperator(parsed, display=TerminalOperator().show), parsed
    from ocsrun.run.terminal import TerminalOperator, stdin_is_terminal

    if not stdin_is_terminal():
        raise NoOperatorInput(
            "standard input is not a terminal: give --answers FILE to run without one"
        )
    return TerminalOperator(rehearsal=rehearsal), None


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a dropped SSH session) stop a run like Ctrl-C: journaled first."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    caught = (signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, interrupt) for sig in caught}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def resume_command(run_id: str, store: RunStore) -> str:
    """The exact command that continues run_id, with the options that find its store."""
    return shlex.join(("ocsrun", "resume", run_id, *store.reopen_args()))


def report_command(run_id: str, store: RunStore) -> str:
    """What the operator types for the change record, shown when the run ends."""
    return shlex.join(("ocsrun", "runs", "report", run_id, *store.reopen_args()))


# --- a new run ------------------------------------------------------------------


def start(options: RunOptions) -> int:
    from ocsrun.runbook.build import load_runbook
    from ocsrun.runbook.catalog import resolve

    # The runbook is checked before asking for an operator, so a typo in its name is the
    # error reported, not the missing terminal.
    path = resolve(options.runbook)
    runbook = load_runbook(path)
    operator, answers = _operator(options.answers, options.rehearse)
    target, params = _settle(runbook, options, operator, answers)
    zone = settle_zone(runbook, options.tz, operator, answers)
    store = _store(options.state_dir, options.store)
    plan = Plan(runbook, path, target, params, options.rehearse, zone)
    run_id = store.new_run_id()
    held = None if plan.rehearsal else _target_lock(store, plan, run_id, options.break_lock)
    locks: list[Lock] = [] if held is None else [held]
    try:
        snapshot = _snap(runbook, path)
        handle = store.create_run(_info(plan, run_id), snapshot)
        try:
            # Nobody else knows the new id yet: this cannot be held, but makes the run's
            # later sessions (resumes) wait for this one like any other.
            locks.insert(0, store.lock_run(run_id))
            if held is not None and held.broken is not None:
                _abandon(store, held, run_id)
            _drive(plan, operator, handle, store, locks, snapshot=snapshot)
        finally:
            handle.close()
    finally:
        for lock in reversed(locks):
            lock.release()
    return EXIT_OK


def _target_lock(store: RunStore, plan: Plan, run_id: str, break_lock: bool) -> Lock:
    """The (runbook, target) lock; a stale one names the crashed run and how to resume it."""
    try:
        return store.acquire_lock(plan.runbook.id, plan.target, run_id, break_lock=break_lock)
    except LockHeld as held:
        if held.stale and held.holder_run_id:
            raise LockHeld(
                f"{held.message}. Continue that run with: "
                f"{resume_command(held.holder_run_id, store)}",
                holder_run_id=held.holder_run_id,
                stale=True,
            ) from None
        raise


def _abandon(store: RunStore, held: Lock, run_id: str) -> None:
    """`--break-lock` took over a crashed run's lock: journal that in the crashed run too."""
    from ocsrun.run.integrity import abandon

    broken = held.broken
    assert broken is not None
    abandon(store, broken.run_id, run_id, _as_dict(broken))


def _settle(
    runbook: m.Runbook, options: RunOptions, operator: Operator, answers: Answers | None
) -> tuple[str | None, dict[str, m.ParamValue]]:
    from ocsrun.run.params import check_target, resolve, split_assignments

    given: dict[str, Any] = dict(answers.params) if answers is not None else {}
    given.update(split_assignments(options.params))
    target = options.target or (answers.target if answers is not None else None)
    if not target and answers is None and runbook.metadata.target is not None:
        target = ask_target(operator, runbook.metadata.target)
    target = check_target(runbook, target)
    values, missing = resolve(runbook.params, given)
    for param in missing:
        values[param.name] = ask_param(operator, param)
    return target, values


def settle_zone(
    runbook: m.Runbook, given: str | None, operator: Operator, answers: Answers | None
) -> str | None:
    """The zone for windows declared `timezone: ask` (or without a zone): --tz, the answers
    file, or asked at a terminal when a window says `ask`; None means this machine's."""
    from ocsrun.errors import ParamError
    from ocsrun.run.gates import ASK_ZONE

    zone = given or (answers.timezone if answers is not None else None)
    if zone:
        problem = zone_problem(zone)
        if problem:
            raise ParamError(f"--tz: {problem}")
        return zone
    asking = [
        path
        for path, step in m.walk(runbook.steps)
        if step.gate and step.gate.type == "time_window" and step.gate.timezone == ASK_ZONE
    ]
    if not asking:
        return None
    if answers is not None:
        # Nobody to ask, and this machine's zone (UTC on a jump host) is not the users':
        # stop before the run is created rather than judge the window in a guessed clock.
        from ocsrun.errors import ZoneNotGiven

        raise ZoneNotGiven(
            f"step {asking[0]}: its time window is in the users' time zone (timezone: ask), "
            "which nobody can be asked for here: give --tz ZONE or `timezone: ZONE` in the "
            "answers file"
        )
    ask = Ask(
        "",
        "timezone",
        "The time zone of the users of this change (its off-peak window is in their time)",
        detail="timezone",
        hint="an IANA name such as Europe/Berlin, America/New_York, Asia/Tokyo or UTC",
    )
    for _ in range(3):
        zone = operator.text(ask).strip()
        problem = zone_problem(zone)
        if problem is None:
            return zone
        operator.show(Screen("problem", problem, level="fail"))
    raise ParamError("no valid time zone given (use --tz ZONE)")


def zone_problem(zone: str) -> str | None:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(zone)
    except (ValueError, OSError, KeyError):
        return f"{zone[:60]!r} is not a known IANA time zone (like Europe/Berlin)"
    return None


def run_clock() -> Any:
    """OCSRUN_TEST_NOW (tests only): the run's clock starts at that instant and runs on in
    real time, so a test can stand just before a window opens."""
    import os
    from datetime import datetime

    from ocsrun.run.flow import utc_now

    start = os.environ.get("OCSRUN_TEST_NOW")
    if not start:
        return utc_now
    offset = datetime.fromisoformat(start) - utc_now()
    return lambda: utc_now() + offset


def ask_target(operator: Operator, declared: m.Target) -> str:
    """A terminal run without --target: ask, with the runbook's description and example."""
    from ocsrun.errors import ParamError
    from ocsrun.run.params import target_problem

    hint = f"e.g. {declared.example}" if declared.example else ""
    ask = Ask("", "target", declared.description, detail="target", hint=hint)
    for _ in range(3):
        given = operator.text(ask).strip()
        problem = target_problem(declared, given)
        if problem is None:
            return given
        operator.show(Screen("problem", problem, level="fail"))
    raise ParamError("no valid --target given")


def ask_param(operator: Operator, param: m.Param) -> m.ParamValue:
    from ocsrun.errors import ParamError
    from ocsrun.run.params import coerce, syntax

    ask = Ask(
        "",
        "param",
        param.description,
        detail=param.name,
        secret=param.secret,
        hint=syntax(param),
    )
    for _ in range(2):
        try:
            return coerce(param, operator.text(ask))
        except ParamError as error:
            operator.show(Screen("problem", str(error), level="fail"))
    return coerce(param, operator.text(ask))


def _info(plan: Plan, run_id: str) -> Any:
    from ocsrun.run.params import redacted
    from ocsrun.store.protocol import RunInfo, operator_id, utc_now

    runbook = plan.runbook
    return RunInfo(
        run_id=run_id,
        runbook_id=runbook.id,
        runbook_title=runbook.metadata.title,
        runbook_version=runbook.metadata.version,
        runbook_path=str(plan.path.resolve()),
        target=plan.target,
        operator=operator_id(),
        started=utc_now(),
        rehearsal=plan.rehearsal,
        params=redacted(runbook.params, plan.params),
    )


def _snap(runbook: m.Runbook, path: Path) -> bytes:
    """The model's dump and the runbook's source files, so a resume does not need the file."""
    from ocsrun.errors import OcsrunError
    from ocsrun.run.state import snapshot_bytes
    from ocsrun.runbook.sources import collect

    try:
        sources = collect(path, runbook)
    except (OSError, UnicodeDecodeError, OcsrunError):
        # Only if a file changed or vanished since it was loaded a moment ago: the run goes
        # on, and its resume will need the original file, as with runs from older versions.
        sources = None
    return snapshot_bytes(runbook, sources, path.name)


def _as_dict(info: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(info)


def _executor(
    plan: Plan,
    operator: Operator,
    handle: RunHandle,
    store: RunStore,
    *,
    state: RunState | None = None,
    snapshot: bytes | None = None,
) -> Any:
    import hashlib

    from ocsrun.run.executor import Executor

    extra: dict[str, Any] = {"chain": handle.info.chain}
    if snapshot is not None:
        extra["snapshot_sha256"] = hashlib.sha256(snapshot).hexdigest()
    return Executor(
        plan.runbook,
        operator,
        handle,
        rehearsal=plan.rehearsal,
        params=plan.params,
        target=plan.target,
        state=state,
        resume_command=resume_command(handle.info.run_id, store),
        report_command=report_command(handle.info.run_id, store),
        timezone=plan.timezone,
        clock=run_clock(),
        monotonic=time.monotonic,
        started_extra=extra,
    )


def _drive(
    plan: Plan,
    operator: Operator,
    handle: RunHandle,
    store: RunStore,
    locks: list[Lock],
    *,
    state: RunState | None = None,
    changed: list[str] | None = None,
    snapshot: bytes | None = None,
) -> None:
    """Run (or, given a replayed state, resume) the executor, under the session's locks.

    Every record first checks the locks (see ocsrun.run.integrity.LockedHandle). However the
    session ends, the journal's head hash is shown: written down, it lets `ocsrun runs verify
    RUN_ID --head HASH` prove later that nothing was cut off or rewritten after it.
    """
    from ocsrun.run.integrity import LockedHandle

    guarded = LockedHandle(handle, locks)
    executor = None
    try:
        executor = _executor(plan, operator, guarded, store, state=state, snapshot=snapshot)
        # A stale lock taken over (by --break-lock, or a resume taking back its own run's
        # lock after a crash) is journaled once, naming the holder it had.
        broken = next((held.broken for held in locks if held.broken is not None), None)
        executor.broken_lock = None if broken is None else _as_dict(broken)
        with _signals_interrupt():
            if state is None:
                executor.run()
            else:
                executor.resume(changed)
    finally:
        # Once per session, in the words of the start screen: a run that ended (done,
        # aborted) showed them itself; an interrupted or failed session shows them here,
        # with the journal's own head (the store may have written after the executor).
        head = handle.head()
        if executor is not None and not executor.ended and head is not None:
            executor.head = head
            operator.show(Screen("result", "Run stopped", lines=executor.end_lines()))


# --- resuming ---------------------------------------------------------------------


def resume(options: ResumeOptions) -> int:
    store = _store(options.state_dir, options.store)
    # The run's own lock first, then the journal: a second resume of the same run waits
    # for nothing and reads nothing; it exits naming the session that holds the run.
    locks = [store.lock_run(options.run_id)]
    try:
        _resume_locked(options, store, locks)
    finally:
        for lock in reversed(locks):
            lock.release()
    return EXIT_OK


def _resume_locked(options: ResumeOptions, store: RunStore, locks: list[Lock]) -> None:
    from ocsrun.run.integrity import check_run_info
    from ocsrun.run.state import replay

    handle = store.open_run(options.run_id)
    try:
        info = handle.info
        # The reader checks every record's hash and the chain, and refuses (JournalCorrupt)
        # a journal damaged anywhere but a torn last line: resume never builds on bad records.
        state = replay(handle.records())
        # run.json is a cache: the chained run.started decides rehearsal, target and params.
        check_run_info(handle)
        if state.finished:
            status = {ev.RUN_FINISHED: "finished", ev.RUN_ABANDONED: "abandoned"}.get(
                state.last_type or "", "aborted"
            )
            raise StateError(f"run {info.run_id} is {status}; there is nothing to resume")
        runbook, changed, restored = _current_runbook(handle, options.accept_changes)
        operator, _answers = _operator(options.answers, info.rehearsal)
        _report_torn_tail(handle, operator)
        if restored:
            operator.show(
                Screen(
                    "problem",
                    f"The runbook file {info.runbook_path} is not here; going on with the copy "
                    "kept with the run (the version it started with)",
                    level="warning",
                )
            )
        params = _restored_params(runbook, state.params, operator)
        if not info.rehearsal:
            locks.append(store.reclaim_lock(info.runbook_id, info.target, info.run_id))
        plan = Plan(
            runbook, Path(info.runbook_path), info.target, params, info.rehearsal, state.timezone
        )
        _drive(plan, operator, handle, store, locks, state=state, changed=changed)
    finally:
        handle.close()


def _report_torn_tail(handle: RunHandle, operator: Operator) -> None:
    torn = handle.torn_tail()
    if torn is not None:
        operator.show(
            Screen(
                "problem",
                "The journal's last line was torn by a crash; "
                "it was set aside (earlier records are intact)",
                lines=(torn[:200],),
                level="warning",
            )
        )


def _current_runbook(handle: RunHandle, accept: bool) -> tuple[m.Runbook, list[str], bool]:
    """(runbook, what changed, whether it came from the run's own copy)."""
    from ocsrun.run.state import changes, load_snapshot
    from ocsrun.runbook.build import load_runbook

    path = Path(handle.info.runbook_path)
    if path.exists() and not path.is_file():
        raise StateError(f"{path}: not a regular file (the runbook of run {handle.info.run_id})")
    snapshot = handle.snapshot()
    if not path.is_file():
        # Moved, deleted, or on another workstation: the run carries its own copy.
        return _runbook_from_copy(handle, snapshot), [], True
    runbook = load_runbook(path)
    changed = changes(load_snapshot(snapshot), runbook)
    if changed and not accept:
        raise SnapshotMismatch(
            f"{path} changed since run {handle.info.run_id} started: {'; '.join(changed)}; "
            "rerun with --accept-changes to go on with the new version (changed steps are "
            "asked again)"
        )
    return runbook, changed, False


def _runbook_from_copy(handle: RunHandle, snapshot: bytes) -> m.Runbook:
    """The runbook rebuilt from the run's snapshot; it must give the very model the run
    started with."""
    from ocsrun.run.state import changes, load_snapshot, runbook_from_snapshot

    run_id, path = handle.info.run_id, handle.info.runbook_path
    runbook = runbook_from_snapshot(run_id, snapshot, path)
    if runbook is None:
        raise StateError(
            f"the runbook of run {run_id} is gone: {path} (this run keeps no copy of it: "
            "it was started by an older ocsrun, or its runbook held a secret default)"
        )
    if changes(load_snapshot(snapshot), runbook):
        raise StateError(
            f"run {run_id}: the runbook copy kept with the run does not match the run's "
            f"snapshot; put the runbook back at {path} to resume"
        )
    return runbook


def _restored_params(
    runbook: m.Runbook, recorded: Mapping[str, Any], operator: Operator
) -> dict[str, m.ParamValue]:
    from ocsrun.run.params import coerce

    values: dict[str, m.ParamValue] = {}
    for param in runbook.params:
        if param.name not in recorded:
            # A secret's default is never kept in run state (a restored copy says "***").
            default = None if param.secret and param.default == ev.SECRET else param.default
            values[param.name] = ask_param(operator, param) if default is None else default
        elif param.secret:
            # Secrets were never journaled: ask again.
            values[param.name] = ask_param(operator, param)
        else:
            values[param.name] = coerce(param, recorded[param.name])
    return values
