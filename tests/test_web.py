"""`ocsrun serve` over HTTP: pages, JSON, escaping, headers, read-only, the token.

A real server in a child process (`conftest.serving`) over a state directory holding real
runs; the browser's view of the same pages is in test_web_browser.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DATA, ROOT, cli_env, journal_records, run_child, serving

from ocsrun.run import events as ev
from ocsrun.run import views
from ocsrun.store.open import open_store
from ocsrun.store.protocol import RunInfo

HOSTILE_NOTE = '<script>window.pwned = 1</script> and <img src=x onerror="window.pwned=2">'
HOSTILE_FILE = "<img src=x onerror=alert(1)>.log"
TOKEN = "t0ken-for-the-tests-only"


def hostile_run(state: Path) -> str:
    """A run whose notes, evidence names, target and operator carry markup."""
    store = open_store(state)
    info = RunInfo(
        run_id=store.new_run_id(),
        runbook_id="test.web.<b>hostile</b>",
        runbook_title="<i>Hostile</i> & co",
        runbook_version="1.0",
        runbook_path="hostile.yaml",
        target="<svg onload=alert(1)>",
        operator="mallory@<script>",
        started="2026-11-25T01:30:00.000000Z",
        rehearsal=False,
        params={"who": "<script>alert(1)</script>"},
    )
    with store.create_run(info, b"") as handle:
        handle.append(ev.RUN_STARTED, {"params": dict(info.params)})
        handle.append(ev.STEP_STARTED, {"step": "look", "attempt": 1, "title": "<u>Look</u>"})
        handle.append(ev.STEP_NOTE, {"step": "look", "attempt": 1, "text": HOSTILE_NOTE})
        handle.append(
            ev.GATE_PASSED,
            {"step": "look", "path": HOSTILE_FILE, "size": 3, "sha256": "ab" * 32},
        )
        handle.append(ev.STEP_DONE, {"step": "look", "attempt": 1})
    return info.run_id


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("web") / "state"
    answers = ROOT / "examples" / "rehearsals" / "deactivate-edge-server.yaml"
    done = run_child(state, "rehearse", "ocs2007.deactivate-edge-server", "--answers", str(answers))
    assert done.returncode == 0, done.stderr
    secret_answers = state.parent / "secret.yaml"
    secret_answers.write_text(
        "params: {token: sesame}\ndefaults: {after_step: done}\n"
        "steps: {closed: {window: override, override_reason: CAB CHG-77}}\n",
        encoding="utf-8",
    )
    done = run_child(
        state, "run", str(DATA / "exec" / "window.yaml"), "--answers", str(secret_answers)
    )
    assert done.returncode == 0, done.stderr
    hostile_run(state)
    return state


@pytest.fixture(scope="module")
def url(state: Path) -> Iterator[str]:
    with serving(state) as base:
        yield base


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8")


def run_ids(state: Path) -> dict[str, str]:
    """runbook id -> run id of the fixture's runs."""
    return {s.info.runbook_id: s.info.run_id for s in open_store(state).list_runs()}


def test_runs_page_and_api_list_every_run(url: str, state: Path) -> None:
    status, headers, html = get(f"{url}/runs")
    assert status == 200 and headers["content-type"].startswith("text/html")
    for run_id in run_ids(state).values():
        assert f'href="/runs/{run_id}"' in html
    status, _, body = get(f"{url}/api/runs")
    data = json.loads(body)
    assert data["total"] == 3 and {r["run_id"] for r in data["runs"]} == set(
        run_ids(state).values()
    )
    assert data["runs"] == [views.summary_data(s) for s in open_store(state).list_runs()]


def test_filters_and_paging(url: str, state: Path) -> None:
    data = json.loads(get(f"{url}/api/runs?runbook=test.exec.window")[2])
    assert [r["runbook_id"] for r in data["runs"]] == ["test.exec.window"]
    data = json.loads(get(f"{url}/api/runs?limit=1&offset=1")[2])
    assert (data["total"], len(data["runs"]), data["offset"]) == (3, 1, 1)
    html = get(f"{url}/runs?status=finished&q=edge")[2]
    assert run_ids(state)["ocs2007.deactivate-edge-server"] in html
    assert run_ids(state)["test.exec.window"] not in html
    html = get(f"{url}/runs?operator=nobody@nowhere")[2]
    assert "No runs match these filters." in html


def test_run_page_header_timeline_and_api(url: str, state: Path) -> None:
    run_id = run_ids(state)["ocs2007.deactivate-edge-server"]
    head = journal_records(state, run_id)[-1]["hash"]
    status, _, html = get(f"{url}/runs/{run_id}")
    assert status == 200
    assert f'<code class="hash">{head}</code>' in html
    assert "ok: " in html and "chain intact" in html
    assert "Rehearsal " in html and "yes: nothing was executed" in html
    assert 'data-live="0"' in html  # finished: the page does not poll
    detail = json.loads(get(f"{url}/api/runs/{run_id}")[2])
    assert detail["head"] == head and detail["verify"]["ok"] is True
    assert detail["run"]["status"] == "finished"
    assert detail == json.loads(json.dumps(views.run_detail(open_store(state), run_id).as_data()))


def test_report_download_is_the_cli_report(url: str, state: Path) -> None:
    run_id = run_ids(state)["test.exec.window"]
    status, headers, text = get(f"{url}/runs/{run_id}/report.md")
    assert status == 200
    assert headers["content-disposition"] == f'attachment; filename="{run_id}.md"'
    done = run_child(state, "runs", "report", run_id)
    assert text + "\n" == done.stdout
    assert "CAB CHG-77" in text


