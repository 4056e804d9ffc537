"""Semantic rules, each on its own, on small in-memory runbooks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from ocsrun.errors import LoadError
from ocsrun.runbook import rules
from ocsrun.runbook.diagnostic import Diagnostic
from ocsrun.runbook.includes import resolve_include
from ocsrun.runbook.loader import load_text

HEAD = """# yaml-language-server: $schema=../schemas/runbook.schema.json
format: ocsrun/v1
kind: runbook
metadata:
  id: test.rules
  title: Rules
  version: 1.0.0
"""
Rule = Callable[[rules.Context], Iterable[Diagnostic]]


def run(rule: Rule, body: str, *, file: Path | None = None) -> list[tuple[int, int, str]]:
    document = load_text((HEAD + body).encode(), "f.yaml")
    root = file.parent if file else None
    context = rules.Context(document, file, root)
    return [(d.position.line, d.position.col, d.rule) for d in rule(context)]


def test_walk_steps_scopes_and_names() -> None:
    body = """params:
  p: {type: string}
steps:
  - id: pick
    title: Pick
    choice: {var: answer, prompt: Q, options: [{value: a, label: A}]}
  - id: loop
    title: Loop
    for_each:
      var: item
      items: [x]
      order: [x]
      steps:
        - {id: inner, title: Inner}
"""
    document = load_text((HEAD + body).encode(), "f.yaml")
    refs = rules.walk_steps(document.data)
    assert [r.path for r in refs] == [
        ("steps", 0),
        ("steps", 1),
        ("steps", 1, "for_each", "steps", 0),
    ]
    assert refs[0].names == frozenset({"p"})  # its own choice var is not visible to itself
    assert refs[1].names == frozenset({"p", "answer"})
    assert refs[2].names == frozenset({"p", "answer", "item", "labels"})
    assert refs[2].scope == ("steps", 1, "for_each", "steps")


def test_walk_steps_survives_bad_shapes() -> None:
    document = load_text(b"steps: [1, 'x', {for_each: 3}, {for_each: {steps: 7}}]\n", "f.yaml")
    assert len(rules.walk_steps(document.data)) == 2


def test_target_is_declared_only_when_metadata_has_one() -> None:
    body = "steps:\n  - id: a\n    title: A\n    instructions: '{{ target }}'\n"
    assert run(rules.unknown_name, body) == [(11, 19, "unknown-name")]
    with_target = HEAD.replace(
        "  version: 1.0.0\n", "  version: 1.0.0\n  target: {description: T}\n"
    )
    document = load_text((with_target + body).encode(), "f.yaml")
    assert list(rules.unknown_name(rules.Context(document))) == []


def test_duplicate_ids_are_per_scope() -> None:
    body = """steps:
  - {id: a, title: A}
  - {id: a, title: A2}
  - id: loop
    title: L
    for_each:
      var: i
      items: [x]
      order: [x]
      steps: [{id: a, title: fine here}]
"""
    assert run(rules.duplicate_id, body) == [(10, 10, "duplicate-id")]


def test_step_kind_conflict_points_at_the_second_kind() -> None:
    body = (
        "steps:\n  - id: a\n    title: A\n    uses: f.yaml\n    gate: {type: confirm, prompt: P}\n"
    )
    assert run(rules.step_kind_conflict, body) == [(12, 5, "step-kind-conflict")]


def test_goto_rules() -> None:
    body = """steps:
  - {id: a, title: A}
  - id: b
    title: B
    gate: {type: confirm, prompt: P, on_failure: {action: goto, goto: a}}
  - id: c
    title: C
    gate: {type: confirm, prompt: P, on_failure: {action: goto, goto: d}}
  - {id: d, title: D}
