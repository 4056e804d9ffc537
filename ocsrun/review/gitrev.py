"""Runbooks at git revisions, compared: the engine behind `ocsrun diff` (files or `--git`).

Git is run with an argv list, never a shell. A revision's files are read with `git show REV:path`
and written to a temporary directory, so fragments resolve exactly as they would in a checkout;
"HEAD omitted" means the working tree, untracked files included.
"""

from __future__ import annotations

import posixpath
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocsrun.errors import OcsrunError, UsageError
from ocsrun.gc_pause import gc_paused
from ocsrun.review.diff import Change, FileDiff, Kind, diff_runbooks, diff_texts
from ocsrun.runbook import model as m
from ocsrun.runbook.includes import MAX_INCLUDE_DEPTH, ref_problem, uses_refs
from ocsrun.runbook.loader import MAX_FILE_BYTES

SUFFIXES = (".yaml", ".yml")


# --- git -----------------------------------------------------------------------


def git(args: Sequence[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UsageError(f"cannot run git: {error}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"git {args[0]} failed: {message[-1] if message else done.returncode}")
    return done.stdout


def repo_root(cwd: Path) -> Path:
    return Path(git(["rev-parse", "--show-toplevel"], cwd).decode().strip())


def is_revision(rev: str, cwd: Path) -> bool:
    try:
        git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd)
    except UsageError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class NameStatus:
    status: str  # A, D, M, R (T and C are treated as M and A)
    old: str | None
    new: str | None


def changed_files(
    root: Path, base: str, head: str | None, paths: Sequence[str]
) -> list[NameStatus]:
    """What `git diff --name-status -M` reports, plus untracked files when HEAD is the work tree."""
    revs = [base] if head is None else [base, head]
    raw = git(["diff", "--name-status", "-M", "-z", *revs, "--", *paths], root)
    out = _parse_name_status(raw.decode("utf-8", "surrogateescape").split("\0"))
    if head is None:
        untracked = git(["ls-files", "--others", "--exclude-standard", "-z", "--", *paths], root)
        out += [NameStatus("A", None, p) for p in untracked.decode().split("\0") if p]
    return out


def _parse_name_status(fields: list[str]) -> list[NameStatus]:
    out, i = [], 0
    while i < len(fields) and fields[i]:
        code = fields[i][0]
        if code in "RC":
            old, new = fields[i + 1], fields[i + 2]
            out.append(NameStatus("R" if code == "R" else "A", old if code == "R" else None, new))
            i += 3
            continue
        path = fields[i + 1]
        status = {"A": "A", "D": "D"}.get(code, "M")
        out.append(
            NameStatus(status, None if status == "A" else path, None if status == "D" else path)
        )
        i += 2
    return out


def list_files(root: Path, rev: str | None, paths: Sequence[str]) -> list[str]:
    if rev is None:
        raw = git(
            ["ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", *paths], root
        )
    else:
        raw = git(["ls-tree", "-r", "--name-only", "-z", rev, "--", *paths], root)
    return sorted({p for p in raw.decode().split("\0") if p.endswith(SUFFIXES)})


# --- one side of a comparison ------------------------------------------------------


@dataclass
class Side:
    """The files of one revision (or the working tree when `rev` is None)."""

    root: Path
    rev: str | None
    scratch: Path | None = None
    _data: dict[str, bytes | None] = field(default_factory=dict)
    _written: set[str] = field(default_factory=set)

    def data(self, path: str) -> bytes | None:
        if path not in self._data:
            self._data[path] = self._read(path)
        return self._data[path]

    def text(self, path: str) -> str | None:
        data = self.data(path)
        return None if data is None else data.decode("utf-8", "replace")

    def _read(self, path: str) -> bytes | None:
        if self.rev is None:
            file = self.root / path
            # Only files of this repository (no absolute path, no `..`, no symlink out of it),
            # and never a FIFO or device: reading it could block forever.
            try:
                inside = file.resolve().is_relative_to(self.root.resolve())
            except (OSError, RuntimeError, ValueError):
                return None
            if not inside or not file.is_file():
                return None
            try:
                with file.open("rb") as handle:
                    # One byte over the loader's limit: enough for it to say "too large".
                    return handle.read(MAX_FILE_BYTES + 1)
            except OSError:
                return None
        try:
            return git(["show", f"{self.rev}:{path}"], self.root)
        except UsageError:
            return None

    def _prefetch(self, names: Sequence[str]) -> None:
        """Read many files of the revision with one git process instead of one each (a
        directory of 400 fragments took 400 `git show`s)."""
        if self.rev is None:
            return
        # cat-file --batch takes one name a line: a name holding a newline is read alone.
        wanted = [n for n in names if n not in self._data and "\n" not in n]
        if not wanted:
            return
        request = "".join(f"{self.rev}:{name}\n" for name in wanted).encode(
            "utf-8", "surrogateescape"
        )
        try:
            raw = git(["cat-file", "--batch"], self.root, request)
        except UsageError:
            return  # each is read on its own then, as before
        at = 0
        for name in wanted:
            header_end = raw.find(b"\n", at)
            if header_end < 0:
                return
            header = raw[at:header_end].split()
            at = header_end + 1
            if len(header) != 3 or header[1] != b"blob":
                self._data[name] = None  # missing (or not a file)
                continue
            size = int(header[2])
            self._data[name] = raw[at : at + size]
            at += size + 1  # the content, then a newline

    def local(self, path: str) -> Path:
        """A real file for `path`, with the files around it, so includes resolve."""
        if self.rev is None or self.scratch is None:
            return self.root / path
        folder = posixpath.dirname(path)
        if folder not in self._written:
            self._written.add(folder)
            names = list_files(self.root, self.rev, [folder or "."])
            self._prefetch(names)
            for name in names:
                data = self.data(name)
                if data is not None:
                    target = self.scratch / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
        return self.scratch / path


@contextmanager
def _side(root: Path, rev: str | None) -> Iterator[Side]:
    if rev is None:
        yield Side(root, None)
        return
    with tempfile.TemporaryDirectory(prefix="ocsrun-diff-") as scratch:
        yield Side(root, rev, Path(scratch))


@dataclass(frozen=True, slots=True)
class Loaded:
    text: str | None
    runbook: m.Runbook | None
    error: str = ""


def load_side(side: Side, path: str) -> Loaded:
    from ocsrun.runbook.build import load_runbook

    # Load first: the loader reports unreadable, binary or non-regular files precisely.
    try:
        runbook = load_runbook(side.local(path), path)
    except OcsrunError as error:
        where = side.rev or "working tree"
        return Loaded(
            side.text(path) if side.rev else None, None, f"does not load at {where}: {error}"
        )
    return Loaded(side.text(path), runbook)


def _data(text: str | None) -> dict[str, Any] | None:
    """The YAML data if this is an ocsrun file, else None (other YAML in the repo is ignored)."""
    if text is None:
        return None
    from ocsrun.runbook.loader import load_text

    # The runbook loader, not yaml.safe_load: any YAML file of a pull request passes here, and
    # only the loader has limits (nesting past the parser's recursion, aliases, size).
    try:
        data = load_text(text.encode("utf-8", "surrogateescape"), "<diff>").data
    except OcsrunError:
        return {"kind": "runbook"} if "ocsrun/" in text else None
    if not isinstance(data, dict) or not str(data.get("format", "")).startswith("ocsrun/"):
        return None
    return data


# --- comparing -------------------------------------------------------------------


def compare(
    old: Loaded | None,
    new: Loaded | None,
    names: tuple[str | None, str | None],
    via: tuple[str, ...] = (),
    status: str = "",
) -> FileDiff:
    old_path, new_path = names
    status = status or _status(old_path, new_path)
    error = (old.error if old else "") or (new.error if new else "")
    if error:
        return FileDiff(old_path, new_path, status, (), error, via)
    changes: list[Change] = []
    if old is None and new is not None and new.runbook:
        changes.append(_whole(Kind.RUNBOOK_ADDED, new.runbook, "added"))
    elif new is None and old is not None and old.runbook:
        changes.append(_whole(Kind.RUNBOOK_REMOVED, old.runbook, "removed"))
    elif old and new and old.runbook and new.runbook:
        if status == "renamed":
            changes.append(
                Change(
                    Kind.RUNBOOK_RENAMED,
                    "",
                    "file",
                    f"file renamed from {old_path}",
                    old_path,
                    new_path,
                )
            )
        with gc_paused():  # many small acyclic objects (see gc_paused)
            semantic = diff_runbooks(old.runbook, new.runbook)
        text_only = diff_texts(old.text or "", new.text or "") if not semantic else None
        changes += semantic or ([text_only] if text_only else [])
    if status == "modified" and not changes:
        status = "unchanged"
    return FileDiff(old_path, new_path, status, tuple(changes), "", via)


def _status(old: str | None, new: str | None) -> str:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    return "modified" if old == new else "renamed"


def _whole(kind: Kind, runbook: m.Runbook, verb: str) -> Change:
    steps = m.walk(runbook.steps)
    gates = sum(1 for _, s in steps if s.gate is not None)
    summary = f"{runbook.kind} `{runbook.id}` {verb} ({len(steps)} steps, {gates} gates)"
    return Change(kind, "", "file", summary, None, runbook.id)


def compare_paths(old: Path, new: Path) -> FileDiff:
    """`ocsrun diff OLD NEW`: two files on disk."""
    for path in (old, new):
        if not path.exists():
            raise UsageError(f"no such file: {path}")
        if not path.is_file():
            raise UsageError(f"{path}: not a regular file")
    here = Side(Path(), None)
    sides = [load_side(here, str(path)) for path in (old, new)]
    # Two different files are compared as versions of one runbook, not as a rename.
    return compare(sides[0], sides[1], (str(old), str(new)), status="modified")


def compare_revisions(
    base: str, head: str | None, paths: Sequence[str], cwd: Path
) -> list[FileDiff]:
    """`ocsrun diff --git BASE [HEAD] [PATH...]`: every runbook that differs, in path order."""
    root = repo_root(cwd)
    specs = [_repo_relative(root, cwd, p) for p in paths]
    for rev in (base, head):
        if rev is not None and not is_revision(rev, root):
            raise UsageError(f"not a git revision: {rev}")
    entries = [e for e in changed_files(root, base, head, specs) if _is_yaml(e)]
    with _side(root, base) as old_side, _side(root, head) as new_side:
        return _Comparison(root, old_side, new_side, specs).run(entries)


def _repo_relative(root: Path, cwd: Path, path: str) -> str:
    absolute = (cwd / path).resolve()
    try:
        return absolute.relative_to(root.resolve()).as_posix() or "."
    except ValueError:
        raise UsageError(f"{path} is outside the repository {root}") from None


def _is_yaml(entry: NameStatus) -> bool:
    return any(p is not None and p.endswith(SUFFIXES) for p in (entry.old, entry.new))


@dataclass
class _Comparison:
    root: Path
    old: Side
    new: Side
    specs: list[str]

    def run(self, entries: list[NameStatus]) -> list[FileDiff]:
        runbooks: list[NameStatus] = []
        fragments: list[NameStatus] = []
        for entry in entries:
            kinds = {self._kind(self.old, entry.old), self._kind(self.new, entry.new)} - {None}
            if "runbook" in kinds:
                runbooks.append(entry)
            elif "fragment" in kinds:
                fragments.append(entry)
        users = self._users({f.old or "" for f in fragments} | {f.new or "" for f in fragments})
        listed = {e.new or e.old for e in runbooks}
        for path in sorted(users):
            if path not in listed:
                runbooks.append(NameStatus("M", path, path))
        out = [self._one(e, tuple(sorted(users.get(e.new or "", ())))) for e in runbooks]
        out = [d for d in out if d.status != "unchanged" or d.error]
        shown_via = {f for d in out if d.changes for f in d.via}
        for entry in fragments:
            if (entry.new or entry.old) not in shown_via:
                out.append(self._one(entry, ()))
        out = [d for d in out if d.status != "unchanged" or d.error]
        return sorted(out, key=lambda d: d.new_path or d.old_path or "")

    def _kind(self, side: Side, path: str | None) -> str | None:
        if path is None:
            return None
        data = _data(side.text(path))
        return None if data is None else str(data.get("kind", "runbook"))

    def _one(self, entry: NameStatus, via: tuple[str, ...]) -> FileDiff:
        old = load_side(self.old, entry.old) if entry.old else None
        new = load_side(self.new, entry.new) if entry.new else None
        return compare(old, new, (entry.old, entry.new), via)

    def _users(self, fragments: set[str]) -> dict[str, set[str]]:
        """Runbooks (at the new side) that include any of `fragments`, directly or not."""
        fragments.discard("")
        if not fragments:
            return {}
        found: dict[str, set[str]] = {}
        for path in list_files(self.root, self.new.rev, self.specs):
            data = _data(self.new.text(path))
            if data is None or data.get("kind", "runbook") != "runbook":
                continue
            reached, too_deep = self._includes(path, data, set())
            # Past the depth limit the runbook is refused (include-depth) whatever it reaches:
            # show it with every changed fragment, so its load error is reported.
            hit = set(fragments) if too_deep else reached & fragments
            if hit:
                found[path] = hit
        return found

    def _includes(self, path: str, data: dict[str, Any], seen: set[str]) -> tuple[set[str], bool]:
        """The fragments `path` includes, directly or not, and whether the chain goes deeper
        than MAX_INCLUDE_DEPTH: iteratively, never through a reference that leaves the
        repository (absolute, or with `..`: the validator refuses those)."""
        out: set[str] = set()
        level = [(path, data)]
        for _ in range(MAX_INCLUDE_DEPTH):
            following: list[tuple[str, dict[str, Any]]] = []
            for current, current_data in level:
                for ref in uses_refs(current_data.get("steps")):
                    if ref_problem(ref):
                        continue
                    target = posixpath.normpath(posixpath.join(posixpath.dirname(current), ref))
                    if target in seen or target.startswith("../"):
                        continue
                    seen.add(target)
                    out.add(target)
                    inner = _data(self.new.text(target))
                    if inner is not None:
                        following.append((target, inner))
            if not following:
                return out, False
            level = following
        return out, True