def test_the_runbook_as_the_run_used_it(url: str, state: Path) -> None:
    run_id = run_ids(state)["ocs2007.deactivate-edge-server"]
    status, headers, html = get(f"{url}/runs/{run_id}/runbook")
    assert status == 200
    assert "Deactivate an edge server" in html
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "'unsafe-inline'" not in headers["content-security-policy"]


def test_secrets_never_appear(url: str, state: Path) -> None:
    run_id = run_ids(state)["test.exec.window"]
    pages = [
        f"/runs/{run_id}",
        f"/runs/{run_id}?fragment=1",
        f"/runs/{run_id}/report.md",
        f"/api/runs/{run_id}",
        "/api/runs",
        "/runs",
    ]
    for page in pages:
        status, _, body = get(url + page)
        assert status == 200, page
        assert "sesame" not in body, page
    assert "***" in get(f"{url}/runs/{run_id}")[2]
    # (The runbook page is left out: this test runbook spells the expected value in its own
    # command line, which is runbook text, not the secret given to the run.)


def test_everything_from_journals_is_escaped(url: str, state: Path) -> None:
    run_id = run_ids(state)["test.web.<b>hostile</b>"]
    for page in (f"/runs/{run_id}", f"/runs/{run_id}?fragment=1", "/runs", "/runs?fragment=1"):
        html = get(url + page)[2]
        assert "<b>hostile</b>" not in html and "&lt;b&gt;hostile&lt;/b&gt;" in html, page
        assert not re.search(r"<(svg|img|b|i|u)\b", html), page  # no tag from a journal
        assert not re.search(r"<[^>]*\son(error|load)=", html), page  # no handler attribute
    html = get(f"{url}/runs/{run_id}")[2]
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html
    row = get(f"{url}/runs")[2].split(f'href="/runs/{run_id}"')[1].split("</tr>")[0]
    assert "<td><code>look</code></td>" in row  # the step the run is at
    assert "&lt;img src=x onerror=alert(1)&gt;.log" in html
    # The only script elements are the page's own file; none inline.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/app.js" defer>']


def test_every_response_has_a_policy_forbidding_inline_script(url: str, state: Path) -> None:
    run_id = run_ids(state)["ocs2007.deactivate-edge-server"]
    for page in ("/runs", f"/runs/{run_id}", "/api/runs", "/static/app.js", "/no/such/page"):
        _, headers, _ = get(url + page)
        policy = headers["content-security-policy"]
        assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy, page
        assert headers["x-content-type-options"] == "nosniff"


def test_only_loopback_host_names_on_a_loopback_bind(url: str) -> None:
    # A page on another site reaching 127.0.0.1 through a rebound DNS name sends that name.
    assert get(f"{url}/api/runs", {"Host": "attacker.example"})[0] == 400
    assert get(f"{url}/api/runs", {"Host": "localhost"})[0] == 200


def test_read_only_and_unknown_runs(url: str) -> None:
    request = urllib.request.Request(f"{url}/runs", data=b"x=1", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 405
    status, _, html = get(f"{url}/runs/20200101T000000Z-000000")
    assert status == 404 and "20200101T000000Z-000000" in html
    status, _, body = get(f"{url}/api/runs/nope")
    assert status == 404 and "error" in json.loads(body)


def test_a_non_local_bind_needs_a_token(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ocsrun", "serve", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("ocsrun: error: --host 0.0.0.0 is reachable")
    assert len(done.stderr.strip().splitlines()) == 1


def test_with_a_token_every_request_must_carry_it(state: Path) -> None:
    with serving(state, "--token", TOKEN, host="0.0.0.0") as base:
        for page in ("/runs", "/api/runs", "/static/app.js", "/"):
            status, headers, _ = get(base + page)
            assert status == 401, page
            assert headers["www-authenticate"].startswith("Bearer")
        assert get(f"{base}/api/runs", {"Authorization": "Bearer wrong-token-wrong"})[0] == 401
        assert get(f"{base}/api/runs", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as first:
            opener.open(f"{base}/runs?token={TOKEN}&status=finished", timeout=30)
        assert first.value.code == 303
        assert first.value.headers["location"] == "/runs?status=finished"
        cookie = first.value.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        cookie_header = {"Cookie": cookie.split(";")[0]}
        assert get(f"{base}/runs?status=finished", cookie_header)[0] == 200


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_the_same_pages_over_the_postgresql_store(tmp_path: Path, pg_url: str) -> None:
    state = tmp_path / "unused-state"
    answers = ROOT / "examples" / "rehearsals" / "deactivate-edge-server.yaml"
    where = ("--store", pg_url)
    done = run_child(
        state, "rehearse", "ocs2007.deactivate-edge-server", "--answers", str(answers), *where
    )
    assert done.returncode == 0, done.stderr
    (summary,) = open_store(pg_url).list_runs()
    run_id = summary.info.run_id
    handle = open_store(pg_url).open_run(run_id)
    head = list(handle.records())[-1].hash
    handle.close()
    with serving(state, store=pg_url) as url:
        data = json.loads(get(f"{url}/api/runs")[2])
        assert [r["run_id"] for r in data["runs"]] == [run_id]
        assert (data["runs"][0]["status"], data["runs"][0]["last_step"]) == ("finished", None)
        status, _, html = get(f"{url}/runs/{run_id}")
        assert status == 200 and f'<code class="hash">{head}</code>' in html
        assert "chain intact" in html
        report = get(f"{url}/runs/{run_id}/report.md")[2]
        assert report + "\n" == run_child(state, "runs", "report", run_id, *where).stdout
        assert get(f"{url}/runs/{run_id}/runbook")[0] == 200
    assert not state.exists()  # nothing went to a local directory
