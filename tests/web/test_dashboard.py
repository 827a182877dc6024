"""The live dashboard: grouped counts, processor state, latest rows, and its stats JSON."""

import re
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import accounts
from portal.core.clock import utc_now
from portal.events import counters
from portal.extensions import db
from portal.maintenance import get_or_create_state
from portal.models import Client, Delivery, Event, ProcessorLease, Role, Workflow
from tests.conftest import login

STATS = "/dashboard/stats.json"


def counter(page: str, client: str, key: str) -> int:
    """Read a counter the way a browser test would: by its data attributes."""
    match = re.search(rf'data-counter="{key}" data-client="{re.escape(client)}"[^>]*>(\d+)<', page)
    assert match, f"no {key} counter for {client}"
    return int(match.group(1))


def json_counts(data: dict, client: str) -> dict:
    (row,) = [row for row in data["clients"] if row["name"] == client]
    return {key: row[key] for key in ("queued", "held", "processed_5m", "failed")}


def add_events(app, client_name: str, *specs: tuple[str, timedelta | None], type_="t") -> None:
    """Insert events directly: (status, age of processed_at or None) per event, keeping the
    event counters exact as every writing path does."""
    now = utc_now()
    with app.app_context():
        client_id = db.session.scalar(sa.select(Client.id).where(Client.name == client_name))
        rows = [
            {
                "client_id": client_id,
                "type": type_,
                "payload": {},
                "status": status,
                "received_at": now - (age or timedelta()),
                "processed_at": None if age is None else now - age,
                "attempts": 0,
            }
            for status, age in specs
        ]
        db.session.execute(sa.insert(Event), rows)
        counters.add(db.session.connection(), Counter((client_id, status) for status, _ in specs))
        db.session.commit()


def add_client(app, name: str) -> None:
    with app.app_context():
        db.session.add(Client(name=name))
        db.session.commit()


def set_maintenance(app, enabled: bool, restrict: bool) -> None:
    """Turn maintenance on with the admin's role and group as bypass, so the admin stays in."""
    with app.app_context():
        state = get_or_create_state()
        state.enabled, state.restrict_event_processor = enabled, restrict
        state.bypass_roles = accounts.find_roles(["Administrator"])
        state.bypass_groups = accounts.find_groups(["Administrators"])
        db.session.commit()


def set_lease(app, expires_in: timedelta | None) -> None:
    with app.app_context():
        if expires_in is not None:
            now = utc_now()
            db.session.merge(
                ProcessorLease(id=1, holder="test", heartbeat_at=now, expires_at=now + expires_in)
            )
            db.session.commit()


MIXED = [
    ("queued", None),
    ("queued", None),
    ("queued", None),
    ("processed", timedelta(minutes=1)),
    ("processed", timedelta(minutes=4)),
    ("processed", timedelta(minutes=10)),  # outside the window
    ("failed", timedelta(minutes=1)),
]


def test_counts_per_client_in_html_and_json(app, admin_client):
    add_client(app, "Acme")
    add_events(app, "Default", *MIXED)
    add_events(app, "Acme", ("queued", None), ("failed", timedelta(hours=2)))
    page = admin_client.get("/").get_data(as_text=True)
    expected = {"queued": 3, "held": 0, "processed_5m": 2, "failed": 1}
    shown = {"queued": 3, "processed_5m": 2, "failed": 1}
    assert {key: counter(page, "Default", key) for key in shown} == shown
    assert 'data-counter="held"' not in page  # the queued figure carries its state instead
    assert counter(page, "Acme", "queued") == 1 and counter(page, "Acme", "failed") == 1
    assert page.index('data-client="Default"') < page.index('data-client="Acme"')  # own first
    data = admin_client.get(STATS).get_json()
    assert json_counts(data, "Default") == expected
    assert json_counts(data, "Acme") == {"queued": 1, "held": 0, "processed_5m": 0, "failed": 1}


def queued_label(page: str) -> str:
    match = re.search(r'<div class="label" data-label="queued">([^<]*)</div>', page)
    assert match, "no label for the queued figure"
    return match.group(1)


def test_held_counts_queued_events_while_restricted(app, admin_client):
    add_events(app, "Default", *MIXED)
    set_maintenance(app, enabled=True, restrict=True)
    page = admin_client.get("/").get_data(as_text=True)
    # one figure with its state, not "Queued 3" beside "Held 3" (which reads as 6)
    assert counter(page, "Default", "queued") == 3
    assert queued_label(page) == "Queued — held by maintenance"
    assert 'data-counter="held"' not in page
    data = admin_client.get(STATS).get_json()
    assert data["clients"][0]["held"] == 3 and data["queued_label"] == queued_label(page)
    set_maintenance(app, enabled=True, restrict=False)  # logins restricted, processing runs
    page = admin_client.get("/").get_data(as_text=True)
    assert counter(page, "Default", "queued") == 3 and queued_label(page) == "Queued"
    data = admin_client.get(STATS).get_json()
    assert data["clients"][0]["held"] == 0 and data["queued_label"] == "Queued"


