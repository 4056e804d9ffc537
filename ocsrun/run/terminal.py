"""TerminalOperator: the executor's screens and questions on a terminal, through click.

Everything printed that came from a runbook, a param or a file goes through
`sanitize.clean` first, so a runbook cannot move the cursor or hide text.
Colour only when stdout is a TTY and NO_COLOR is not set. Ctrl-C at a prompt
becomes KeyboardInterrupt and end of input EOFError, for the executor to journal.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

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
    return "NO_COLOR" not in os.environ and bool(getattr(stream, "isatty", lambda: False)())


def _reraise(abort: BaseException) -> NoReturn:
    # click turns both Ctrl-C and end of input into Abort; the cause tells them apart.
    if isinstance(abort.__context__, EOFError):
        raise EOFError from None
    raise KeyboardInterrupt from None


class TerminalOperator:
    def __init__(self, colour: bool | None = None, rehearsal: bool = False) -> None:
        self.colour = colour_wanted() if colour is None else colour
        self.rehearsal = rehearsal

    # --- output ----------------------------------------------------------------

    def _style(self, text: str, **style: Any) -> str:
        return click.style(text, **style) if self.colour else text

    def _echo(self, text: str = "", **style: Any) -> None:
        # color= makes our decision final (click would otherwise strip styles off a non-TTY).
        click.echo(self._style(clean(text), **style), color=self.colour)

    def show(self, screen: Screen) -> None:
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
            for line in screen.body.rstrip().splitlines():
                self._echo("  " + line)
        for line in screen.lines:
            self._echo("  " + line, dim=True)

    # --- input -----------------------------------------------------------------

    def _prompt(self, text: str, **options: Any) -> Any:
        try:
            return click.prompt(self._style(clean(text), bold=True), **options)
        except click.exceptions.Abort as abort:
            _reraise(abort)

    def _confirm(self, text: str) -> bool:
        try:
            return bool(click.confirm(self._style(clean(text), bold=True), default=None))
        except click.exceptions.Abort as abort:
            _reraise(abort)

    def acknowledge(self, ask: Ask, warning: m.RunbookWarning) -> bool:
        return self._confirm("Acknowledge this warning and go on?")

    def type_text(self, ask: Ask, expected: str) -> str:
        what = "to acknowledge" if ask.name == "warning" else "to confirm"
        if ask.name != "warning":
            self._echo(ask.prompt)
        return str(self._prompt(f"Type {expected} {what}", default="", show_default=False))

    def confirm(self, ask: Ask) -> bool:
        return self._confirm(ask.prompt)

    def checklist(self, ask: Ask, items: tuple[str, ...]) -> tuple[str, ...]:
        self._echo(ask.prompt)
        return tuple(item for item in items if self._confirm(f"[ ] {item}"))

    def choose(self, ask: Ask, options: tuple[tuple[str, str], ...]) -> str:
        self._echo(ask.prompt)
        for n, (value, label) in enumerate(options, 1):
            self._echo(f"  {n}. {label} ({value})")
        values = [v for v, _ in options]
        return self._pick("Your choice (number or value)", values, numbered=True)

    def file(self, ask: Ask, description: str) -> str:
        self._echo(ask.prompt)
        if description:
            self._echo(description, dim=True)
        hint = " (Enter: not checked in a rehearsal)" if self.rehearsal else ""
        answer = self._prompt(f"Path to the file{hint}", default="", show_default=False)
        return os.path.expanduser(str(answer).strip())

    def text(self, ask: Ask) -> str:
        label = {"param": f"Value for {ask.detail}"}.get(ask.name, ask.prompt)
        if ask.name == "param" and ask.prompt:
            self._echo(f"{ask.detail}: {ask.prompt}", dim=True)
        return str(self._prompt(label, hide_input=ask.secret, default="", show_default=False))

    def action(self, ask: Ask, actions: tuple[str, ...]) -> str:
        if ask.name not in {"after_step"}:
            self._echo(ask.prompt, fg="yellow")
        return self._pick(" / ".join(actions), list(actions))

    def _pick(self, label: str, values: list[str], numbered: bool = False) -> str:
        """A value, its number (1-based), or a unique prefix of it."""
        while True:
            raw = str(self._prompt(label, default="", show_default=False)).strip()
            found = _match(raw, values, numbered)
            if found is not None:
                return found
            self._echo(f"Answer one of: {', '.join(values)}", fg="red")


def _match(raw: str, values: list[str], numbered: bool) -> str | None:
    if not raw:
        return None
    if numbered and raw.isdigit() and 1 <= int(raw) <= len(values):
        return values[int(raw) - 1]
    if raw in values:
        return raw
    prefixed = [v for v in values if v.startswith(raw)]
    return prefixed[0] if len(prefixed) == 1 else None


def stdin_is_terminal() -> bool:
    try:
        return bool(sys.stdin is not None and sys.stdin.isatty())
    except (ValueError, OSError):  # closed stdin
        return False
