"""Settings → Maintenance Mode: permissions, CSRF, lockout protection, preview, banners, audit."""

import html
import re

import pytest
import sqlalchemy as sa

from portal import accounts, clients
from portal.extensions import db
from portal.models import AccessGroup, Role
from tests.admin_helpers import audit_entries
from tests.conftest import login, make_app, post_form
from tests.maintenance_helpers import add_group, login_refusal, set_maintenance, state_dict

URL = "/settings/maintenance"


def ids(app, model, *names: str) -> list[str]:
    with app.app_context():
        rows = db.session.scalars(sa.select(model).where(model.name.in_(names)))
        return [str(row.id) for row in rows]


def save(client, app, *, roles=(), groups=(), enabled=True, **fields):
    data = {
        "bypass_roles": ids(app, Role, *roles),
        "bypass_groups": ids(app, AccessGroup, *groups),
        "message": "",
        "submit": "Save",
        **fields,
    }
    if enabled:
        data["enabled"] = "y"
    return post_form(client, URL, data)


def section(page: str, element_id: str) -> str:
    match = re.search(rf'<section class="card" id="{element_id}".*?</section>', page, re.S)
    assert match, element_id
    return match.group(0)


def test_page_has_the_contract_fields_and_warnings(admin_client):
    page = admin_client.get(URL).get_data(as_text=True)
    names = ("enabled", "restrict_event_processor", "message", "bypass_roles", "bypass_groups")
    for name in (*names, "scheduled_start", "notice_minutes"):
        assert f'name="{name}"' in page
    # checkbox lists: the value is the id, the label's text exactly the name
    for field, name in (("bypass_roles", "Administrator"), ("bypass_groups", "Administrators")):
        box = re.search(
            rf'<input id="({field}-\d+)" name="{field}" type="checkbox" value="\d+"', page
        )
        assert box, field
        assert f'<label for="{box.group(1)}">{name}</label>' in page
    assert "both</strong> a selected bypass role <strong>and</strong>" in page
    assert "applies to <strong>every client</strong>" in page


def test_admin_enables_and_the_change_is_audited(app, admin_client):
    response = save(
        admin_client, app, roles=("Administrator",), groups=("Administrators",), message="Hi"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == URL
    state = state_dict(app)
    assert state["enabled"] is True
    assert state["bypass_roles"] == ["Administrator"]
    assert state["changed_by"] == "admin@example.com"
    assert state["enabled_since"] is not None
    page = admin_client.get(URL).get_data(as_text=True)
    assert "Maintenance settings saved" in page
    [entry] = audit_entries(app, "maintenance")
    assert (entry.actor, entry.action) == ("admin@example.com", "enable")
    assert entry.before["enabled"] is False and entry.after["enabled"] is True
    assert entry.after["message"] == "Hi"


def test_enabled_since_kept_while_on_and_cleared_when_off(app, admin_client):
    save(admin_client, app, roles=("Administrator",), groups=("Administrators",))
    since = state_dict(app)["enabled_since"]
    save(admin_client, app, roles=("Administrator",), groups=("Administrators",), message="Later")
    assert state_dict(app)["enabled_since"] == since
    save(
        admin_client,
        app,
        enabled=False,
        roles=("Administrator",),
        groups=("Administrators",),
        message="Later",
    )
    state = state_dict(app)
    assert state["enabled"] is False and state["enabled_since"] is None
    assert [e.action for e in audit_entries(app, "maintenance")] == ["enable", "update", "disable"]


@pytest.mark.parametrize(
    ("roles", "groups"),
    [
        ((), ()),
        (("Administrator",), ()),
        ((), ("Administrators",)),
        (("Operator",), ("Administrators",)),
    ],
)
def test_lockout_protection_refuses_and_explains(app, admin_client, roles, groups):
    before = state_dict(app)
    response = save(admin_client, app, roles=roles, groups=groups, message="Nope")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "you would lock yourself out" in page
    assert state_dict(app) == before
    assert audit_entries(app, "maintenance") == []


def test_no_lockout_check_while_saving_it_off(app, admin_client):
    response = save(admin_client, app, enabled=False, roles=("Operator",), message="Prepared")
    assert response.status_code == 302
    assert state_dict(app)["message"] == "Prepared"


@pytest.fixture()
def population(app, make_user):
    """Users across two clients; the selection Operator + Ops lets in the ``in-`` ones."""
    add_group(app, "Ops")
    with app.app_context():
        clients.create_client("Acme")
        clients.create_client("Zeta")
        db.session.commit()
    make_user("in-1@example.com", roles=("Operator",), groups=("Ops",))
    make_user("in-2@example.com", roles=("Viewer", "Operator"), groups=("Administrators", "Ops"))
    make_user("inactive@example.com", roles=("Operator",), groups=("Ops",))
    make_user("role-only@example.com", roles=("Operator",), groups=("Administrators",))
    make_user("group-only@example.com", roles=("Viewer",), groups=("Ops",))
    make_user("acme-in-1@example.com", roles=("Operator",), groups=("Ops",), client="Acme")
    make_user("acme-in-2@example.com", roles=("Operator",), groups=("Ops",), client="Acme")
    make_user("acme-out@example.com", roles=("Viewer",), groups=("Ops",), client="Acme")
    make_user("acme-off@example.com", roles=("Operator",), groups=("Ops",), client="Acme")
    with app.app_context():
        accounts.find_user("inactive@example.com").active = False
        accounts.find_user("acme-off@example.com").active = False
        db.session.commit()


def test_preview_lists_who_can_sign_in_without_saving(app, admin_client, population):
    before = state_dict(app)
    response = save(admin_client, app, roles=("Operator",), groups=("Ops",), preview="Preview")
    assert response.status_code == 200
    preview = section(response.get_data(as_text=True), "who-can-sign-in")
    own = re.findall(r"<li>([^<]+)</li>", preview)
    assert own == ["in-1@example.com", "in-2@example.com"]
    others = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td></tr>", preview)
    assert others == [("Acme", "2"), ("Zeta", "0")]
    assert "acme-in-1" not in preview  # other clients only as counts
    assert state_dict(app) == before
    assert audit_entries(app, "maintenance") == []


def test_preview_on_get_shows_the_stored_selection(app, admin_client, population):
    set_maintenance(app, enabled=False, roles=("Administrator",), groups=("Administrators",))
    preview = section(admin_client.get(URL).get_data(as_text=True), "who-can-sign-in")
    assert re.findall(r"<li>([^<]+)</li>", preview) == ["admin@example.com"]
    assert re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td></tr>", preview) == [
        ("Acme", "0"),
        ("Zeta", "0"),
    ]