@pytest.mark.parametrize(
    ("restrict", "lease", "state", "label"),
    [
        (True, timedelta(seconds=30), "paused", "Paused by maintenance"),
        (False, timedelta(seconds=30), "running", "Running"),
        (False, -timedelta(seconds=30), "stopped", "No active processor"),
        (False, None, "stopped", "No active processor"),
    ],
)
def test_processor_state(app, admin_client, restrict, lease, state, label):
    set_lease(app, lease)
    if restrict:
        set_maintenance(app, enabled=True, restrict=True)
    page = admin_client.get("/").get_data(as_text=True)
    assert f'data-state="{state}">{label}<' in page
    assert admin_client.get(STATS).get_json()["processor"] == {"state": state, "label": label}


def test_latest_events_and_deliveries(app, admin_client):
    add_events(app, "Default", ("processed", timedelta(seconds=5)), type_="door.opened")
    with app.app_context():
        event_id = db.session.scalar(sa.select(Event.id))
        workflow = Workflow(client_id=1, name="Ping ops", action="webhook", url="http://x.test")
        db.session.add(workflow)
        db.session.flush()
        db.session.add_all(
            [
                Delivery(
                    event_id=event_id,
                    workflow_id=workflow.id,
                    status="failed",
                    attempts=5,
                    response_code=502,
                ),
                Delivery(event_id=event_id, workflow_id=None, status="succeeded", attempts=1),
            ]
        )
        db.session.commit()
    page = admin_client.get("/").get_data(as_text=True)
    events = page[page.index('id="latest-events"') : page.index('id="latest-deliveries"')]
    assert "door.opened" in events and "processed" in events
    deliveries = page[page.index('id="latest-deliveries"') :]
    assert "Ping ops" in deliveries and "502" in deliveries and "(deleted workflow)" in deliveries
    data = admin_client.get(STATS).get_json()
    assert data["events"][0]["type"] == "door.opened"
    assert [d["workflow"] for d in data["deliveries"]] == ["(deleted workflow)", "Ping ops"]
    assert data["deliveries"][1]["attempts"] == 5
    assert data["deliveries"][1]["response_code"] == 502


def test_other_clients_only_for_client_managers(app, client, make_user):
    add_client(app, "Acme")
    add_events(app, "Acme", ("queued", None), type_="acme.secret")
    make_user("op@example.com", roles=("Operator",))
    login(client, "op@example.com")
    page = client.get("/").get_data(as_text=True)
    assert 'data-client="Default"' in page and 'data-client="Acme"' not in page
    assert "acme.secret" not in page
    data = client.get(STATS).get_json()
    assert [row["name"] for row in data["clients"]] == ["Default"] and data["events"] == []


def test_without_events_view_no_figures(app, client, make_user):
    with app.app_context():
        db.session.add(Role(name="Watcher", permissions=["dashboard:view"]))
        db.session.commit()
    add_events(app, "Default", ("queued", None), type_="hidden.type")
    make_user("watch@example.com", roles=("Watcher",))
    login(client, "watch@example.com")
    page = client.get("/").get_data(as_text=True)
    assert 'id="me-email"' in page and "hidden.type" not in page and "data-counter" not in page
    # not an empty "Figures as of" section: a sentence says why and what would show them
    assert 'id="stats-updated"' not in page
    assert 'id="no-figures"' in page and "View events and deliveries" in page
    assert 'id="processor-state"' in page
    data = client.get(STATS).get_json()
    assert data["figures"] is False and data["clients"] == [] and data["events"] == []


def test_stats_json_needs_sign_in(client):
    response = client.get(STATS)
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_user_text_is_escaped(app, admin_client):
    add_events(app, "Default", ("queued", None), type_="<img src=x onerror=alert(1)>")
    page = admin_client.get("/").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_page_works_without_and_with_javascript(admin_client):
    page = admin_client.get("/").get_data(as_text=True)
    for element_id in ("me-email", "me-client", "maintenance-state", "processor-state"):
        assert f'id="{element_id}"' in page
    assert 'id="stats-refresh"' in page and "<noscript>" in page
    assert 'data-stats-url="/dashboard/stats.json"' in page
    assert "/static/dashboard.js" in page
    script = admin_client.get("/static/dashboard.js")
    assert script.status_code == 200 and b"data-stats-url" in script.data
