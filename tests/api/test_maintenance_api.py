"""The maintenance API: ETag and processing, PATCH through the page's rules, waiting until quiet,
and a page opened before an API change refusing to save over it."""

import threading
import time
from datetime import timedelta

import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.extensions import db
from portal.maintenance import load_state
from portal.models import AuditEntry, Client
from portal.models.tables import deliveries, events
from tests.conftest import ADMIN_EMAIL, csrf_token, login
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)
from tests.token_helpers import add_user, any_app, bearer, make_token  # noqa: F401

URL = "/api/v1/maintenance"
ON = {
    "enabled": True,
    "restrict_event_processor": True,
    "message": "Deploying.",
    "bypass_roles": ["Administrator"],
    "bypass_groups": ["Administrators"],
}


def _writer(app) -> dict:
    return bearer(make_token(app, ADMIN_EMAIL, "maintenance:read", "maintenance:write"))


def _claimed_delivery(app) -> int:
    """A webhook call in flight: a pending delivery a processor holds a live claim on."""
    with app.app_context():
        client_id = db.session.scalar(sa.select(Client.id))
        event_id = db.session.execute(
            sa.insert(events).values(client_id=client_id, type="t", payload={}, status="queued")
        ).inserted_primary_key[0]
        until = utc_now() + timedelta(seconds=60)
        delivery_id = db.session.execute(
            sa.insert(deliveries).values(
                event_id=event_id, status="pending", next_attempt_at=until, claimed_until=until
            )
        ).inserted_primary_key[0]
        db.session.commit()
        return delivery_id


def _record(app, delivery_id: int) -> None:
    with app.app_context():
        db.session.execute(
            sa.update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(status="succeeded", claimed_until=None)
        )
        db.session.commit()


