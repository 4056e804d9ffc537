"""A runbook as a printable checklist (Markdown or HTML), from the loaded model.

The model is turned into plain view objects here (numbers, gate descriptions, which steps hang
off which choice) so the Jinja2 templates in `ocsrun/templates/` only lay things out. Runbook
templates are never executed: `{{ target }}` is shown as the placeholder ⟨target⟩, so the
printout holds every branch the operator may meet. Same model in, same bytes out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from html import escape
from typing import TYPE_CHECKING

from ocsrun.runbook import model as m
from ocsrun.sanitize import clean

if TYPE_CHECKING:
    from jinja2 import Environment
    from markupsafe import Markup

FORMATS = ("md", "html")
EXTENSIONS = {"md": ".md", "html": ".html"}

_GATE_NAMES = {
    "confirm": "confirmation",
    "typed_confirmation": "typed confirmation",
    "checklist": "checklist",
    "time_window": "time window",
    "evidence": "evidence check",
    "command": "command check",
}
_SEVERITY_LABELS = {"danger": "DANGER", "warning": "WARNING", "caution": "CAUTION"}


# --- view objects ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateView:
    name: str
    prompt: str
    rows: tuple[tuple[str, str], ...]  # (label, text with ⟨placeholders⟩)
    items: tuple[str, ...]  # checklist items / evidence checks, one box each
    on_failure: str


@dataclass(frozen=True, slots=True)
class Branch:
    value: str
    label: str
    steps: tuple[str, ...]  # "5 `single-role`"
    reason: bool = False  # picking it asks for a reason


@dataclass(frozen=True, slots=True)
class StepView:
    number: str
    path: str
    depth: int
    step: m.Step
    instructions: str
    gate: GateView | None = None
    branches: tuple[Branch, ...] = ()
    loop: tuple[str, ...] = ()  # a for_each: heading line, then one line per item in order
    loop_after: tuple[str, ...] = ()  # a for_each's `after` dependencies
    call: tuple[str, ...] = ()  # lines describing an included fragment
    origin: str = ""  # the fragment a step came from
    discrepancies: tuple[str, ...] = ()
    children: tuple[StepView, ...] = ()

    @property
    def heading_level(self) -> int:
        return min(3 + self.depth, 6)


@dataclass(frozen=True, slots=True)
class RunbookView:
    runbook: m.Runbook
    steps: tuple[StepView, ...]
    params: tuple[tuple[str, str, str, str, str], ...]  # name, type, values, default, description
    coverage: tuple[tuple[str, str], ...]  # source section → step numbers
    discrepancy_steps: dict[str, str] = field(default_factory=dict)


# --- building the view ----------------------------------------------------------

_EXPR = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_BLOCK = re.compile(r"\{%-?\s*(\w+)\s*(.*?)\s*-?%\}", re.DOTALL)


def show_template(text: str) -> str:
    """A runbook template as the operator-to-be should read it on paper."""

    def block(match: re.Match[str]) -> str:
        word, rest = match.group(1), match.group(2)
        return {
            "if": f"[if {rest}:]",
            "elif": f"[else, if {rest}:]",
            "else": "[otherwise:]",
            "endif": "[end if]",
            "for": f"[for {rest}:]",
            "endfor": "[end for]",
        }.get(word, f"[{word} {rest}]".replace(" ]", "]"))

    return _BLOCK.sub(block, _EXPR.sub(lambda x: f"⟨{x.group(1)}⟩", text))


def build_view(runbook: m.Runbook) -> RunbookView:
    builder = _ViewBuilder(runbook)
    steps = builder.steps(runbook.steps, "", "", 0, "")
    return RunbookView(
        runbook=runbook,
        steps=steps,
        params=tuple(_param_row(p) for p in runbook.params),
        coverage=tuple(builder.coverage.items()),
        discrepancy_steps={
            d.id: ", ".join(builder.label(s) for s in d.steps)
            for d in runbook.metadata.discrepancies
        },
    )


def _param_row(p: m.Param) -> tuple[str, str, str, str, str]:
    limits = []
    if p.pattern:
        limits.append(f"pattern {p.pattern}")
    if p.min is not None:
        limits.append(f"min {p.min}")
    if p.max is not None:
        limits.append(f"max {p.max}")
    values = ", ".join(p.values) or "; ".join(limits)
    if p.min_items:
        values += f" (at least {p.min_items})"
    if p.secret:
        default = "(secret)"
    elif p.default is None:
        default = "asked at run time"
    elif isinstance(p.default, tuple):
        default = ", ".join(p.default)
    else:
        default = str(p.default).lower() if isinstance(p.default, bool) else str(p.default)
    return (p.name, p.type, values, default, " ".join(p.description.split()))


class _ViewBuilder:
    def __init__(self, runbook: m.Runbook) -> None:
        self.runbook = runbook
        self.numbers = m.step_numbers(runbook.steps)
        self.coverage: dict[str, str] = {}
        self._cover(runbook.steps, "")
        self.discrepancies: dict[str, list[str]] = {}
        for d in runbook.metadata.discrepancies:
            for step_id in d.steps:
                self.discrepancies.setdefault(step_id, []).append(d.id)

    def _cover(self, steps: Sequence[m.Step], prefix: str) -> None:
        for step in steps:
            path = f"{prefix}{step.id}"
            if step.source is not None and step.source.section:
                seen = self.coverage.get(step.source.section)
                mark = self.numbers[path]
                self.coverage[step.source.section] = f"{seen}, {mark}" if seen else mark
            self._cover(step.children, path + ".")

    def label(self, path: str) -> str:
        number = self.numbers.get(path)
        return f"{number} `{path}`" if number else f"`{path}`"

    def steps(
        self, steps: Sequence[m.Step], prefix: str, number: str, depth: int, origin: str
    ) -> tuple[StepView, ...]:
        return tuple(
            self.step(step, steps[i + 1 :], prefix, depth, origin) for i, step in enumerate(steps)
        )

    def step(
        self, step: m.Step, later: Sequence[m.Step], prefix: str, depth: int, origin: str
    ) -> StepView:
        path = f"{prefix}{step.id}"
        number = self.numbers[path]
        inner_origin = origin
        call: tuple[str, ...] = ()
        if step.call is not None:
            inner_origin = f"{step.call.path} (fragment `{step.call.fragment_id}`)"
            call = _call_lines(step.call)
        return StepView(
            number=number,
            path=path,
            depth=depth,
            step=step,
            instructions=show_template(step.instructions).strip(),
            gate=_gate_view(step.gate, self, prefix) if step.gate else None,
            branches=self._branches(step.choice, later, prefix) if step.choice else (),
            loop=_loop_lines(step.for_each) if step.for_each else (),
            loop_after=_after_lines(step.for_each) if step.for_each else (),
            call=call,
            origin=origin,
            discrepancies=tuple(self.discrepancies.get(step.id, ())),
            children=self.steps(step.children, path + ".", number + ".", depth + 1, inner_origin),
        )

    def _branches(
        self, choice: m.Choice, later: Sequence[m.Step], prefix: str
    ) -> tuple[Branch, ...]:
        var = re.compile(rf"\b{re.escape(choice.var)}\b")
        dependent = [(p, s) for p, s in _walk(later, prefix) if s.when and var.search(s.when)]
        out = []
        for option in choice.options:
            quoted = re.compile(rf"""['"]{re.escape(option.value)}['"]""")
            names = tuple(
                self.label(path)
                for path, s in dependent
                if s.when and (quoted.search(s.when) or not re.search(r"['\"]", s.when))
            )
            out.append(Branch(option.value, option.label, names, option.reason))
        return tuple(out)


