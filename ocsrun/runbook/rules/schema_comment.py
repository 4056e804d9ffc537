"""missing-schema-comment: the editor schema line comes first."""

from __future__ import annotations

from collections.abc import Iterator

from ocsrun.errors import Position
from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.rules.context import Context

RULE_IDS = ("missing-schema-comment",)
SCHEMA_COMMENT = "# yaml-language-server: $schema="


def missing_schema_comment(ctx: Context) -> Iterator[Diagnostic]:
    first_line = ctx.document.text.split("\n", 1)[0]
    if not first_line.startswith(SCHEMA_COMMENT):
        yield Diagnostic(
            Position(ctx.document.path, 1, 1),
            Severity.WARNING,
            f"the first line should be '{SCHEMA_COMMENT}<path to runbook.schema.json>' "
            "so editors can check this file",
            "missing-schema-comment",
        )