"""
    assert run(rules.goto_target, body) == [(15, 71, "goto-forward")]


@pytest.mark.parametrize(
    ("when", "ok"),
    [("a == 'x'", True), ("not a", True), ("a ==", False), ("a b", False), ("{{ a }}", False)],
)
def test_when_syntax(when: str, ok: bool) -> None:
    body = f'params:\n  a: {{type: string}}\nsteps:\n  - id: s\n    title: S\n    when: "{when}"\n'
    assert (run(rules.when_syntax, body) == []) is ok


def test_unknown_name_respects_order_of_choices() -> None:
    body = """steps:
  - {id: early, title: E, when: "answer == 'a'"}
  - id: pick
    title: Pick
    choice: {var: answer, prompt: Q, options: [{value: a, label: A}]}
  - {id: late, title: L, when: "answer == 'a'"}
"""
    assert run(rules.unknown_name, body) == [(9, 33, "unknown-name")]


def test_jinja_globals_are_not_unknown_names() -> None:
    body = "steps:\n  - id: a\n    title: A\n    instructions: '{{ range(3) | list }}'\n"
    assert run(rules.unknown_name, body) == []


@pytest.mark.parametrize(
    "template",
    [
        "{{ x.__class__ }}",
        "{{ x['_y'] }}",
        "{{ x|attr('y') }}",
        "{{ 'a' * 9 }}",
        "{{ 2 ** 99 }}",
        "{% for i in x %}{% endfor %}",
        "{% macro m() %}{% endmacro %}",
        "{{ x }",
    ],
)
def test_template_syntax_refuses_broken_and_unsafe_templates(template: str) -> None:
    body = "params:\n  x: {type: string}\nsteps:\n  - id: a\n    title: A\n"
    body += f'    instructions: "{template}"\n'
    assert run(rules.template_syntax, body) == [(13, 19, "template-syntax")]


def test_plain_templates_pass() -> None:
    body = (
        "params:\n  x: {type: string}\nsteps:\n  - id: a\n    title: A\n"
        '    instructions: "{% if x %}{{ x | upper }}{% endif %} {x} {{ x }}"\n'
    )
    assert run(rules.template_syntax, body) == []
    assert run(rules.unknown_name, body) == []


@pytest.mark.parametrize(
    ("when", "unreachable"),
    [
        ("mode == 'c'", True),
        ("mode in ['c', 'd']", True),
        ("false", True),
        ("mode == 'a' and mode == 'zzz'", True),
        ("mode == 'a'", False),
        ("mode == 'c' or mode == 'a'", False),
        ("mode != 'c'", False),
        ("other == 'c'", False),
        # Outside the recognizer's subset: Jinja's parse, converted to the same tree.
        ("mode in ('c', 'd')", True),
        ("other|lower == 'x' and mode == 'zzz'", True),
        ("mode == 'c' if other else true", False),
        pytest.param(
            " and ".join([*["other|lower == 'x'"] * 300, "mode == 'zzz'"]), True, id="long-and"
        ),
    ],
)
def test_unreachable_step(when: str, unreachable: bool) -> None:
    body = f"""params:
  mode: {{type: enum, values: [a, b]}}
  other: {{type: string}}
steps:
  - id: s
    title: S
    when: "{when}"
"""
    assert (run(rules.unreachable_step, body) != []) is unreachable


@pytest.mark.parametrize(
    ("param", "ok"),
    [
        ("{type: enum, values: [a], default: a}", True),
        ("{type: enum, values: [a], default: b}", False),
        ("{type: int, min: 1, max: 3, default: 2}", True),
        ("{type: int, min: 1, default: 0}", False),
        ("{type: int, default: true}", False),
        ("{type: bool, default: 'no'}", False),
        ("{type: string, pattern: '^a+$', default: aaa}", True),
        ("{type: string, pattern: '^a+$', default: aab}", False),
        ("{type: list, values: [a, b], default: [b]}", True),
        ("{type: list, values: [a, b], default: [c]}", False),
    ],
)
def test_param_default(param: str, ok: bool) -> None:
    body = f"params:\n  p: {param}\nsteps:\n  - {{id: a, title: A}}\n"
    assert (run(rules.param_default, body) == []) is ok


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [
        ("^[a-z]+$", True),
        ("^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\\\.[A-Za-z0-9]+)+$", True),
        ("[a-z]+(,[a-z]+)*", True),
        ("(unclosed", False),
        ("^(a+)+$", False),
        ("^(\\\\w+\\\\s?)*$", False),
        ("^(a|a)*$", False),
        ("x" * 1001, False),
    ],
)
def test_bad_regex(pattern: str, ok: bool) -> None:
    body = (
        f'params:\n  p: {{type: string, pattern: "{pattern}"}}\nsteps:\n  - {{id: a, title: A}}\n'
    )
    assert (run(rules.bad_regex, body) == []) is ok


def test_foreach_rules() -> None:
    body = """params:
  roles: {type: list, values: [b, a]}
