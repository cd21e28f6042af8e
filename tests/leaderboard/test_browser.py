"""``podium board`` in a real browser: headless Debian chromium over loopback, driven by selenium."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from board_bundles import ROOT
from leaderboard import first_paint

pytestmark = pytest.mark.browser

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1100"]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip("needs Debian's chromium and chromedriver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install '.[test]')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def board(bundle: Path, tmp_path: Path) -> Iterator[str]:
    """``podium board`` on a free loopback port, up and healthy; stopped (with its Streamlit child) afterwards."""
    with _serve(bundle, tmp_path) as url:
        yield url


@pytest.fixture
def peft_board(tmp_path: Path) -> Iterator[str]:
    """``podium board`` over a small synthetic bundle that has a PEFT pool next to its training pools."""
    from leaderboard.synthetic import SyntheticConfig, write_synthetic_bundle

    bundle = write_synthetic_bundle(tmp_path / "bundles", SyntheticConfig(
        submissions=4, workloads=6, studies=1, tuning_points=2, scoring_seeds=3, evals_per_trial=4, bootstrap=30,
        release="tiny", peft_submissions=6))
    with _serve(bundle, tmp_path) as url:
        yield url


@contextmanager
def _serve(bundle: Path, tmp_path: Path) -> Iterator[str]:
    port, log = _free_port(), tmp_path / "board.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "harness.cli", "board", "--bundle", str(bundle), "--port",
                                    str(port), "--headless"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"podium board exited:\n{log.read_text()}"
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"the board did not come up:\n{log.read_text()}"
            time.sleep(0.3)
        assert url in log.read_text()  # the URL is printed
        yield url
    finally:
        process.terminate()  # podium board stops its Streamlit child on SIGTERM
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started (start_new_session above)
            process.wait()


def _rows(driver) -> list[str]:
    """Submissions in the leaderboard grid, read in one script call (the grid redraws while Streamlit reruns).
    Its accessible table carries each cell's text; the submission cell is the link to its page."""
    texts = driver.execute_script(
        "const grid = document.querySelector('[data-testid=\"stDataFrame\"]');"
        "return grid ? Array.from(grid.querySelectorAll('table[role=grid] tbody tr')).map(r => r.textContent) : [];")
    found = (re.search(r"[?&]sub=([^&]+)", text or "") for text in texts)
    return [m.group(1) for m in found if m]


