"""One finding about a runbook file: what, where, how bad, and which rule."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ocsrun.errors import Position


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    position: Position
    severity: Severity
    message: str
    rule: str

    def __str__(self) -> str:
        return f"{self.position}: {self.severity.value}: {self.message} [{self.rule}]"

    def sort_key(self) -> tuple[str, int, int, str, str]:
        p = self.position
        return (p.path, p.line, p.col, self.rule, self.message)
