"""The events page: scoped, filtered, keyset-paginated lists; an event with its deliveries and
attempts; retry, replay and resume, each audited, CSRF-protected and permission-checked."""

import sqlalchemy as sa

from portal.events import counters
from portal.extensions import db
from portal.models import Delivery, Event, Workflow
from tests.admin_helpers import audit_entries
from tests.conftest import login, post_form
from tests.events_support import (
    SECRET,
    Recorder,
    add_workflow,
    api_key,
    post_events,
    run_tick,
    webhook_server,
)


def _ids(page: str) -> list[int]:
    import re

    return [int(n) for n in re.findall(r'data-event-id="(\d+)"', page)]


def test_list_is_newest_first_and_pages_by_keyset(app, admin_client):
    key = api_key(app)
    ids = post_events(
        admin_client, key, {"events": [{"type": f"t{i % 2}"} for i in range(120)]}
    ).get_json()["event_ids"]
    first = admin_client.get("/events").get_data(as_text=True)
    assert _ids(first) == sorted(ids, reverse=True)[:50]
    assert f"before={min(_ids(first))}" in first
    second = admin_client.get(f"/events?before={min(_ids(first))}").get_data(as_text=True)
    assert _ids(second) == sorted(ids, reverse=True)[50:100]
    filtered = admin_client.get("/events?type=t1").get_data(as_text=True)
    assert _ids(filtered) == [i for i in sorted(ids, reverse=True) if (i - ids[0]) % 2][:50]
    none = admin_client.get("/events?status=failed").get_data(as_text=True)
    assert _ids(none) == [] and "No events match." in none
    later = admin_client.get("/events?since=2999-01-01T00:00").get_data(as_text=True)
    assert _ids(later) == []


def test_bad_filters_never_fail_the_page(admin_client):
    for query in (
        "since=yesterday",
        "status=nope",
        "before=-5",
        "before=99999999999999999999999",
        "client=abc",
        "type=" + "x" * 500,
    ):
        assert admin_client.get(f"/events?{query}").status_code == 200, query
    assert admin_client.get("/events/99999999999999999999999").status_code == 404


def test_other_clients_events_are_invisible(app, client, make_user):
    from portal import clients

    with app.app_context():
        _, other_key = clients.create_client("Acme")
        db.session.commit()
    other = post_events(client, other_key, {"type": "acme.secret"}).get_json()["event_ids"][0]
    mine = post_events(client, api_key(app), {"type": "mine"}).get_json()["event_ids"][0]
    make_user("viewer@example.com", roles=("Viewer",))
    login(client, "viewer@example.com")
    page = client.get("/events").get_data(as_text=True)
    assert _ids(page) == [mine] and "acme.secret" not in page
    assert client.get(f"/events/{other}").status_code == 404
    assert client.get(f"/events/{mine}").status_code == 200
    # a viewer sees the page but none of the buttons, and the actions refuse server-side
    assert "Replay" not in client.get(f"/events/{mine}").get_data(as_text=True)
    response = post_form(client, f"/events/{mine}/replay", {}, token_from=f"/events/{mine}")
    assert response.status_code == 403


def test_detail_shows_payload_deliveries_and_attempts_then_retry_and_replay(app, admin_client):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=2, WEBHOOK_BACKOFF_SECONDS=0.0)
    recorder = Recorder()
    recorder.statuses = [500, 502]
    with webhook_server(recorder) as (url, server):
        add_workflow(app, action="webhook", url=url, secret=SECRET)
        event_id = post_events(
            admin_client, api_key(app), {"type": "door", "payload": {"door": "<b>3</b>"}}
        ).get_json()["event_ids"][0]
        run_tick(app)
        assert server.count == 2
        page = admin_client.get(f"/events/{event_id}").get_data(as_text=True)
        assert '"door": "\\u003cb\\u003e3' in page and "<b>3</b>" not in page  # escaped
        assert "HTTP 500" in page and "HTTP 502" in page and " ms" in page
        assert "failed" in page and "Retry now" in page
        with app.app_context():
            delivery_id = db.session.scalar(sa.select(Delivery.id))

        # without a CSRF token nothing happens
        assert admin_client.post(f"/events/deliveries/{delivery_id}/retry").status_code in (
            302,
            400,
        )
        assert server.count == 2
        retry = post_form(
            admin_client,
            f"/events/deliveries/{delivery_id}/retry",
            {},
            token_from=f"/events/{event_id}",
            follow_redirects=True,
        )
        assert "will be retried now" in retry.get_data(as_text=True)
        run_tick(app)
        assert server.count == 3
        assert server.requests[-1]["headers"]["webhook-id"] == str(delivery_id)
        with app.app_context():
            event = db.session.get(Event, event_id)
            assert event.status == "processed"

        replay = post_form(
            admin_client,
            f"/events/{event_id}/replay",
            {},
            token_from=f"/events/{event_id}",
            follow_redirects=True,
        )
        assert "queued for replay" in replay.get_data(as_text=True)
        run_tick(app)
        assert server.count == 4
        assert server.requests[-1]["headers"]["webhook-id"] != str(delivery_id)  # new delivery
    actions = [entry.action for entry in audit_entries(app, "events")]
    assert actions == ["retry_delivery", "replay"]
    _assert_counters_exact(app)


def test_a_paused_endpoint_shows_and_resumes(app, admin_client):
    app.config.update(WEBHOOK_MAX_ATTEMPTS=10, WEBHOOK_BACKOFF_SECONDS=0.0)
    app.config.update(WEBHOOK_CIRCUIT_FAILURES=2, WEBHOOK_CIRCUIT_SECONDS=0)
    recorder = Recorder()
    recorder.statuses = [503, 503]
    with webhook_server(recorder) as (url, server):
        flow_id = add_workflow(app, name="flaky", action="webhook", url=url, secret=SECRET)
        post_events(admin_client, api_key(app), {"type": "t"})
        run_tick(app)
        assert server.count == 2
        for page in ("/", "/events", "/settings/workflows"):
            html = admin_client.get(page).get_data(as_text=True)
            assert "2 consecutive failed calls" in html, page
        response = post_form(
            admin_client,
            f"/events/endpoints/{flow_id}/resume",
            {},
            token_from="/settings/workflows",
            follow_redirects=True,
        )
        assert "resumed" in response.get_data(as_text=True)
        with app.app_context():
            assert db.session.get(Workflow, flow_id).paused_at is None
        run_tick(app)
        assert server.count == 3
    assert [entry.action for entry in audit_entries(app, "events")] == ["resume"]


def test_held_events_show_as_held(app, admin_client):
    from tests.web.test_dashboard import set_maintenance

    event_id = post_events(admin_client, api_key(app), {"type": "t"}).get_json()["event_ids"][0]
    set_maintenance(app, enabled=True, restrict=True)
    page = admin_client.get("/events").get_data(as_text=True)
    assert "queued events are <strong>held</strong>" in page
    assert '<td class="status-queued">held</td>' in page
    assert 'id="event-status" class="status-queued">held' in admin_client.get(
        f"/events/{event_id}"
    ).get_data(as_text=True)


def _assert_counters_exact(app) -> None:
    with app.app_context():
        actual = {
            (client_id, status): number
            for client_id, status, number in db.session.execute(
                sa.select(Event.client_id, Event.status, sa.func.count()).group_by(
                    Event.client_id, Event.status
                )
            )
            if status in counters.COUNTED
        }
        ids = sorted({client_id for client_id, _ in actual} | {1})
        kept = {
            (client_id, status): number
            for client_id, figures in counters.figures(ids).items()
            for status, number in figures.items()
            if number
        }
    assert kept == actual
