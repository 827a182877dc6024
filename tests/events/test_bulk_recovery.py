"""Bulk recovery from the events page: retry the failed deliveries of selected events, of a
filter or of a window's drain, replay selected events; a confirmation counts first, the
processor runs the job in the background (set-based: 10,000 deliveries in a few statements),
one audit entry with the count, the restriction obeyed as by a single retry, tenancy kept."""

import re

import sqlalchemy as sa

from portal import accounts, clients
from portal.core.clock import utc_now
from portal.events import counters, recovery
from portal.extensions import db
from portal.models import AuditEntry, BulkJob, Delivery, Event
from portal.models.tables import deliveries, events
from tests.conftest import ADMIN_EMAIL, login, post_form
from tests.events_support import (
    HOLDER,
    SECRET,
    Recorder,
    add_workflow,
    api_key,
    client_id,
    drain,
    post_events,
    run_tick,
    webhook_server,
)
from tests.maintenance_helpers import set_maintenance

ADMIN = {"roles": ("Administrator",), "groups": ("Administrators",)}


def _failed_rows(app, count: int, client_name: str = "Default") -> list[int]:
    """Insert ``count`` failed events, each with one failed webhook delivery of the latest run,
    set-based, with their counters; return the event ids."""
    flow = add_workflow(
        app, client_name, action="webhook", url="http://127.0.0.1:9/", secret=SECRET
    )
    cid = client_id(app, client_name)
    with app.app_context():
        now = utc_now()
        rows = [
            {
                "client_id": cid,
                "type": "t",
                "payload": {},
                "source_id": None,
                "received_at": now,
                "status": "failed",
                "started_at": now,
                "processed_at": now,
                "attempts": 1,
                "last_error": "HTTP 500",
            }
            for _ in range(count)
        ]
        db.session.execute(sa.insert(events), rows)
        ids = sorted(
            db.session.scalars(
                sa.select(events.c.id).where(events.c.client_id == cid, events.c.status == "failed")
            )
        )[-count:]
        db.session.execute(
            sa.insert(deliveries),
            [
                {
                    "event_id": i,
                    "workflow_id": flow,
                    "status": "failed",
                    "attempts": 1,
                    "created_at": now,
                    "finished_at": now,
                    "last_error": "HTTP 500",
                }
                for i in ids
            ],
        )
        counters.add(db.session.connection(), {(cid, "failed"): count})
        db.session.commit()
    return ids


def _confirm(http, data: dict):
    return post_form(http, "/events/bulk", data, token_from="/events")


def _start(http, data: dict):
    return post_form(http, "/events/bulk/start", data, token_from="/events")


def _statuses(app, model) -> dict[str, int]:
    with app.app_context():
        return dict(
            db.session.execute(
                sa.select(model.status, sa.func.count()).group_by(model.status)
            ).all()
        )


def _counters_equal_rows(app) -> None:
    with app.app_context():
        ids = list(db.session.scalars(sa.select(Event.client_id).distinct()))
        for cid, figures in counters.figures(ids).items():
            for status in ("queued", "failed"):
                rows = db.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(Event)
                    .where(Event.client_id == cid, Event.status == status)
                )
                assert figures[status] == rows, (cid, status)


def _audits(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)).all()
        db.session.expunge_all()
        return rows