def _wait_for(predicate, timeout: float = 30.0):
    """Poll ``predicate`` until it is truthy; an element that went stale or is not there yet counts as not yet."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("timed out waiting for the page")


def _screenshot(driver, tmp_path: Path, root: Path, name: str) -> Path:
    shot = tmp_path / name
    driver.save_screenshot(str(shot))
    artifacts = root / "tests" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, artifacts / name)
    return shot


def test_board_in_a_browser(browser, board: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(board)
    _wait_for(lambda: _rows(browser) == ["fails_variant", "adamw", "fast", "never"], 60)
    assert "Leaderboard" in browser.find_element(By.TAG_NAME, "h1").text
    search = _wait_for(lambda: browser.find_element(By.CSS_SELECTOR, 'input[aria-label="Search submissions"]'))
    search.send_keys("fa", Keys.ENTER)
    _wait_for(lambda: _rows(browser) == ["fails_variant", "fast"])
    _wait_for(lambda: "q=fa" in browser.current_url)  # the filter is in the permalink
    # adamw and never are hidden by the search, and fast's older run is not ranked: all three listed with reasons
    _wait_for(lambda: "(3)" in browser.find_element(By.CSS_SELECTOR, '[data-testid="stExpander"]').text)
    shot = _screenshot(browser, tmp_path, request.config.rootpath, "board-leaderboard.png")
    assert shot.stat().st_size > 10_000

    browser.get(f"{board}/compare?a=adamw&b=fast")  # a permalink opens the page with its selections
    _wait_for(lambda: any("Compare" in h.text for h in browser.find_elements(By.TAG_NAME, "h1")))
    _wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, '[data-testid="stPlotlyChart"]')) >= 2)
    _screenshot(browser, tmp_path, request.config.rootpath, "board-compare.png")


def test_first_paint_then_the_app(browser, board: str) -> None:
    """The table is in the page as it arrives (leaderboard/first_paint.py), in the app's order; the app's own table
    replaces it; a permalink's view is the app's alone."""
    browser.get(board)  # returns at the load event, before the app has drawn (its script starts after a frame)
    # once in CI, right after the docker tests, the variable below was missing just after this get; the likeliest
    # cause is a get that returned before the board's document had replaced about:blank on a busy machine. So wait
    # for the board's own document to have loaded, and if it is missing again, say where the window was and
    # whether the page served had the first paint
    _wait_for(lambda: browser.execute_script("return document.readyState === 'complete' && location.origin;") == board)
    rows = browser.execute_script("return window.podiumFirstPaintRows")
    if rows != 4:  # the served page is fetched only to explain a failure
        served = urllib.request.urlopen(board, timeout=10).read().decode()
        pytest.fail(f"first paint rows {rows!r} at {browser.current_url}; served with the first paint: "
                    f"{first_paint.ELEMENT_ID in served}")
    first = browser.execute_script(
        "const el = document.getElementById('podium-first-paint');"
        "return el ? Array.from(el.querySelectorAll('tbody tr')).map(r => r.cells[1].textContent) : null;")
    assert first in (["fails_variant", "adamw", "fast", "never"], None)  # None: the app was quicker than selenium
    _wait_for(lambda: _rows(browser) == ["fails_variant", "adamw", "fast", "never"], 60)
    _wait_for(lambda: browser.execute_script("return !document.getElementById('podium-first-paint');"))
    browser.get(f"{board}/?q=fa")
    _wait_for(lambda: _rows(browser) == ["fails_variant", "fast"], 60)
    assert browser.execute_script("return window.podiumFirstPaintRows === undefined;")


def _page_text(driver, selector: str) -> list[str]:
    return driver.execute_script(f"return Array.from(document.querySelectorAll({selector!r})).map(e => e.textContent);")


def test_peft_pool_in_a_browser(browser, peft_board: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Choosing the peft track in the sidebar shows the PEFT columns and the two Pareto charts."""
    from selenium.webdriver.common.by import By

    browser.get(peft_board)
    _wait_for(lambda: len(_rows(browser)) == 4, 60)  # the training pool first (the default track)
    browser.find_element(By.CSS_SELECTOR, '[data-testid="stSidebar"] input[aria-label="Track"]').click()
    _wait_for(lambda: next((o for o in browser.find_elements(By.CSS_SELECTOR, '[role="option"]')
                            if o.text.strip() == "peft"), None)).click()
    _wait_for(lambda: "track=peft" in browser.current_url)
    _wait_for(lambda: _rows(browser) and set(_rows(browser)) <= {
        "full_finetune", "lora_r8", "lora_r16", "ia3", "bitfit", "prefix_tuning"} and len(_rows(browser)) == 6)
    _wait_for(lambda: "Costs: Pareto fronts" in _page_text(browser, "h3"))
    # the front in both charts (its legend entry), once plotly has drawn them
    _wait_for(lambda: _page_text(browser, '[data-testid="stPlotlyChart"] .legendtext').count("Pareto front") >= 2)
    titles = " ".join(_page_text(browser, '[data-testid="stPlotlyChart"] .gtitle'))
    assert "peak memory vs time-to-target" in titles and "trainable parameters vs accuracy" in titles
    headers = _wait_for(lambda: [h for h in _page_text(browser, '[data-testid="stDataFrame"] table[role=grid] th')
                                 if "·" in h])
    assert any(h.startswith("trainable · p00") for h in headers), headers
    browser.execute_script("document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')[1].scrollIntoView()")
    _screenshot(browser, tmp_path, request.config.rootpath, "board-peft.png")


