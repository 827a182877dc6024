"""Settings → Audit log: newest first, filters, pagination, before/after details."""

from datetime import datetime

from portal import audit
from portal.extensions import db
from portal.models import AuditEntry
from tests.conftest import login, post_form


def add_entry(app, actor: str, module: str, when: datetime, description: str, **values) -> None:
    with app.app_context():
        entry = audit.record(actor, module, "update", description, **values)
        entry.created_at = when
        db.session.commit()


def rows(response) -> str:
    page = response.get_data(as_text=True)
    return page[page.index('<table id="audit">') :]


def test_entries_newest_first_with_sign_ins(app, admin_client):
    add_entry(app, "old@example.com", "roles", datetime(2020, 1, 1), "Old change")
    page = rows(admin_client.get("/settings/audit"))
    assert "Signed in" in page  # the admin's own sign-in, module auth
    assert page.index("Signed in") < page.index("Old change")


def test_filter_by_module_user_and_dates(app, admin_client):
    add_entry(app, "ann@example.com", "roles", datetime(2024, 3, 1, 9), "Change A")
    add_entry(app, "bea@example.com", "groups", datetime(2024, 3, 5, 23, 59), "Change B")
    add_entry(app, "bea@example.com", "roles", datetime(2024, 4, 1), "Change C")
    by_module = rows(admin_client.get("/settings/audit?module=roles"))
    assert "Change A" in by_module and "Change C" in by_module and "Change B" not in by_module
    by_user = rows(admin_client.get("/settings/audit?user=BEA"))
    assert "Change B" in by_user and "Change C" in by_user and "Change A" not in by_user
    by_dates = rows(admin_client.get("/settings/audit?date_from=2024-03-02&date_to=2024-03-05"))
    assert "Change B" in by_dates and "Change A" not in by_dates and "Change C" not in by_dates
    bad = admin_client.get("/settings/audit?date_from=yesterday")
    assert bad.status_code == 200 and "must look like" in bad.get_data(as_text=True)


def test_pagination_keeps_filters(app, admin_client):
    app.config["AUDIT_PER_PAGE"] = 2
    for day in range(1, 6):
        add_entry(app, "cy@example.com", "groups", datetime(2024, 5, day), f"Entry {day}")
    first = rows(admin_client.get("/settings/audit?module=groups&user=cy@"))
    assert "Entry 5" in first and "Entry 3" not in first
    assert "module=groups" in first and "user=cy@" in first and "page=2" in first
    third = rows(admin_client.get("/settings/audit?module=groups&user=cy@&page=3"))
    assert "Entry 1" in third and "Entry 2" not in third


def test_details_show_escaped_pretty_before_and_after(app, admin_client):
    post_form(admin_client, "/settings/groups/new", {"name": "G<script>", "description": "a\nb"})
    page = rows(admin_client.get("/settings/audit?module=groups"))
    assert "<details>" in page
    assert "&#34;name&#34;: &#34;G&lt;script&gt;&#34;" in page
    assert "<script>" not in page


def test_audit_needs_permission(app, client, make_user):
    make_user("viewer@example.com", roles=("Viewer",), groups=("Administrators",))
    login(client, "viewer@example.com")
    assert client.get("/settings/audit").status_code == 403
    with app.app_context():
        assert db.session.get(AuditEntry, 1) is not None
