"""The events API for recovery scripts: scopes, tenancy (404 like a missing id), keyset pages,
strict parameters, and replay / retry / resume with the page's rules and audit, on SQLite and
PostgreSQL."""

import pytest
import sqlalchemy as sa

from portal import accounts, clients
from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import get_or_create_state
from portal.models import Delivery, Event, Role, User, Workflow
from tests.admin_helpers import audit_entries
from tests.conftest import ADMIN_EMAIL, PASSWORD_HASH
from tests.events_support import (
    SECRET,
    Recorder,
    add_workflow,
    api_key,
    post_events,
    run_tick,
    set_restriction,
    webhook_server,
)
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)
from tests.token_helpers import add_user, any_app, bearer, make_token  # noqa: F401

READ, WRITE = "events:read", "events:write"
MARK = "(through the personal access token recovery)"


def _events(app, key: str, count: int, kind: str = "t") -> list[int]:
    body = {"events": [{"type": kind, "source_id": f"{kind}{n}"} for n in range(count)]}
    return post_events(app.test_client(), key, body).get_json()["event_ids"]


def _acme_operator(app) -> tuple[int, str]:
    """A user of client Acme (Operator: events:view, workflows:manage) and Acme's API key."""
    with app.app_context():
        client, key = clients.create_client("Acme")
        db.session.add(
            User(
                email="ops@acme.example",
                password_hash=PASSWORD_HASH,
                client=client,
                roles=accounts.find_roles(["Operator"]),
            )
        )
        db.session.commit()
        return client.id, key


def test_scopes_are_required_and_follow_permissions(any_app):  # noqa: F811
    app = any_app
    http = app.test_client()
    reader = make_token(app, ADMIN_EMAIL, READ, name="reader")
    other = make_token(app, ADMIN_EMAIL, "maintenance:read", name="other")
    event_id = _events(app, api_key(app), 1)[0]

    assert http.get("/api/v1/events").status_code == 401
    refused = http.get("/api/v1/events", headers=bearer(other))
    assert refused.status_code == 403 and refused.get_json()["scope"] == READ
    writes = (
        f"/api/v1/events/{event_id}/replay",
        "/api/v1/deliveries/1/retry",
        "/api/v1/workflows/1/resume",
    )
    for path in writes:
        assert http.post(path).status_code == 401, path
        answer = http.post(path, headers=bearer(reader))
        assert answer.status_code == 403 and answer.get_json()["scope"] == WRITE, path
    assert http.get("/api/v1/events", headers=bearer(reader)).status_code == 200

    # the user loses events:view: the scope stops working at once
    add_user(app, "ops@example.com", roles=("Operator",), groups=())
    ops = make_token(app, "ops@example.com", READ, WRITE, name="ops")
    assert http.get("/api/v1/events", headers=bearer(ops)).status_code == 200
    with app.app_context():
        db.session.scalar(sa.select(Role).where(Role.name == "Operator")).permissions = []
        db.session.commit()
    for method, path in (("get", "/api/v1/events"), ("post", writes[0])):
        answer = getattr(http, method)(path, headers=bearer(ops))
        assert answer.status_code == 403, path
        assert "does not hold" in answer.get_json()["error"]
    assert audit_entries(app, "events") == []


