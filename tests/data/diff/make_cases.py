"""Writes the diff test cases: each `<name>.yaml` here is base.yaml with one edit.

Run from this directory (`python make_cases.py`) after changing base.yaml; the expected
change kinds for each case live in tests/test_diff.py.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
BASE = (HERE / "base.yaml").read_text(encoding="utf-8")
FRAGMENT = (HERE / "fragments" / "check.yaml").read_text(encoding="utf-8")

WINDOW = """  - id: window
    title: Off-peak
    gate:
      type: time_window
      prompt: It is off-peak.
      windows:
        - days: [sat, sun]
      override: never
      valid_for: 15m
"""
AFTER_WINDOW = """  - id: after-window
    title: Work done after the window
    instructions: Do the work.
"""
FINISH = """  - id: finish
    title: All done
    gate:
      type: confirm
      prompt: Everything is done.
"""
LEFT_ONLY = """  - id: left-only
    title: Left only
    when: way == 'left'
    instructions: Go left.
"""
DO_ITEM = """        - id: do-item
          title: Do the item
          instructions: Do {{ item }}.
"""
LOGCHECK = """        - id: logcheck
          title: Check the log
          uses: fragments/check.yaml
          with:
            what: "{{ item }}"
"""

# name -> list of (old text, new text) replacements applied to base.yaml
CASES: dict[str, list[tuple[str, str]]] = {
    # safety-relevant
    "gate-removed": [
        (FINISH + "      on_failure:\n        action: abort\n        message: Stop.\n", "")
    ],
    "gate-removed-kind": [
        (
            """    gate:
      type: typed_confirmation
      prompt: You typed the host name.
      expect: "{{ target }}"
""",
            "    instructions: Type the host name.\n",
        )
    ],
    "gate-weakened": [
        ("      type: typed_confirmation\n", "      type: confirm\n"),
        ('      expect: "{{ target }}"\n', ""),
    ],
    "gate-weakened-valid-for": [("      valid_for: 15m\n", "      valid_for: 1h\n")],
    "gate-weakened-abort": [("        action: abort\n", "        action: retry\n")],
    "gate-weakened-checklist": [("      items: [One, Two]\n", "      items: [One]\n")],
    "gate-type-changed": [
        (
            """      type: confirm
      prompt: Everything is done.
""",
            """      type: time_window
      prompt: Everything is done.
      windows:
        - hours: "20:00-06:00"
""",
        )
    ],
    "expect-changed": [('      expect: "{{ target }}"\n', '      expect: "yes"\n')],
    "evidence-loosened": [("uses: fragments/check.yaml", "uses: fragments/check-no-forbid.yaml")],
    "evidence-changed": [("uses: fragments/check.yaml", "uses: fragments/check-pattern.yaml")],
    "time-window-widened": [("        - days: [sat, sun]\n", "        - days: [fri, sat, sun]\n")],
    "override-loosened": [("      override: never\n", "      override: reason\n")],
    "on-failure-changed": [
        (
            "      items: [One, Two]\n",
            "      items: [One, Two]\n      on_failure:\n"
            "        action: goto\n        goto: intro\n",
        )
    ],
    "warning-removed": [
        (
            """    warnings:
      - id: careful
        severity: warning
        text: Be careful.
""",
            "",
        )
    ],
    "warning-severity-lowered": [("    severity: danger\n", "    severity: caution\n")],
    "order-changed": [
        ("      order: [a, b, c]\n", "      order: [b, a, c]\n"),
        ("        b: [a]\n", "        a: [b]\n"),
        ("    values: [a, b, c]\n", "    values: [b, a, c]\n"),
    ],
    "order-changed-after": [("      after:\n        b: [a]\n", "")],
    "order-shortened": [
        ("      order: [a, b, c]\n", "      order: [a, b]\n"),
        ("    values: [a, b, c]\n", "    values: [a, b]\n"),
    ],
    "step-made-skippable": [("    required: true\n", "")],
    "step-moved-before-gate": [(WINDOW + AFTER_WINDOW, AFTER_WINDOW + WINDOW)],
    "condition-changed": [("    when: way == 'left'\n", "    when: way == 'right'\n")],
    "command-changed": [
        (
            '        argv: [check, "{{ target }}"]\n',
            '        argv: [check, --force, "{{ target }}"]\n',
        )
    ],
    "param-default-changed": [("    default: careful\n", "    default: fast\n")],
    # not safety-relevant
    "gate-added": [
        (
            AFTER_WINDOW,
            AFTER_WINDOW
            + """  - id: extra-gate
    title: One more check
    gate:
      type: confirm
      prompt: It is still fine.
