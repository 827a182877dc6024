"""One confirmation for every delete (issue 13, item 7): the GET of the delete URL asks first and
names what goes with the row; a refused delete says why before anyone clicks; the POST (with its
CSRF token) deletes as before."""

import re

from portal.extensions import db
from portal.models import Delivery, Event, Role, User
from tests.admin_helpers import (
    add_group,
    add_role,
    audit_entries,
    group_id,
    role_id,
    text,
    user_id,
)
from tests.conftest import login, post_form
from tests.events_support import add_workflow
from tests.maintenance_helpers import set_maintenance

DELETE_BUTTON = re.compile(r'<button type="submit" class="danger">Delete')


def consequences(page: str) -> list[str]:
    block = re.search(r'<ul id="consequences">(.*?)</ul>', page, re.S).group(1)
    return [
        re.sub(r"\s+", " ", item).strip() for item in re.findall(r"<li>(.*?)</li>", block, re.S)
    ]


def test_deleting_a_user_asks_first_and_names_their_sessions(app, admin_client, make_user):
    uid = make_user("gone@example.com", groups=("Administrators",))
    for _ in range(2):  # two browsers: two open sessions
        assert login(app.test_client(), "gone@example.com").status_code == 302
    url = f"/settings/users/{uid}/delete"
    edit = admin_client.get(f"/settings/users/{uid}").text
    assert f'href="{url}"' in edit and f'action="{url}"' not in edit  # a link, not a one-click POST
    page = admin_client.get(url)
    assert page.status_code == 200 and user_id(app, "gone@example.com") == uid
    said = consequences(text(page))
    assert "Delete user gone@example.com?" in text(page) and DELETE_BUTTON.search(page.text)
    assert said[0].startswith("gone@example.com can no longer sign in; 2 open sessions end")
    assert post_form(admin_client, url, {}).status_code == 302
    assert user_id(app, "gone@example.com") is None
    assert audit_entries(app, "users")[-1].action == "delete"


def test_a_refused_delete_says_why_before_the_click_and_audits_nothing(app, admin_client):
    url = "/settings/users/1/delete"  # the admin themselves
    before = len(audit_entries(app, "users"))
    page = admin_client.get(url)
    assert (
        page.status_code == 200 and "You cannot deactivate or delete your own account." in page.text
    )
    assert not DELETE_BUTTON.search(page.text)
    assert len(audit_entries(app, "users")) == before  # asking is not a refused change
    assert user_id(app, "admin@example.com") == 1


def test_deleting_a_role_names_who_loses_it_and_who_would_have_none(app, admin_client, make_user):
    add_role(app, "Night crew", ["dashboard:view", "audit:view"])
    make_user("ann@example.com", roles=("Night crew", "Viewer"), groups=("Administrators",))
    make_user("bob@example.com", roles=("Night crew",), groups=("Administrators",))
    rid = role_id(app, "Night crew")
    url = f"/settings/roles/{rid}/delete"
    page = admin_client.get(url)
    said = consequences(text(page))
    assert said[0] == "2 users lose this role: ann@example.com, bob@example.com."
    assert (
        "2 of them lose permissions no other role of theirs grants (audit:view, dashboard:view)."
        in said
    )
    assert "1 user would have no role left." in said
    assert "only role of bob@example.com" in text(page) and not DELETE_BUTTON.search(page.text)
    with app.app_context():
        db.session.get(User, user_id(app, "bob@example.com")).roles = [
            db.session.get(Role, role_id(app, "Viewer"))
        ]
        db.session.commit()
    page = admin_client.get(url)
    assert DELETE_BUTTON.search(page.text) and "would have no role left" not in page.text
    assert post_form(admin_client, url, {}).status_code == 302
    assert role_id(app, "Night crew") is None


def test_deleting_a_bypass_group_during_maintenance_names_who_is_shut_out(
    app, admin_client, make_user
):
    add_group(app, "Night shift")
    make_user("nina@example.com", roles=("Administrator",), groups=("Night shift",))
    set_maintenance(app, True, ("Administrator",), ("Administrators", "Night shift"))
    gid = group_id(app, "Night shift")
    page = admin_client.get(f"/settings/groups/{gid}/delete")
    said = consequences(text(page))
    assert said[0] == "1 user loses this access group: nina@example.com."
    assert "1 user would have no access group left." in said
    assert "It is a maintenance bypass access group: it leaves the bypass selection." in said
    assert (
        "Maintenance is on: 1 user who can sign in only through this access group would be "
        "signed out at their next request." in said
    )
    set_maintenance(app, False)


def test_deleting_a_workflow_names_its_deliveries(app, admin_client):
    wid = add_workflow(app, name="Ping", action="webhook", url="https://example.com/hook")
    with app.app_context():
        event = Event(client_id=1, type="door", status="processed")
        db.session.add(event)
        db.session.flush()
        for status in ("succeeded", "failed", "pending"):
            db.session.add(Delivery(event_id=event.id, workflow_id=wid, status=status))
        db.session.commit()
    said = consequences(text(admin_client.get(f"/settings/workflows/{wid}/delete")))
    assert "2 past deliveries stay in the history, without the workflow." in said
    assert "1 delivery still waiting to be sent is not sent: they fail." not in said
    assert "1 delivery still waiting to be sent is not sent: it fails." in said