def test_another_clients_rows_answer_404_like_missing_ones(any_app):  # noqa: F811
    app = any_app
    http = app.test_client()
    app.config.update(WEBHOOK_MAX_ATTEMPTS=1, WEBHOOK_BACKOFF_SECONDS=0.0)
    recorder = Recorder()
    recorder.statuses = [500, 500]
    with webhook_server(recorder) as (url, _server):
        flow_id = add_workflow(app, action="webhook", url=url, secret=SECRET)
        theirs = _events(app, api_key(app), 2)
        run_tick(app)
    acme_id, acme_key = _acme_operator(app)
    ours = _events(app, acme_key, 2, "acme")
    with app.app_context():
        delivery_id = db.session.scalar(
            sa.select(Delivery.id).where(Delivery.event_id == theirs[0])
        )
        db.session.get(Workflow, flow_id).paused_at = utc_now()
        db.session.commit()
    token = bearer(make_token(app, "ops@acme.example", READ, WRITE, name="recovery"))

    listed = http.get("/api/v1/events", headers=token).get_json()
    assert [row["id"] for row in listed["events"]] == ours[::-1]
    assert {row["client"] for row in listed["events"]} == {"Acme"}
    missing = 10**12
    for path in ("/api/v1/events/{}/replay", "/api/v1/deliveries/{}/retry"):
        seen = theirs[0] if "events" in path else delivery_id
        foreign = http.post(path.format(seen), headers=token)
        absent = http.post(path.format(missing), headers=token)
        assert foreign.status_code == absent.status_code == 404
        assert foreign.get_json() == absent.get_json()
    foreign = http.post(f"/api/v1/workflows/{flow_id}/resume", headers=token)
    absent = http.post("/api/v1/workflows/999999/resume", headers=token)
    assert foreign.status_code == absent.status_code == 404
    assert foreign.get_json() == absent.get_json()
    detail = http.get(f"/api/v1/events/{theirs[0]}", headers=token)
    assert detail.status_code == 404
    assert http.get(f"/api/v1/events/{ours[0]}", headers=token).get_json()["type"] == "acme"
    # naming another client is refused like naming one that does not exist
    names = (accounts.DEFAULT_CLIENT, "Nope")
    named = [http.get(f"/api/v1/events?client={name}", headers=token) for name in names]
    assert [answer.status_code for answer in named] == [400, 400]
    assert named[0].get_json() == named[1].get_json()
    assert http.get(f"/api/v1/events?client={acme_id}", headers=token).status_code == 200
    with app.app_context():
        assert db.session.get(Event, theirs[0]).status == "failed"
        assert db.session.get(Delivery, delivery_id).status == "failed"
        assert db.session.get(Workflow, flow_id).paused_at is not None
    assert audit_entries(app, "events") == []


def test_pages_newest_first_by_cursor_with_filters(app):
    http = app.test_client()
    key = api_key(app)
    ids = _events(app, key, 5, "door") + _events(app, key, 2, "bell")
    token = bearer(make_token(app, ADMIN_EMAIL, READ))

    seen, before, pages = [], None, 0
    while True:
        query = "/api/v1/events?limit=3" + (f"&before={before}" if before else "")
        page = http.get(query, headers=token).get_json()
        seen += [row["id"] for row in page["events"]]
        pages += 1
        before = page["next_before"]
        if before is None:
            break
    assert seen == sorted(ids, reverse=True) and pages == 3
    doors = http.get("/api/v1/events?type=door&limit=500", headers=token).get_json()
    assert [row["id"] for row in doors["events"]] == ids[:5][::-1]
    assert doors["next_before"] is None
    queued = http.get("/api/v1/events?status=queued&limit=1", headers=token).get_json()
    assert [row["id"] for row in queued["events"]] == [ids[-1]]
    assert queued["next_before"] == ids[-1]
    assert http.get("/api/v1/events?status=processed", headers=token).get_json()["events"] == []
    with app.app_context():
        db.session.execute(
            sa.update(Event).where(Event.id == ids[0]).values(received_at=sa.text("'2020-01-01'"))
        )
        db.session.commit()
    old = http.get(
        "/api/v1/events?received_before=2020-01-02T00:00Z&received_after=2019-12-31",
        headers=token,
    ).get_json()
    assert [row["id"] for row in old["events"]] == [ids[0]]
    # an offset counts: 2020-01-01T02:00+03:00 is 2019-12-31T23:00 UTC
    early = http.get("/api/v1/events?received_before=2020-01-01T02:00%2B03:00", headers=token)
    assert early.get_json()["events"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=1e400", "limit"),
        ("limit=%D9%A1%D9%A2", "limit"),  # Arabic-Indic 12: int() would take it
        ("limit=-1", "limit"),
        ("limit=+5", "limit"),
        ("limit=%205", "limit"),
        ("before=0", "before"),
        ("before=9223372036854775808", "before"),
        ("before=99999999999999999999999999", "before"),
        ("before=%C2%B2", "before"),  # superscript two
        ("status=held", "status"),
        ("received_after=2026-02-30", "received_after"),
        ("received_after=%D9%A2%D9%A0%D9%A2%D9%A6-01-01", "received_after"),
        ("received_before=0001-01-01T00:00%2B01:00", "received_before"),
        ("received_before=9999-12-31T23:59-01:00", "received_before"),
        ("received_before=yesterday", "received_before"),
        ("type=" + "x" * 201, "type"),
        ("client=%00", "client"),
        ("limit=1&limit=2", "limit"),
        ("stauts=queued", "stauts"),
    ],
)
def test_bad_parameters_get_a_400_naming_the_field(app, query, field):
    token = bearer(make_token(app, ADMIN_EMAIL, READ))
    answer = app.test_client().get(f"/api/v1/events?{query}", headers=token)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["details"] == [field] and body["error"].startswith(f"{field}: ")


