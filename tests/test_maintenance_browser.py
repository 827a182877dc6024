"""The maintenance page in a real browser: the live preview and lockout protection."""

import shutil
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from tests.conftest import ADMIN_EMAIL, PASSWORD
from tests.maintenance_helpers import state_dict

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture()
def base_url(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture()
def page(base_url):
    if not CHROMIUM:
        pytest.skip("Chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(base_url=base_url)
        page.goto("/auth/login")
        page.get_by_label("Email").fill(ADMIN_EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base_url}/")
        yield page
        browser.close()


def test_preview_follows_the_selection_and_lockout_is_explained(app, page):
    page.goto("/settings/maintenance")
    preview = page.locator("#who-can-sign-in")
    assert "Nobody in your client." in preview.inner_text()
    page.get_by_label("Maintenance bypass roles").select_option(label="Administrator")
    page.get_by_label("Maintenance bypass access groups").select_option(label="Administrators")
    page.locator("#preview-own-users").wait_for()  # refreshed without a page load
    assert ADMIN_EMAIL in preview.inner_text()

    page.get_by_label("Maintenance bypass roles").select_option(label="Viewer")
    page.get_by_label("Maintenance mode", exact=True).check()
    page.get_by_role("button", name="Save").click()
    assert "you would lock yourself out" in page.locator("#lockout-error").inner_text()
    assert state_dict(app)["enabled"] is False

    page.get_by_label("Maintenance bypass roles").select_option(label="Administrator")
    page.get_by_label("Maintenance message").fill("Back soon.\nReally.")
    page.get_by_role("button", name="Save").click()
    assert "Maintenance settings saved" in page.content()
    assert page.locator("#maintenance-banner .message").inner_text() == "Back soon.\nReally."
    assert state_dict(app)["enabled"] is True
