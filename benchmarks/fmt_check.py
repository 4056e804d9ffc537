"""`ocsrun fmt --check` against `ocsrun validate` on the same 1,000 runbooks (issue 13).

    python benchmarks/fmt_check.py            # about a minute on 2 cores
    python benchmarks/fmt_check.py --reps 7

Self-contained (the main suite is benchmarks/run.py): it writes a corpus of runbooks already in
the canonical layout, then times both commands on it as child processes, interleaved, best of
`--reps`, and prints their ratio against the target (fmt --check at most 3x validate). Every
timed run's exit code and summary line are checked. For information, it also times `ocsrun fmt`
rewriting untidy files (the ruamel.yaml path, taken only by files that need a change).

The corpus: benchmarks/corpus.py's runbooks are written by PyYAML, not in the canonical layout,
and formatting 1,000 of them through ruamel.yaml takes minutes; so DISTINCT of them are formatted
once and the 1,000 files are copies of those under different names (neither command caches
anything by content, so each copy costs what a new file would).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402  (sibling module; benchmarks/ is not a package)

COUNT = 1000
DISTINCT = 50
UNTIDY = 20
TARGET = 3.0


def ocsrun() -> list[str]:
    script = Path(sys.executable).parent / "ocsrun"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ocsrun"]


def timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done


def expect(done: subprocess.CompletedProcess[str], code: int, text: str, what: str) -> None:
    if done.returncode != code or text not in done.stdout + done.stderr:
        raise SystemExit(
            f"{what}: exit {done.returncode} (expected {code}), output lacks {text!r}:\n"
            + (done.stdout + done.stderr)[-2000:]
        )


def build(work: Path) -> tuple[Path, Path]:
    """(a 1,000-file canonical tree, a tree of UNTIDY files in PyYAML's layout)."""
    source = work / "generated"
    corpus.generate(source, DISTINCT)
    untidy = work / "untidy"
    shutil.copytree(source, untidy)
    for extra in sorted(untidy.glob("runbook-*.yaml"))[UNTIDY:]:
        extra.unlink()
    done = subprocess.run(
        [*ocsrun(), "fmt", str(source)], capture_output=True, text=True, check=False
    )
    expect(done, 0, f"{DISTINCT + corpus.FRAGMENTS} files reformatted", "formatting the corpus")
    tidy = work / "tidy"
    shutil.copytree(source / "fragments", tidy / "fragments")
    originals = sorted(source.glob("runbook-*.yaml"))
    for index in range(COUNT):
        original = originals[index % len(originals)]
        os.link(original, tidy / f"runbook-{index:05d}.yaml")
    return tidy, untidy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    total = COUNT + corpus.FRAGMENTS
    with tempfile.TemporaryDirectory(prefix="ocsrun-fmt-bench-") as temporary:
        tidy, untidy = build(Path(temporary))
        validate_times, check_times = [], []
        for _ in range(args.reps):  # interleaved: a burst of load hits both
            seconds, done = timed([*ocsrun(), "validate", str(tidy)])
            expect(done, 0, f"{total} files checked: no problems", "validate")
            validate_times.append(seconds)
            seconds, done = timed([*ocsrun(), "fmt", "--check", str(tidy)])
            expect(done, 0, f"0 files would be reformatted, {total} left unchanged", "fmt --check")
            check_times.append(seconds)
        rewrite = Path(temporary) / "rewrite"
        shutil.copytree(untidy, rewrite)
        rewrite_seconds, done = timed([*ocsrun(), "fmt", str(rewrite)])
        changed = UNTIDY + corpus.FRAGMENTS
        expect(done, 0, f"{changed} files reformatted", "fmt (rewrite)")
        untidy_validate, done = timed([*ocsrun(), "validate", str(untidy)])
        expect(done, 0, f"{changed} files checked: no problems", "validate (untidy)")
    best_validate, best_check = min(validate_times), min(check_times)
    ratio = best_check / best_validate
    verdict = "ok" if ratio <= TARGET else "OVER TARGET"
    print(f"validate on {total} files:       best {best_validate:.2f} s of {args.reps}")
    print(f"fmt --check on the same files: best {best_check:.2f} s of {args.reps}")
    print(f"ratio fmt --check / validate: {ratio:.2f}x (target <= {TARGET:.0f}x): {verdict}")
    print(
        f"for information: fmt rewriting {changed} untidy files {rewrite_seconds:.2f} s, "
        f"validate on them {untidy_validate:.2f} s (ruamel.yaml round trip)"
    )
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
