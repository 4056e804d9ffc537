"""Changes to the runbook's keyed lists: metadata, params (also a fragment's) and warnings.

Items are matched by key (name, id), never by position; id-less warnings by text, then order.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from ocsrun.review.diff.changes import Change, JsonValue, Kind, clip, plain, quoted
from ocsrun.run.events import SECRET
from ocsrun.runbook import model as m

# --- metadata and params ------------------------------------------------------

_METADATA_FIELDS = (
    "id",
    "title",
    "version",
    "summary",
    "source",
    "required_groups",
    "applies_to",
    "target",
    "tools",
    "related",
    "outside_facts",
)


def metadata_changes(a: m.Metadata, b: m.Metadata) -> list[Change]:
    out = []
    for name in _METADATA_FIELDS:
        old, new = getattr(a, name), getattr(b, name)
        if old != new:
            out.append(
                Change(
                    Kind.METADATA_CHANGED,
                    "",
                    f"metadata.{name}",
                    f"metadata `{name}` changed",
                    plain(old),
                    plain(new),
                )
            )
    out += _keyed_changes(
        "",
        "metadata.discrepancies",
        a.discrepancies,
        b.discrepancies,
        key=lambda d: d.id,
        noun="discrepancy",
        kinds=(Kind.METADATA_CHANGED, Kind.METADATA_CHANGED, Kind.METADATA_CHANGED),
    )
    return out


def _keyed_changes(
    path: str,
    field_name: str,
    old: Sequence[Any],
    new: Sequence[Any],
    *,
    key: Callable[[Any], str],
    noun: str,
    kinds: tuple[Kind, Kind, Kind],  # removed, added, changed
) -> list[Change]:
    removed_kind, added_kind, changed_kind = kinds
    a = {key(x): x for x in old}
    b = {key(x): x for x in new}
    out = []
    for k, x in a.items():
        f = f"{field_name}[{k}]"
        if k not in b:
            out.append(Change(removed_kind, path, f, f"{noun} `{k}` removed", plain(x), None))
        elif b[k] != x:
            out.append(
                Change(changed_kind, path, f, f"{noun} `{k}` changed", plain(x), plain(b[k]))
            )
    for k, x in b.items():
        if k not in a:
            out.append(
                Change(
                    added_kind, path, f"{field_name}[{k}]", f"{noun} `{k}` added", None, plain(x)
                )
            )
    return out


def _shown_param(p: m.Param) -> JsonValue:
    """A param as a diff shows it: a secret's default is never echoed (a PR comment is public)."""
    return plain(dataclasses.replace(p, default=SECRET) if p.secret and p.has_default else p)


def _shown_default(p: m.Param) -> JsonValue:
    return SECRET if p.secret and p.has_default else plain(p.default)


def param_changes(
    path: str, field_name: str, old: Sequence[m.Param], new: Sequence[m.Param]
) -> list[Change]:
    a = {p.name: p for p in old}
    b = {p.name: p for p in new}
    where = f" of `{path}`" if path else ""
    out = []
    for name, p in a.items():
        f = f"{field_name}.{name}"
        if name not in b:
            out.append(
                Change(
                    Kind.PARAM_REMOVED, path, f, f"param `{name}`{where} removed", _shown_param(p)
                )
            )
            continue
        q = b[name]
        if p.default != q.default:
            out.append(
                Change(
                    Kind.PARAM_DEFAULT_CHANGED,
                    path,
                    f + ".default",
                    f"param `{name}`{where} default changed: {quoted(_shown_default(p))} → "
                    f"{quoted(_shown_default(q))}",
                    _shown_default(p),
                    _shown_default(q),
                )
            )
        if dataclasses.replace(p, default=q.default) != q:
            out.append(
                Change(
                    Kind.PARAM_CHANGED,
                    path,
                    f,
                    f"param `{name}`{where} changed",
                    _shown_param(p),
                    _shown_param(q),
                )
            )
    for name, q in b.items():
        if name not in a:
            out.append(
                Change(
                    Kind.PARAM_ADDED,
                    path,
                    f"{field_name}.{name}",
                    f"param `{name}`{where} added",
                    None,
                    _shown_param(q),
                )
            )
    return out