def test_user_without_permission_gets_403_and_no_menu_entry(app, client, make_user):
    make_user("viewer@example.com", roles=("Operator",), groups=("Administrators",))
    assert login(client, "viewer@example.com").status_code == 302
    assert client.get(URL).status_code == 403
    assert client.post(URL, data={"enabled": "y"}).status_code in (400, 403)
    assert f'href="{URL}"' not in client.get("/").get_data(as_text=True)


def test_admin_sees_the_menu_entry(admin_client):
    assert f'href="{URL}"' in admin_client.get("/").get_data(as_text=True)


def test_not_signed_in_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_post_without_valid_csrf_token_is_refused(app, admin_client, token):
    data = {
        "enabled": "y",
        "bypass_roles": ids(app, Role, "Administrator"),
        "bypass_groups": ids(app, AccessGroup, "Administrators"),
    }
    if token:
        data["csrf_token"] = token
    assert admin_client.post(URL, data=data).status_code == 400
    assert state_dict(app)["enabled"] is False


@pytest.mark.parametrize(
    "fields",
    [{"bypass_roles": ["999"]}, {"bypass_groups": ["not-a-number"]}, {"message": "x" * 2001}],
)
def test_bad_input_re_renders(app, admin_client, fields):
    data = {"enabled": "y", "bypass_roles": ids(app, Role, "Administrator")}
    data["bypass_groups"] = ids(app, AccessGroup, "Administrators")
    data.update(fields)
    response = post_form(admin_client, URL, data)
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    assert state_dict(app)["enabled"] is False


MESSAGE = "<script>alert('x')</script>\nSecond line"


def test_banners_show_the_escaped_message_and_go_after_disable(app, admin_client):
    save(admin_client, app, roles=("Administrator",), groups=("Administrators",), message=MESSAGE)
    header = admin_client.get("/").get_data(as_text=True)
    banner = re.search(
        r'id="maintenance-banner">.*?<span class="message">(.*?)</span>', header, re.S
    )
    assert banner and html.unescape(banner.group(1)) == MESSAGE  # line break kept
    assert "<script>alert" not in header
    anonymous = app.test_client()
    login_page = anonymous.get("/auth/login").get_data(as_text=True)
    assert html.unescape(login_refusal(login_page)[1]) == MESSAGE
    assert "&lt;script&gt;" in login_page and "<script>alert" not in login_page

    save(admin_client, app, enabled=False, roles=("Administrator",), groups=("Administrators",))
    assert "maintenance-banner" not in admin_client.get("/").get_data(as_text=True)
    assert "login-maintenance-message" not in anonymous.get("/auth/login").get_data(as_text=True)


def test_message_line_breaks_are_stored_as_newlines(app, admin_client):
    save(admin_client, app, roles=("Administrator",), groups=("Administrators",), message="a\r\nb")
    assert state_dict(app)["message"] == "a\nb"


@pytest.fixture()
def unavailable_client(db_path, tmp_path):
    app = make_app(db_path, tmp_path / "instance", MAINTENANCE_MODE_AVAILABLE=False)
    client = app.test_client()
    assert login(client).status_code == 302
    yield app, client
    with app.app_context():
        db.engine.dispose()


def test_unavailable_instance_says_so_and_refuses_enabling(unavailable_client):
    app, client = unavailable_client
    page = client.get(URL).get_data(as_text=True)
    assert "Maintenance mode is not available on this instance" in page
    assert re.search(r'<input[^>]*disabled[^>]*name="enabled"', page)
    response = save(client, app, roles=("Administrator",), groups=("Administrators",))
    assert response.status_code == 200
    assert "it cannot be enabled" in response.get_data(as_text=True)
    assert state_dict(app)["enabled"] is False


def test_restrict_event_processor_is_saved_and_reported(app, admin_client):
    save(
        admin_client,
        app,
        roles=("Administrator",),
        groups=("Administrators",),
        restrict_event_processor="y",
    )
    assert state_dict(app)["restrict_event_processor"] is True
    assert admin_client.get("/healthz").get_json()["event_processor"] == "paused"
    page = admin_client.get(URL).get_data(as_text=True)
    assert "Paused (events are held)" in page
    assert re.search(r'<input checked[^>]*name="restrict_event_processor"', page)