def test_retry_replay_and_resume_act_like_the_buttons_and_are_audited(any_app):  # noqa: F811
    app = any_app
    http = app.test_client()
    app.config.update(WEBHOOK_MAX_ATTEMPTS=1, WEBHOOK_BACKOFF_SECONDS=0.0)
    app.config.update(WEBHOOK_CIRCUIT_FAILURES=2, WEBHOOK_CIRCUIT_SECONDS=0)
    token = bearer(make_token(app, ADMIN_EMAIL, READ, WRITE, name="recovery"))
    recorder = Recorder()
    recorder.statuses = [500, 500]
    with webhook_server(recorder) as (url, server):
        flow_id = add_workflow(app, name="hook", action="webhook", url=url, secret=SECRET)
        first, second = _events(app, api_key(app), 2)
        run_tick(app)
        assert server.count == 2
        with app.app_context():
            delivery_id = db.session.scalar(
                sa.select(Delivery.id).where(Delivery.event_id == first)
            )
            assert db.session.get(Workflow, flow_id).paused_at is not None  # circuit open

        # a queued event cannot be replayed; a failed delivery of a paused endpoint is held
        failed = http.get("/api/v1/events?status=failed", headers=token).get_json()
        assert {row["id"] for row in failed["events"]} == {first, second}
        retried = http.post(f"/api/v1/deliveries/{delivery_id}/retry", headers=token)
        assert retried.status_code == 200, retried.get_json()
        assert retried.get_json()["delivery"]["status"] == "pending"
        again = http.post(f"/api/v1/deliveries/{delivery_id}/retry", headers=token)
        assert again.status_code == 409 and "Only a failed delivery" in again.get_json()["error"]
        twice = http.post(f"/api/v1/events/{first}/replay", headers=token)
        assert twice.status_code == 409 and "already queued" in twice.get_json()["error"]

        resumed = http.post(f"/api/v1/workflows/{flow_id}/resume", headers=token)
        assert resumed.status_code == 200 and resumed.get_json()["workflow"]["paused"] is False
        assert http.post(f"/api/v1/workflows/{flow_id}/resume", headers=token).status_code == 409
        run_tick(app)
        assert server.count == 3
        assert server.requests[-1]["headers"]["webhook-id"] == str(delivery_id)

        replayed = http.post(f"/api/v1/events/{second}/replay", headers=token)
        assert replayed.status_code == 200
        assert replayed.get_json()["event"]["status"] == "queued"
        run_tick(app)
        assert server.count == 4
        assert server.requests[-1]["headers"]["webhook-id"] != str(delivery_id)
    with app.app_context():
        assert db.session.get(Event, first).status == "processed"
        assert db.session.get(Event, second).status == "processed"
    entries = audit_entries(app, "events")
    assert [entry.action for entry in entries] == ["retry_delivery", "resume", "replay"]
    assert all(entry.actor == ADMIN_EMAIL and MARK in entry.description for entry in entries)


def test_under_the_restriction_a_replay_is_held_like_the_buttons(any_app):  # noqa: F811
    app = any_app
    http = app.test_client()
    add_workflow(app)
    token = bearer(make_token(app, ADMIN_EMAIL, READ, WRITE, name="recovery"))
    event_id = _events(app, api_key(app), 1)[0]
    run_tick(app)
    set_restriction(app, True)
    with app.app_context():  # the admin may sign in under the restriction
        row = get_or_create_state()
        row.bypass_roles = accounts.find_roles(["Administrator"])
        row.bypass_groups = accounts.find_groups(["Administrators"])
        db.session.commit()
    replayed = http.post(f"/api/v1/events/{event_id}/replay", headers=token)
    assert replayed.status_code == 200 and replayed.get_json()["processing"] == "paused"
    listed = http.get("/api/v1/events?status=queued", headers=token).get_json()
    assert [(row["id"], row["held"]) for row in listed["events"]] == [(event_id, True)]
    run_tick(app)
    with app.app_context():
        assert db.session.get(Event, event_id).status == "queued"
    set_restriction(app, False)
    run_tick(app)
    assert http.get("/api/v1/events?status=queued", headers=token).get_json()["events"] == []

    # a user maintenance blocks gets 503 from these calls too
    add_user(app, "ops@example.com", roles=("Operator",), groups=())
    ops = bearer(make_token(app, "ops@example.com", READ, WRITE, name="ops"))
    set_restriction(app, True)
    for answer in (
        http.get("/api/v1/events", headers=ops),
        http.post(f"/api/v1/events/{event_id}/replay", headers=ops),
    ):
        assert answer.status_code == 503 and "message" in answer.get_json()
    assert [entry.action for entry in audit_entries(app, "events")] == ["replay"]
