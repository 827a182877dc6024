"""Settings → Triggers through the real forms, with CSRF on."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.clock import utc_now
from portal.events.trigger_schedule import next_fire_time
from portal.extensions import db
from portal.models import ScheduledTrigger
from tests.admin_helpers import audit_entries
from tests.conftest import login, post_form

NEW = "/settings/triggers/new"
LIST = "/settings/triggers"


def trigger_form(**changes) -> dict:
    data = {
        "client_id": "1",
        "name": "Heartbeat",
        "enabled": "y",
        "interval_seconds": "60",
        "cron": "",
        "event_type": "gateway.heartbeat",
        "payload": '{"source": "scheduler"}',
    }
    data.update(changes)
    return data


def triggers(app) -> list[ScheduledTrigger]:
    with app.app_context():
        query = sa.select(ScheduledTrigger).order_by(ScheduledTrigger.id)
        return list(db.session.scalars(query))


def test_create_interval_trigger_sets_next_fire(app, admin_client):
    before = utc_now()
    response = post_form(admin_client, NEW, trigger_form(), follow_redirects=True)
    assert "Trigger Heartbeat created." in response.get_data(as_text=True)
    (trigger,) = triggers(app)
    assert trigger.interval_seconds == 60 and trigger.cron is None
    assert trigger.payload == {"source": "scheduler"}
    assert (
        before + timedelta(seconds=60) <= trigger.next_fire_at <= utc_now() + timedelta(seconds=60)
    )
    (entry,) = audit_entries(app, "triggers")
    assert entry.action == "create" and entry.before is None
    assert entry.after["interval_seconds"] == 60 and entry.after["payload"] == trigger.payload


def test_create_cron_trigger(app, admin_client):
    data = trigger_form(interval_seconds="", cron="0 3 * * *")
    assert post_form(admin_client, NEW, data).status_code == 302
    (trigger,) = triggers(app)
    assert trigger.cron == "0 3 * * *" and trigger.interval_seconds is None
    assert trigger.next_fire_at > utc_now()
    assert (trigger.next_fire_at.hour, trigger.next_fire_at.minute) == (3, 0)
    page = admin_client.get(LIST).get_data(as_text=True)
    assert "0 3 * * *" in page
    assert trigger.next_fire_at.strftime("%Y-%m-%d %H:%M:%S") in page


def test_list_shows_last_fired_and_missed_count(app, admin_client):
    post_form(admin_client, NEW, trigger_form())
    fired = utc_now().replace(microsecond=0)
    with app.app_context():
        trigger = db.session.scalar(sa.select(ScheduledTrigger))
        trigger.last_fired_at, trigger.missed_count = fired, 7
        db.session.commit()
    page = admin_client.get(LIST).get_data(as_text=True)
    assert fired.strftime("%Y-%m-%d %H:%M:%S") in page
    assert "missed 7 firings during maintenance" in page


def test_edit_changes_schedule_and_audits(app, admin_client):
    post_form(admin_client, NEW, trigger_form())
    (trigger,) = triggers(app)
    url = f"/settings/triggers/{trigger.id}/edit"
    page = admin_client.get(url).get_data(as_text=True)
    assert 'value="60"' in page and "scheduler" in page
    data = trigger_form(interval_seconds="", cron="*/5 * * * *", payload='{"n": 2}')
    assert post_form(admin_client, url, data).status_code == 302
    (trigger,) = triggers(app)
    assert trigger.cron == "*/5 * * * *" and trigger.interval_seconds is None
    assert trigger.next_fire_at.minute % 5 == 0 and trigger.next_fire_at > utc_now()
    entry = audit_entries(app, "triggers")[-1]
    assert entry.action == "update"
    assert entry.before["interval_seconds"] == 60 and entry.after["cron"] == "*/5 * * * *"
    assert entry.before["payload"] == {"source": "scheduler"} and entry.after["payload"] == {"n": 2}


def test_toggle_and_delete(app, admin_client):
    post_form(admin_client, NEW, trigger_form())
    (trigger,) = triggers(app)
    toggle = f"/settings/triggers/{trigger.id}/toggle"
    assert post_form(admin_client, toggle, {}, token_from=LIST).status_code == 302
    assert triggers(app)[0].enabled is False
    assert post_form(admin_client, toggle, {}, token_from=LIST).status_code == 302
    assert triggers(app)[0].enabled is True
    delete = f"/settings/triggers/{trigger.id}/delete"
    assert "Delete trigger Heartbeat?" in admin_client.get(delete).get_data(as_text=True)
    assert triggers(app)
    assert post_form(admin_client, delete, {}).status_code == 302
    assert triggers(app) == []
    assert [e.action for e in audit_entries(app, "triggers")] == [
        "create",
        "disable",
        "enable",
        "delete",
    ]
    assert audit_entries(app, "triggers")[1].before["enabled"] is True
    assert audit_entries(app, "triggers")[1].after["enabled"] is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cron": "61 * * * *"}, "Give either an interval or a cron expression, not both."),
        ({"interval_seconds": ""}, "Give an interval in seconds or a cron expression."),
        ({"interval_seconds": "", "cron": "61 * * * *"}, "Not a valid cron expression"),
        ({"interval_seconds": "", "cron": "* * *"}, "Not a valid cron expression"),
        ({"interval_seconds": "", "cron": "0 0 31 2 *"}, "never fires"),
        ({"interval_seconds": "0"}, "The interval is between 1 second and one year"),
        ({"interval_seconds": "99999999999"}, "The interval is between 1 second and one year"),
        ({"interval_seconds": "soon"}, "Not a valid integer value"),
        ({"payload": "{not json"}, "The payload is not valid JSON"),
        ({"payload": "[1, 2]"}, "The payload must be a JSON object"),
        ({"event_type": ""}, "This field is required."),
        ({"event_type": "*"}, "one exact event type"),
        ({"name": ""}, "This field is required."),
    ],
)
def test_bad_input_rerenders_with_message(app, admin_client, changes, message):
    response = post_form(admin_client, NEW, trigger_form(**changes))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert triggers(app) == []


def test_duplicate_name_per_client(app, admin_client):
    post_form(admin_client, NEW, trigger_form())
    response = post_form(admin_client, NEW, trigger_form(name=" heartbeat "))
    assert response.status_code == 200
    assert "already has a trigger with this name" in response.get_data(as_text=True)
    assert len(triggers(app)) == 1


def test_viewer_gets_403(client, make_user):
    make_user("viewer@example.com", roles=("Viewer",))
    login(client, "viewer@example.com")
    assert client.get(LIST).status_code == 403
    assert client.get(NEW).status_code == 403


def test_next_fire_time_helper():
    now = utc_now().replace(second=0, microsecond=0)
    assert next_fire_time(30, None, now) == now + timedelta(seconds=30)
    assert next_fire_time(None, "* * * * *", now) == now + timedelta(minutes=1)
    assert next_fire_time(None, None, now) is None
