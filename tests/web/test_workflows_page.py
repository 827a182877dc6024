"""Settings → Workflows through the real forms, with CSRF on."""

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Client, Workflow
from tests.admin_helpers import audit_entries
from tests.conftest import login, post_form
from tests.events_support import SECRET

NEW = "/settings/workflows/new"


def webhook_form(**changes) -> dict:
    data = {
        "client_id": "1",
        "name": "Notify ops",
        "enabled": "y",
        "event_type": "door.opened",
        "condition_field": "sensor.temp",
        "condition_op": "gt",
        "condition_value": "30",
        "action": "webhook",
        "url": "https://hooks.example.com/portal",
        "secret": "",
    }
    data.update(changes)
    return data


def workflows(app) -> list[Workflow]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Workflow).order_by(Workflow.id)))


def test_create_webhook_workflow_generates_secret_and_audits(app, admin_client):
    response = post_form(admin_client, NEW, webhook_form(), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Workflow Notify ops created." in page
    (workflow,) = workflows(app)
    assert response.request.path == f"/settings/workflows/{workflow.id}/secret"
    assert f'value="{workflow.secret}"' in page  # the generated secret, until dismissed
    assert "https://hooks.example.com/portal" in admin_client.get("/settings/workflows").text
    assert workflow.condition == {"field": "sensor.temp", "op": "gt", "value": 30}
    assert workflow.enabled and workflow.action == "webhook"
    assert len(workflow.secret) >= 32
    (entry,) = audit_entries(app, "workflows")
    assert entry.action == "create" and entry.before is None
    assert entry.after["name"] == "Notify ops" and entry.after["url"] == workflow.url
    assert workflow.secret not in str(entry.after)  # only a fingerprint is audited
    edit_page = admin_client.get(f"/settings/workflows/{workflow.id}/edit").get_data(as_text=True)
    assert workflow.secret in edit_page  # shown to the admin to configure the receiver


def test_record_workflow_without_condition(app, admin_client):
    data = webhook_form(name="Keep", action="record", event_type="*", url="", condition_field="")
    data["condition_value"] = ""
    assert post_form(admin_client, NEW, data).status_code == 302
    (workflow,) = workflows(app)
    assert (workflow.action, workflow.event_type, workflow.condition) == ("record", "*", None)
    assert workflow.secret == "" and workflow.url == ""


def test_edit_keeps_secret_when_blank_and_audits_before_after(app, admin_client):
    post_form(admin_client, NEW, webhook_form(secret=SECRET))
    (workflow,) = workflows(app)
    url = f"/settings/workflows/{workflow.id}/edit"
    data = webhook_form(name="Notify on-call", condition_op="eq", condition_value="open")
    response = post_form(admin_client, url, data)
    assert response.status_code == 302
    (workflow,) = workflows(app)
    assert workflow.name == "Notify on-call" and workflow.secret == SECRET
    assert workflow.condition == {"field": "sensor.temp", "op": "eq", "value": "open"}
    entry = audit_entries(app, "workflows")[-1]
    assert entry.action == "update"
    assert entry.before["name"] == "Notify ops" and entry.after["name"] == "Notify on-call"
    assert entry.before["condition"]["op"] == "gt" and entry.after["condition"]["op"] == "eq"


def test_edit_form_shows_stored_values(app, admin_client):
    post_form(admin_client, NEW, webhook_form(condition_op="eq", condition_value='"30"'))
    (workflow,) = workflows(app)
    assert workflow.condition["value"] == "30"  # a quoted number stays text
    page = admin_client.get(f"/settings/workflows/{workflow.id}/edit").get_data(as_text=True)
    assert 'value="&#34;30&#34;"' in page or 'value="&quot;30&quot;"' in page
    assert 'value="sensor.temp"' in page


def test_toggle_and_delete_through_post_forms(app, admin_client):
    post_form(admin_client, NEW, webhook_form())
    (workflow,) = workflows(app)
    listing = "/settings/workflows"
    response = post_form(
        admin_client, f"/settings/workflows/{workflow.id}/toggle", {}, token_from=listing
    )
    assert response.status_code == 302
    assert workflows(app)[0].enabled is False
    assert "Disabled" in admin_client.get(listing).get_data(as_text=True)
    delete_url = f"/settings/workflows/{workflow.id}/delete"
    confirm = admin_client.get(delete_url)
    assert confirm.status_code == 200 and workflows(app)  # GET only asks
    assert "Delete workflow Notify ops?" in confirm.get_data(as_text=True)
    assert post_form(admin_client, delete_url, {}).status_code == 302
    assert workflows(app) == []
    actions = [entry.action for entry in audit_entries(app, "workflows")]
    assert actions == ["create", "disable", "delete"]
    deleted = audit_entries(app, "workflows")[-1]
    assert deleted.before["name"] == "Notify ops" and deleted.after is None


def test_post_without_csrf_token_is_refused(app, admin_client):
    post_form(admin_client, NEW, webhook_form())
    (workflow,) = workflows(app)
    assert admin_client.post(f"/settings/workflows/{workflow.id}/delete").status_code == 400
    assert admin_client.post(NEW, data=webhook_form(name="Other")).status_code == 400
    assert len(workflows(app)) == 1


def test_bad_input_rerenders_with_messages(app, admin_client):
    cases = [
        (webhook_form(url="ftp://files.example.com/x"), "Give a full http:// or https:// URL"),
        (webhook_form(url="not a url"), "Give a full http:// or https:// URL"),
        (webhook_form(name=""), "This field is required."),
        (webhook_form(condition_value="warm"), "Greater/less than compares numbers"),
        (webhook_form(condition_op="eq", condition_value=""), "Give the value to compare"),
        (webhook_form(condition_field="", condition_value="3"), "Name the payload field"),
        (webhook_form(action="shell"), "Not a valid choice"),
        (webhook_form(client_id="999"), "Not a valid choice"),
    ]
    for data, message in cases:
        response = post_form(admin_client, NEW, data)
        assert response.status_code == 200, data
        assert message in response.get_data(as_text=True), message
    assert workflows(app) == []


def test_duplicate_name_per_client(app, admin_client):
    post_form(admin_client, NEW, webhook_form())
    response = post_form(admin_client, NEW, webhook_form(name="notify OPS"))
    assert response.status_code == 200
    assert "already has a workflow with this name" in response.get_data(as_text=True)
    with app.app_context():
        db.session.add(Client(name="Acme"))
        db.session.commit()
        acme = db.session.scalar(sa.select(Client.id).where(Client.name == "Acme"))
    # the same name is fine for another client, and editing a workflow keeps its own name
    assert post_form(admin_client, NEW, webhook_form(client_id=str(acme))).status_code == 302
    first = workflows(app)[0]
    edit = f"/settings/workflows/{first.id}/edit"
    assert post_form(admin_client, edit, webhook_form(enabled="")).status_code == 302


def test_viewer_gets_403_and_no_menu_entry(client, make_user):
    make_user("viewer@example.com", roles=("Viewer",))
    login(client, "viewer@example.com")
    assert client.get("/settings/workflows").status_code == 403
    assert client.get(NEW).status_code == 403
    assert "/settings/workflows" not in client.get("/").get_data(as_text=True)


def test_operator_manages_only_own_client(app, client, make_user):
    with app.app_context():
        db.session.add(Client(name="Acme"))
        db.session.flush()
        other = Workflow(
            client_id=db.session.scalar(sa.select(Client.id).where(Client.name == "Acme")),
            name="Acme flow",
        )
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    make_user("op@example.com", roles=("Operator",))
    login(client, "op@example.com")
    page = client.get("/settings/workflows").get_data(as_text=True)
    assert "Acme flow" not in page and "Default" in page
    assert client.get(f"/settings/workflows/{other_id}/edit").status_code == 404
    assert "Acme" not in client.get(NEW).get_data(as_text=True)


def test_user_text_is_escaped(app, admin_client):
    name = "<script>alert(1)</script>"
    post_form(admin_client, NEW, webhook_form(name=name))
    page = admin_client.get("/settings/workflows").get_data(as_text=True)
    assert name not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_delivery_limits_are_saved_shown_and_audited(app, admin_client):
    response = post_form(
        admin_client, NEW, webhook_form(max_in_flight="1", rate_limit="2.5", secret=SECRET)
    )
    assert response.status_code == 302
    (workflow,) = workflows(app)
    assert (workflow.max_in_flight, workflow.rate_limit) == (1, 2.5)
    page = admin_client.get(f"/settings/workflows/{workflow.id}/edit").get_data(as_text=True)
    assert 'name="max_in_flight"' in page and 'value="1"' in page and 'value="2.5"' in page
    (entry,) = audit_entries(app, "workflows")
    assert entry.after["max_in_flight"] == 1 and entry.after["rate_limit"] == 2.5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_in_flight", "0"),
        ("max_in_flight", "many"),
        ("max_in_flight", "99999999999999999999"),
        ("rate_limit", "nan"),
        ("rate_limit", "inf"),
        ("rate_limit", "-1"),
        ("rate_limit", "0"),
        ("secret", "plain-text-secret"),
        ("secret", "whsec_not base64!"),
        ("secret", "whsec_c2hvcnQ="),  # a key of 5 bytes
    ],
)
def test_bad_delivery_settings_re_render_with_an_error(app, admin_client, field, value):
    response = post_form(admin_client, NEW, webhook_form(**{field: value}))
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    assert workflows(app) == []


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("items.²", "² is not a list position"),
        ("items.١", "١ is not a list position"),
        ("items..count", "no empty part between dots"),
        ("items.", "no empty part between dots"),
    ],
)
def test_operator_cannot_save_a_path_the_processor_cannot_follow(
    app, client, make_user, path, message
):
    make_user("op@example.com", roles=("Operator",))
    login(client, "op@example.com")
    data = webhook_form(condition_field=path, condition_op="exists", condition_value="")
    response = post_form(client, NEW, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in page
    assert f'value="{path}"' in page  # the form comes back with what was typed
    assert workflows(app) == []