def test_header_methodology_submit_and_bad_urls(browser, board: str, bundle: Path, tmp_path: Path,
                                                request: pytest.FixtureRequest) -> None:
    """Every page has the header with its two links; /leaderboard is the leaderboard; a bad URL parameter is
    reported; no local path of the serving machine is on any page or in any link."""
    import json

    from selenium.webdriver.common.by import By

    manifest = json.loads((bundle / "manifest.json").read_text())
    browser.get(f"{board}/leaderboard?sort=no_such_column&colour=red")
    _wait_for(lambda: _rows(browser) == ["fails_variant", "adamw", "fast", "never"], 60)
    alerts = " ".join(_wait_for(lambda: [t for t in _page_text(browser, '[data-testid="stAlert"]') if "URL" in t]))
    assert "sort=no_such_column" in alerts and "colour=red" in alerts, alerts
    header = _wait_for(lambda: next((t for t in _page_text(browser, '[data-testid="stMarkdown"]')
                                     if t.startswith("Podium · release")), None))
    assert f"release {manifest['release']}" in header and "last updated" in header and "Test CPU" in header
    assert "protocol 1 study × 2 trials" in header, header
    cells = _wait_for(lambda: " ".join(_page_text(browser, '[data-testid="stDataFrame"] table[role=grid] td')))
    assert "variant miss: w1_variant" in cells and "> r_max" in cells, cells  # markers, the variant named
    # each ratio cell explains itself on hover (a tooltip in the cell, shown by CSS)
    tips = _wait_for(lambda: _page_text(browser, '[data-testid="stTable"] td .pd-t'))
    assert tips is not None
    contents = browser.execute_script(
        "return Array.from(document.querySelectorAll('[data-testid=\"stTable\"] td .pd-t'))"
        ".map(e => getComputedStyle(e, '::after').content);")
    assert any("fails_variant on w1: ratio variant miss: w1_variant" in c for c in contents), contents[:4]
    _screenshot(browser, tmp_path, request.config.rootpath, "board-header.png")
    browser.get(f"{board}/profiles")  # the score-vs-cost chart, its front marked
    _wait_for(lambda: any(t.startswith("score vs") for t in _page_text(browser, '[data-testid="stPlotlyChart"] .gtitle')),
              60)
    assert "Pareto front" in _page_text(browser, '[data-testid="stPlotlyChart"] .legendtext')

    browser.find_element(By.CSS_SELECTOR, '[data-testid="stMain"] a[href*="methodology"]').click()
    _wait_for(lambda: "Methodology" in browser.find_element(By.TAG_NAME, "h1").text)
    _wait_for(lambda: any("@misc{podium_" in t for t in _page_text(browser, "code")))
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "How a score is made" in text and f"r_max = {manifest['scoring']['r_max']:g}" in text
    _screenshot(browser, tmp_path, request.config.rootpath, "board-methodology.png")

    browser.find_element(By.CSS_SELECTOR, '[data-testid="stMain"] a[href*="submit"]').click()
    _wait_for(lambda: "How to submit" in browser.find_element(By.TAG_NAME, "h1").text)
    _wait_for(lambda: "podium check" in browser.find_element(By.TAG_NAME, "body").text)
    html = browser.page_source + browser.current_url
    assert str(bundle) not in html and str(bundle.parent.parent) not in html


def test_one_submission_bundle_in_a_browser(browser, tmp_path: Path) -> None:
    """One submission: no "None" on any page, every chart drawn has points, compare says it needs two."""
    import re as _re

    from selenium.webdriver.common.by import By

    from board_bundles import RELEASE, TIMES, VARIANTS, _submission_folder, fill
    from harness.publish import publish
    from harness.store import ResultsStore

    store = ResultsStore(tmp_path / "results.db")
    fill(store, "adamw", _submission_folder(tmp_path, "adamw"), TIMES["adamw"])
    store.close()
    bundle = publish(tmp_path / "results.db", tmp_path / "bundles", RELEASE, VARIANTS)
    with _serve(bundle, tmp_path) as url:
        for page, ready in (("", "Leaderboard"), ("workload", "Workload"), ("submission", "Submission"),
                            ("compare", "Compare"), ("methodology", "Methodology")):
            browser.get(f"{url}/{page}")
            _wait_for(lambda: ready in browser.find_element(By.TAG_NAME, "h1").text, 60)
            time.sleep(2)  # let the page's last elements draw
            text = browser.find_element(By.TAG_NAME, "body").text
            assert not _re.search(r"\bNone\b|\bnan\b", text), (page, text[:2000])
            for points in browser.execute_script(
                    "return Array.from(document.querySelectorAll('[data-testid=\"stPlotlyChart\"]'))"
                    ".map(c => c.querySelectorAll('.point, .scatterlayer path, .heatmaplayer image').length)"):
                assert points > 0, page
            if page == "compare":
                assert "needs two submissions" in text
