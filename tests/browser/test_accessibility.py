"""Every page passes axe-core with no serious or critical violation (axe-playwright-python),
signed out and signed in as the admin, with the advance-notice and maintenance banners shown."""

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe

from portal.core.clock import utc_now
from tests.browser.pages import add_bulk_job, sign_in
from tests.conftest import make_app
from tests.live import LiveServer, flask, post_events, prepare_db, serving

pytestmark = pytest.mark.browser

SERIOUS = {"serious", "critical"}
# Not pages: JSON, CSV, files, the API and sign-out.
NOT_PAGES = ("static", "api.", "live.", "dashboard.stats", "auth.logout")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("a11y")
    env = prepare_db(folder / "portal.db", PROCESSOR_ENABLED="false")
    with serving(env, folder) as live:
        yield live


def page_urls(tmp_path) -> list[str]:
    """Return every GET page of the app, with 1 for each id in the URL."""
    app = make_app(tmp_path / "unused.db", tmp_path / "instance")
    urls = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.startswith(NOT_PAGES):
            continue
        urls.add(re.sub(r"<[^>]+>", "1", rule.rule))
    return sorted(urls)


def serious_violations(axe: Axe, page) -> list[str]:
    results = axe.run(page)
    return [
        f"{violation['id']} ({violation['impact']}): "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]


def test_every_page_has_no_serious_or_critical_axe_violation(browser, server, tmp_path):
    flask(
        server.env,
        "maintenance",
        "schedule",
        "--at",
        f"{utc_now() + timedelta(hours=2):%Y-%m-%dT%H:%M}Z",
        "--notice-minutes",
        "600",
        "--message",
        "Planned upgrade",
        "--bypass-role",
        "Administrator",
        "--bypass-group",
        "Administrators",
    )
    context = browser.new_context(base_url=server.url, bypass_csp=True)
    page = context.new_page()
    axe = Axe()
    found: dict[str, list[str]] = {}
    page.goto("/auth/login")
    assert page.locator("#maintenance-notice").count() == 1
    found["/auth/login (signed out)"] = serious_violations(axe, page)
    sign_in(page)
    urls = page_urls(tmp_path)
    assert "/settings/maintenance/windows" in urls and "/settings/maintenance" in urls
    assert "/events/bulk/1" in urls
    assert add_bulk_job(server.env) == 1  # the bulk job page, waiting (no processor here)
    # the events page with rows, so its selection checkboxes and bulk buttons are shown
    held = post_events(
        server.url, server.api_key, [{"type": "a11y", "payload": {"n": n}} for n in range(2)]
    )
    for url in urls:
        page.goto(url)
        found[url] = serious_violations(axe, page)
    page.goto("/events")
    page.locator(f"#select-{held['event_ids'][0]}").check()
    found["/events (one selected)"] = serious_violations(axe, page)
    page.get_by_role("button", name="Replay the selected events…").click()
    page.locator("#bulk-confirm").wait_for()
    found["/events/bulk/confirm (the selection's confirmation)"] = serious_violations(axe, page)
    flask(server.env, "maintenance", "enable", "--restrict-events")
    # the window page of the window this opened (before: its id was a 404), with its chart
    pages = ("/", "/settings/maintenance", "/settings/maintenance/windows")
    for url in pages + ("/settings/maintenance/windows/1",):
        page.goto(url)
        assert page.locator("#maintenance-banner").count() == 1
        found[url + " (maintenance on)"] = serious_violations(axe, page)
    flask(server.env, "maintenance", "disable")
    page.goto("/settings/maintenance/windows/1")  # the window, ended
    assert page.locator("#maintenance-banner").count() == 0
    assert page.locator("#window-ended").count() == 1  # the page itself, not a 404
    found["/settings/maintenance/windows/1 (ended)"] = serious_violations(axe, page)
    page.goto("/does-not-exist")
    found["404 page"] = serious_violations(axe, page)
    context.close()
    failing = {url: problems for url, problems in found.items() if problems}
    assert not failing, failing
