"""Templates render in the immutable sandbox with StrictUndefined."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocsrun.runbook.templating import TemplateError, evaluate, names_in, render


def test_render_substitutes_and_filters() -> None:
    assert render("{{ action | capitalize }} {{ target }}", {"action": "stop", "target": "x"}) == (
        "Stop x"
    )


def test_undefined_name_is_an_error_naming_the_step() -> None:
    with pytest.raises(TemplateError, match=r"step-a: 'nope' is undefined"):
        render("{{ nope }}", {}, "step-a")


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ target.__class__ }}",
        "{{ cycler.__init__.__globals__.os.environ }}",
        "{{ roles.append('x') }}",
        "{{ lipsum.__globals__['os'] }}",
    ],
)
def test_sandbox_refuses_reaching_python(template: str) -> None:
    with pytest.raises(TemplateError, match="unsafe"):
        render(template, {"target": "t", "roles": ["a"]})


def test_runaway_output_is_capped() -> None:
    chunk = "x" * 1000
    bomb = (
        "{% for i in range(10000) %}{% for j in range(10000) %}"
        + chunk
        + "{% endfor %}{% endfor %}"
    )
    with pytest.raises(TemplateError, match="output over"):
        render(bomb, {})


def test_other_runtime_failures_are_one_line_errors() -> None:
    with pytest.raises(TemplateError, match="over the limit of 10000"):
        render("{{ range(10**9) | list }}", {})
    with pytest.raises(TemplateError):
        evaluate("1 / 0", {})


def test_immutable_sandbox_refuses_mutation() -> None:
    with pytest.raises(TemplateError):
        render("{{ items.append(1) }}", {"items": [1]})


def test_evaluate_when_expressions() -> None:
    context = {"precaution": "both", "single": False}
    assert evaluate("precaution in ['off-peak', 'both']", context) is True
    assert evaluate("not single", context) is True
    assert evaluate("precaution == 'reroute'", context) is False


def test_evaluate_undefined_is_an_error() -> None:
    with pytest.raises(TemplateError, match="missing"):
        evaluate("missing == 1", {}, "w")


def test_names_in_lists_variables_read() -> None:
    assert names_in("a == 'x' and not b") == ("a", "b")


def test_text_without_template_syntax_is_returned_as_is() -> None:
    assert render("plain {text", {}) == "plain {text"


# The `{{ name }}` fast path must render exactly what Jinja renders.
_TEXT = st.text(
    st.characters(blacklist_characters="{}%#\r", blacklist_categories=("Cs",)), max_size=20
)
_VALUE = st.one_of(
    st.text(max_size=10), st.integers(), st.booleans(), st.none(), st.tuples(st.text(max_size=3))
)


@settings(deadline=None)  # a per-example time limit fails on a loaded machine, not on a bug
@given(
    texts=st.lists(_TEXT, min_size=2, max_size=5), values=st.lists(_VALUE, min_size=4, max_size=4)
)
def test_plain_name_fast_path_matches_jinja(texts: list[str], values: list[object]) -> None:
    from ocsrun.runbook.templating import _compiled, _render_plain

    names = [f"v{i}" for i in range(len(texts) - 1)]
    template = texts[0] + "".join(
        f"{{{{ {n} }}}}{t}" if i % 2 else f"{{{{{n}}}}}{t}"
        for i, (n, t) in enumerate(zip(names, texts[1:], strict=True))
    )
    context = {n: values[i % len(values)] for i, n in enumerate(names)}
    fast = _render_plain(template, context, "w")
    assert fast is not None
    assert fast == _compiled(template).render(context)


def test_fast_path_leaves_anything_else_to_jinja() -> None:
    from ocsrun.runbook.templating import _render_plain

    assert _render_plain("{{ a | upper }}", {"a": "x"}, "w") is None
    assert _render_plain("{% if a %}x{% endif %}", {"a": 1}, "w") is None
    assert render("{{ a | upper }} {{ b }}", {"a": "x", "b": 2}) == "X 2"


# --- the work budget: refused before the work, not after the output -------------------------

_LINES = "a\n" * 100_000


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'x'|center(1000000000) }}", "center: number 1000000000 is over the limit"),
        ("{{ '%999999999s' % 'a' }}", "width 999999999 in a format string"),
        ("{{ '%*s' % (999999999, 'a') }}", "a '\\*' width in a format string"),
        ("{{ fmt % 'a' }}", "width 99999999 in a format string"),
        ("{{ '{:>999999999}'.format('a') }}", "width 999999999 in a format string"),
        ("{{ '%0999999999d'|format(1) }}", "width 999999999 in a format string"),
        ("{{ lipsum(100000) }}", "number 100000 is over the limit"),
        ("{{ range(99999)|map('string')|join }}", "number 99999 is over the limit"),
        ("{{ lines|indent(9999) }}", "indent: the result would be over"),
        ("{{ lines|replace('\\n', lines) }}", "replace: the result would be over"),
        ("{{ [lines, lines, lines]|join(lines) }}", "join: the result would be over"),
        ("{{ 'ab'.ljust(99999) }}", "number 99999 is over the limit"),
    ],
)
def test_calls_that_would_build_huge_values_are_refused_first(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render(template, {"lines": _LINES, "fmt": "%99999999s"}, "step")


# A budget tick can land inside a gc callback (hypothesis installs one), where Python only
# reports the raise; the budget raises again at the next tick (the swallowed-once test below
# shows it), so that report is expected here and says nothing about what these tests assert.
_TICK_IN_GC_CALLBACK = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@_TICK_IN_GC_CALLBACK
@pytest.mark.parametrize(
    "template",
    [
        # Each call is small; together they are 10^8 items or minutes of lorem ipsum.
        "{{ range(9999)|map('string')|map('center', 9999)|map('list')|list|length }}",
        "{{ lipsum(50, max=9999, min=9998) }}",
    ],
)
def test_many_small_steps_stop_at_the_time_or_memory_budget(template: str) -> None:
    with pytest.raises(TemplateError, match=r"took more than 1 s|used more than 64 MiB|lipsum"):
        render(template, {}, "step")


def test_a_budget_stop_swallowed_once_is_raised_again() -> None:
    # A tick's raise can land where Python only reports it (a finalizer, a gc callback); the
    # budget must still stop the work. Here the first stop is swallowed on purpose.
    from ocsrun.runbook.budget import BudgetExceeded, budget

    swallowed = 0
    with pytest.raises(BudgetExceeded), budget(seconds=0.05):
        for _ in range(2 * 10**6):  # a hang guard only: the budget stops it long before
            try:
                sum(range(1000))
            except BudgetExceeded:
                swallowed += 1
                if swallowed > 1:
                    raise
    assert swallowed == 2


@_TICK_IN_GC_CALLBACK
def test_when_expressions_have_the_same_budget() -> None:
    with pytest.raises(TemplateError, match=r"w: (\w+: )?(took|used) more than"):
        evaluate("range(9999)|map('string')|map('center', 9999)|map('list')|list", {}, "w")
    with pytest.raises(TemplateError, match="width 99999999"):
        evaluate("('%99999999d' % 1)|length > 0", {}, "w")


def test_ordinary_templates_are_within_the_budget() -> None:
    context = {"roles": ["a", "b"], "action": "stop", "n": 12345678901234}
    assert render("{{ roles|join(', ') }} {{ action|center(9) }}", context) == "a, b    stop  "
    assert render("{{ '%5s|%-3d' % (action, 7) }} {{ '{:>6}'.format(action) }}", context) == (
        " stop|7     stop"
    )
    assert render("{{ n|default(0) }} {{ n|int }}", context) == "12345678901234 12345678901234"
    assert evaluate("roles|length == 2", context) is True
