"""Semantic rules: what the JSON Schema cannot say.

One module per rule or family of rules that share their look-ups; each module lists the rule ids
it reports in `RULE_IDS` (every one described in `rule_catalog`). `RULES` is the order they run
in; `check` runs them all and turns a rule that crashes into an `internal` finding instead of a
traceback (a property test asserts no fuzzed input ever gets there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ocsrun.errors import Position
from ocsrun.runbook.diagnostic import Diagnostic, Severity
from ocsrun.runbook.rules import (
    discrepancy,
    evidence,
    foreach,
    goto,
    ids,
    includes,
    invisible,
    jinja,
    limits,
    params,
    provenance,
    regexes,
    schema_comment,
    step_kind,
    templates,
    unreachable,
    yaml11,
)
from ocsrun.runbook.rules.context import Context, StepRef, walk_steps
from ocsrun.runbook.rules.discrepancy import discrepancy_step
from ocsrun.runbook.rules.evidence import evidence_producer
from ocsrun.runbook.rules.foreach import foreach_over, foreach_rules
from ocsrun.runbook.rules.goto import goto_target
from ocsrun.runbook.rules.ids import duplicate_id
from ocsrun.runbook.rules.includes import include_rules
from ocsrun.runbook.rules.invisible import invisible_char
from ocsrun.runbook.rules.limits import unusable_value
from ocsrun.runbook.rules.params import param_default
from ocsrun.runbook.rules.provenance import source_conflict
from ocsrun.runbook.rules.regexes import bad_regex
from ocsrun.runbook.rules.schema_comment import missing_schema_comment
from ocsrun.runbook.rules.step_kind import step_kind_conflict
from ocsrun.runbook.rules.templates import (
    template_fields,
    template_syntax,
    unknown_name,
    when_syntax,
)
from ocsrun.runbook.rules.unreachable import unreachable_step

__all__ = [
    "MODULES",
    "RULES",
    "Context",
    "StepRef",
    "bad_regex",
    "check",
    "discrepancy_step",
    "duplicate_id",
    "evidence_producer",
    "foreach_over",
    "foreach_rules",
    "goto_target",
    "include_rules",
    "invisible_char",
    "missing_schema_comment",
    "param_default",
    "source_conflict",
    "step_kind_conflict",
    "template_fields",
    "template_syntax",
    "unknown_name",
    "unreachable_step",
    "unusable_value",
    "walk_steps",
    "warm_up",
    "when_syntax",
]

Rule = Callable[[Context], Iterable[Diagnostic]]

RULES: tuple[Rule, ...] = (
    missing_schema_comment,
    duplicate_id,
    step_kind_conflict,
    source_conflict,
    goto_target,
    evidence_producer,
    when_syntax,
    template_syntax,
    unknown_name,
    unreachable_step,
    param_default,
    bad_regex,
    discrepancy_step,
    foreach_rules,
    foreach_over,
    include_rules,
    unusable_value,
    invisible_char,
)

# The rule modules, for the test that every id they report is in the catalog.
MODULES = (
    schema_comment,
    ids,
    step_kind,
    provenance,
    goto,
    evidence,
    templates,
    unreachable,
    params,
    regexes,
    discrepancy,
    foreach,
    includes,
    limits,
    invisible,
    yaml11,  # runs after the schema and the rules: validation.validate_file calls it
)


def warm_up() -> None:
    """Import Jinja and build the parsing environment now (see validation.warm_up)."""
    jinja.environment()


def check(ctx: Context) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for rule in RULES:
        try:
            found.extend(rule(ctx))
        except Exception as error:
            found.append(
                Diagnostic(
                    Position(ctx.document.path, 1, 1),
                    Severity.ERROR,
                    f"internal error in rule {rule.__name__}: {error!r}",
                    "internal",
                )
            )
    return found