def test_ten_thousand_failed_deliveries_are_retried_in_the_background(app, admin_client):
    _failed_rows(app, 10_000)
    page = _confirm(admin_client, {"action": "retry", "scope": "filter", "status": "failed"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert re.search(r"retry <strong>10000</strong> failed deliveries of 10000 events", text)
    assert _statuses(app, Delivery) == {"failed": 10_000}  # the confirmation changes nothing
    started = _start(admin_client, {"action": "retry", "scope": "filter", "status": "failed"})
    assert started.status_code == 302
    job_url = started.headers["Location"]
    assert "Waiting for the event processor" in admin_client.get(job_url).get_data(as_text=True)
    assert _statuses(app, Delivery) == {"failed": 10_000}  # the request only stored the job
    with app.app_context():
        changed = recovery.run_jobs(deadline=float("inf"))
    assert changed == 10_000
    assert _statuses(app, Delivery) == {"pending": 10_000}
    assert _statuses(app, Event) == {"queued": 10_000}
    _counters_equal_rows(app)
    (entry,) = _audits(app, "bulk_retry")
    assert entry.after["count"] == 10_000 and "10000 failed deliveries retried" in entry.description
    shown = admin_client.get(job_url).get_data(as_text=True)
    assert 'data-status="done"' in shown and 'id="bulk-done">10000<' in shown


def test_retry_of_selected_events_obeys_the_restriction_then_recovers(app, admin_client):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=1)
    recorder = Recorder()
    recorder.statuses = [500] * 3
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        ids = post_events(admin_client, api_key(app), {"events": [{"type": "t"}] * 4}).get_json()[
            "event_ids"
        ]
        run_tick(app)
        assert server.count == 4
        assert _statuses(app, Event) == {"failed": 3, "processed": 1}
        set_maintenance(app, True, restrict_event_processor=True, **ADMIN)
        selection = {"action": "retry", "scope": "selected"}
        data = {**selection, "event_id": ids}
        text = _confirm(admin_client, data).get_data(as_text=True)
        assert "retry <strong>3</strong> failed deliveries of 3 events" in text
        assert _start(admin_client, data).status_code == 302
        run_tick(app)  # restricted: the job still runs, like a single retry...
        drain(app, HOLDER)
        assert _statuses(app, Delivery) == {"pending": 3, "succeeded": 1}
        assert server.count == 4  # ...but no call goes out
        set_maintenance(app, False, **ADMIN)
        run_tick(app)
        assert server.count == 7
    assert _statuses(app, Event) == {"processed": 4}
    _counters_equal_rows(app)
    (entry,) = _audits(app, "bulk_retry")
    assert entry.after["count"] == 3


def test_replay_of_selected_events(app, admin_client):
    add_workflow(app)
    ids = post_events(admin_client, api_key(app), {"events": [{"type": "t"}] * 3}).get_json()[
        "event_ids"
    ]
    run_tick(app)
    data = {"action": "replay", "scope": "selected", "event_id": ids[:2]}
    assert "replay <strong>2</strong> events" in _confirm(admin_client, data).get_data(as_text=True)
    assert _start(admin_client, data).status_code == 302
    with app.app_context():
        recovery.run_jobs(deadline=float("inf"))
        replayed = db.session.scalars(sa.select(Event).where(Event.id.in_(ids[:2]))).all()
        assert all(e.status == "queued" and e.started_at is None for e in replayed)
    _counters_equal_rows(app)
    run_tick(app)
    assert _statuses(app, Event) == {"processed": 3}
    assert _statuses(app, Delivery) == {"succeeded": 5}  # two runs for two of them
    (entry,) = _audits(app, "bulk_replay")
    assert entry.after["count"] == 2


def test_a_bulk_action_touches_only_the_users_clients(app, client, make_user):
    with app.app_context():
        clients.create_client("Acme")
        db.session.commit()
    mine = _failed_rows(app, 3)
    theirs = _failed_rows(app, 2, "Acme")
    make_user("ops@example.com", roles=("Operator",))
    login(client, "ops@example.com")
    everything = {"action": "retry", "scope": "selected", "event_id": mine + theirs}
    text = _confirm(client, everything).get_data(as_text=True)
    assert "retry <strong>3</strong> failed deliveries" in text
    assert _start(client, everything).status_code == 302
    by_filter = {"action": "retry", "scope": "filter"}
    with app.app_context():
        recovery.run_jobs(deadline=float("inf"))
        acme = db.session.scalars(
            sa.select(Delivery.status).where(Delivery.event_id.in_(theirs))
        ).all()
    assert acme == ["failed", "failed"]
    # the filter covers only their own client: nothing of Acme's is counted or sent
    assert "Nothing to do" in _confirm(client, by_filter).get_data(as_text=True)
    with app.app_context():  # an instance admin's job on Acme is not theirs to see
        job = recovery.create(
            accounts.find_user(ADMIN_EMAIL),
            "retry",
            [client_id(app, "Acme")],
            {"event_ids": theirs},
        )
        db.session.commit()
        other = job.id
    assert client.get(f"/events/bulk/{other}").status_code == 404
    assert (
        _start(client, {"action": "retry", "scope": "selected", "event_id": theirs}).status_code
        == 302
    )
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(BulkJob)) == 2