""",
        )
    ],
    "gate-strengthened": [
        (
            "      type: confirm\n      prompt: Everything is done.\n",
            "      type: typed_confirmation\n      prompt: Everything is done.\n"
            '      expect: "done"\n',
        )
    ],
    "gate-limit-changed": [("        timeout: 30s\n", "        timeout: 60s\n")],
    "warning-added": [
        (
            "        text: Be careful.\n",
            "        text: Be careful.\n"
            "      - id: slow\n        severity: caution\n        text: This is slow.\n",
        )
    ],
    "warning-severity-raised": [("        severity: warning\n", "        severity: danger\n")],
    "step-added": [(AFTER_WINDOW, AFTER_WINDOW + "  - id: tidy\n    title: Tidy up\n")],
    "step-removed": [(LEFT_ONLY, "")],
    "step-moved": [(DO_ITEM + LOGCHECK, LOGCHECK + DO_ITEM)],
    "step-made-required": [(LEFT_ONLY, LEFT_ONLY + "    required: true\n")],
    "step-kind-changed": [
        (
            "    instructions: Go left.\n",
            """    choice:
      var: speed
      prompt: How fast?
      options:
        - value: slow
          label: Slowly
""",
        )
    ],
    "choice-changed": [
        (
            "          label: Right\n",
            "          label: Right\n        - value: up\n          label: Up\n",
        )
    ],
    "loop-changed": [("        b: [a]\n", "        b: [a]\n        c: [b]\n")],
    "fragment-changed": [("uses: fragments/check.yaml", "uses: fragments/check-copy.yaml")],
    "param-added": [
        (
            "  items:\n",
            "  extra:\n    type: bool\n    default: false\n    description: Extra.\n  items:\n",
        )
    ],
    "param-removed": [
        (
            """  mode:
    type: enum
    values: [fast, careful]
    default: careful
    description: How to go.
""",
            "",
        )
    ],
    "param-changed": [
        ("    description: How to go.\n", "    description: How to go, fast or carefully.\n")
    ],
    "wording-changed": [
        ("    title: Read this first\n", "    title: Read this before anything else\n")
    ],
    "metadata-changed": [("  version: 1.0.0\n", "  version: 1.1.0\n")],
    # text-only edits: same runbook
    "whitespace-only": [
        ("  - id: pick\n", "\n  - id: pick\n"),
        ("    instructions: Go left.\n", "    instructions:   Go left.   \n"),
    ],
    "comment-only": [("  - id: pick\n", "  # the operator chooses here\n  - id: pick\n")],
    "formatting-only": [('      expect: "{{ target }}"\n', "      expect: '{{ target }}'\n")],
}

FRAGMENTS = {
    "check-no-forbid.yaml": [("          - forbid: '(?i)fail'\n", "")],
    "check-pattern.yaml": [("          - forbid: '(?i)fail'\n", "          - forbid: 'FAIL'\n")],
    "check-copy.yaml": [],
}


def apply(text: str, edits: list[tuple[str, str]], name: str) -> str:
    for old, new in edits:
        if old not in text:
            raise SystemExit(f"{name}: text to replace not found: {old!r}")
        text = text.replace(old, new, 1)
    return text


def main() -> None:
    for name, edits in CASES.items():
        (HERE / f"{name}.yaml").write_text(apply(BASE, edits, name), encoding="utf-8")
    for name, edits in FRAGMENTS.items():
        text = apply(FRAGMENT, edits, name)
        (HERE / "fragments" / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
