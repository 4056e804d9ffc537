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


@dataclass(frozen=True, slots=True)
class Finding:
    """One validation finding, as the public API gives it: where (1-based line and column, 0
    when unknown), how bad, why."""

    path: str
    line: int
    col: int
    severity: str  # "error" | "warning" | "info"
    message: str
    rule: str  # a rule id from `ocsrun.runbook.rule_catalog`, e.g. "schema", "unknown-goto"

    def __str__(self) -> str:
        from ocsrun.sanitize import visible

        where = ":".join(str(p) for p in (visible(self.path), self.line, self.col) if p)
        return f"{where}: {self.severity}: {self.message} [{self.rule}]"

    @classmethod
    def of(cls, diagnostic: Diagnostic) -> Finding:
        p = diagnostic.position
        return cls(
            p.path, p.line, p.col, diagnostic.severity.value, diagnostic.message, diagnostic.rule
        )