# --- warnings -----------------------------------------------------------------


def _pair_warnings(
    old: Sequence[m.RunbookWarning], new: Sequence[m.RunbookWarning]
) -> tuple[dict[str, m.RunbookWarning], dict[str, m.RunbookWarning]]:
    """Key warnings so the same warning has the same key on both sides.

    Warnings with ids are keyed by id. Those without are matched by identical text first,
    then the rest in order, so inserting one does not make every later one look changed.
    """
    a = {w.id: w for w in old if w.id}
    b = {w.id: w for w in new if w.id}
    old_free = [(i, w) for i, w in enumerate(old) if not w.id]
    new_free = [(j, w) for j, w in enumerate(new) if not w.id]
    # Each text's id-less warnings on the new side, in order: matching by text is one lookup
    # per warning, not a scan (thousands of warnings were quadratic).
    by_text: dict[str, deque[tuple[int, m.RunbookWarning]]] = {}
    for j, v in new_free:
        by_text.setdefault(v.text, deque()).append((j, v))
    matched_new: set[int] = set()
    unmatched_old = []
    for i, w in old_free:
        twins = by_text.get(w.text)
        if twins:
            j, v = twins.popleft()
            a[f"#{i + 1}"], b[f"#{i + 1}"] = w, v
            matched_new.add(j)
        else:
            unmatched_old.append((i, w))
    old_free = unmatched_old
    new_free = [(j, v) for j, v in new_free if j not in matched_new]
    for (i, w), (_, v) in zip(old_free, new_free, strict=False):
        a[f"#{i + 1}"], b[f"#{i + 1}"] = w, v
    paired = min(len(old_free), len(new_free))
    for i, w in old_free[paired:]:
        a[f"#{i + 1}"] = w
    for j, v in new_free[paired:]:
        b[f"#new-{j + 1}"] = v
    return a, b


def warning_changes(
    path: str, field_name: str, old: Sequence[m.RunbookWarning], new: Sequence[m.RunbookWarning]
) -> list[Change]:
    if not old and not new:
        return []  # most steps have no warnings
    a, b = _pair_warnings(old, new)
    scope = f"step `{path}`" if path else "runbook"
    out = []
    for k, w in a.items():
        f = f"{field_name}[{k}]"
        name = f"{w.severity.value} warning `{w.id}`" if w.id else f"{w.severity.value} warning"
        if k not in b:
            out.append(
                Change(
                    Kind.WARNING_REMOVED,
                    path,
                    f,
                    f"{name} removed from {scope}: {clip(w.text)}",
                    plain(w),
                )
            )
            continue
        out += _one_warning_changes((path, f, name, scope), w, b[k])
    for k, w in b.items():
        if k not in a:
            out.append(
                Change(
                    Kind.WARNING_ADDED,
                    path,
                    f"{field_name}[{k}]",
                    f"{w.severity.value} warning added to {scope}",
                    None,
                    plain(w),
                )
            )
    return out


def _one_warning_changes(
    where: tuple[str, str, str, str], w: m.RunbookWarning, v: m.RunbookWarning
) -> list[Change]:
    path, f, name, scope = where
    out = []
    if v.severity.rank < w.severity.rank:
        out.append(
            Change(
                Kind.WARNING_SEVERITY_LOWERED,
                path,
                f + ".severity",
                f"{name} on {scope} lowered: {w.severity.value} → {v.severity.value}",
                w.severity.value,
                v.severity.value,
            )
        )
    elif v.severity.rank > w.severity.rank:
        out.append(
            Change(
                Kind.WARNING_SEVERITY_RAISED,
                path,
                f + ".severity",
                f"{name} on {scope} raised: {w.severity.value} → {v.severity.value}",
                w.severity.value,
                v.severity.value,
            )
        )
    if (w.text, w.source) != (v.text, v.source):
        out.append(
            Change(
                Kind.WORDING_CHANGED,
                path,
                f,
                f"{name} on {scope} reworded",
                {"text": w.text, "source": w.source},
                {"text": v.text, "source": v.source},
            )
        )
    return out
