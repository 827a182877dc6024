"""Settings → Clients: security policy and API keys shown once."""

import json
import re

import pytest
import sqlalchemy as sa

from portal import accounts, clients
from portal.extensions import db
from portal.models import AuditEntry, Client, Role
from tests.admin_helpers import client_id, last_audit
from tests.conftest import login, post_form

KEY_RE = re.compile(r'id="api-key-value" readonly value="(gp_[^"]+)"')


def client_data(**change) -> dict:
    data = {
        "name": "Acme",
        "contact_email": "ops@acme.test",
        "password_retry_limit": "5",
        "lockout_minutes": "15",
        "password_regex": "",
        "password_rule_message": "",
        "password_rule_message_de": "",
    }
    data.update(change)
    return data


def all_audit_json(app) -> str:
    with app.app_context():
        entries = db.session.scalars(sa.select(AuditEntry)).all()
        return json.dumps([[e.description, e.before, e.after] for e in entries])


def test_new_client_form_has_default_policy(admin_client):
    page = admin_client.get("/settings/clients/new").get_data(as_text=True)
    assert 'name="password_retry_limit"' in page and 'value="5"' in page
    assert 'name="lockout_minutes"' in page and 'value="15"' in page


def test_create_client_shows_the_key_once_and_stores_only_its_hash(app, admin_client):
    response = post_form(admin_client, "/settings/clients/new", client_data())
    assert response.status_code == 302  # post/redirect/get: a reload does not create it again
    assert response.headers["Location"] == f"/settings/clients/{client_id(app, 'Acme')}/key"
    response = admin_client.get(response.headers["Location"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    key = KEY_RE.search(response.get_data(as_text=True)).group(1)
    with app.app_context():
        client = accounts.find_client("Acme")
        assert client.api_key_hash == clients.api_key_digest(key)
        assert clients.client_for_api_key(key).name == "Acme"
        assert (client.password_retry_limit, client.lockout_minutes) == (5, 15)
    for url in ("/settings/clients", f"/settings/clients/{client_id(app, 'Acme')}"):
        assert key not in admin_client.get(url).get_data(as_text=True)
    assert key not in all_audit_json(app)
    assert last_audit(app, "clients").after["name"] == "Acme"


def test_rotate_key_invalidates_the_old_one(app, admin_client):
    first = post_form(admin_client, "/settings/clients/new", client_data(), follow_redirects=True)
    old_key = KEY_RE.search(first.get_data(as_text=True)).group(1)
    cid = client_id(app, "Acme")
    response = post_form(
        admin_client,
        f"/settings/clients/{cid}/rotate-key",
        {},
        token_from=f"/settings/clients/{cid}",
        follow_redirects=True,
    )
    assert response.status_code == 200 and response.request.path == f"/settings/clients/{cid}/key"
    new_key = KEY_RE.search(response.get_data(as_text=True)).group(1)
    assert new_key != old_key
    with app.app_context():
        assert clients.client_for_api_key(old_key) is None
        assert clients.client_for_api_key(new_key).name == "Acme"
    assert last_audit(app, "clients").action == "rotate_key"
    assert new_key not in all_audit_json(app) and old_key not in all_audit_json(app)


def test_rotating_a_key_asks_first_and_a_get_changes_nothing(app, admin_client):
    first = post_form(admin_client, "/settings/clients/new", client_data(), follow_redirects=True)
    key = KEY_RE.search(first.get_data(as_text=True)).group(1)
    cid = client_id(app, "Acme")
    edit = admin_client.get(f"/settings/clients/{cid}").get_data(as_text=True)
    assert f'href="/settings/clients/{cid}/rotate-key"' in edit  # a link to the question
    page = admin_client.get(f"/settings/clients/{cid}/rotate-key")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Rotate the API key of Acme?" in text
    assert f"starting {key[:10]}" in text and "stops working at once" in text
    assert "received 0 events in the last 24 hours" in text
    with app.app_context():
        assert clients.client_for_api_key(key).name == "Acme"  # asking rotated nothing


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"password_retry_limit": "0"}, "Must be between 1 and 1000."),
        ({"lockout_minutes": "0"}, "Must be between 1 and 525600."),
        # issue 8: these were a 500 (an overflowing lockout, a retry limit beyond 64 bits)
        ({"lockout_minutes": "6000000000"}, "Must be between 1 and 525600."),
        ({"password_retry_limit": "100000000000000000000"}, "Must be between 1 and 1000."),
        ({"password_retry_limit": "1e20"}, "Not a valid integer value."),
        ({"lockout_minutes": "soon"}, "Not a valid integer value."),
        ({"password_regex": "(unclosed"}, "Not a valid regular expression"),
        ({"name": "Default"}, "A client named Default already exists."),
        ({"name": ""}, "This field is required."),
    ],
)
def test_client_form_rejects_bad_input(app, admin_client, change, message):
    response = post_form(admin_client, "/settings/clients/new", client_data(**change))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        clients.create_client("Other")
        db.session.commit()
    cid = client_id(app, "Other")
    edit = post_form(
        admin_client, f"/settings/clients/{cid}", client_data(**{"name": "Other", **change})
    )
    assert edit.status_code == 200 and message in edit.get_data(as_text=True)


def test_edit_policy_is_saved_audited_and_applied(app, admin_client, make_user):
    cid = client_id(app)
    data = client_data(
        name="Default",
        password_retry_limit="2",
        lockout_minutes="30",
        password_regex=r"\d{12}",
        password_rule_message="Twelve digits.",
        password_rule_message_de="Zwölf Ziffern.",
    )
    assert post_form(admin_client, f"/settings/clients/{cid}", data).status_code == 302
    entry = last_audit(app, "clients")
    assert entry.before["password_retry_limit"] == 5
    assert entry.after["password_retry_limit"] == 2 and entry.after["password_regex"] == r"\d{12}"
    assert "Twelve digits." in admin_client.get("/settings/clients").get_data(as_text=True)
    # the retry limit applies: two wrong passwords lock the account
    make_user("rita@example.com", groups=("Administrators",))
    other = app.test_client()
    for _ in range(2):
        login(other, "rita@example.com", "wrong-password")
    with app.app_context():
        assert accounts.find_user("rita@example.com").locked_until is not None


def test_clients_page_needs_client_settings_permission(app, client, make_user):
    with app.app_context():
        accounts.create_role("User admin", ["users:manage"])
        db.session.commit()
    make_user("sam@example.com", roles=("User admin",), groups=("Administrators",))
    login(client, "sam@example.com")
    assert client.get("/settings/clients").status_code == 403
    assert client.get("/settings/users").status_code == 200
    assert "/settings/clients" not in client.get("/settings/users").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Client.id))) == 1
        assert db.session.scalar(sa.select(Role).where(Role.name == "User admin")) is not None