def test_bulk_forms_need_the_permission_and_a_token(app, client, make_user):
    _failed_rows(app, 1)
    make_user("viewer@example.com", roles=("Viewer",))
    login(client, "viewer@example.com")
    data = {"action": "retry", "scope": "filter"}
    assert _confirm(client, data).status_code == 403
    assert _start(client, data).status_code == 403
    assert "Retry every failed" not in client.get("/events").get_data(as_text=True)


def test_bulk_forms_refuse_a_missing_token_and_bad_input(app, admin_client):
    _failed_rows(app, 1)
    refused = admin_client.post("/events/bulk/start", data={"action": "retry", "scope": "filter"})
    assert refused.status_code == 400  # the app-wide CSRF check
    assert _statuses(app, Delivery) == {"failed": 1}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(BulkJob)) == 0
    for data in (
        {"action": "explode", "scope": "filter"},
        {"action": "retry", "scope": "selected"},
        {"action": "retry", "scope": "selected", "event_id": "abc"},
        {"action": "retry", "scope": "window", "window": "-1"},
        {"action": "replay", "scope": "filter"},
        {"action": "retry", "scope": "filter", "since": "yesterday"},
    ):
        assert _confirm(admin_client, data).status_code == 302, data
        assert _start(admin_client, data).status_code == 302, data
    assert admin_client.get("/events/bulk/999999").status_code == 404


def test_retry_every_failed_delivery_of_a_window(app, admin_client):
    from portal.models import MaintenanceWindow

    app.config.update(WEBHOOK_MAX_ATTEMPTS=1)
    recorder = Recorder()
    recorder.statuses = [500] * 4
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        key = api_key(app)
        post_events(admin_client, key, {"type": "before"})
        run_tick(app)  # fails outside any window
        set_maintenance(app, True, restrict_event_processor=True, **ADMIN)
        post_events(admin_client, key, {"events": [{"type": "held"}] * 3})
        set_maintenance(app, False, **ADMIN)
        run_tick(app)  # the drain: three failed calls
        assert _statuses(app, Delivery) == {"failed": 4}
        with app.app_context():
            window = db.session.scalars(sa.select(MaintenanceWindow.id)).one()
        assert "maintenance window" in admin_client.get(f"/events?window={window}").get_data(
            as_text=True
        )
        data = {"action": "retry", "scope": "window", "window": str(window)}
        text = _confirm(admin_client, data).get_data(as_text=True)
        assert "retry <strong>3</strong> failed deliveries of 3 events" in text
        assert _start(admin_client, data).status_code == 302
        run_tick(app)
        assert server.count == 7
    with app.app_context():
        kinds = dict(
            db.session.execute(
                sa.select(Event.type, sa.func.group_concat(Event.status)).group_by(Event.type)
            ).all()
        )
    assert kinds == {"before": "failed", "held": "processed,processed,processed"}
    _counters_equal_rows(app)


def test_a_broken_job_is_stopped_with_its_error_and_the_others_run(app, admin_client):
    ids = _failed_rows(app, 2)
    with app.app_context():
        admin = accounts.find_user(ADMIN_EMAIL)
        broken = recovery.create(admin, "retry", [client_id(app)], {"event_ids": ids})
        broken.selection = {"filter": {"since": "not a time"}}
        recovery.create(admin, "retry", [client_id(app)], {"event_ids": ids})
        db.session.commit()
        broken_id = broken.id
        assert recovery.run_jobs(float("inf")) == 2
    page = admin_client.get(f"/events/bulk/{broken_id}").get_data(as_text=True)
    assert "Stopped by an error" in page and "ValueError" in page
    assert _statuses(app, Delivery) == {"pending": 2}


def test_only_the_latest_runs_failed_deliveries_are_retried(app, admin_client):
    from datetime import timedelta

    ids = _failed_rows(app, 2)
    with app.app_context():  # the first event was replayed since: its delivery is of a past run
        later = utc_now() + timedelta(seconds=1)
        db.session.execute(sa.update(events).where(events.c.id == ids[0]).values(started_at=later))
        db.session.commit()
    data = {"action": "retry", "scope": "selected", "event_id": ids}
    text = _confirm(admin_client, data).get_data(as_text=True)
    assert "retry <strong>1</strong> failed delivery of 1 event" in text
    assert _start(admin_client, data).status_code == 302
    with app.app_context():
        assert recovery.run_jobs(float("inf")) == 1
        statuses = dict(db.session.execute(sa.select(Delivery.event_id, Delivery.status)).all())
    assert statuses == {ids[0]: "failed", ids[1]: "pending"}
