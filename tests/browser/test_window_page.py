"""A maintenance window's page and the dashboard's chart in Chromium (issue 19): the chart and
its table show the recorded samples, the dashboard recaps the window, nothing breaks the CSP,
the page fits a phone; screenshots at 1280 and 390 px go to ``test-artifacts/screenshots/``.
"""

from collections.abc import Iterator

import pytest

from tests.browser.conftest import ARTIFACTS, OPEN_PAGES
from tests.browser.pages import SAMPLES, script_window, sign_in
from tests.live import LiveServer, flask, prepare_db, serving

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "screenshots"
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("windowpage")
    env = prepare_db(folder / "portal.db", PROCESSOR_ENABLED="false")
    admins = ("--bypass-role", "Administrator", "--bypass-group", "Administrators")
    flask(env, "maintenance", "enable", "--restrict-events", *admins)
    flask(env, "maintenance", "disable")
    script_window(folder / "portal.db")
    with serving(env, folder) as live:
        yield live


def expected_rows() -> list[list[str]]:
    """The table the samples make: the held and queued, calls, rate and failures."""
    rows, before = [], SAMPLES[0]
    for queued, calls, delivered, failed in SAMPLES:
        rate = (delivered - before[2]) / 10
        rows.append([str(queued), str(calls), f"{rate:.1f}", str(failed - before[3])])
        before = (queued, calls, delivered, failed)
    return rows


def open_admin(browser, server, viewport):
    context = browser.new_context(base_url=server.url, viewport=viewport)
    page = context.new_page()
    OPEN_PAGES.append(page)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto("/auth/login")
    sign_in(page)
    return page, problems


def test_the_window_page_charts_its_samples_and_its_table_equals_them(browser, server):
    page, problems = open_admin(browser, server, WIDTHS["desktop"])
    page.goto("/settings/maintenance/windows")
    page.locator("#windows-report tbody tr a").first.click()
    page.wait_for_url("**/settings/maintenance/windows/1")
    chart = page.locator("#window-chart svg")
    assert chart.get_attribute("role") == "img"
    assert "Backlog" in page.locator("#window-chart-title").text_content()
    assert "peaked at 25" in page.locator("#window-chart-desc").text_content()
    assert page.locator("#window-chart .band-restricted").count() == 1
    assert page.locator("#window-chart .band-maintenance").count() == 1
    assert not page.locator("#window-chart table").is_visible()  # folded in <details>
    page.locator("#window-chart summary").click()
    cells = [
        row.locator("td").all_inner_texts() for row in page.locator("#window-chart tbody tr").all()
    ]
    assert [row[1:5] for row in cells] == expected_rows()
    for index, name in ((1, "queued"), (2, "in_flight"), (3, "per_second")):
        plotted = page.locator(f"#window-chart .panel-{name}").get_attribute("data-values")
        assert plotted.split() == [row[index] for row in cells]
        points = page.locator(f"#window-chart .panel-{name} polyline").get_attribute("points")
        assert len(points.split()) == len(SAMPLES)
    assert page.locator("#window-chart .panel-failures .bar").count() == 2
    assert not [p for p in problems if "Content Security Policy" in p], problems
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "window-page-1280.png"), full_page=True)
    page.context.close()


def test_the_window_page_fits_a_phone(browser, server):
    page, _ = open_admin(browser, server, WIDTHS["phone"])
    page.goto("/settings/maintenance/windows/1")
    page.evaluate("document.querySelectorAll('main details').forEach(d => { d.open = true; })")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    box = page.locator("#window-chart svg").bounding_box()
    assert box["width"] <= 390 and box["height"] > 100
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "window-page-390.png"), full_page=True)
    page.context.close()


@pytest.mark.parametrize("shape", ["desktop", "phone"])
def test_the_dashboard_recaps_the_window_and_charts_the_last_hour(browser, server, shape):
    page, problems = open_admin(browser, server, WIDTHS[shape])
    page.goto("/")
    recap = page.locator("#window-recap")
    assert recap.locator("#recap-held").inner_text() == "0"  # no event arrived in it
    assert recap.locator("#recap-duration").inner_text() == "0:02:00"
    assert page.locator("#dashboard-chart .panel-queued").get_attribute("data-values").split() == [
        row[0] for row in expected_rows()
    ]
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[shape]["width"]
    assert not [p for p in problems if "Content Security Policy" in p], problems
    SHOTS.mkdir(parents=True, exist_ok=True)
    width = WIDTHS[shape]["width"]
    page.locator("#dashboard-history").screenshot(path=str(SHOTS / f"dashboard-chart-{width}.png"))
    recap.locator("#recap-link").click()
    page.wait_for_url("**/settings/maintenance/windows/1")
    page.context.close()
