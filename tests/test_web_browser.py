"""`ocsrun serve` in a real browser: the distribution's headless Chromium, driven through its
chromedriver by Selenium (no browser is downloaded). Screenshots go to test-artifacts/web/.

Nothing here is timed: a live update is waited for with a timeout, never measured against one.
The page polls once a second (ocsrun/web/static/app.js), so a change shows within about that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DATA, ROOT, cli_env, journal_records, run_child, serving
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from test_web import HOSTILE_FILE, HOSTILE_NOTE, TOKEN, hostile_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = ROOT / "test-artifacts" / "web"
LAST_STEP = "table.timeline tbody tr:last-child"
WAIT_S = 20  # a generous ceiling for a loaded CI machine; the page polls every second


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    # In CI the browser must be there (.ci/run installs it): a missing one fails, never skips.
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        "headless tests need the distribution's chromium and chromium-driver "
        "(apt-get install chromium chromium-driver)"
    )
    profile = tempfile.mkdtemp(prefix="ocsrun-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # running as root in CI
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    print(f"screenshot: {path}")
    return path


def wait(driver: WebDriver, what: str, condition: object) -> object:
    # A live update replaces the elements a condition is looking at: look again.
    ignored = (StaleElementReferenceException, NoSuchElementException)
    waiting = WebDriverWait(driver, WAIT_S, poll_frequency=0.05, ignored_exceptions=ignored)
    try:
        return waiting.until(condition, what)  # type: ignore[call-overload]
    except TimeoutException:
        screenshot(driver, "timed-out")
        raise


def test_runs_page_lists_a_run(browser: WebDriver, tmp_path: Path) -> None:
    state = tmp_path / "state"
    answers = ROOT / "examples" / "rehearsals" / "deactivate-edge-server.yaml"
    done = run_child(state, "rehearse", "ocs2007.deactivate-edge-server", "--answers", str(answers))
    assert done.returncode == 0, done.stderr
    (run_id,) = os.listdir(state / "runs")
    with serving(state) as url:
        browser.get(f"{url}/runs")
        link = browser.find_element(By.LINK_TEXT, run_id)
        row = link.find_element(By.XPATH, "./ancestor::tr").text
        assert "ocs2007.deactivate-edge-server" in row and "finished" in row
        screenshot(browser, "runs-page")
        link.click()
        heading = browser.find_element(By.TAG_NAME, "h1").text
        assert heading == f"Rehearsal {run_id}: finished"
        screenshot(browser, "run-page-finished")


def test_a_run_in_another_process_appears_and_advances_on_the_open_page(
    browser: WebDriver, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with serving(state) as url:
        browser.get(f"{url}/runs")
        assert "0 runs" in browser.find_element(By.CSS_SELECTOR, "p.count").text
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ocsrun",
                "run",
                str(DATA / "web" / "slow.yaml"),
                "--answers",
                str(DATA / "web" / "slow.answers.yaml"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=cli_env(state),
        )
        try:
            # The page was not reloaded: the run shows up through the live update.
            link = wait(
                browser,
                "the new run on the runs page",
                lambda d: (d.find_elements(By.CSS_SELECTOR, "table.runs a") or [None])[0],
            )
            seen = time.monotonic()
            run_id = link.text  # type: ignore[attr-defined]
            first = journal_records(state, run_id)[0]["ts"]
            print(f"run {run_id}: first record {first}, on the page at monotonic {seen:.3f}")
            screenshot(browser, "runs-page-live")
            link.click()  # type: ignore[attr-defined]
            assert browser.find_element(By.ID, "live").get_attribute("data-live") == "1"
            wait(
                browser,
                "the run's last step done and the run finished, without a reload",
                lambda d: (
                    "finished" in d.find_element(By.TAG_NAME, "h1").text
                    and "done" in d.find_element(By.CSS_SELECTOR, LAST_STEP).text
                    and d.find_element(By.ID, "live").get_attribute("data-live") == "0"
                ),
            )
            steps = [
                row.find_element(By.TAG_NAME, "code").text
                for row in browser.find_elements(By.CSS_SELECTOR, "table.timeline tbody tr")
            ]
            assert steps == ["first", "wait-one", "second", "wait-two", "last"]
            screenshot(browser, "run-page-live-finished")
        finally:
            assert child.wait(timeout=120) == 0, child.stderr.read() if child.stderr else ""
            if child.stderr:
                child.stderr.close()


def test_markup_in_notes_and_evidence_names_is_text_and_runs_no_script(
    browser: WebDriver, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    run_id = hostile_run(state)
    with serving(state) as url:
        browser.get(f"{url}/runs/{run_id}")
        # The run is still open, so the page polls: check after a live update replaced it.
        box = browser.find_element(By.ID, "live")
        assert box.get_attribute("data-live") == "1"
        wait(browser, "a live update", lambda d: box.get_attribute("data-updated"))
        note = browser.find_element(By.CSS_SELECTOR, "div.note").text
        assert note == f"note: {HOSTILE_NOTE}"
        name = browser.find_element(By.CSS_SELECTOR, "div.evidence span.name").text
        assert name == HOSTILE_FILE
        assert browser.find_elements(By.CSS_SELECTOR, "main img, main svg, main script") == []
        assert browser.execute_script("return window.pwned === undefined") is True
        title = browser.find_element(By.TAG_NAME, "h1").text
        assert title.startswith(f"Run {run_id}")
        screenshot(browser, "hostile-run")
        browser.get(f"{url}/runs")
        row = browser.find_element(By.LINK_TEXT, run_id).find_element(By.XPATH, "./ancestor::tr")
        assert "<svg onload=alert(1)>" in row.text and "test.web.<b>hostile</b>" in row.text
        assert browser.execute_script("return window.pwned === undefined") is True


def test_without_the_token_a_non_local_bind_answers_401(browser: WebDriver, tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_id = hostile_run(state)
    with serving(state, "--token", TOKEN, host="0.0.0.0") as url:
        browser.delete_all_cookies()
        browser.get(f"{url}/runs")
        assert browser.find_element(By.TAG_NAME, "body").text.startswith("401 Unauthorized")
        assert run_id not in browser.page_source
        screenshot(browser, "no-token-401")
        browser.get(f"{url}/?token={TOKEN}")
        wait(
            browser,
            "the runs page after the token",
            lambda d: d.find_elements(By.LINK_TEXT, run_id),
        )
        assert TOKEN not in browser.current_url
        browser.get(f"{url}/runs/{run_id}")  # the cookie carries the token from now on
        assert browser.find_element(By.TAG_NAME, "h1").text.startswith(f"Run {run_id}")
