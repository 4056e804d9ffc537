"""Speed of `ocsrun serve` (issue 17): the runs page over 10,000 runs, one run of 10,000 records.

    python benchmarks/web.py               # about a minute on 2 cores
    python benchmarks/web.py --reps 15     # more repetitions per page

The runs are written through the store protocol (on a tmpfs when /dev/shm exists: fsync is
not what is measured here) and served by `ocsrun serve` in a child process, as a user runs it.
Each page is fetched over HTTP, interleaved with a baseline fetched in the same run (a static
file: the server's own round trip), and every response is checked (status and content) before
its time counts. Reported: median and best, against the issue's targets, and the median's
ratio to the baseline's. The first (cold) request of each page is shown apart: it fills the
store's per-run cache; a server answers every later request warm.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from ocsrun.store.open import open_store  # noqa: E402
from ocsrun.store.protocol import RunInfo  # noqa: E402

RUNS = 10_000
RECORDS = 10_000
TARGETS_MS = {"runs page (10,000 runs, page 1)": 300.0, "run page (10,000 records)": 500.0}


def info(store_run_id: str, n: int, **changes: object) -> RunInfo:
    fields: dict[str, object] = {
        "run_id": store_run_id,
        "runbook_id": f"ocs2007.bench-{n % 7}",
        "runbook_title": "A benchmark run",
        "runbook_version": "1.0.0",
        "runbook_path": "bench.yaml",
        "target": f"host{n % 100:02d}.contoso.com",
        "operator": f"op{n % 5}@ws{n % 3}",
        "started": f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00.000000Z",
        "rehearsal": n % 10 == 0,
        "params": {"site": "Paris"},
    }
    fields.update(changes)
    return RunInfo(**fields)  # type: ignore[arg-type]


def build_state(state: Path) -> str:
    """RUNS small runs and one run of RECORDS records; returns the big run's id."""
    store = open_store(state)
    for n in range(RUNS - 1):
        # Ids made here, unique by n: thousands a second would make new_run_id's random suffix
        # collide now and then.
        run_id = f"20261125T{n // 3600 % 24:02d}{n // 60 % 60:02d}{n % 60:02d}Z-{n:06x}"
        with store.create_run(info(run_id, n), b"") as handle:
            handle.append("run.started", {"params": {"site": "Paris"}})
            handle.append("step.done", {"step": f"s{n % 9}", "attempt": 1})
            if n % 3:
                handle.append("run.finished", {"outcome": "done"})
    big = info(store.new_run_id(), RUNS, started="2026-12-31T23:59:00.000000Z")
    with store.create_run(big, b"") as handle:
        handle.append("run.started", {"params": {"site": "Paris"}})
        for step in range((RECORDS - 2) // 2):
            path = f"loop[item-{step}].check"
            handle.append("step.started", {"step": path, "attempt": 1, "title": "Check"})
            handle.append("step.done", {"step": path, "attempt": 1})
        handle.append("run.finished", {"outcome": "done"})
    return big.run_id


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def fetch(url: str) -> tuple[float, str]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        body = response.read().decode("utf-8")
        status = response.status
    took = time.perf_counter() - start
    assert status == 200, (url, status)
    return took, body


def start_server(state: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`ocsrun serve` over STATE in a child process, once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCSRUN_")}
    env["PYTHONPATH"] = str(ROOT)
    argv = ["serve", "--state-dir", str(state), "--port", str(port)]
    child = subprocess.Popen(
        [sys.executable, "-m", "ocsrun", *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            fetch(f"{url}/static/style.css")
            return child, url
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def pages(url: str, big: str) -> dict[str, Callable[[], float]]:
    """Each page's fetch, its response checked before its time counts; "baseline" last."""

    def runs_page() -> float:
        took, body = fetch(f"{url}/runs")
        assert f"{RUNS} runs, 1\u201350 shown" in body, body[:2000]
        assert body.count('<tr class="status-') == 50
        return took

    def run_page() -> float:
        took, body = fetch(f"{url}/runs/{big}")
        assert f"<dt>Records</dt><dd>{RECORDS}</dd>" in body
        assert f"ok: {RECORDS} records, chain intact" in body
        assert body.count('<tr class="outcome-done">') == (RECORDS - 2) // 2
        return took

    def baseline() -> float:
        took, body = fetch(f"{url}/static/style.css")
        assert "font:" in body
        return took

    names = list(TARGETS_MS)
    return {names[0]: runs_page, names[1]: run_page, "baseline": baseline}


def report(cold: dict[str, float], times: dict[str, list[float]]) -> bool:
    base_median = statistics.median(times["baseline"])
    print(f"\n{'page':<34} {'cold':>8} {'median':>8} {'best':>8} {'target':>8} {'x base':>8}")
    ok_all = True
    for name, target in TARGETS_MS.items():
        median, best = statistics.median(times[name]), min(times[name])
        ok = median * 1000 <= target
        ok_all &= ok
        print(
            f"{name:<34} {cold[name] * 1000:7.0f}ms {median * 1000:7.0f}ms {best * 1000:7.0f}ms"
            f" {target:6.0f}ms {median / base_median:7.0f}x  {'ok' if ok else 'OVER'}"
        )
    print(f"{'baseline (static file)':<34} {'':>8} {base_median * 1000:7.1f}ms")
    return ok_all


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args()
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    work = Path(tempfile.mkdtemp(prefix="ocsrun-web-bench-", dir=base))
    child = None
    try:
        started = time.perf_counter()
        big = build_state(work / "state")
        took = time.perf_counter() - started
        print(f"wrote {RUNS} runs ({RECORDS} records in {big}) in {took:.1f} s")
        child, url = start_server(work / "state")
        fetchers = pages(url, big)
        cold = {name: fetch_page() for name, fetch_page in fetchers.items()}
        times: dict[str, list[float]] = {name: [] for name in fetchers}
        for _ in range(args.reps):  # interleaved, so a burst of load hits every side
            for name, fetch_page in fetchers.items():
                times[name].append(fetch_page())
        return 0 if report(cold, times) else 1
    finally:
        if child is not None:
            child.terminate()
            child.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
