"""TerminalOperator: the executor's screens and questions on a terminal, through click.

Everything printed that came from a runbook, a param or a file goes through
`sanitize.clean` first, so a runbook cannot move the cursor or hide text.
Colour only when stdout is a TTY and NO_COLOR is unset or empty (no-color.org);
runbook Markdown is rendered (`ocsrun.run.termtext`) and wrapped to the
terminal's width, styled with colour and plain without. Ctrl-C at a prompt
becomes KeyboardInterrupt and end of input EOFError, for the executor to journal.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from ocsrun.run import termtext
from ocsrun.run.operator import Ask, Screen
from ocsrun.runbook import model as m
from ocsrun.sanitize import clean

_LEVEL_COLOURS = {
    "caution": "yellow",
    "warning": "yellow",
    "danger": "red",
    "ok": "green",
    "fail": "red",
}


def colour_wanted(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    # no-color.org: NO_COLOR set to a non-empty value turns colour off; empty means on.
    if os.environ.get("NO_COLOR", ""):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def terminal_width() -> int:
    import shutil

    # One column spare: a line exactly as wide as the terminal wraps on some of them.
    return max(40, shutil.get_terminal_size((80, 24)).columns - 1)


def _reraise(abort: BaseException) -> NoReturn:
    # click turns both Ctrl-C and end of input into Abort; the cause tells them apart.
    if isinstance(abort.__context__, EOFError):
        raise EOFError from None
    raise KeyboardInterrupt from None


class TerminalOperator:
    def __init__(self, colour: bool | None = None, rehearsal: bool = False) -> None:
        self.colour = colour_wanted() if colour is None else colour
        self.rehearsal = rehearsal
        # When the step on screen was shown (monotonic): every prompt while it runs starts
        # with the step's own time so far, `[3m05s]`; Enter on its own shows it afresh.
        self.step_since: float | None = None

    # --- output ----------------------------------------------------------------

    def _style(self, text: str, **style: Any) -> str:
        return click.style(text, **style) if self.colour else text

    def _echo(self, text: str = "", **style: Any) -> None:
        # color= makes our decision final (click would otherwise strip styles off a non-TTY).
        click.echo(self._style(clean(text), **style), color=self.colour)

    def _raw(self, text: str) -> None:
        """A line already cleaned and styled by termtext."""
        click.echo(text, color=self.colour)

    def show(self, screen: Screen) -> None:
        import time

        if screen.kind == "step":
            self.step_since = time.monotonic() - screen.spent
        elif screen.ends_step:
            self.step_since = None
        colour = _LEVEL_COLOURS.get(screen.level)
        if screen.kind in {"preflight", "step"}:
            self._echo()
            self._echo(screen.title, bold=True, fg="cyan")
        elif screen.kind == "warning":
            self._echo()
            self._echo(screen.title, bold=True, fg=colour)
        else:
            self._echo(screen.title, fg=colour)
        if screen.body.strip():
            for line in termtext.render(screen.body, terminal_width(), self.colour, "  "):
                self._raw(line)
        for line in screen.lines:
            for part in termtext.render(line, terminal_width(), self.colour, "  "):
                self._raw(self._style(part, dim=True) if self.colour else part)

    # --- input -----------------------------------------------------------------

    def _prompt(self, text: str, **options: Any) -> Any:
        text = self._style(clean(text), bold=True)
        if self.step_since is not None:
            import time

            from ocsrun.units import format_duration

            took = format_duration(time.monotonic() - self.step_since)
            text = self._style(f"[{took}]", dim=True) + " " + text
        try:
            return click.prompt(text, **options)
        except click.exceptions.Abort as abort:
            _reraise(abort)

    def acknowledge(self, ask: Ask, warning: m.RunbookWarning) -> bool:
        return self._yes_no(
            "Acknowledge this warning and go on?",
            ("y: you have read it; the run goes on", "n: stop the run here (journaled)"),
        )

    def type_text(self, ask: Ask, expected: str) -> str:
        # Typed exactly, case included: the point is that it is typed, not picked.
        what = "to acknowledge" if ask.name == "warning" else "to confirm"
        if ask.name != "warning":
            self._echo(ask.prompt)
        return str(self._prompt(f"Type {expected} {what}", default="", show_default=False))

    def confirm(self, ask: Ask) -> bool:
        return self._yes_no(
            ask.prompt,
            ("y: yes, this holds; the check passes", "n: no; the check fails (journaled)"),
        )

    def checklist(self, ask: Ask, items: tuple[str, ...]) -> tuple[str, ...]:
        self._echo(ask.prompt)
        explain = ("y: this item is done", "n: it is not; the check fails (journaled)")
        return tuple(item for item in items if self._yes_no(f"[ ] {item}", explain))

    def choose(self, ask: Ask, options: tuple[tuple[str, str], ...]) -> str:
        self._echo(ask.prompt)
        for n, (value, label) in enumerate(options, 1):
            self._echo(f"  {n}. {label} ({value})")
        values = [v for v, _ in options]
        explain = tuple(f"{n} or {value}: {label}" for n, (value, label) in enumerate(options, 1))
        return self._pick("Your choice (number or value, ? explains)", values, explain, True)

    def file(self, ask: Ask, description: str) -> str:
        self._echo(ask.prompt)
        if description:
            self._echo(description, dim=True)
        hint = " (Enter: not checked in a rehearsal)" if self.rehearsal else ""
        answer = self._prompt(f"Path to the file{hint}", default="", show_default=False)
        return os.path.expanduser(str(answer).strip())

    def text(self, ask: Ask) -> str:
        named = ask.name in {"param", "target", "timezone"}
        label = f"Value for {ask.detail}" if named else ask.prompt
        if named:
            self._echo(f"{ask.detail}: {ask.prompt}" if ask.prompt else ask.detail, dim=True)
        if ask.hint:
            self._echo(f"  Answer: {ask.hint}", dim=True)
        while True:
            answer = str(self._prompt(label, hide_input=ask.secret, default="", show_default=False))
            if answer.strip() != "?":
                return answer
            self._explain(
                (ask.prompt, f"Answer: {ask.hint}") if ask.hint else (ask.prompt or label,)
            )

    def action(self, ask: Ask, actions: tuple[str, ...]) -> str:
        if ask.name not in {"after_step"}:
            self._echo(ask.prompt, fg="yellow")
        explain = tuple(f"{a}: {ACTION_HELP.get(a, a)}" for a in actions)
        return self._pick(" / ".join(actions) + " (? explains)", list(actions), explain)

    def wait(self, ask: Ask, seconds: int) -> bool:
        """A countdown until the window opens; Ctrl-C stops the wait (the question comes back)."""
        import time

        self._echo(ask.prompt)
        live = stdout_is_terminal()
        end = time.monotonic() + seconds
        shown = -1
        try:
            while (left := end - time.monotonic()) > 0:
                whole = int(left + 0.999)
                # On a terminal the line counts down in place; in a log, one line a minute.
                if live or whole // 60 != shown:
                    text = f"  Window opens in {_clock_text(whole)} (Ctrl-C stops waiting)"
                    click.echo(("\r" + text + "  ") if live else text, nl=not live)
                    shown = whole // 60
                time.sleep(min(1.0, left))
        except KeyboardInterrupt:
            click.echo("")
            return False
        if live:
            click.echo("")
        self._echo("  The window is open", fg="green")
        return True

    def _yes_no(self, text: str, explain: tuple[str, ...]) -> bool:
        while True:
            raw = str(self._prompt(f"{text} [y/n]", default="", show_default=False))
            answer = raw.strip().lower()
            if answer in {"y", "yes"}:
                return True
            if answer in {"n", "no"}:
                return False
            if answer == "?":
                self._explain(explain)
            elif answer:  # Enter alone asks again, the step's time shown afresh
                self._echo("Answer y or n (? explains)", fg="red")

    def _pick(
        self, label: str, values: list[str], explain: tuple[str, ...], numbered: bool = False
    ) -> str:
        """A value, its number (1-based), or a unique prefix of it; any case."""
        while True:
            raw = str(self._prompt(label, default="", show_default=False)).strip()
            if raw == "?":
                self._explain(explain)
                continue
            found = _match(raw, values, numbered)
            if found is not None:
                return found
            if raw:  # Enter alone asks again, the step's time shown afresh
                self._echo(f"Answer one of: {', '.join(values)} (? explains)", fg="red")

    def _explain(self, lines: tuple[str, ...]) -> None:
        for line in lines:
            self._echo("  " + line)


# What each answer to an action question does, shown by `?`.
ACTION_HELP = {
    "done": "the step was carried out as written; go on",
    "skip": "leave this step out; a reason is asked and journaled",
    "failed": "the step did not work; say what failed, then retry or abort",
    "retry": "do this step again from its start",
    "note": "add a note to the journal, then answer again",
    "back": "go back to the previous manual step and do it again (checks after it are asked again)",
    "abort": "stop the run here; journaled, and the run cannot be resumed",
    "goto": "go back to the earlier step the runbook names for this failure",
    "override": "go on outside the window; a reason is asked and journaled",
    "wait": "wait here until the window opens, with a countdown (Ctrl-C stops the wait)",
}


def _match(raw: str, values: list[str], numbered: bool) -> str | None:
    # Keywords in any case (`Done`, `ABORT`); what must be typed exactly goes via type_text.
    raw = raw.strip().lower()
    if not raw:
        return None
    if numbered and raw.isdigit() and 1 <= int(raw) <= len(values):
        return values[int(raw) - 1]
    lowered = {v.lower(): v for v in values}
    if raw in lowered:
        return lowered[raw]
    prefixed = [v for k, v in lowered.items() if k.startswith(raw)]
    return prefixed[0] if len(prefixed) == 1 else None


def _clock_text(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def stdout_is_terminal() -> bool:
    try:
        return bool(sys.stdout is not None and sys.stdout.isatty())
    except (ValueError, OSError):
        return False


def stdin_is_terminal() -> bool:
    try:
        return bool(sys.stdin is not None and sys.stdin.isatty())
    except (ValueError, OSError):  # closed stdin
        return False