steps:
  - id: loop
    title: L
    for_each:
      var: r
      over: roles
      order: [a, b]
      labels: {c: C}
      steps: [{id: x, title: X}]
"""
    assert run(rules.foreach_rules, body) == [
        (9, 35, "foreach-order"),
        (17, 16, "foreach-unknown-item"),
    ]
    assert run(rules.foreach_over, body) == []


def test_foreach_over_needs_a_list_param() -> None:
    body = """params:
  roles: {type: string}
steps:
  - id: loop
    title: L
    for_each: {var: r, over: roles, order: [a], steps: [{id: x, title: X}]}
"""
    assert run(rules.foreach_over, body) == [(13, 30, "foreach-over")]


def test_discrepancy_steps_may_use_scoped_ids() -> None:
    body = """steps:
  - id: loop
    title: L
    for_each: {var: r, items: [a], order: [a], steps: [{id: x, title: X}]}
"""
    text = HEAD.replace(
        "  version: 1.0.0\n",
        "  version: 1.0.0\n  discrepancies:\n    - {id: d, issue: I, steps: [loop.x, x, loop.y]}\n",
    )
    document = load_text((text + body).encode(), "f.yaml")
    found = [
        (d.position.line, d.position.col) for d in rules.discrepancy_step(rules.Context(document))
    ]
    assert found == [(9, 44)]


def test_missing_schema_comment_is_a_warning() -> None:
    document = load_text(b"format: ocsrun/v1\n", "f.yaml")
    (found,) = rules.missing_schema_comment(rules.Context(document))
    assert found.severity.value == "warning"
    assert run(rules.missing_schema_comment, "steps: []\n") == []


def test_a_crashing_rule_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(context: rules.Context) -> Iterable[Diagnostic]:
        raise ValueError("boom")

    monkeypatch.setattr(rules, "RULES", (broken, rules.missing_schema_comment))
    document = load_text(b"a: 1\n", "f.yaml")
    found = rules.check(rules.Context(document))
    assert [d.rule for d in found] == ["internal", "missing-schema-comment"]


def test_every_rule_module_reports_catalogued_ids_only() -> None:
    """Each rule module lists its ids; the catalog (SARIF, annotations) describes every one,
    and every rule function belongs to a listed module."""
    from ocsrun.runbook.rule_catalog import RULES as CATALOG

    listed = {rule_id for module in rules.MODULES for rule_id in module.RULE_IDS}
    assert listed <= set(CATALOG), sorted(listed - set(CATALOG))
    names = {module.__name__ for module in rules.MODULES}
    assert {rule.__module__ for rule in rules.RULES} <= names
    for module in rules.MODULES:
        source = Path(module.__file__ or "").read_text(encoding="utf-8")
        for rule_id in module.RULE_IDS:
            assert f'"{rule_id}"' in source, (module.__name__, rule_id)


# --- includes ------------------------------------------------------------------------------------


def make_tree(tmp_path: Path) -> Path:
    (tmp_path / "frag").mkdir()
    (tmp_path / "frag" / "f.yaml").write_text("kind: fragment\n", encoding="utf-8")
    (tmp_path / "main.yaml").write_text("kind: runbook\n", encoding="utf-8")
    return tmp_path / "main.yaml"


def test_resolve_include_inside_the_tree(tmp_path: Path) -> None:
    main = make_tree(tmp_path)
    assert (
        resolve_include(main, tmp_path, "frag/f.yaml") == (tmp_path / "frag" / "f.yaml").resolve()
    )


@pytest.mark.parametrize(
    ("ref", "rule"),
    [
        ("/etc/passwd", "include-escape"),
        ("../outside.yaml", "include-escape"),
        ("frag/../frag/f.yaml", "include-escape"),
        ("C:\\\\x.yaml", "include-escape"),
        ("frag/none.yaml", "unknown-include"),
        ("frag", "unknown-include"),
    ],
)
def test_resolve_include_refusals(tmp_path: Path, ref: str, rule: str) -> None:
    main = make_tree(tmp_path)
    with pytest.raises(LoadError) as caught:
        resolve_include(main, tmp_path, ref)
    assert caught.value.rule == rule


def test_resolve_include_refuses_symlinks_out_of_the_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    main = make_tree(tree)
    (tmp_path / "outside.yaml").write_text("kind: fragment\n", encoding="utf-8")
    os.symlink(tmp_path / "outside.yaml", tree / "frag" / "link.yaml")
    with pytest.raises(LoadError) as caught:
        resolve_include(main, tree, "frag/link.yaml")
    assert caught.value.rule == "include-escape"


def fragment(params: str = "", uses: str = "") -> str:
    text = (
        HEAD.replace("kind: runbook", "kind: fragment") + params + "steps:\n  - {id: a, title: A}\n"
    )
    return text + (f"  - {{id: b, title: B, uses: {uses}}}\n" if uses else "")


def test_include_rules_cycle_and_args(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(fragment(uses="b.yaml"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(fragment(uses="a.yaml"), encoding="utf-8")
    (tmp_path / "p.yaml").write_text(
        fragment("params:\n  need: {type: string}\n"), encoding="utf-8"
    )
    body = """steps:
  - {id: c, title: C, uses: a.yaml}
  - {id: d, title: D, uses: p.yaml, with: {extra: x}}
