"""The permission matrix (issue 8): every admin route × four actors × (own client's row, another
client's row), on SQLite and on PostgreSQL, generated from the route inventory.

The expected answer is worked out here from SPEC §5, independently of the app's code:
no permission → 403; another client's user, workflow or trigger for anyone but an instance admin →
404; a change to an instance-wide role or group by anyone but an instance admin → 200 with the
refusal on the form; otherwise the change happens and redirects (a new API key is shown by the
GET it redirects to).
"""

import itertools
from dataclasses import dataclass

import pytest

from portal import accounts, clients
from portal.accounts import tokens
from portal.accounts.permissions import CATALOGUE, CLIENT_SETTINGS_MANAGE
from portal.core.clock import utc_now
from portal.extensions import db
from portal.models import (
    AccessGroup,
    BulkJob,
    Client,
    Delivery,
    Event,
    MaintenanceWindow,
    Role,
    ScheduledTrigger,
    User,
    Workflow,
)
from tests.conftest import PASSWORD_HASH, login
from tests.test_postgres import pg_app  # noqa: F401  (the PostgreSQL fixture)
from tests.test_routes_inventory import PROTECTED, SIGNED_IN_ONLY

CLIENT_ADMIN = [code for code in CATALOGUE if code != CLIENT_SETTINGS_MANAGE]


@dataclass(frozen=True)
class Actor:
    email: str
    client: str
    permissions: tuple[str, ...]

    @property
    def instance_admin(self) -> bool:
        return CLIENT_SETTINGS_MANAGE in self.permissions


ACTORS = {
    "instance admin": Actor("admin@example.com", "Default", tuple(CATALOGUE)),
    "client admin of A": Actor("admin@a.test", "A", tuple(CLIENT_ADMIN)),
    "viewer of A": Actor("viewer@a.test", "A", ("dashboard:view", "events:view")),
    "client admin of B": Actor("admin@b.test", "B", tuple(CLIENT_ADMIN)),
}
# endpoint → the model of its <id> (rows scoped by client, or instance-wide)
SCOPED = {
    "user": User,
    "workflow": Workflow,
    "trigger": ScheduledTrigger,
    "event": Event,
    "delivery": Delivery,
    "job": BulkJob,  # a bulk job of the events page: its clients are ``client_ids``
}
# the events page (issue 9): its routes' rows
EVENT_PAGES = {
    "event_log.detail": "event",
    "event_log.replay": "event",
    "event_log.retry": "delivery",
    "event_log.resume_workflow": "workflow",
    "event_log.bulk_job": "job",
    "settings.maintenance_window": "window",  # a window's page (instance-wide row)
}
INSTANCE_WIDE = {
    "role": Role,
    "group": AccessGroup,
    "client": Client,
    "window": MaintenanceWindow,
}
INSTANCE_CHANGES = {
    "settings.role_new",
    "settings.role_edit",
    "settings.role_delete",
    "settings.group_new",
    "settings.group_edit",
    "settings.group_delete",
}


def kind_of(endpoint: str) -> str | None:
    if endpoint in EVENT_PAGES:
        return EVENT_PAGES[endpoint]
    name = endpoint.removeprefix("settings.").split("_")[0]
    return name if name in SCOPED or name in INSTANCE_WIDE else None


def seed(app) -> None:
    """Clients A and B, the three other actors, and a role every client admin may give."""
    with app.app_context():
        for name in ("A", "B"):
            clients.create_client(name)
        accounts.create_role("Client admin", CLIENT_ADMIN)
        for actor in ACTORS.values():
            if accounts.find_user(actor.email) is None:
                role = "Client admin" if actor.permissions == tuple(CLIENT_ADMIN) else "Viewer"
                db.session.add(
                    User(
                        email=actor.email,
                        password_hash=PASSWORD_HASH,
                        client=accounts.find_client(actor.client),
                        roles=accounts.find_roles([role]),
                        groups=accounts.find_groups(["Administrators"]),
                    )
                )
        db.session.commit()


def make_row(app, kind: str, client_name: str, tag: str) -> int:
    """Create a fresh row of ``kind`` for one request (so a delete does not touch the next)."""
    with app.app_context():
        client = accounts.find_client(client_name)
        row = {
            "user": lambda: User(
                email=f"target-{tag}@example.com",
                password_hash=PASSWORD_HASH,
                client=client,
                roles=accounts.find_roles(["Viewer"]),
                groups=accounts.find_groups(["Administrators"]),
            ),
            "workflow": lambda: Workflow(client_id=client.id, name=f"wf {tag}", event_type="*"),
            "trigger": lambda: ScheduledTrigger(
                client_id=client.id, name=f"tr {tag}", interval_seconds=60, event_type="beat"
            ),
            "role": lambda: Role(name=f"role {tag}", permissions=["dashboard:view"]),
            "group": lambda: AccessGroup(name=f"group {tag}"),
            "client": lambda: client,
            "event": lambda: Event(client_id=client.id, type=f"e {tag}", status="processed"),
            "delivery": lambda: _failed_delivery(client.id, tag),
            "window": lambda: MaintenanceWindow(
                started_at=utc_now(), started_by="cli", started_via="cli"
            ),
            "job": lambda: BulkJob(
                action="retry", selection={"event_ids": []}, client_ids=[client.id]
            ),
        }[kind]()
        db.session.add(row)
        db.session.commit()
        return row.id


def _failed_delivery(client_id: int, tag: str) -> Delivery:
    event = Event(client_id=client_id, type=f"d {tag}", status="failed")
    db.session.add(event)
    db.session.flush()
    return Delivery(event_id=event.id, workflow_id=None, status="failed")


