"""Every rule id a diagnostic can carry, with a short description and help for CI reports.

`docs/format.md` is the reference; this table is what SARIF `rules` and GitHub annotation titles
are built from, so a reviewer sees why a finding matters without leaving the pull request.
"""

from __future__ import annotations

# id -> (short description, help text)
RULES: dict[str, tuple[str, str]] = {
    "yaml-syntax": (
        "YAML that does not parse",
        "Fix the YAML at the position shown; a runbook must be one well-formed YAML document.",
    ),
    "encoding": (
        "Not BOM-less UTF-8 text",
        "Save the file as UTF-8 without a byte order mark; binary data is not allowed.",
    ),
    "empty-file": (
        "Empty file",
        "The file is empty or holds only comments; a runbook needs format, kind, metadata and "
        "steps.",
    ),
    "not-a-mapping": (
        "Top level is not a mapping",
        "The top level of a runbook must be a mapping with format, kind, metadata and steps.",
    ),
    "tab-indent": (
        "Tab in indentation",
        "YAML indentation must use spaces; replace the tab with spaces.",
    ),
    "duplicate-key": (
        "Key given twice in one mapping",
        "A key appears twice in the same mapping; YAML would silently keep only one. Remove "
        "or merge the duplicate (both positions are named).",
    ),
    "yaml-alias": (
        "YAML anchor or alias",
        "Anchors and aliases are not allowed; share steps with a fragment (`uses:`) instead.",
    ),
    "too-large": (
        "File, nesting or string over the limits",
        "The file, its nesting depth or one string exceeds ocsrun's limits; split the runbook "
        "into fragments or shorten the text.",
    ),
    "schema": (
        "Rejected by the runbook JSON Schema",
        "The value does not fit schemas/runbook.schema.json; see docs/format.md for the keys "
        "and types allowed here.",
    ),
    "yaml11": (
        "A plain value YAML 1.1 reads otherwise",
        "ocsrun and editors read YAML 1.2: a plain yes/no/on/off, 1:30 or 1_000 is a string. "
        "YAML 1.1 tools read it as a boolean or number; quote it where text is meant, write "
        "true/false or plain digits where a boolean or number is (`ocsrun fmt` does this).",
    ),
    "missing-schema-comment": (
        "No yaml-language-server schema comment",
        "Start the file with `# yaml-language-server: $schema=<path to runbook.schema.json>` "
        "so editors complete and check it.",
    ),
    "duplicate-id": (
        "Step or warning id used twice",
        "Step ids must be unique in their list scope and warning ids unique in the runbook; "
        "rename one of them.",
    ),
    "step-kind-conflict": (
        "More than one step kind on a step",
        "A step has at most one of choice, gate, for_each and uses; split it into several steps.",
    ),
    "source-conflict": (
        "A step cites the source and says it is not in it",
        "A step marked `not_in_source` was added by the runbook and cites nothing; remove its "
        "`source`, or remove `not_in_source` if the step does come from the source.",
    ),
    "unknown-goto": (
        "on_failure.goto names no earlier step",
        "`goto` must name an earlier step id in the same list scope.",
    ),
    "goto-forward": (
        "on_failure.goto jumps forward",
        "Jumping forward would skip steps after a failed gate; go back to an earlier step, "
        "retry or abort instead.",
    ),
    "unknown-producer": (
        "evidence.produced_by names no earlier step",
        "`produced_by` must name an earlier step id in the same list scope: the step that "
        "writes the evidence file, whose start makes older files stale.",
    ),
    "when-syntax": (
        "`when` does not parse",
        "`when` must be a Jinja2 expression (no `{{ }}`), e.g. `precaution in ['off-peak', "
        "'both']`.",
    ),
    "unknown-name": (
        "Name not declared before use",
        "A `when`, template or `with` uses a name that is not a param, `target`, an earlier "
        "choice variable or a loop variable in scope.",
    ),
    "template-syntax": (
        "Template does not parse",
        "Instructions, expect, argv and with values are Jinja2 templates; fix the syntax at "
        "the position shown.",
    ),
    "unknown-include": (
        "`uses` names no fragment",
        "The file named by `uses` does not exist or is not `kind: fragment`.",
    ),
    "include-escape": (
        "`uses` leaves the runbook's directory",
        "Give `uses` relative to this file, without `..`, and keep fragments (and symlink "
        "targets) inside the runbook's directory.",
    ),
    "include-cycle": (
        "Fragments include each other",
        "Fragment includes must not form a cycle; break it by moving the shared steps into a "
        "third fragment.",
    ),
    "include-depth": (
        "Fragments nested too deeply",
        "A chain of fragments including fragments may be at most 16 levels deep; flatten it.",
    ),
    "include-args": (
        "`with` does not match the fragment's params",
        "Pass every fragment param that has no default, and only params the fragment declares.",
    ),
    "foreach-order": (
        "for_each list out of the declared order",
        "`items`, the list param's values and default must follow `order`; `order` has no "
        "duplicates and `after` must agree with it.",
    ),
    "foreach-unknown-item": (
        "for_each item not in `order`",
        "Every item, value, label and `after` key of a for_each must appear in its `order`.",
    ),
    "foreach-over": (
        "for_each `over` names no list param",
        "`over` must name a param of type `list` (or use a literal `items:` list).",
    ),
    "param-default": (
        "Param default does not fit",
        "A default must have the param's type, be among its values and match its pattern.",
    ),
    "unreachable-step": (
        "Step can never run",
        "The step's `when` can never be true (it compares a choice or enum with a value it "
        "cannot take, or is literally false); fix the condition or remove the step.",
    ),
    "unknown-related": (
        "`related` names an unknown runbook",
        "No runbook validated together with this one has that id; fix the id or validate the "
        "related runbooks together.",
    ),
    "discrepancy-step": (
        "Discrepancy names a missing step",
        "A discrepancy's `steps` must name step ids that exist in this runbook.",
    ),
    "bad-regex": (
        "Regex does not compile or is too long",
        "Evidence checks and patterns are Python regular expressions; fix or shorten the "
        "expression.",
    ),
    "unusable-value": (
        "A value the run could not use",
        "A command timeout over 24h, a valid_for over 31 days, a max_output over 256 KiB, a NUL "
        "byte in an argv item or an unknown time zone: each has the right form but would fail "
        "in the middle of a run (or write a journal record readers refuse).",
    ),
    "invisible-char": (
        "Invisible or bidirectional character",
        "An id, title, argv item, `uses` or pattern holds a zero-width, bidirectional or other "
        "invisible character (shown escaped, like \\u200b); it reads as different text than "
        "what runs. Remove it.",
    ),
    "io": (
        "File cannot be read",
        "ocsrun could not read the file (missing, a directory, or permission denied).",
    ),
}

# Rules whose findings are warnings by default; every other rule reports errors.
WARNING_RULES: frozenset[str] = frozenset({"missing-schema-comment", "unknown-related"})


def describe(rule: str) -> tuple[str, str]:
    """Description and help for a rule id, with a fallback for ids this table lacks."""
    return RULES.get(rule, (rule.replace("-", " ").capitalize(), "See docs/format.md."))