def test_patch_enables_with_etag_effect_and_audit_naming_the_token(any_app):  # noqa: F811
    app = any_app
    headers = _writer(app)
    client = app.test_client()
    first = client.get(URL, headers=headers)
    assert first.status_code == 200 and first.get_json()["processing"] == "running"
    etag = first.headers["ETag"]
    assert etag == f'"{first.get_json()["version"]}"'
    response = client.patch(URL, json=ON, headers={**headers, "If-Match": etag})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["enabled"] and body["processing"] == "paused" and body["in_flight"] == 0
    assert response.headers["ETag"] != etag
    assert body["effect"]["processing"] == "pauses"
    assert body["effect"]["still_allowed"]["own_client"] == [ADMIN_EMAIL]
    assert "Maintenance mode: off → on" in body["effect"]["changes"]
    # the stale version is refused with the current state, nothing changed
    stale = client.patch(URL, json={"message": "other"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.get_json()["message"] == "Deploying."
    assert stale.headers["ETag"] == response.headers["ETag"]
    with app.app_context():
        assert load_state().message == "Deploying."
        entry = db.session.scalar(
            sa.select(AuditEntry).where(
                AuditEntry.module == "maintenance", AuditEntry.action == "enable"
            )
        )
        assert entry.actor == ADMIN_EMAIL and "personal access token deploy" in entry.description


def test_patch_refuses_bad_input_naming_the_field(any_app):  # noqa: F811
    app = any_app
    headers = _writer(app)
    client = app.test_client()
    for body, field in [
        ({"enabled": "yes"}, "enabled"),
        ({"bypass_roles": ["Nope"]}, "bypass_roles"),
        ({"bypass_groups": "Administrators"}, "bypass_groups"),
        ({"message": "x" * 2001}, "message"),
        ({"notice_minutes": 99999}, "notice_minutes"),
        ({"notice_minutes": True}, "notice_minutes"),
        ({"scheduled_start": "2001-01-01T00:00Z"}, "scheduled_start"),
        ({"scheduled_start": "tomorrow"}, "scheduled_start"),
        ({"colour": "red"}, "colour"),
        ({}, "body"),
    ]:
        response = client.patch(URL, json=body, headers=headers)
        assert response.status_code == 400, (body, response.get_json())
        assert response.get_json()["details"] == [field], body
    assert (
        client.patch(
            URL, data="[", headers={**headers, "Content-Type": "application/json"}
        ).status_code
        == 400
    )
    with app.app_context():
        assert load_state().changed_at is None


def test_patch_refuses_a_lockout_with_409(any_app):  # noqa: F811
    app = any_app
    headers = _writer(app)
    client = app.test_client()
    response = client.patch(URL, json={**ON, "bypass_roles": ["Viewer"]}, headers=headers)
    assert response.status_code == 409
    assert "lock yourself out" in response.get_json()["error"]
    with app.app_context():
        assert load_state().enabled is False


def test_processing_is_pausing_while_a_call_is_in_flight_and_wait_answers_when_paused(any_app):  # noqa: F811
    app = any_app
    headers = _writer(app)
    client = app.test_client()
    delivery = _claimed_delivery(app)
    assert client.patch(URL, json=ON, headers=headers).status_code == 200
    state = client.get(URL, headers=headers).get_json()
    assert (state["processing"], state["in_flight"]) == ("pausing", 1)
    timed_out = client.get(f"{URL}?wait=paused&timeout=0.3", headers=headers).get_json()
    assert timed_out["processing"] == "pausing"
    threading.Timer(0.5, _record, (app, delivery)).start()
    started = time.monotonic()
    waited = client.get(f"{URL}?wait=paused&timeout=30", headers=headers)
    assert waited.status_code == 200
    assert (waited.get_json()["processing"], waited.get_json()["in_flight"]) == ("paused", 0)
    assert time.monotonic() - started < 25  # answered once paused, not at the timeout
    for query in ("wait=drained", "wait=paused&timeout=121", "wait=paused&timeout=x"):
        assert client.get(f"{URL}?{query}", headers=headers).status_code == 400


def test_cli_enable_wait(app, runner):
    delivery = _claimed_delivery(app)
    args = ["maintenance", "enable", "--restrict-events", "--bypass-role", "Administrator"]
    args += ["--bypass-group", "Administrators", "--wait"]
    result = runner.invoke(args=[*args, "--timeout", "0.3"])
    assert result.exit_code != 0 and "Timed out" in result.output
    _record(app, delivery)
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "Processing is paused" in result.output
    runner.invoke(args=["maintenance", "enable", "--no-restrict-events"])
    assert runner.invoke(args=["maintenance", "enable", "--wait"]).exit_code != 0


def test_a_page_opened_before_an_api_change_refuses_to_save_over_it(any_app):  # noqa: F811
    app = any_app
    add_user(app, "second@example.com")
    headers = bearer(make_token(app, "second@example.com", "maintenance:write", name="pipeline"))
    page = app.test_client()
    login(page, ADMIN_EMAIL)
    token = csrf_token(page, "/settings/maintenance")
    opened = page.get("/settings/maintenance").get_data(as_text=True)
    version = opened.split('id="version" name="version" type="hidden" value="')[1].split('"')[0]
    with app.app_context():
        roles = {
            r.name: r.id
            for r in db.session.scalars(
                sa.select(__import__("portal.models", fromlist=["Role"]).Role)
            )
        }
    api = app.test_client().patch(URL, json={"message": "From the pipeline."}, headers=headers)
    assert api.status_code == 200, api.get_json()
    form = {
        "csrf_token": token,
        "version": version,
        "message": "Typed on the page.",
        "bypass_roles": [roles["Viewer"]],
        "notice_minutes": "30",
    }
    refused = page.post("/settings/maintenance", data=form)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert "Not saved" in text and "second@example.com" in text
    assert "through the personal access token pipeline" in text
    assert "Typed on the page." in text  # the input is kept
    with app.app_context():
        assert load_state().message == "From the pipeline."
    # the refusal carries the new version: saving again, deliberately, applies it
    version = text.split('id="version" name="version" type="hidden" value="')[1].split('"')[0]
    saved = page.post("/settings/maintenance", data={**form, "version": version})
    assert saved.status_code == 302
    with app.app_context():
        assert load_state().message == "Typed on the page."
