"""Open sessions: /account/sessions lists them and signs out one or all others; an admin sees
and ends a user's sessions on the user's page."""

import re

from portal.security import browsers
from tests.admin_helpers import add_role, last_audit, user_id
from tests.conftest import ADMIN_EMAIL, login, post_form

USER = "ops@example.com"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
END_RE = re.compile(r'action="(/account/sessions/[0-9a-f]{64}/end)"')


def signed_in(app, email: str, agent: str, address: str):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": agent, "REMOTE_ADDR": address})
    assert login(client, email).status_code == 302
    return client


def test_sessions_page_lists_them_and_signs_out_another(app, make_user):
    make_user(USER, roles=("Operator",))
    laptop = signed_in(app, USER, FIREFOX, "10.0.0.5")
    phone = signed_in(app, USER, IPHONE, "10.0.0.6")
    page = laptop.get("/account/sessions").get_data(as_text=True)
    assert "Firefox on Linux" in page and "Safari on iOS" in page
    assert "10.0.0.5" in page and "10.0.0.6" in page
    assert "(this session)" in page
    ends = END_RE.findall(page)
    assert len(ends) == 1  # only the other session has a button
    assert phone.get("/").status_code == 200
    post_form(laptop, ends[0], {}, token_from="/account/sessions")
    assert phone.get("/").status_code == 302  # the phone is signed out
    assert laptop.get("/").status_code == 200
    assert last_audit(app, "auth").action == "session_end"


def test_ending_a_session_needs_the_csrf_token(app, make_user):
    make_user(USER, roles=("Operator",))
    laptop = signed_in(app, USER, FIREFOX, "10.0.0.5")
    phone = signed_in(app, USER, IPHONE, "10.0.0.6")
    end = END_RE.search(laptop.get("/account/sessions").get_data(as_text=True)).group(1)
    assert laptop.post(end).status_code == 400
    assert laptop.post("/account/sessions/end-others").status_code == 400
    assert phone.get("/").status_code == 200


def test_another_users_session_cannot_be_ended(app, make_user):
    make_user(USER, roles=("Operator",))
    admin = signed_in(app, ADMIN_EMAIL, FIREFOX, "10.0.0.1")
    assert "Open sessions" in admin.get(f"/settings/users/{user_id(app, ADMIN_EMAIL)}").text
    ops = signed_in(app, USER, IPHONE, "10.0.0.6")
    other = signed_in(app, ADMIN_EMAIL, IPHONE, "10.0.0.2")
    session_id = END_RE.search(admin.get("/account/sessions").get_data(True)).group(1)
    post_form(ops, session_id, {}, token_from="/account/sessions")
    assert other.get("/").status_code == 200  # the operator cannot end the admin's session
    post_form(ops, "/account/sessions/" + "z" * 64 + "/end", {}, token_from="/account/sessions")
    assert ops.get("/").status_code == 200


def test_sign_out_all_other_sessions(app, make_user):
    make_user(USER, roles=("Operator",))
    first = signed_in(app, USER, FIREFOX, "10.0.0.5")
    others = [signed_in(app, USER, IPHONE, f"10.0.0.{n}") for n in (6, 7)]
    post_form(first, "/account/sessions/end-others", {}, token_from="/account/sessions")
    assert first.get("/").status_code == 200
    assert [client.get("/").status_code for client in others] == [302, 302]


def test_admin_sees_and_ends_a_users_sessions(app, make_user):
    make_user(USER, roles=("Operator",))
    phone = signed_in(app, USER, IPHONE, "10.0.0.6")
    admin = signed_in(app, ADMIN_EMAIL, FIREFOX, "10.0.0.1")
    edit = f"/settings/users/{user_id(app, USER)}"
    page = admin.get(edit).get_data(as_text=True)
    assert "Safari on iOS" in page and "10.0.0.6" in page
    end = re.search(rf'action="({edit}/sessions/[0-9a-f]{{64}}/end)"', page).group(1)
    post_form(admin, end, {}, token_from=edit)
    assert phone.get("/").status_code == 302
    entry = last_audit(app, "users")
    assert (entry.action, entry.actor) == ("session_end", ADMIN_EMAIL)


def test_a_client_admin_cannot_see_another_clients_user(app, runner, make_user):
    assert runner.invoke(args=["clients", "create", "Acme"]).exit_code == 0
    add_role(app, "Accounts", ["users:manage"])
    make_user("clerk@example.com", roles=("Accounts",), client="Acme")
    clerk = signed_in(app, "clerk@example.com", FIREFOX, "10.0.0.9")
    edit = f"/settings/users/{user_id(app, ADMIN_EMAIL)}"
    assert clerk.get(edit).status_code == 404
    response = clerk.post(edit + "/sessions/" + "a" * 64 + "/end")
    assert response.status_code in (400, 404)


def test_browser_names():
    assert browsers.describe(FIREFOX) == "Firefox on Linux"
    assert browsers.describe(IPHONE) == "Safari on iOS"
    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
    )
    assert browsers.describe(chrome) == "Chrome on Windows"
    assert browsers.describe(chrome + " Edg/126.0") == "Edge on Windows"
    assert browsers.describe("") == "Unknown browser"