def _walk(steps: Sequence[m.Step], prefix: str) -> Iterator[tuple[str, m.Step]]:
    """Steps with their paths, nested ones too: a choice may steer steps inside a later loop."""
    for step in steps:
        yield prefix + step.id, step
        yield from _walk(step.children, f"{prefix}{step.id}.")


def _call_lines(call: m.Call) -> tuple[str, ...]:
    lines = [
        f"Included from `{call.path}`: fragment `{call.fragment_id}` ({call.fragment_title}).",
    ]
    for name, value in call.args:
        lines.append(f"`{name}` = {show_template(' '.join(value.split()))}")
    given = {name for name, _ in call.args}
    for p in call.params:
        if p.name not in given and p.default is not None:
            lines.append(f"`{p.name}` = {_param_row(p)[3]} (fragment default)")
    return tuple(lines)


def _loop_lines(loop: m.ForEach) -> tuple[str, ...]:
    source = f"the items of parameter `{loop.over}`" if loop.over else "the listed items"
    lines = [f"For each `{loop.var}` among {source}, always in this order:"]
    chosen = set(loop.items) if loop.items is not None else None
    for item in loop.order:
        if chosen is not None and item not in chosen:
            continue
        lines.append(f"{loop.label(item)} (`{item}`)")
    return tuple(lines)


