"""A deterministic corpus of runbooks shaped like the bundled ones, for the benchmarks and tests.

Every file is a function of (seed, index) only, so the first 10 files of a 1,000-file corpus are
the 10 files of a 10-file corpus, and two runs with the same seed write byte-identical files.
Each runbook has about 40 steps (nested ones counted) and uses every step kind (action, choice,
gate, for_each, uses) and every gate type, with templates, `when:` expressions, warnings, notes,
discrepancies and outside facts, like `runbooks/ocs2007/`. Every file is meant to validate with
zero errors: names used in templates are declared before use, gotos point back, for_each items
follow their declared order, and `with:` passes every fragment param that has no default.

    python benchmarks/corpus.py --count 1000 --out benchmarks/.corpus/n1000
    python benchmarks/corpus.py --big-steps 5000 --out benchmarks/.corpus/big
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

import yaml

DEFAULT_SEED = 2007
FRAGMENTS = 4
# The corpus sits at benchmarks/.corpus/<name>/, as deep as runbooks/ocs2007/.
SCHEMA_COMMENT = "# yaml-language-server: $schema=../../../schemas/runbook.schema.json\n"
FRAGMENT_SCHEMA_COMMENT = (
    "# yaml-language-server: $schema=../../../../schemas/runbook.schema.json\n"
)

_WORDS = [
    "server",
    "pool",
    "role",
    "service",
    "wizard",
    "log",
    "front",
    "end",
    "edge",
    "mediation",
    "archiving",
    "conferencing",
    "web",
    "component",
    "directory",
    "session",
    "user",
    "notice",
    "backup",
    "restore",
    "account",
    "group",
    "console",
    "snap-in",
    "computer",
    "management",
    "deactivation",
    "activation",
    "task",
    "result",
    "success",
    "window",
    "forest",
    "domain",
    "gateway",
    "trunk",
    "certificate",
    "replica",
    "database",
    "queue",
    "policy",
    "setting",
    "appendix",
    "guide",
    "section",
]
_VERBS = (
    "check",
    "stop",
    "start",
    "open",
    "confirm",
    "review",
    "drain",
    "notify",
    "record",
    "verify",
)
_ROLES = ("av-conferencing", "web-conferencing", "web-components", "front-end", "im-conferencing")
_ROLE_LABELS = {
    "av-conferencing": "A/V Conferencing Server",
    "web-conferencing": "Web Conferencing Server",
    "web-components": "Web Components Server",
    "front-end": "Front End Server",
    "im-conferencing": "IM Conferencing Server",
}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _NoAliasDumper(yaml.SafeDumper):
    """Runbooks may not use anchors or aliases, so never emit one for a repeated object."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    # Short lists of short words in flow style (`days: [sat, sun]`), as authors write them.
    flow = all(isinstance(item, str) and len(item) <= 20 for item in data) and len(data) <= 5
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_NoAliasDumper.add_representer(list, _represent_list)


def _dump(data: dict[str, Any], comment: str) -> str:
    # Wide lines keep long quotes on one line, like the hand-written runbooks.
    body = yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=100)
    return comment + body


