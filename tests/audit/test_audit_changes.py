"""The audit log's changed fields ("name: Viewer → Reader") and its CSV export."""

import csv
import io
from datetime import datetime

import pytest

from portal import accounts
from portal.audit.changes import ADDED, CHANGED, REMOVED, Change, changes, compact
from portal.extensions import db
from portal.web.settings import csvfile
from tests.conftest import login
from tests.web.test_audit_page import add_entry


def texts(before, after) -> list[str]:
    return [str(change) for change in changes(before, after)]


def test_a_rename_is_one_changed_field():
    before = {"name": "Viewer", "permissions": ["dashboard:view"]}
    after = {"name": "Reader", "permissions": ["dashboard:view"]}
    assert changes(before, after) == [Change("name", CHANGED, "Viewer", "Reader")]
    assert texts(before, after) == ["name: Viewer → Reader"]


def test_lists_and_nested_values_are_compact():
    before = {"permissions": ["a:view", "b:view"], "policy": {"retry": 5, "regex": ""}}
    after = {"permissions": ["b:view"], "policy": {"retry": 3, "regex": ""}}
    assert texts(before, after) == [
        "permissions: [a:view, b:view] → [b:view]",
        "policy.retry: 5 → 3",
    ]


def test_added_and_removed_fields_are_marked():
    before = {"name": "x", "old": True}
    after = {"name": "x", "new": None}
    assert changes(before, after) == [
        Change("old", REMOVED, before="true"),
        Change("new", ADDED, after="null"),
    ]
    assert texts(before, after) == ["old (removed): true", "new (added): null"]


def test_creation_and_deletion_list_every_field():
    values = {"name": "G", "description": ""}
    assert texts(None, values) == ["name (added): G", 'description (added): ""']
    assert texts(values, None) == ["name (removed): G", 'description (removed): ""']


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, None, []),
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1}, {"a": True}, ["a: 1 → true"]),  # equal in Python, not the same JSON
        ({"a": None}, {"a": {"b": 1}}, ["a: null → {b: 1}"]),
        ("on", "off", ["value: on → off"]),
        ([1, 2], [1, 2, 3], ["value: [1, 2] → [1, 2, 3]"]),
    ],
)
def test_other_shapes(before, after, expected):
    assert texts(before, after) == expected


def test_compact():
    assert compact({"a": [1, "x", None], "b": {"c": False}}) == "{a: [1, x, null], b: {c: false}}"
    assert compact("") == '""' and compact(2.5) == "2.5"


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_csv_export_has_the_filtered_entries_and_their_changes(app, admin_client):
    add_entry(
        app,
        "ann@example.com",
        "roles",
        datetime(2024, 3, 1, 9),
        "Edited role Viewer",
        before={"name": "Viewer"},
        after={"name": "Reader"},
    )
    add_entry(app, "bea@example.com", "groups", datetime(2024, 3, 2), "Edited group")
    add_entry(app, "ann@example.com", "roles", datetime(2023, 1, 1), "Too old")
    response = admin_client.get(
        "/settings/audit?format=csv&module=roles&date_from=2024-01-01&date_to=2024-12-31"
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=audit-log-")
    rows = csv_rows(response)
    assert rows[0] == [
        "when_utc",
        "who",
        "module",
        "action",
        "what",
        "changes",
        "before",
        "after",
    ]
    assert rows[1:] == [
        [
            "2024-03-01 09:00:00",
            "ann@example.com",
            "roles",
            "update",
            "Edited role Viewer",
            "name: Viewer → Reader",
            '{"name": "Viewer"}',
            '{"name": "Reader"}',
        ]
    ]


def test_csv_cells_cannot_run_as_formulas(app, admin_client):
    add_entry(app, "=cmd|' /C calc'!A0", "roles", datetime(2024, 1, 1), "@SUM(1+1)")
    add_entry(app, "ann@example.com", "roles", datetime(2024, 1, 2), "-2+3")
    rows = csv_rows(admin_client.get("/settings/audit?format=csv&date_to=2024-12-31"))
    assert rows[1][4] == "'-2+3"
    assert rows[2][1] == "'=cmd|' /C calc'!A0" and rows[2][4] == "'@SUM(1+1)"


def test_csv_export_is_scoped_like_the_page(app, client, make_user):
    """Someone with audit:view outside the instance admins reads their own client's entries."""
    with app.app_context():
        accounts.create_role("Names auditor", ["audit:view"])
        other = accounts.find_client("Default")
        db.session.commit()
        default_id = other.id
    make_user("names.auditor@example.com", roles=("Names auditor",), groups=("Administrators",))
    add_entry(
        app, "x@example.com", "users", datetime(2024, 1, 1), "Own client", client_id=default_id
    )
    add_entry(app, "x@example.com", "users", datetime(2024, 1, 2), "No client")
    add_entry(
        app, "x@example.com", "roles", datetime(2024, 1, 3), "Instance-wide", client_id=default_id
    )
    login(client, "names.auditor@example.com")
    page = client.get("/settings/audit").get_data(as_text=True)
    described = {row[4] for row in csv_rows(client.get("/settings/audit?format=csv"))[1:]}
    assert "Own client" in described and "Own client" in page
    assert "No client" not in described and "No client" not in page
    assert "Instance-wide" not in described and "Instance-wide" not in page


def test_csv_export_needs_the_permission(client, make_user):
    make_user("names.viewer@example.com", roles=("Viewer",), groups=("Administrators",))
    login(client, "names.viewer@example.com")
    assert client.get("/settings/audit?format=csv").status_code == 403


def test_a_bad_filter_shows_the_page_instead_of_a_file(admin_client):
    response = admin_client.get("/settings/audit?format=csv&date_from=yesterday")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "must look like" in response.get_data(as_text=True)


def test_the_page_shows_changes_and_links_the_filtered_csv(app, admin_client):
    add_entry(
        app,
        "ann@example.com",
        "roles",
        datetime(2024, 3, 1),
        "Edited role",
        before={"name": "Viewer"},
        after={"name": "Reader"},
    )
    page = admin_client.get("/settings/audit?module=roles&user=ann").get_data(as_text=True)
    assert '<li class="change-changed">name: Viewer → Reader</li>' in page
    assert 'href="/settings/audit?format=csv&amp;module=roles&amp;user=ann"' in page


def test_csv_lines_stream_in_chunks():
    rows = [[f"row {n}", "=1+1"] for n in range(450)]
    chunks = list(csvfile.lines(["a", "b"], iter(rows)))
    assert len(chunks) == 3  # 200, 200 and the last 50 rows: never the whole file at once
    parsed = list(csv.reader(io.StringIO("".join(chunks))))
    assert parsed[0] == ["a", "b"] and parsed[-1] == ["row 449", "'=1+1"] and len(parsed) == 451