def _after_lines(loop: m.ForEach) -> tuple[str, ...]:
    return tuple(
        f"{loop.label(item)} only after {', '.join(loop.label(d) for d in deps)} "
        "(when both are in the list)."
        for item, deps in loop.after
    )


def _gate_view(gate: m.Gate, builder: _ViewBuilder, prefix: str) -> GateView:
    rows: list[tuple[str, str]] = []
    items: tuple[str, ...] = ()
    if gate.type == "confirm":
        rows.append(("Answer", "yes, only if it holds"))
    elif gate.type == "typed_confirmation":
        rows.append(("Type exactly", show_template(gate.expect or "")))
    elif gate.type == "checklist":
        items = tuple(" ".join(i.split()) for i in gate.items)
    elif gate.type == "time_window":
        rows += _window_rows(gate)
    elif gate.type == "evidence":
        rows.append(("Evidence", " ".join(gate.evidence_description.split())))
        rows.append(("Size limit", _size(gate.max_bytes)))
        rows += _evidence_rows(gate)
        items = tuple(_check_text(c) for c in gate.checks)
    elif gate.type == "command":
        rows.append(("Command", " ".join(show_template(a) for a in gate.argv)))
        rows.append(
            (
                "Passes when",
                f"exit status {gate.expect_exit} within {_seconds(int(gate.timeout_seconds))}",
            )
        )
        rows.append(("Rehearsal", "not executed"))
    if gate.valid_for_seconds is not None:
        rows.append(("Valid for", f"{_seconds(gate.valid_for_seconds)}, then asked again"))
    return GateView(
        name=_GATE_NAMES[gate.type],
        prompt=" ".join(gate.prompt.split()),
        rows=tuple(rows),
        items=items,
        on_failure=_failure_text(gate.on_failure, builder, prefix),
    )


def _window_rows(gate: m.Gate) -> list[tuple[str, str]]:
    rows = []
    for w in gate.windows or (m.TimeWindow(),):
        days = ", ".join(w.days) if w.days else "any day"
        rows.append(("Allowed", f"{days}, {w.hours}" if w.hours else f"{days}, all day"))
    clock = {
        None: "this machine's local time (or --tz)",
        "ask": "the users' time zone: given with --tz or asked when the run starts",
    }
    rows.append(("Clock", clock.get(gate.timezone, gate.timezone or "")))
    rows.append(
        (
            "Override",
            "allowed, with a reason in the journal" if gate.override == "reason" else "never",
        )
    )
    return rows


def _evidence_rows(gate: m.Gate) -> list[tuple[str, str]]:
    confirm = "accepted only with the operator's confirmation and reason"
    rows = [("Read as", "HTML tables, tab- or comma-separated text, or plain text (UTF-8/16)")]
    if gate.produced_by:
        stale = confirm if gate.stale == "confirm" else "refused"
        rows.append(("Fresh", f"written after step {gate.produced_by} started; older: {stale}"))
    reused = confirm if gate.reused == "confirm" else "refused"
    rows.append(("Reused", f"a file already accepted for another step: {reused}"))
    return rows


def _check_text(c: m.EvidenceCheck) -> str:
    what = _check_what(c)
    if c.otherwise == "confirm":
        what += " (otherwise the operator must confirm, with a reason)"
    return f"{what} — {' '.join(c.description.split())}" if c.description else what


def _check_what(c: m.EvidenceCheck) -> str:
    if c.kind == "column":
        rows = f"at least {c.min_rows} data row{'s' if c.min_rows != 1 else ''}"
        return f"every `{c.column}` cell matches `{c.must}` ({rows}; header rows do not count)"
    if c.kind == "require":
        what = f"some line matches `{c.pattern}`"
    elif c.kind == "forbid":
        what = f"no line matches `{c.pattern}`"
    else:
        what = f"every line matching `{c.pattern}` also matches `{c.must}` (at least one such line)"
    return what


def _failure_text(failure: m.OnFailure, builder: _ViewBuilder, prefix: str) -> str:
    message = " ".join(failure.message.split())
    if failure.action == "goto" and failure.goto:
        head = f"go back to step {builder.label(prefix + failure.goto)}"
    elif failure.action == "abort":
        head = "abort the run"
    else:
        head = "answer again (retry)"
    return f"{head} — {message}" if message else head


