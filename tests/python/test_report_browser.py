"""The HTML review report in a real headless browser: Debian's ``chromium`` and
``chromium-driver`` driven by Selenium (the ``test`` extra pins it).

Without them these tests ERROR; they never skip (``.ci/run`` installs the browser).
``ACCESSGRAPH_REPORT_SCREENSHOTS=docs`` keeps the screenshots taken here
(``docs/review-report.png``, ``docs/review-heatmap.png``).
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES

import accessgraph as ag

PNG = b"\x89PNG\r\n\x1a\n"


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        f"the browser test needs {' or '.join(names)}: apt-get install chromium chromium-driver"
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = _binary("chromium", "chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1400,1100")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # a driver path given: Selenium Manager downloads nothing
    service = Service(executable_path=_binary("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ag.Review]:
    g = ag.Graph.load(EXAMPLES / "acme_registry.md", org="acme")
    g.set_time("2024-05-20")
    review = g.review(expiring_days=30)
    path = tmp_path_factory.mktemp("report") / "review.html"
    review.to_html(path)
    return path, review


def _open(driver: Any, path: Path) -> list[dict[str, Any]]:
    driver.get_log("browser")  # drop what an earlier page logged
    driver.get(path.as_uri())
    driver.execute_script("return document.readyState")
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def _visible_rows(driver: Any, table: str) -> list[list[str]]:
    script = """
      return Array.prototype.filter.call(
        document.getElementById(arguments[0]).tBodies[0].rows, function (r) { return !r.hidden; }
      ).map(function (r) {
        return Array.prototype.map.call(r.cells, function (c) { return c.textContent.trim(); });
      });
    """
    rows: list[list[str]] = driver.execute_script(script, table)
    return rows


def _count(driver: Any, table: str) -> str:
    text: str = driver.execute_script(
        "return document.querySelector('[data-count-for=\"' + arguments[0] + '\"]').textContent",
        table,
    )
    return text


def _click_heading(driver: Any, table: str, heading: str) -> None:
    from selenium.webdriver.common.by import By

    buttons = driver.find_elements(By.CSS_SELECTOR, f"#{table} thead button.sort")
    (button,) = [b for b in buttons if b.text.strip() == heading]
    button.click()


def test_console_errors_are_seen_by_this_harness(browser: Any, tmp_path: Path) -> None:
    """The harness itself: a page that throws is caught, so 'no errors' below means none."""
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><script>undefinedFunction();</script>", encoding="utf-8")
    errors = _open(browser, broken)
    assert any("undefinedFunction" in e["message"] for e in errors), errors


def test_the_report_loads_offline_without_console_errors(
    browser: Any, report: tuple[Path, ag.Review]
) -> None:
    path, review = report
    assert _open(browser, path) == []
    assert browser.title.startswith("Acme Corp (acme)")
    # nothing was fetched: the page is one file
    fetched = browser.execute_script("return performance.getEntriesByType('resource').length")
    assert fetched == 0
    assert len(_visible_rows(browser, "findings-table")) == len(review) == 20
    assert _count(browser, "findings-table") == "20 rows"
    assert len(_visible_rows(browser, "heatmap-acme")) == 9
    assert _count(browser, "heatmap-acme") == "9 rows"
    assert len(_visible_rows(browser, "expiry-table")) == 4
    assert _count(browser, "expiry-table") == "4 rows"


def test_sorting_by_a_column_and_back(browser: Any, report: tuple[Path, ag.Review]) -> None:
    path, review = report
    _open(browser, path)
    _click_heading(browser, "findings-table", "user")
    users = [r[3] for r in _visible_rows(browser, "findings-table")]
    assert users == sorted(users) and users[0] == ""  # findings about no one come first
    _click_heading(browser, "findings-table", "user")
    assert [r[3] for r in _visible_rows(browser, "findings-table")] == sorted(users, reverse=True)
    # severity sorts by rank, not by the word: info < low < medium < high
    _click_heading(browser, "findings-table", "severity")
    severities = [r[0] for r in _visible_rows(browser, "findings-table")]
    assert severities == sorted(
        (f.severity for f in review), key=("info", "low", "medium", "high").index
    )
    # the heat map sorts by role level on a project column
    _click_heading(browser, "heatmap-acme", "Production")
    production = [r[3].split(" ")[0] for r in _visible_rows(browser, "heatmap-acme")]
    levels = {"·": 0, "viewer": 1, "member": 2, "admin": 3}
    assert [levels[c] for c in production] == sorted(levels[c] for c in production)
    assert production[-1] == "admin"
    # the expiry table sorts by date
    _click_heading(browser, "expiry-table", "expires")
    dates = [r[5] for r in _visible_rows(browser, "expiry-table")]
    assert dates == ["2024-05-15", "2024-05-15", "2024-06-01", "2024-06-15T17:00:00Z"]


def test_filtering_by_text_severity_status_and_flags(
    browser: Any, report: tuple[Path, ag.Review]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    path, review = report
    _open(browser, path)
    box = browser.find_element(By.CSS_SELECTOR, 'input[type=search][data-for="findings-table"]')
    box.send_keys("charlie")
    rows = _visible_rows(browser, "findings-table")
    expected = [f for f in review if "charlie" in " ".join(filter(None, (f.user, f.message)))]
    assert len(rows) == len(expected) == 2
    assert all("charlie" in " ".join(r) for r in rows)
    assert _count(browser, "findings-table") == "2 of 20 rows"
    box.clear()
    box.send_keys(" ")  # whitespace only: every row again
    assert len(_visible_rows(browser, "findings-table")) == 20

    low = browser.find_element(By.CSS_SELECTOR, 'input[data-attr="severity"][value="low"]')
    low.click()
    rows = _visible_rows(browser, "findings-table")
    assert len(rows) == len(review) - review.counts["low"]
    assert "low" not in {r[0] for r in rows}
    assert _count(browser, "findings-table") == f"{len(rows)} of 20 rows"

    Select(
        browser.find_element(By.CSS_SELECTOR, 'select[data-for="expiry-table"]')
    ).select_by_value("expired")
    # the auditor's membership, and their grant inside it
    assert [r[1] for r in _visible_rows(browser, "expiry-table")] == ["auditor@audit.example"] * 2

    flags = Select(browser.find_element(By.CSS_SELECTOR, 'select[data-for="heatmap-acme"]'))
    flags.select_by_value("external")
    assert [r[0].split(" ")[0] for r in _visible_rows(browser, "heatmap-acme")] == [
        "consultant@agency.com"
    ]
    flags.select_by_value("expiring")
    # within 30 days of 2024-05-20: the consultant's membership, evan's Production grant
    assert [r[0].split(" ")[0] for r in _visible_rows(browser, "heatmap-acme")] == [
        "consultant@agency.com",
        "evan@example.com",
    ]
    assert _open(browser, path) == []  # no error along the way


def test_print_layout_hides_the_controls_and_makes_a_pdf(
    browser: Any, report: tuple[Path, ag.Review]
) -> None:
    from selenium.webdriver.common.by import By

    path, _ = report
    _open(browser, path)
    controls = browser.find_element(By.CSS_SELECTOR, ".controls")
    assert controls.is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not controls.is_displayed()
        assert browser.find_element(By.ID, "verdict").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    pdf = base64.b64decode(browser.print_page())
    assert pdf.startswith(b"%PDF")


def test_screenshots(browser: Any, report: tuple[Path, ag.Review], tmp_path: Path) -> None:
    path, _ = report
    _open(browser, path)
    shots = {"review-report.png": None, "review-heatmap.png": "access"}
    for name, anchor in shots.items():
        if anchor:
            browser.execute_script("document.getElementById(arguments[0]).scrollIntoView()", anchor)
        shot = tmp_path / name
        assert browser.save_screenshot(str(shot))
        data = shot.read_bytes()
        assert data.startswith(PNG) and len(data) > 20_000  # a rendered page, not a blank one
        keep = os.environ.get("ACCESSGRAPH_REPORT_SCREENSHOTS")
        if keep:
            shutil.copyfile(shot, Path(keep) / name)
