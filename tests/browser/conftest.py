"""One real server and one headless Debian Chromium for the whole browser package.

Without Chromium the suite is skipped, except under CI (``CI=true``) where that is a failure.
Package-scoped, so Playwright is stopped before any other module starts its own sync API.
A failing test leaves a screenshot and the HTML of every open page in ``test-artifacts/``.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import ROOT, LiveServer, prepare_db, serving

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

OPEN_PAGES: list = []  # every page a test opened, for the failure artifacts


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def artifacts_on_failure(request) -> Iterator[None]:
    yield
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", request.node.name)
    for index, page in enumerate(OPEN_PAGES):
        if page.is_closed():
            continue
        try:
            page.screenshot(path=str(ARTIFACTS / f"{stem}-{index}.png"), full_page=True)
            (ARTIFACTS / f"{stem}-{index}.html").write_text(page.content())
        except Exception as exc:  # noqa: BLE001  (an artifact must never hide the failure)
            (ARTIFACTS / f"{stem}-{index}.txt").write_text(f"{page.url}: {exc}")


@pytest.fixture(scope="package")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """The portal on a loopback port (``flask run``), on its own prepared SQLite file."""
    folder = tmp_path_factory.mktemp("browser")
    env = prepare_db(folder / "portal.db")
    with serving(env, folder) as server:
        yield server


@pytest.fixture(scope="package")
def browser() -> Iterator:
    """One headless Chromium for every browser test."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package")
def new_page(browser, live_server):
    """Open a page in a fresh context (its own cookies: one per user)."""

    def factory():
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(10_000)
        page = context.new_page()
        OPEN_PAGES.append(page)
        return page

    return factory
