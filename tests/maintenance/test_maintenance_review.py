"""Settings → Maintenance Mode: the review step before a change applies, its summary counted
from the database, the restriction's stated effect, and the message limit (line breaks)."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clients
from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import AccessGroup, Role
from tests.admin_helpers import audit_entries
from tests.conftest import login, post_form
from tests.events_support import api_key, post_events
from tests.maintenance_helpers import set_maintenance, state_dict

URL = "/settings/maintenance"


def ids(app, model, *names: str) -> list[str]:
    with app.app_context():
        rows = db.session.scalars(sa.select(model).where(model.name.in_(names)))
        return [str(row.id) for row in rows]


def form(app, *, enabled=True, roles=("Administrator",), groups=("Administrators",), **fields):
    data = {
        "bypass_roles": ids(app, Role, *roles),
        "bypass_groups": ids(app, AccessGroup, *groups),
        "message": "",
        "notice_minutes": "30",
        **fields,
    }
    if enabled:
        data["enabled"] = "y"
    return data


def review(client, app, **fields):
    response = post_form(client, URL, {**form(app, **fields), "review": "Review changes"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def text_of(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(li|p|dd|table)>', page, re.S)
    assert match, element_id
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(1))).strip()


def hidden_fields(page: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page):
        found.setdefault(name, []).append(value)
    return found


@pytest.fixture()
def population(app, make_user):
    """A signed-in blocked user, an idle blocked one, and a blocked user of another client."""
    with app.app_context():
        clients.create_client("Acme")
        db.session.commit()
    make_user("blocked@example.com", roles=("Viewer",), groups=("Administrators",))
    make_user("idle@example.com", roles=("Viewer",), groups=("Administrators",))
    make_user("acme@example.com", roles=("Viewer",), groups=("Administrators",), client="Acme")
    other = app.test_client()
    assert login(other, "blocked@example.com").status_code == 302
    return other


def test_review_shows_the_summary_and_saves_nothing(app, admin_client, population):
    before = state_dict(app)
    page = review(admin_client, app, restrict_event_processor="y", message="Back at 6")
    assert state_dict(app) == before and audit_entries(app, "maintenance") == []
    assert "Maintenance mode: off → on" in text_of(page, "review-changes")
    assert text_of(page, "review-signed-out") == "Signs out 1 signed-in user who would be blocked."
    assert "for 2 clients (every client)" in text_of(page, "review-paused")
    assert text_of(page, "review-own-allowed") == "admin@example.com"
    assert text_of(page, "review-own-blocked") == "blocked@example.com, idle@example.com"
    assert "<tr><td>Acme</td><td>0</td><td>1</td></tr>" in page
    assert "acme@example.com" not in page  # other clients only as counts
    # every field travels to the confirmation as a hidden input, with the CSRF token
    hidden = hidden_fields(page)
    assert hidden["enabled"] == ["y"] and hidden["restrict_event_processor"] == ["y"]
    assert hidden["message"] == ["Back at 6"] and hidden["notice_minutes"] == ["30"]
    assert hidden["bypass_roles"] == ids(app, Role, "Administrator")
    assert "csrf_token" in hidden and 'name="review"' not in page
    assert 'name="submit" type="submit" value="Confirm and apply"' in page
    assert 'name="back" type="submit" value="Back to edit"' in page


def test_confirm_applies_what_was_reviewed(app, admin_client, population):
    page = review(admin_client, app, restrict_event_processor="y", message="a\nb")
    data = {name: values for name, values in hidden_fields(page).items()}
    data.pop("csrf_token")
    response = post_form(admin_client, URL, {**data, "submit": "Confirm and apply"})
    assert response.status_code == 302
    state = state_dict(app)
    assert state["enabled"] is True and state["restrict_event_processor"] is True
    assert state["message"] == "a\nb"
    assert population.get("/").status_code == 302  # the blocked user is signed out


def test_back_to_edit_keeps_the_values(app, admin_client):
    start = f"{utc_now() + timedelta(days=2):%Y-%m-%dT%H:%M}"
    data = form(app, enabled=False, message="Kept", scheduled_start=start, back="Back to edit")
    response = post_form(admin_client, URL, data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="maintenance-form"' in page and "review-summary" not in page
    assert re.search(r"<textarea[^>]*>\s*Kept</textarea>", page)
    assert f'value="{start}"' in page
    assert state_dict(app)["message"] == "" and state_dict(app)["scheduled_start"] is None


def test_review_of_nothing_says_so(app, admin_client):
    page = review(admin_client, app, enabled=False, roles=(), groups=())
    assert "Nothing would change" in text_of(page, "review-nothing")
    assert 'name="submit"' not in page


def test_review_shows_the_old_and_new_message_text_escaped(app, admin_client):
    set_maintenance(app, enabled=False, message="Back at <b>6</b>")
    page = review(admin_client, app, enabled=False, roles=(), groups=(), message="Line 1\r\n<i>2")
    assert text_of(page, "review-message-old") == "Back at &lt;b&gt;6&lt;/b&gt;"
    # escaped, and the line break kept (the text keeps it; the page shows it with pre-line)
    new = r'id="review-message-new"><span class="message-text">Line 1\n&lt;i&gt;2<'
    assert re.search(new, page)
    assert "<b>6</b>" not in page and "<i>2" not in page
    assert "Maintenance message: changed" not in page
    assert "review-nothing" not in page and 'name="submit"' in page


def test_review_of_a_message_removed_says_so(app, admin_client):
    set_maintenance(app, enabled=False, message="Gone soon")
    page = review(admin_client, app, enabled=False, roles=(), groups=(), message="")
    assert text_of(page, "review-message-old") == "Gone soon"
    assert text_of(page, "review-message-new") == "no message"


def test_lockout_is_refused_on_the_review_step(app, admin_client):
    page = review(admin_client, app, roles=("Viewer",))
    assert "you would lock yourself out" in page and "review-summary" not in page
    assert state_dict(app)["enabled"] is False


def test_lifting_the_restriction_counts_the_held_events(app, admin_client):
    set_maintenance(
        app, roles=("Administrator",), groups=("Administrators",), restrict_event_processor=True
    )
    key = api_key(app)
    body = {"events": [{"type": "held", "payload": {"n": n}} for n in range(3)]}
    assert post_events(app.test_client(), key, body).status_code == 202
    page = review(admin_client, app, enabled=False)
    assert text_of(page, "review-ends").startswith("Turns maintenance mode off")
    assert "3 held events of 1 client are released" in text_of(page, "review-released")


def test_scheduled_start_changes_nothing_until_then(app, admin_client):
    start = (utc_now() + timedelta(days=2)).replace(second=0, microsecond=0)
    page = review(admin_client, app, enabled=False, scheduled_start=f"{start:%Y-%m-%dT%H:%M}")
    scheduled = text_of(page, "review-scheduled")
    assert f"Nothing changes until the start at {start:%Y-%m-%d %H:%M} UTC" in scheduled
    assert f"from {start - timedelta(minutes=30):%Y-%m-%d %H:%M} UTC" in scheduled
    assert state_dict(app)["scheduled_start"] is None


def test_restriction_saved_while_off_says_what_happens_next(app, admin_client):
    page = review(admin_client, app, enabled=False, restrict_event_processor="y")
    assert "when maintenance is next turned on" in text_of(page, "review-restrict-later")
    data = form(app, enabled=False, restrict_event_processor="y", submit="Confirm and apply")
    response = post_form(admin_client, URL, data, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Maintenance mode is off; when it is next turned on, event processing will be" in page
    effect = text_of(page, "restrict-effect")
    assert effect == (
        "Maintenance is off: processing runs; when maintenance is next turned on, "
        "processing will pause and events will be held."
    )


def test_restriction_hint_follows_the_forms_checkbox_without_javascript(app, admin_client):
    ticked = "when maintenance is next turned on, processing will pause"
    page = admin_client.get(URL).get_data(as_text=True)  # saved: the restriction off
    assert "processing runs, and keeps running" in text_of(page, "restrict-effect")
    assert ticked in page  # the other text waits in a data attribute for maintenance.js
    # back from the review with the box ticked: the hint already says what ticking means
    data = form(app, enabled=False, restrict_event_processor="y", back="Back to edit")
    page = post_form(admin_client, URL, data).get_data(as_text=True)
    assert ticked in text_of(page, "restrict-effect")


def test_a_plain_post_still_applies_directly(app, admin_client):
    response = post_form(admin_client, URL, form(app, message="Scripted"))
    assert response.status_code == 302
    assert state_dict(app)["enabled"] is True


def test_message_of_the_limit_with_crlf_line_breaks_is_accepted(app, admin_client):
    message = "\n".join(["x" * 99] * 20)  # 1,999 characters; 2,018 with CRLF line breaks
    message += "y"
    response = post_form(
        admin_client, URL, form(app, enabled=False, message=message.replace("\n", "\r\n"))
    )
    assert response.status_code == 302
    assert state_dict(app)["message"] == message
    page = admin_client.get(URL).get_data(as_text=True)
    assert 'maxlength="2000"' in page and "At most 2000 characters" in page


def test_message_over_the_limit_is_refused(app, admin_client):
    response = post_form(admin_client, URL, form(app, enabled=False, message="x" * 2001))
    assert response.status_code == 200
    assert "Field cannot be longer than 2000 characters" in response.get_data(as_text=True)
    assert state_dict(app)["message"] == ""
