"""One-time reveals (issue 13, item 6): a new API key or signing secret is shown by a GET page
to the session that made it, across reloads, until dismissed; never to another session or user,
never in the cookie in clear text, and not after signing out."""

import base64
import re
import zlib

from portal import clients
from tests.admin_helpers import client_id
from tests.conftest import login, post_form
from tests.web.test_clients_page import KEY_RE, client_data
from tests.web.test_workflows_page import webhook_form, workflows


def create_acme(app, admin_client) -> tuple[str, str]:
    """Create client Acme; return the reveal page's URL and the key it shows."""
    response = post_form(admin_client, "/settings/clients/new", client_data(name="Acme"))
    assert response.status_code == 302
    url = response.headers["Location"]
    key = KEY_RE.search(admin_client.get(url).text).group(1)
    return url, key


def cookie_text(client) -> str:
    """Return what the session cookie the browser holds says (signed, readable by anyone)."""
    cookie = client.get_cookie("session").value
    payload = cookie.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(raw) if cookie.startswith(".") else raw).decode()


def test_the_key_survives_reloads_until_dismissed(app, admin_client):
    url, key = create_acme(app, admin_client)
    with app.app_context():
        assert clients.client_for_api_key(key).name == "Acme"
    for _ in range(2):  # reloading shows the same key, and creates nothing
        again = admin_client.get(url)
        assert again.status_code == 200 and KEY_RE.search(again.text).group(1) == key
        assert again.headers["Cache-Control"] == "no-store"
    dismiss = post_form(admin_client, f"{url}/dismiss", {}, token_from=url)
    assert dismiss.status_code == 302 and dismiss.headers["Location"] == "/settings/clients"
    gone = admin_client.get(url)
    assert gone.status_code == 200 and key not in gone.text
    assert 'id="nothing-to-reveal"' in gone.text


def test_the_key_is_not_in_the_cookie_in_clear_text(app, admin_client):
    _, key = create_acme(app, admin_client)
    text = cookie_text(admin_client)
    assert "_user_id" in text and "reveals" in text  # it is held there ...
    assert key not in text and key[3:] not in text  # ... but sealed


def test_another_user_or_session_never_sees_it(app, admin_client, make_user):
    """Even with the sealed value planted in their own cookie: it opens only for its session."""
    url, key = create_acme(app, admin_client)
    with admin_client.session_transaction() as session:
        sealed = session["reveals"]
    make_user("other.admin@example.com", roles=("Administrator",), groups=("Administrators",))
    for email in ("admin@example.com", "other.admin@example.com"):
        other = app.test_client()
        assert login(other, email).status_code == 302
        assert key not in other.get(url).text
        with other.session_transaction() as session:
            session["reveals"] = sealed
        page = other.get(url)
        assert page.status_code == 200 and key not in page.text
        assert 'id="nothing-to-reveal"' in page.text
    assert key in admin_client.get(url).text


def test_a_copied_cookie_shows_nothing_once_the_session_ends(app, admin_client):
    url, key = create_acme(app, admin_client)
    stolen = admin_client.get_cookie("session").value
    post_form(admin_client, "/auth/logout", {}, token_from=url)
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    page = thief.get(url)
    assert key not in page.text  # the session row is gone: sent to sign in, or nothing shown
    login(admin_client)
    assert key not in admin_client.get(url).text  # signing in again does not bring it back


def test_rotating_a_key_reveals_the_new_one(app, admin_client):
    url, old_key = create_acme(app, admin_client)
    cid = client_id(app, "Acme")
    edit = f"/settings/clients/{cid}"
    response = post_form(admin_client, f"{edit}/rotate-key", {}, token_from=edit)
    assert response.status_code == 302 and response.headers["Location"] == url
    new_key = KEY_RE.search(admin_client.get(url).text).group(1)
    assert new_key != old_key
    assert KEY_RE.search(admin_client.get(url).text).group(1) == new_key
    with app.app_context():
        assert clients.client_for_api_key(old_key) is None
        assert clients.client_for_api_key(new_key).id == cid


def test_a_generated_signing_secret_is_revealed_and_a_given_one_is_not(app, admin_client):
    response = post_form(admin_client, "/settings/workflows/new", webhook_form())
    (workflow,) = workflows(app)
    url = f"/settings/workflows/{workflow.id}/secret"
    assert response.status_code == 302 and response.headers["Location"] == url
    shown = re.search(
        r'id="signing-secret-value" readonly value="([^"]+)"', admin_client.get(url).text
    )
    assert shown.group(1) == workflow.secret
    post_form(admin_client, f"{url}/dismiss", {}, token_from=url)
    assert workflow.secret not in admin_client.get(url).text
    given = "whsec_" + base64.b64encode(b"a receiver's own secret!").decode()
    edit = f"/settings/workflows/{workflow.id}/edit"
    response = post_form(admin_client, edit, webhook_form(secret=given))
    assert response.headers["Location"] == "/settings/workflows"  # nothing new to reveal


def test_dismiss_needs_the_csrf_token(app, admin_client):
    url, key = create_acme(app, admin_client)
    assert admin_client.post(f"{url}/dismiss").status_code == 400
    assert key in admin_client.get(url).text
