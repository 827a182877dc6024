"""The header banners link to the maintenance page for those who may manage it, on a page and
in the live poll's banners alike."""

from datetime import timedelta

import pytest

from portal.core.clock import utc_now
from tests.conftest import login
from tests.maintenance_helpers import set_maintenance

LINK = 'href="/settings/maintenance"'
OPERATOR = "operator@example.com"  # may bypass, may not manage maintenance
BYPASS = {"roles": ("Administrator", "Operator"), "groups": ("Administrators",)}


def banners(client, banner_id: str) -> list[str]:
    """Return the banner ``banner_id`` as the page shows it and as the live poll sends it."""
    page = client.get("/").get_data(as_text=True)
    live = client.get("/live/state", headers={"Accept": "application/json"}).get_json()["banners"]
    found = []
    for html in (page, live):
        start = html.index(f'id="{banner_id}"')
        found.append(html[start : html.index("</div>", start)])
    return found


@pytest.mark.parametrize(("email", "linked"), [("admin@example.com", True), (OPERATOR, False)])
def test_maintenance_banner_links_to_the_page_only_for_managers(
    app, client, make_user, email, linked
):
    make_user(OPERATOR, roles=("Operator",), groups=("Administrators",))
    set_maintenance(app, message="Upgrade", **BYPASS)
    assert login(client, email).status_code == 302
    for banner in banners(client, "maintenance-banner"):
        assert "Maintenance mode is on." in banner
        assert (LINK in banner) is linked
    if not linked:
        assert client.get("/settings/maintenance").status_code == 403


@pytest.mark.parametrize(("email", "linked"), [("admin@example.com", True), (OPERATOR, False)])
def test_advance_notice_links_to_the_page_only_for_managers(app, client, make_user, email, linked):
    make_user(OPERATOR, roles=("Operator",), groups=("Administrators",))
    set_maintenance(
        app,
        enabled=False,
        message="Upgrade tonight",
        scheduled_start=utc_now() + timedelta(minutes=10),
        notice_minutes=30,
        **BYPASS,
    )
    assert login(client, email).status_code == 302
    for banner in banners(client, "maintenance-notice"):
        assert "Upgrade tonight" in banner
        assert (LINK in banner) is linked