def _seconds(total: int) -> str:
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


def _size(count: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= factor and count % factor == 0:
            return f"{count // factor} {unit}"
    return f"{count} bytes"


# --- escaping filters --------------------------------------------------------------

_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~#])")
_CODE_SPAN = re.compile(r"(`[^`\n]+`)")


def md_text(text: object) -> str:
    """Plain runbook text made inert in Markdown (one line; `code spans` kept as written)."""
    parts = _CODE_SPAN.split(" ".join(str(text).split()))
    return "".join(
        part
        if part.startswith("`") and part.endswith("`") and len(part) > 1
        else _MD_INLINE.sub(r"\\\1", part)
        for part in parts
    )


def md_cell(text: object) -> str:
    return md_text(text).replace("|", "\\|")


def md_block(text: object, indent: str = "") -> str:
    """Markdown written by the runbook author, kept as Markdown but unable to open headings
    or raw HTML that would break the checklist around it."""
    lines = []
    for raw in str(text).splitlines():
        safe = re.sub(r"^(\s*)#", r"\1\\#", raw)
        # Outside code spans, `<` would start raw HTML; inside them it is already inert.
        safe = "".join(
            part if part.startswith("`") else part.replace("<", "\\<")
            for part in _CODE_SPAN.split(safe)
        )
        lines.append(f"{indent}{safe}".rstrip() if safe.strip() else indent.rstrip())
    return "\n".join(lines)


def html_markdown(text: object) -> Markup:
    """The small Markdown subset runbooks use (paragraphs, lists, bold, italics, code) as HTML.

    Everything is escaped first; only the markup this function adds is HTML.
    """
    from markupsafe import Markup

    blocks = re.split(r"\n\s*\n", str(text).strip())
    return Markup("\n".join(_html_block(b) for b in blocks if b.strip()))


def _html_block(block: str) -> str:
    lines = block.splitlines()
    first = lines[0].lstrip()
    for pattern, tag in ((r"\d+\.\s+", "ol"), (r"[-*]\s+", "ul")):
        if re.match(pattern, first):
            items: list[str] = []
            for line in lines:
                if re.match(pattern, line.lstrip()):
                    items.append(re.sub("^" + pattern, "", line.lstrip()))
                elif items:
                    items[-1] += " " + line.strip()
            body = "".join(f"<li>{html_inline(i)}</li>" for i in items)
            return f"<{tag}>{body}</{tag}>"
    return f"<p>{html_inline(' '.join(line.strip() for line in lines))}</p>"


def html_inline(text: str) -> str:
    out = []
    for part in _CODE_SPAN.split(text):
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"<code>{escape(part[1:-1])}</code>")
            continue
        safe = escape(part)
        safe = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", safe)
        safe = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", safe)
        out.append(safe)
    return "".join(out)


def html_text(text: object) -> Markup:
    """One line of plain runbook text for HTML, with `code spans` shown as code."""
    from markupsafe import Markup

    out = []
    for part in _CODE_SPAN.split(" ".join(str(text).split())):
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"<code>{escape(part[1:-1])}</code>")
        else:
            out.append(escape(part))
    return Markup("".join(out))


# --- rendering -------------------------------------------------------------------


@cache
def environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("ocsrun", "templates"),
        # Only the HTML template escapes; Markdown is escaped by the md_* filters instead.
        autoescape=lambda name: name is not None and name.endswith(".html.j2"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md=md_text,
        md_cell=md_cell,
        md_block=md_block,
        markdown=html_markdown,
        text=html_text,
        tpl=show_template,
    )
    env.globals.update(severity_label=_SEVERITY_LABELS)
    return env


def render(runbook: m.Runbook, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown render format {fmt!r}")
    template = environment().get_template(f"runbook.{fmt}.j2")
    text = template.render(view=build_view(runbook), rb=runbook, meta=runbook.metadata)
    # Runbook text reaches a terminal (stdout) or a file someone will `cat`: escape sequences in
    # it must not retitle the window, clear the screen or hide a warning. Neutralised once here,
    # on the whole document, so no template field can be missed.
    text = clean(text)
    # Collapse the blank lines that template control flow leaves, so output is tidy and stable.
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.rstrip("\n") + "\n"


def output_name(runbook: m.Runbook, fmt: str) -> str:
    return runbook.id + EXTENSIONS[fmt]