class _Text:
    """Sentences from a fixed vocabulary; varied per file so no two files are alike."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def words(self, low: int, high: int) -> str:
        return " ".join(self.rng.choice(_WORDS) for _ in range(self.rng.randint(low, high)))

    def sentence(self, low: int = 6, high: int = 14) -> str:
        text = self.words(low, high)
        return text[0].upper() + text[1:] + "."

    def paragraph(self, sentences: int) -> str:
        return " ".join(self.sentence() for _ in range(sentences))


class _RunbookMaker:
    def __init__(self, seed: int, index: int) -> None:
        # One generator per file: file i does not depend on how many files come before it.
        self.rng = random.Random(seed * 1_000_003 + index)
        self.text = _Text(self.rng)
        self.index = index
        self.section = "Section " + self.text.words(2, 5)
        self.counter = 0

    def step_id(self, verb: str | None = None) -> str:
        self.counter += 1
        return f"{verb or self.rng.choice(_VERBS)}-{self.rng.choice(_WORDS)}-{self.counter}"

    def source(self, step: int | None = None) -> dict[str, Any]:
        ref: dict[str, Any] = {"section": self.section}
        if step is not None:
            ref["step"] = step
        ref["quote"] = self.text.sentence(8, 20)
        return ref

    def warning(self, wid: str) -> dict[str, Any]:
        return {
            "id": wid,
            "severity": self.rng.choice(("caution", "warning", "danger")),
            "text": self.text.paragraph(2),
            "source": self.section,
        }

    def base(self, number: int, *, title: str | None = None) -> dict[str, Any]:
        step: dict[str, Any] = {
            "id": self.step_id(),
            "title": title or self.text.sentence(3, 8).rstrip("."),
            "source": self.source(number),
        }
        if self.rng.random() < 0.7:
            step["instructions"] = (
                f"On `{{{{ target }}}}`, {self.text.words(5, 12)}.\n\n"
                f"1. {self.text.sentence()}\n2. {self.text.sentence()}\n"
            )
        if self.rng.random() < 0.4:
            step["notes"] = [self.text.sentence() for _ in range(self.rng.randint(1, 3))]
        return step

    # --- gates -----------------------------------------------------------------

    def gate(self, kind: str, earlier: list[str]) -> dict[str, Any]:
        gate: dict[str, Any] = {"type": kind, "prompt": self.text.sentence(8, 16)}
        if kind == "typed_confirmation":
            gate["expect"] = "{{ target }}"
        elif kind == "checklist":
            gate["items"] = [self.text.sentence(4, 9) for _ in range(self.rng.randint(2, 4))]
        elif kind == "time_window":
            gate["windows"] = [
                {"days": ["sat", "sun"]},
                {"days": list(_DAYS[:5]), "hours": "20:00-06:00"},
            ]
            gate["timezone"] = "Europe/Berlin"
            gate["override"] = self.rng.choice(("reason", "never"))
            gate["valid_for"] = "30m"
        elif kind == "evidence":
            gate["evidence"] = {
                "description": self.text.sentence(),
                "max_bytes": self.rng.choice(("1MiB", "10MiB", 1048576)),
                "checks": [
                    {"require": "(?i)execution result", "description": self.text.sentence(4, 8)},
                    {"each": "(?i)execution result", "must": r"(?i)execution result\W*success\b"},
                    {"forbid": r"(?i)\bfail(ure|ed|s)?\b", "description": self.text.sentence(4, 8)},
                ],
            }
        elif kind == "command":
            gate["command"] = {
                "argv": [
                    "powershell.exe",
                    "-NoProfile",
                    "-Command",
                    "if ((Get-Service -ComputerName '{{ target }}' -Name 'RTCSRV').Status "
                    "-ne 'Stopped') { exit 1 }",
                ],
                "timeout": self.rng.choice(("30s", "1m", "1m30s")),
                "expect_exit": 0,
                "max_output": "64KiB",
            }
        if earlier and self.rng.random() < 0.5:
            gate["on_failure"] = {
                "action": "goto",
                "goto": self.rng.choice(earlier),
                "message": self.text.sentence(),
            }
        else:
            gate["on_failure"] = {
                "action": self.rng.choice(("retry", "abort")),
                "message": self.text.sentence(),
            }
        return gate

    # --- the runbook -----------------------------------------------------------

    def runbook(self, count: int) -> dict[str, Any]:
        text = self.text
        rid = f"bench.runbook-{self.index:05d}"
        steps: list[dict[str, Any]] = []
        top_ids: list[str] = []
        choice_var = "mode"
        gate_kinds = (
            "confirm",
            "typed_confirmation",
            "checklist",
            "time_window",
            "evidence",
            "command",
        )

        def add(step: dict[str, Any]) -> None:
            steps.append(step)
            top_ids.append(step["id"])

        number = 0
        # 4 blocks of ~10 steps, each block: actions, a choice, gates of every type, a loop, a call.
        for block in range(4):
            for _ in range(2):
                number += 1
                step = self.base(number)
                if self.rng.random() < 0.3:
                    step["required"] = True
                if self.rng.random() < 0.3:
                    step["when"] = "precaution in ['off-peak', 'both']"
                add(step)
            if block == 0:
                number += 1
                step = self.base(number, title="Single role or several?")
                step["choice"] = {
                    "var": choice_var,
                    "prompt": text.sentence(),
                    "options": [
                        {"value": "single", "label": "A single server role"},
                        {"value": "multiple", "label": "Services for several server roles"},
                    ],
                }
                add(step)
            for kind in gate_kinds[block % 2 :: 2]:
                number += 1
                step = self.base(number)
                if block > 0 and self.rng.random() < 0.4:
                    step["when"] = self.rng.choice(
                        (
                            f"{choice_var} == 'multiple'",
                            f"{choice_var} == 'single' and not dry_run",
                            "retries > 1",
                        )
                    )
                if self.rng.random() < 0.3:
                    step["warnings"] = [self.warning(f"step-warning-{number}")]
                step["gate"] = self.gate(kind, list(top_ids))
                add(step)
            number += 1
            add(self.loop(number, block))
        number += 1
        add(self.call(number, top_ids))

        roles = sorted(self.rng.sample(_ROLES[:4], 2), key=_ROLES.index)
        metadata: dict[str, Any] = {
            "id": rid,
            "title": text.sentence(4, 9).rstrip("."),
            "version": f"1.{self.index % 7}.{self.index % 3}",
            "summary": text.paragraph(3),
            "source": {
                "document": "Microsoft Office Communications Server 2007: " + text.words(4, 8),
                "section": self.section,
                "url": f"https://example.com/ocs2007/{self.index}",
            },
            "required_groups": ["RTCUniversalServerAdmins"],
            "applies_to": {
                "products": ["Office Communications Server 2007"],
                "editions": ["standard", "enterprise"],
                "roles": [_ROLE_LABELS[r] for r in roles],
            },
            "target": {
                "description": "FQDN of the " + text.words(2, 4),
                "example": f"srv{self.index:03d}.contoso.com",
                "pattern": "^[A-Za-z0-9.-]+$",
            },
            "tools": [
                {
                    "name": "Computer Management",
                    "where": text.sentence(),
                    "limits": text.sentence(),
                },
                {"name": "LcsCmd.exe", "where": text.sentence()},
            ],
            # Only earlier files: they exist in every corpus that holds this one.
            "related": [
                f"bench.runbook-{i:05d}" for i in range(max(0, self.index - 2), self.index)
            ],
            "discrepancies": [
                {
                    "id": f"discrepancy-{d}",
                    "source_text": text.sentence(10, 20),
                    "issue": text.paragraph(2),
                    "safe_reading": text.paragraph(1),
                    "steps": self.rng.sample(top_ids, 2),
                }
                for d in range(3)
            ],
            "outside_facts": [
                {
                    "text": text.sentence(),
                    "confirmed": self.rng.random() < 0.5,
                    "note": text.sentence(),
                },
            ],
        }
        return {
            "format": "ocsrun/v1",
            "kind": "runbook",
            "metadata": metadata,
            "params": {
                "precaution": {
                    "type": "enum",
                    "description": text.sentence(),
                    "values": ["off-peak", "reroute", "both"],
                    "default": "off-peak",
                },
                "roles": {
                    "type": "list",
                    "description": text.sentence(),
                    "values": list(_ROLES[:4]),
                    "default": roles,
                },
                "dry_run": {"type": "bool", "default": False, "description": text.sentence()},
                "retries": {"type": "int", "min": 1, "max": 10, "default": 3},
                "admin_name": {"type": "string", "pattern": "^[a-z]+$", "default": "admin"},
            },
            "warnings": [self.warning(f"runbook-warning-{w}") for w in range(2)],
            "steps": steps,
        }

    def loop(self, number: int, block: int) -> dict[str, Any]:
        step = self.base(number, title="Deactivate each active role, in the mandatory order")
        inner: list[dict[str, Any]] = []
        for k in range(2):
            child = self.base(k + 1, title="Act on {{ labels[role] }}")
            child["instructions"] = (
                f"For **{{{{ labels[role] }}}}** on `{{{{ target }}}}`: {self.text.sentence()}"
            )
            inner.append(child)
        gate_step = self.base(3, title="The role is done")
        gate_step["gate"] = self.gate("confirm", [inner[0]["id"]])
        inner.append(gate_step)
        if block % 3 == 0:
            call = self.base(4, title="Run the wizard for {{ role }}")
            fragment = self.rng.randrange(FRAGMENTS)
            call["uses"] = f"fragments/fragment-{fragment}.yaml"
            call["with"] = {"role_label": "{{ labels[role] }}", "section": self.section}
            call.pop("instructions", None)
            inner.append(call)
        for_each: dict[str, Any] = {"var": "role"}
        if block % 2 == 0:
            for_each["over"] = "roles"
        else:
            for_each["items"] = sorted(self.rng.sample(_ROLES, 3), key=_ROLES.index)
        for_each["order"] = list(_ROLES)
        for_each["labels"] = dict(_ROLE_LABELS)
        for_each["after"] = {"web-components": ["web-conferencing"]}
        for_each["steps"] = inner
        step["for_each"] = for_each
        return step

    def call(self, number: int, earlier: list[str]) -> dict[str, Any]:
        step = self.base(number, title="Run the Deactivation Wizard and check its log")
        step.pop("instructions", None)
        step["uses"] = f"fragments/fragment-{self.rng.randrange(FRAGMENTS)}.yaml"
        step["with"] = {
            "role_label": "Server on {{ target }}",
            "section": self.section,
            "click_next": self.rng.choice(("yes", "no")),
        }
        return step


def fragment(seed: int, index: int) -> dict[str, Any]:
    """A fragment like `deactivation-wizard.yaml`: params, a goto back, an evidence gate."""
    maker = _RunbookMaker(seed + 7919, index)
    text = maker.text
    first = maker.base(4, title="Go through the Deactivation Wizard")
    first["required"] = True
    first["instructions"] = (
        "**{{ role_label }}** on `{{ target }}` ({{ section }}).\n\n"
        "{% if click_next == 'yes' %}Click **Next** on each page.{% else %}"
        "Click **Next** (the source leaves it out).{% endif %}\n"
    )
    second = maker.base(5, title="Finish with View the log ticked")
    third = maker.base(6, title="The log shows Success for every task")
    third["gate"] = maker.gate("evidence", [])
    third["gate"]["on_failure"] = {
        "action": "goto",
        "goto": first["id"],
        "message": text.sentence(),
    }
    third["warnings"] = [maker.warning("success-before-anything-else")]
    return {
        "format": "ocsrun/v1",
        "kind": "fragment",
        "metadata": {
            "id": f"bench.fragments.fragment-{index}",
            "title": "Run the Deactivation Wizard and check its log",
            "version": "1.0.0",
            "summary": text.paragraph(2),
            "source": {
                "document": "Microsoft Office Communications Server 2007: " + text.words(3, 6)
            },
        },
        "params": {
            "role_label": {"type": "string", "description": text.sentence()},
            "section": {"type": "string", "description": text.sentence()},
            "click_next": {"type": "enum", "values": ["yes", "no"], "default": "yes"},
        },
        "steps": [first, second, third],
    }


# Text edits that each make a file invalid in a different way (schema and semantic rules), for
# checking that every way of validating reports the same findings in the same order.
# Each breakage gives exactly one error finding where its anchor text occurs, so the number
# of findings a broken corpus must produce is known (`expected`): the benchmark checks it.
_BREAKAGES: tuple[tuple[str, str], ...] = (
    ("required: true\n", "required: sure\n"),  # schema: type
    ("type: confirm\n", "type: confrim\n"),  # schema: enum, with a suggestion
    ("{{ target }}", "{{ targt }}"),  # unknown-name
    ("goto: ", "goto: no-such-"),  # unknown-goto
    ("pattern: ^[A-Za-z0-9.-]+$", "pattern: ^[A-Z"),  # bad-regex
    ("\nsteps:\n", "\nowner: nobody\nsteps:\n"),  # schema: unknown top-level key
    ("\nsteps:\n", "\nkind: runbook\nsteps:\n"),  # duplicate-key
)


def _broken(text: str, rng: random.Random) -> tuple[str, int]:
    """`text` with two different breakages applied where their anchor text occurs; and how
    many applied (each is one error finding)."""
    applied = 0
    for old, new in rng.sample(_BREAKAGES, 2):
        if old in text:
            text = text.replace(old, new, 1)
            applied += 1
    return text, applied


def expected(count: int, seed: int = DEFAULT_SEED, *, broken_every: int = 0) -> dict[str, int]:
    """What `ocsrun validate` must report on `generate(out, count, seed, broken_every=...)`:
    files checked (fragments included), error findings, files with findings."""
    errors = broken_files = 0
    if broken_every:
        for index in range(0, count, broken_every):
            text = _dump(_RunbookMaker(seed, index).runbook(40), SCHEMA_COMMENT)
            applied = _broken(text, random.Random(seed + index))[1]
            errors += applied
            broken_files += applied > 0
    return {"files": count + FRAGMENTS, "errors": errors, "files_with_findings": broken_files}


def generate(
    out: Path, count: int, seed: int = DEFAULT_SEED, *, broken_every: int = 0
) -> list[Path]:
    """Write `count` runbooks and the shared fragments under `out`; return the runbook paths.

    With `broken_every` k > 0, every k-th runbook gets two deliberate errors.
    """
    (out / "fragments").mkdir(parents=True, exist_ok=True)
    for index in range(FRAGMENTS):
        _write(
            out / "fragments" / f"fragment-{index}.yaml",
            _dump(fragment(seed, index), FRAGMENT_SCHEMA_COMMENT),
        )
    paths = []
    for index in range(count):
        path = out / f"runbook-{index:05d}.yaml"
        text = _dump(_RunbookMaker(seed, index).runbook(40), SCHEMA_COMMENT)
        if broken_every and index % broken_every == 0:
            text = _broken(text, random.Random(seed + index))[0]
        _write(path, text)
        paths.append(path)
    return paths


def big_runbook(steps: int, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """One long linear runbook for the executor benchmark: actions, confirm gates and choices.

    Only kinds a scripted operator answers without files or commands, so the measurement is the
    executor's own bookkeeping per step, not evidence checks or subprocesses.
    """
    maker = _RunbookMaker(seed, 10**6)
    items: list[dict[str, Any]] = []
    for number in range(1, steps + 1):
        step: dict[str, Any] = {
            "id": f"step-{number}",
            "title": f"Step {number}: " + maker.text.words(3, 6),
        }
        step["instructions"] = f"On `{{{{ target }}}}`: {maker.text.sentence()}"
        if number % 10 == 0:
            step["gate"] = {"type": "confirm", "prompt": maker.text.sentence()}
        items.append(step)
    # A last question the benchmark answers or leaves open: left open, the run stops there
    # unfinished (journaled as interrupted), which is what `resume` needs.
    items.append(
        {
            "id": "final",
            "title": "Finish the run",
            "choice": {
                "var": "final",
                "prompt": "Finish?",
                "options": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}],
            },
        }
    )
    return {
        "format": "ocsrun/v1",
        "kind": "runbook",
        "metadata": {
            "id": "bench.big",
            "title": f"A linear runbook of {steps} steps",
            "version": "1.0.0",
            "source": {"document": "benchmark"},
            "target": {"description": "A host name"},
        },
        "steps": items,
    }


def write_big(out: Path, steps: int, seed: int = DEFAULT_SEED) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"big-{steps}.yaml"
    _write(path, _dump(big_runbook(steps, seed), SCHEMA_COMMENT))
    return path


def _write(path: Path, text: str) -> None:
    # Rewrite only when different, so mtimes (and any cache keyed on them) stay put across runs.
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.write_text(text, encoding="utf-8")


def count_steps(steps: list[dict[str, Any]]) -> int:
    """Steps including nested for_each steps (fragment steps not counted)."""
    total = 0
    for step in steps:
        total += 1
        if "for_each" in step:
            total += count_steps(step["for_each"]["steps"])
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--big-steps", type=int, default=0, help="write one linear runbook instead")
    parser.add_argument("--broken-every", type=int, default=0, help="break every k-th runbook")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.big_steps:
        print(write_big(args.out, args.big_steps, args.seed))
    else:
        paths = generate(args.out, args.count, args.seed, broken_every=args.broken_every)
        print(f"{len(paths)} runbooks in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
