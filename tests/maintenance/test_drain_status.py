"""The dashboard's drain status: the failing endpoints and their failed calls, the time left
from the recent pace (failures counted), and a stall said as such instead of a growing estimate."""

import re
from datetime import timedelta

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import RestrictionPeriod
from portal.models.tables import events
from tests.conftest import login
from tests.events_support import (
    SECRET,
    Recorder,
    add_workflow,
    api_key,
    post_events,
    run_tick,
    webhook_server,
)
from tests.maintenance_helpers import set_maintenance

ADMIN = {"roles": ("Administrator",), "groups": ("Administrators",)}


def _lifted_ago(app, seconds: float) -> None:
    """Pretend the restriction was lifted ``seconds`` ago."""
    with app.app_context():
        period = db.session.scalars(sa.select(RestrictionPeriod)).one()
        period.ended_at = utc_now() - timedelta(seconds=seconds)
        db.session.commit()


def _hold_and_lift(app, count: int) -> None:
    set_maintenance(app, True, restrict_event_processor=True, **ADMIN)
    rows = [{"type": "t", "payload": {"n": n}} for n in range(count)]
    assert post_events(app.test_client(), api_key(app), {"events": rows}).status_code == 202
    set_maintenance(app, False, **ADMIN)


def test_a_stalled_drain_names_the_failing_endpoint_and_its_failed_calls(app, client):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=5, WEBHOOK_BACKOFF_SECONDS=3600.0)
    recorder = Recorder()
    recorder.statuses = [500] * 10
    with webhook_server(recorder) as (url, _):
        add_workflow(app, name="Billing hook", action="webhook", url=url, secret=SECRET)
        _hold_and_lift(app, 3)
        run_tick(app)  # three calls, each HTTP 500: retried in an hour
    assert recorder.count == 3
    _lifted_ago(app, 120)
    login(client)
    page = client.get("/").get_data(as_text=True)
    assert "0 of 3 done" in page
    assert "Stalled" in page and "calls are failing" in page
    failing = page[page.index('id="drain-failing"') :]
    assert "3 calls failed" in failing
    assert re.search(r"<strong>Billing hook</strong>: 3 failed calls \(last: HTTP 500\)", failing)
    assert "left" not in page[page.index('id="drain-eta"') :].split("</p>")[0]


def test_the_time_left_comes_from_the_recent_pace(app, client):
    _hold_and_lift(app, 5)
    _lifted_ago(app, 600)  # ten minutes ago; two events finished in the last minute
    with app.app_context():
        first_two = sa.select(events.c.id).order_by(events.c.id).limit(2).scalar_subquery()
        db.session.execute(
            sa.update(events)
            .where(events.c.id.in_(first_two))
            .values(status="failed", processed_at=utc_now())
        )
        db.session.commit()
    login(client)
    page = client.get("/").get_data(as_text=True)
    assert "2 of 5 done (40 %)" in page
    # 2 events in the last 60 s: 3 left take 90 s (not 3 × 600 / 2 = 900 s since the lift)
    assert re.search(r"About 0:01:(2\d|3\d) left", page), page[page.index('id="drain-eta"') :][:300]
    assert "failures included" in page
