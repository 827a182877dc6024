"""The morning after, in Chromium: a window's drain failed against a receiver that was down;
the operator retries every failed delivery of that window from the events page in one action,
confirms the count, watches the job's progress, and the receiver (up again) gets the calls.
axe stays clean on the confirmation and the job pages."""

import re
import time
from collections.abc import Iterator

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import OPEN_PAGES
from tests.browser.pages import sign_in
from tests.browser.test_accessibility import serious_violations
from tests.browser.test_pages_layout import PHONE, too_wide
from tests.events_support import SECRET, Recorder, webhook_server
from tests.live import ADMIN_EMAIL, LiveServer, flask, form_post, post_events, prepare_db, serving
from tests.live import sign_in as sign_in_session

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("bulk")
    env = prepare_db(folder / "portal.db", WEBHOOK_MAX_ATTEMPTS=1)
    with serving(env, folder) as live:
        yield live


def _wait(check, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def _failed_events(admin: requests.Session, base: str) -> int:
    page = admin.get(base + "/events?status=failed", timeout=10).text
    return len(re.findall(r'data-event-id="\d+"', page))


def test_retry_every_failed_delivery_of_a_window_in_one_action(browser, server):
    base = server.url
    recorder = Recorder()
    recorder.statuses = [500, 500, 500]  # down during the drain, up afterwards
    with webhook_server(recorder) as (url, receiver):
        admin = sign_in_session(base, ADMIN_EMAIL)
        workflow = {
            "client_id": "1",
            "enabled": "y",
            "event_type": "*",
            "condition_op": "eq",
            "name": "Billing hook",
            "action": "webhook",
            "url": url,
            "secret": SECRET,
        }
        saved = form_post(admin, base + "/settings/workflows/new", workflow)
        assert saved.status_code == 302, saved.text[:500]
        flask(server.env, "maintenance", "enable", "--restrict-events")
        invoices = [{"type": "invoice", "payload": {"n": n}} for n in range(3)]
        post_events(base, server.api_key, invoices)
        flask(server.env, "maintenance", "disable")
        admin = sign_in_session(base, ADMIN_EMAIL)  # maintenance ended the earlier session
        _wait(lambda: _failed_events(admin, base) == 3, "the drain's three calls never failed")
        assert receiver.count == 3
        window_id = 1  # the first window of this module's fresh database

        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        OPEN_PAGES.append(page)
        axe = Axe()
        sign_in(page)
        page.goto(f"/events?window={window_id}")
        page.locator("#retry-window").click()
        page.wait_for_load_state()
        count = page.locator("#bulk-count")
        assert "retry 3 failed deliveries of 3 events" in count.inner_text()
        assert receiver.count == 3  # the confirmation sends nothing
        assert serious_violations(axe, page) == []
        page.get_by_role("button", name="Retry 3 now").click()
        page.wait_for_url(re.compile(r"/events/bulk/\d+$"))
        # the page follows the job by itself (no reload) until it is done
        page.locator('#bulk-status[data-status="done"]').wait_for(timeout=30_000)
        assert page.locator("#bulk-done").inner_text() == "3"
        assert serious_violations(axe, page) == []
        _wait(lambda: receiver.count == 6, "the retried calls never reached the receiver")
        _wait(lambda: _failed_events(admin, base) == 0, "the events never recovered")
        page.goto("/events?status=processed")
        assert page.locator("tr[data-event-id]").count() == 3
        page.goto("/settings/audit")
        assert "3 failed deliveries retried" in page.content()
        job_url = f"/events/bulk/{_job_id(admin, base)}"
        context.close()
        # on a phone: the events page with its boxes, the confirmation and the job page fit
        phone = browser.new_context(base_url=base, viewport=PHONE)
        page = phone.new_page()
        OPEN_PAGES.append(page)
        sign_in(page)
        page.goto("/events")
        assert too_wide(page) is None
        page.locator("tr[data-event-id] input[type=checkbox]").first.check()
        page.get_by_role("button", name="Replay the selected events…").click()
        page.wait_for_load_state()
        assert "replay 1 event" in page.locator("#bulk-count").inner_text()
        assert too_wide(page) is None
        page.goto(job_url)
        assert too_wide(page) is None
        phone.close()


def _job_id(admin: requests.Session, base: str) -> int:
    found = re.search(r"Bulk job (\d+)", admin.get(base + "/settings/audit", timeout=10).text)
    assert found, "no bulk job in the audit log"
    return int(found.group(1))