"""
    main = tmp_path / "main.yaml"
    found = run(rules.include_rules, body, file=main)
    assert sorted(r for _, _, r in found) == ["include-args", "include-args", "include-cycle"]


@pytest.mark.parametrize(
    ("gate", "found"),
    [
        ("{type: time_window, prompt: P, timezone: ask, windows: [{days: [mon]}]}", []),
        ("{type: time_window, prompt: P, timezone: Europe/Berlin, windows: [{days: [mon]}]}", []),
        ("{type: time_window, prompt: P, timezone: Mars/Base, windows: [{days: [mon]}]}", [11]),
        ("{type: command, prompt: P, command: {argv: [x], timeout: 24h}}", []),
        ("{type: command, prompt: P, command: {argv: [x], timeout: 25h}}", [11]),
        ("{type: confirm, prompt: P, valid_for: 744h}", []),
        ("{type: confirm, prompt: P, valid_for: 745h}", [11]),
    ],
)
def test_unusable_values(gate: str, found: list[int]) -> None:
    body = f"steps:\n  - id: a\n    title: A\n    gate: {gate}\n"
    assert [line for line, _, _ in run(rules.unusable_value, body)] == found


def test_max_output_is_bounded_by_what_the_journal_takes() -> None:
    ok = "steps:\n  - {id: a, title: A, gate: {type: command, prompt: P, "
    assert run(rules.unusable_value, ok + "command: {argv: [x], max_output: 256KiB}}}\n") == []
    found = run(rules.unusable_value, ok + "command: {argv: [x], max_output: 257KiB}}}\n")
    assert [rule for _, _, rule in found] == ["unusable-value"]