def form_data(app, endpoint: str, kind: str | None, row_id: int | None, actor: Actor, tag: str):
    """A valid form for ``endpoint``: what a browser posts when the change is allowed."""
    own = str(_client_id(app, actor.client))
    if endpoint in ("settings.user_new", "settings.user_edit"):
        with app.app_context():
            user = db.session.get(User, row_id) if row_id else None
            data = {
                "email": user.email if user else f"new-{tag}@example.com",
                "client": str(user.client_id) if user else own,
                "roles": [str(accounts.find_roles(["Viewer"])[0].id)],
                "groups": [str(accounts.find_groups(["Administrators"])[0].id)],
                "active": "y",
            }
        if endpoint == "settings.user_new":
            data.update(password="matrix-password", confirm="matrix-password")
        return data
    if endpoint == "settings.user_password":
        return {"password": "matrix-password", "confirm": "matrix-password"}
    if endpoint in ("settings.role_new", "settings.role_edit"):
        return {"name": f"renamed {tag}", "permissions": ["dashboard:view"]}
    if endpoint in ("settings.group_new", "settings.group_edit"):
        return {"name": f"renamed {tag}", "description": ""}
    if endpoint in ("settings.client_new", "settings.client_edit"):
        with app.app_context():
            name = db.session.get(Client, row_id).name if row_id else f"client {tag}"
        return {"name": name, "password_retry_limit": "5", "lockout_minutes": "15"}
    if endpoint in ("settings.workflow_new", "settings.workflow_edit"):
        client = _row_client(app, Workflow, row_id) or own
        return {"client_id": client, "name": f"w {tag}", "event_type": "*", "action": "record"}
    if endpoint in ("settings.trigger_new", "settings.trigger_edit"):
        client = _row_client(app, ScheduledTrigger, row_id) or own
        return {
            "client_id": client,
            "name": f"t {tag}",
            "interval_seconds": "60",
            "event_type": "beat",
            "payload": "{}",
        }
    return {}  # toggles, deletes, unlock, rotate, and the maintenance form (saved off)


def _token_of(app, user_id: int, tag: str) -> int:
    """Create a personal access token of the user ``user_id``; return its id."""
    with app.app_context():
        token, _secret = tokens.create(
            db.session.get(User, user_id), f"t {tag}", ["maintenance:read"], 30, None
        )
        db.session.commit()
        return token.id


def _client_id(app, name: str) -> int:
    with app.app_context():
        return accounts.find_client(name).id


def _row_client(app, model, row_id: int | None) -> str | None:
    if row_id is None:
        return None
    with app.app_context():
        return str(db.session.get(model, row_id).client_id)


def expected(actor: Actor, endpoint: str, method: str, row_client: str | None) -> set[int]:
    """The answer SPEC §5 gives ``actor`` for this request."""
    required = PROTECTED[endpoint]
    any_of = required if isinstance(required, tuple) else (required,)
    if not any(code in actor.permissions for code in any_of):
        return {403}
    kind = kind_of(endpoint)
    other_client = row_client is not None and row_client != actor.client
    if kind in SCOPED and other_client and not actor.instance_admin:
        return {404}
    if method == "GET":
        return {200}
    if endpoint in INSTANCE_CHANGES and not actor.instance_admin:
        # a rename or delete is refused on the form; an edit of permissions alone would pass
        return {200}
    return {302}


def cases(app):
    """(endpoint, method, url pattern, kind) of every admin route, from the inventory."""
    found = []
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if PROTECTED.get(endpoint, SIGNED_IN_ONLY) is SIGNED_IN_ONLY:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((endpoint, method, rule, kind_of(endpoint) if rule.arguments else None))
    return found


def run_matrix(app) -> tuple[int, list]:
    seed(app)
    sessions = {}
    for name, actor in ACTORS.items():
        sessions[name] = app.test_client()
        assert login(sessions[name], actor.email).status_code == 302, name
    mismatches, count = [], 0
    counter = itertools.count()
    for (endpoint, method, rule, kind), (name, actor) in itertools.product(
        cases(app), ACTORS.items()
    ):
        row_clients = [None] if kind is None else ["A", "B"]
        if kind in INSTANCE_WIDE and kind != "client":
            row_clients = ["A"]  # one instance-wide row; there is no "other client's" role
        for row_client in row_clients:
            tag = str(next(counter))
            row_id = make_row(app, kind, row_client, tag) if kind else None
            values = {arg: row_id for arg in rule.arguments}
            if "token_id" in values:  # a user's token: one of that user's own
                values["token_id"] = _token_of(app, row_id, tag)
            url = app.url_map.bind("localhost").build(endpoint, values)
            session = sessions[name]
            if method == "GET":
                response = session.get(url)
            else:
                data = form_data(app, endpoint, kind, row_id, actor, tag)
                token = _token(session)
                response = session.post(url, data={**data, "csrf_token": token})
            want = expected(actor, endpoint, method, row_client if kind in SCOPED else None)
            count += 1
            if response.status_code not in want:
                mismatches.append((name, method, url, row_client, response.status_code, want))
    return count, mismatches


def _token(session) -> str:
    from tests.conftest import CSRF_RE

    page = session.get("/auth/password").get_data(as_text=True)
    match = CSRF_RE.search(page)
    return match.group(1) or match.group(2)


def test_permission_matrix_on_sqlite(app):
    count, mismatches = run_matrix(app)
    assert count > 250, count
    assert not mismatches, "\n".join(map(str, mismatches))


@pytest.mark.slow
def test_permission_matrix_on_postgres(pg_app):  # noqa: F811
    count, mismatches = run_matrix(pg_app)
    assert count > 250, count
    assert not mismatches, "\n".join(map(str, mismatches))
