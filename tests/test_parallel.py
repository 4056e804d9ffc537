"""validate_parallel gives exactly what the serial path gives, in the same order.

Correctness only: nothing here is timed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT

from ocsrun.review.reporters import REPORTERS
from ocsrun.runbook import parallel
from ocsrun.runbook.validation import FileResult, expand_paths, validate_paths

sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus


def _plain(results: list[FileResult]) -> list[tuple[str, list[str]]]:
    return [(r.path, [f"{d} ({d.severity.value})" for d in r.diagnostics]) for r in results]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated runbooks, a third of them broken, plus the invalid test cases and the bundled
    runbooks (related ids that resolve only across files)."""
    root = tmp_path_factory.mktemp("mixed")
    corpus.generate(root / "generated", 40, broken_every=3)
    return root


def _paths(*given: Path) -> list[Path]:
    return expand_paths([str(p) for p in given])


@pytest.mark.parametrize("jobs", [2, 3])
def test_parallel_equals_serial(mixed: Path, jobs: int) -> None:
    paths = _paths(mixed, ROOT / "tests" / "data" / "runbooks", ROOT / "runbooks")
    serial = validate_paths([str(p) for p in paths])
    together = parallel.validate_parallel(paths, jobs)
    assert _plain(together) == _plain(serial)
    assert any(r.errors for r in serial)  # the comparison covers findings, not only silence
    for name, report in REPORTERS.items():
        assert report(together) == report(serial), name


def test_unknown_related_across_chunks(tmp_path: Path) -> None:
    # File i names files i-1 and i-2 as related; dropping some files must warn in the others,
    # whichever worker validated them.
    paths = corpus.generate(tmp_path, 40)
    kept = [p for i, p in enumerate(paths) if i % 5 != 0]
    for dropped in set(paths) - set(kept):
        dropped.unlink()  # a file next to the given ones would resolve its id
    serial = validate_paths([str(p) for p in kept])
    together = parallel.validate_parallel(kept, 2)
    assert _plain(together) == _plain(serial)
    assert any(d.rule == "unknown-related" for r in together for d in r.diagnostics)


def test_stable_across_runs(mixed: Path) -> None:
    paths = _paths(mixed)
    first = _plain(parallel.validate_parallel(paths, 2))
    assert _plain(parallel.validate_parallel(paths, 2)) == first


def test_one_job_or_few_files_is_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = corpus.generate(tmp_path, 3)
    started = []
    # Imported where the pool starts (one job does not import it at all).
    import concurrent.futures

    monkeypatch.setattr(
        concurrent.futures, "ProcessPoolExecutor", lambda *a, **k: started.append(1)
    )
    assert _plain(parallel.validate_parallel(paths, 1)) == _plain(
        validate_paths([str(p) for p in paths])
    )
    parallel.validate_parallel(paths, 4)  # 3 files: not worth a pool
    assert started == []


def test_chunks_cover_everything_in_order() -> None:
    paths = [Path(f"f{i}") for i in range(23)]
    for count in (1, 2, 5, 23, 40):
        chunks = parallel._chunks(paths, count)
        assert [p for chunk in chunks for p in chunk] == paths
        assert all(chunks)
        sizes = {len(c) for c in chunks}
        assert max(sizes) - min(sizes) <= 1


def test_resolve_jobs() -> None:
    assert parallel.resolve_jobs(3) == 3
    assert parallel.resolve_jobs(0) >= 1


def test_validate_given_matches_validate_paths(tmp_path: Path) -> None:
    from ocsrun.errors import UsageError

    corpus.generate(tmp_path, 4, broken_every=2)
    given = [str(tmp_path), str(ROOT / "runbooks")]
    assert _plain(parallel.validate_given(given, 1)) == _plain(validate_paths(given))
    with pytest.raises(UsageError):
        parallel.validate_given([], 2)
    with pytest.raises(UsageError):
        parallel.validate_given([str(tmp_path / "missing.yaml")], 2)


def test_id_of_the_wrong_type_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    paths = corpus.generate(tmp_path, 20)
    text = paths[3].read_text(encoding="utf-8")
    paths[3].write_text(text.replace("  id: bench.runbook-00003\n", "  id: [a, b]\n", 1))
    serial = validate_paths([str(tmp_path)])
    assert any(d.rule == "schema" for r in serial for d in r.diagnostics)
    expanded = _paths(tmp_path)
    assert _plain(parallel.validate_parallel(expanded, 1)) == _plain(serial)
    assert _plain(parallel.validate_parallel(expanded, 2)) == _plain(serial)


def test_warm_up_compiles_what_workers_need_before_forking() -> None:
    from ocsrun.runbook import schema, validation
    from ocsrun.runbook.rules import jinja

    schema._quick_check.cache_clear()
    jinja.environment.cache_clear()
    validation.warm_up()
    assert schema._quick_check.cache_info().currsize == 1
    assert jinja.environment.cache_info().currsize == 1


def test_parallel_uses_only_public_names_of_validation() -> None:
    import ast

    from ocsrun.runbook import parallel

    tree = ast.parse(Path(parallel.__file__).read_text(encoding="utf-8"))
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "ocsrun.runbook.validation"
        for alias in node.names
    ]
    assert imported and not [name for name in imported if name.startswith("_")]
    assert "getattr" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
