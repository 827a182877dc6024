"""Hostile input on every page, form and API call: never a 5xx, and nothing unstorable stored.

The sweep walks ``app.url_map``, so a new page is covered without being listed here: URL
variables get the ids of seeded rows (and each hostile value), and which query and form names a
view reads is found by running it. Requests parse their query string and form into a dict that
notes every name looked up (:func:`note_reads`), probed with every name the portal knows
(``request.args`` names in its source, every WTForms field, the SPEC's API names). Each name read
then gets each hostile value alone and repeated; every known name also gets them all at once.

GET pages are asked as the instance admin, a client-scoped user and signed out, on one database.
Every POST rule gets its own copy of the database, a valid CSRF token and the values its page
renders, so the view's code past validation runs too; afterwards no text column may hold NUL or
more than its length. The JSON API gets hostile bodies built from its OpenAPI document's fields.
With PORTAL_TEST_POSTGRES_URI set all of it also runs on PostgreSQL, which refuses NUL in text.
"""

import hashlib
import inspect
import itertools
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf import FlaskForm
from werkzeug.datastructures import ImmutableMultiDict
from wtforms import Field, StringField
from wtforms.fields.core import UnboundField

import portal
from portal import accounts, clients
from portal.accounts import tokens
from portal.accounts.permissions import CATALOGUE, CLIENT_SETTINGS_MANAGE
from portal.core.clock import utc_now
from portal.core.inputs import parse_id
from portal.events.ingest import store_events
from portal.extensions import db
from portal.models import (
    BulkJob,
    Delivery,
    MaintenanceWindow,
    ScheduledTrigger,
    User,
    UserSession,
    Workflow,
)
from portal.web.forms import Form
from tests.conftest import ADMIN_EMAIL, PASSWORD, PASSWORD_HASH, csrf_token, login, make_app
from tests.form_pages import read_forms
from tests.test_postgres import drop_database

HOSTILE = [
    "²",  # a digit to str.isdigit(), not to int()
    "١٢",  # Arabic-Indic digits: int() reads 12
    "1e400",  # a float that overflows to infinity
    "-1",
    "0",
    "9" * 30,  # beyond any 64-bit column
    "x" * 70_000,
    "a\x00b",  # PostgreSQL refuses NUL in text
    "9999-12-31",
    "0001-01-01",
    "99999-01-01T00:00",
    "",
]
REPEATED = [["1", "2"], ["²", "1"]]  # a list where one value is expected
# Sent in every known name at once (to reach names a view reads only in some cases); the long
# value goes to the names read, one at a time: 70,000 characters times 80 names is slow to encode.
IN_EVERY_NAME = [value for value in HOSTILE if len(value) < 100] + REPEATED
# Names the SPEC gives the API's query strings and JSON bodies (there may be no view yet).
SPEC_NAMES = {
    "status", "type", "client", "received_after", "received_before", "before", "limit", "wait",
    "timeout", "format", "page", "next", "q",
}  # fmt: skip
METRICS_TOKEN = "sweep-metrics-token"
SCOPED_EMAIL = "scoped@example.com"
SKIP_POSTS = {"auth.logout"}  # signing out ends the sweep's session; it reads no field


def known_names() -> set[str]:
    """Return every query or form name the portal may read, derived from its source."""
    source = "\n".join(path.read_text() for path in Path(portal.__file__).parent.rglob("*.py"))
    names = set(re.findall(r"request\.(?:args|form|values)\.get(?:list)?\(\s*[\"'](\w+)", source))
    return names | SPEC_NAMES | {name for form in form_classes() for name in field_names(form)}


def form_classes() -> list[type[FlaskForm]]:
    """Return every form class of the portal (imported by create_app)."""
    found, todo = [], list(FlaskForm.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("portal."):
            found.append(cls)
    return found


def field_names(form: type[FlaskForm], kind: type = Field) -> list[str]:
    """Return the names of the form's fields of ``kind`` (any field by default)."""
    fields = inspect.getmembers(form, lambda v: isinstance(v, UnboundField))
    return [name for name, unbound in fields if issubclass(unbound.field_class, kind)]


def text_names() -> set[str]:
    """Return the names of the text inputs (text, textarea, email, password, search)."""
    return {name for form in form_classes() for name in field_names(form, StringField)}


def note_reads(app: Flask) -> set[str]:
    """Make ``app`` note every query or form name a view looks up; return the notes' set."""
    noted: set[str] = set()

    class Noting(ImmutableMultiDict):
        def __getitem__(self, key):  # also serves get()
            noted.add(key)
            return super().__getitem__(key)

        def getlist(self, key, type=None):
            noted.add(key)
            return super().getlist(key, type)

        def __contains__(self, key) -> bool:
            noted.add(key)
            return super().__contains__(key)

    app.request_class = type("NotingRequest", (app.request_class,), {})
    app.request_class.parameter_storage_class = Noting
    return noted


# --- the site: a seeded database per backend, copied for every rule that changes it ----------


@dataclass
class Site:
    fresh: Callable[[], Flask]  # a new app on a new copy of the seeded database
    ids: dict[str, int]  # URL variable -> the id of a seeded row
    key: str  # the API key of the client the seeded rows belong to


def seed(app: Flask) -> tuple[dict[str, int], str]:
    """Create a second client with a row of every kind a URL names; return their ids, its key."""
    with app.app_context():
        other, key = clients.create_client("Other")
        accounts.create_role("Scoped", set(CATALOGUE) - {CLIENT_SETTINGS_MANAGE})
        spare_role = accounts.create_role("Spare", [])
        spare_group = accounts.create_group("Spare")
        db.session.flush()
        for email, roles in ((SCOPED_EMAIL, ("Scoped",)), ("target@example.com", ("Viewer",))):
            db.session.add(
                User(
                    email=email,
                    password_hash=PASSWORD_HASH,
                    client=other,
                    roles=accounts.find_roles(roles),
                    groups=accounts.find_groups(["Administrators"]),
                )
            )
        workflow = Workflow(client_id=other.id, name="wf", event_type="*", action="record")
        trigger = ScheduledTrigger(
            client_id=other.id, name="tr", interval_seconds=60, event_type="tick", payload={}
        )
        db.session.add_all([workflow, trigger])
        db.session.commit()
        (event_id,) = store_events(other.id, [("sweep", "{}", None)]).event_ids
        delivery = Delivery(event_id=event_id, workflow_id=workflow.id, status="failed")
        db.session.add(delivery)
        window = MaintenanceWindow(started_at=utc_now(), started_by="cli", started_via="cli")
        window.ended_at, window.ended_by, window.ended_via = utc_now(), "cli", "cli"
        db.session.add(window)
        job = BulkJob(action="retry", selection={"event_ids": [event_id]}, client_ids=[other.id])
        db.session.add(job)
        db.session.commit()
        target = db.session.scalar(sa.select(User.id).where(User.email == "target@example.com"))
        token, _secret = tokens.create(
            db.session.get(User, target), "sweep", ["maintenance:read"], 30, None
        )
        session_id = hashlib.sha256(b"sweep session").hexdigest()  # a row id: the token's digest
        db.session.add(UserSession(id=session_id, user_id=target))
        db.session.commit()
        ids = {
            "session_id": session_id,
            "client_id": other.id,
            "token": "not-a-reset-token",  # /auth/reset/<token>: no such link
            "user_id": target,
            "role_id": spare_role.id,
            "group_id": spare_group.id,
            "workflow_id": workflow.id,
            "trigger_id": trigger.id,
            "event_id": event_id,
            "delivery_id": delivery.id,
            "token_id": token.id,
            "window_id": window.id,
            "job_id": job.id,
        }
        db.session.remove()  # a connection still open would keep the WAL from the file copies
        db.engine.dispose()
    return ids, key


def sqlite_site(template_db: Path, folder: Path) -> Iterator[Site]:
    seeded = folder / "seeded.db"
    shutil.copy(template_db, seeded)
    ids, key = seed(make_app(seeded, folder / "instance"))
    copies = itertools.count()

    def fresh() -> Flask:
        path = folder / f"copy{next(copies)}.db"
        shutil.copy(seeded, path)
        return make_app(path, folder / "instance", METRICS_TOKEN=METRICS_TOKEN)

    yield Site(fresh, ids, key)


def postgres_site(server: str, folder: Path) -> Iterator[Site]:
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def create(template: str | None = None) -> Flask:
        name = f"portal_sweep_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{copy}'))
        made.append(name)
        url = sa.make_url(server).set(database=name).render_as_string(hide_password=False)
        config = {"SQLALCHEMY_DATABASE_URI": url, "METRICS_TOKEN": METRICS_TOKEN}
        return make_app(folder / "unused.db", folder / "instance", **config)

    base = create()
    result = base.test_cli_runner().invoke(
        args=["setup", "--admin-email", ADMIN_EMAIL, "--admin-password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    ids, key = seed(base)
    seeded = made[0]
    try:
        yield Site(lambda: create(seeded), ids, key)
    finally:
        for name in made:
            drop_database(admin, name)
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request, template_db, tmp_path_factory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("sweep")
    if request.param == "sqlite":
        yield from sqlite_site(template_db, folder)
        return
    server = os.environ.get("PORTAL_TEST_POSTGRES_URI")
    if not server:
        pytest.skip("PORTAL_TEST_POSTGRES_URI is not set (no PostgreSQL server to test against)")
    yield from postgres_site(server, folder)


def signed_in(app: Flask, email: str | None, key: str) -> FlaskClient:
    """Return a client of ``app`` signed in as ``email`` (anonymous for None) that sends the
    API key and the metrics token with every request."""
    client = app.test_client()
    client.environ_base.update(HTTP_X_API_KEY=key, HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    if email:
        assert login(client, email).status_code == 302, f"{email} could not sign in"
    return client


# --- URLs ------------------------------------------------------------------------------------


def rules(app: Flask, method: str) -> list:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if method in rule.methods),
        key=lambda rule: rule.rule,
    )


def real_values(rule, ids: dict[str, int]) -> dict[str, object]:
    """Return the rule's variables as the ids of seeded rows (a path: a real static file)."""
    for name in rule.arguments:
        assert name in ids or name == "filename", f"seed() makes no row for <{name}>: add one"
    return {name: ids.get(name, "portal.css") for name in rule.arguments}


def fill(rule, values: dict) -> str:
    variable = r"<(?:[^:>]+:)?([^>]+)>"
    return re.sub(variable, lambda m: quote(str(values[m[1]]), safe="/"), rule.rule)


def real_url(rule, ids: dict[str, int]) -> str:
    return fill(rule, real_values(rule, ids))


def hostile_urls(rule, ids: dict[str, int]) -> list[str]:
    """Return the rule's URL with each hostile value in each variable, the others real."""
    real = real_values(rule, ids)
    return [fill(rule, {**real, name: value}) for name in real for value in HOSTILE if value]


def one_at_a_time(names: set[str]) -> Iterator[dict[str, object]]:
    """Every name with every hostile value alone, then repeated."""
    for name in sorted(names):
        for value in [*HOSTILE, *REPEATED]:
            yield {name: value}


def short(data: object) -> str:
    """Return ``data`` for a message, long strings cut."""
    if isinstance(data, dict):
        return "{" + ", ".join(f"{key}={short(value)}" for key, value in data.items()) + "}"
    return repr(data[:20] + "…" if isinstance(data, str) and len(data) > 20 else data)


class Failures(list):
    """What the sweep found: every exception and every 5xx, described."""

    def send(self, http: FlaskClient, method: str, url: str, note: str = "", **request):
        """Send one request; note a raised exception or a 5xx; return the response (or None)."""
        what = f"{method} {url[:80]} {note}".strip()
        try:  # TESTING propagates a view's exception instead of answering 500
            response = http.open(url, method=method, **request)
        except Exception as exc:  # noqa: BLE001 (any exception is the finding)
            self.append(f"{what}: raised {exc!r}"[:400])
            return None
        if response.status_code >= 500:
            self.append(f"{what}: {response.status_code}")
        return response


def test_every_form_refuses_unstorable_text(app):
    """The NUL rule lives in portal.web.forms.Form: a form on FlaskForm directly would skip it."""
    assert form_classes()
    assert [form for form in form_classes() if not issubclass(form, Form)] == []


@pytest.mark.parametrize(
    ("text", "number"),
    [("1", 1), ("0042", 42), (str(2**31 - 1), 2**31 - 1), (str(2**31), None), ("0", None),
     ("-1", None), ("+1", None), (" 1", None), ("²", None), ("١٢", None), ("1e3", None),
     ("", None), (None, None), ("9" * 70_000, None)],
)  # fmt: skip
def test_an_id_is_ascii_digits_within_the_column(text, number):
    assert parse_id(text) == number


def test_a_url_id_in_other_digits_is_no_row(admin_client):
    """The route converter reads ASCII digits only: /settings/users/١ is not user 1's page."""
    assert admin_client.get("/settings/users/1").status_code == 200
    assert admin_client.get("/settings/users/١").status_code == 404
    assert admin_client.get("/events/²").status_code == 404


# --- GET pages --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pages(site: Site) -> tuple[Flask, set[str], set[str]]:
    """One app for every GET (a GET changes nothing): the app, the names it notes being read,
    and every name known."""
    app = site.fresh()
    return app, note_reads(app), known_names()


@pytest.mark.parametrize("who", [ADMIN_EMAIL, SCOPED_EMAIL, None])
def test_every_page_survives_hostile_query_values(site, pages, who):
    app, noted, names = pages
    http = signed_in(app, who, site.key)
    failures = Failures()
    for rule in rules(app, "GET"):
        url = real_url(rule, site.ids)
        for hostile in hostile_urls(rule, site.ids):
            failures.send(http, "GET", hostile)
        noted.clear()
        failures.send(http, "GET", url)
        failures.send(http, "GET", url, "every name=1", query_string=dict.fromkeys(names, "1"))
        read = set(noted)
        for value in IN_EVERY_NAME:
            every = dict.fromkeys(names, value)
            failures.send(http, "GET", url, f"every name={short(value)}", query_string=every)
        for query in one_at_a_time(read):
            failures.send(http, "GET", url, short(query), query_string=query)
    assert not failures, "\n".join(failures[:40])


# --- POST forms --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_forms(site: Site, pages) -> dict[str, dict[str, list[str]]]:
    """The values of every form the GET pages show the admin, by the path the form posts to."""
    app = pages[0]
    http = signed_in(app, ADMIN_EMAIL, site.key)
    found: dict[str, dict[str, list[str]]] = {}
    for rule in rules(app, "GET"):
        url = real_url(rule, site.ids)
        response = http.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            for form in read_forms(response.text).forms:
                found.setdefault(urlsplit(urljoin(url, form.action or url)).path, form.values)
    return found


def unstorable(app: Flask) -> list[str]:
    """Return the text columns holding what PostgreSQL would refuse: NUL, or more characters
    than the column's length (SQLite stores both; on PostgreSQL the POST itself fails)."""
    found = []
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return found
        for table in db.metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, sa.String):
                    continue
                checks = {"NUL": sa.func.instr(column, sa.func.char(0)) > 0}
                if column.type.length:
                    checks["too long"] = sa.func.length(column) > column.type.length
                for problem, bad in checks.items():
                    if db.session.scalar(sa.select(sa.func.count()).where(bad)):
                        found.append(f"{table.name}.{column.name} holds text with {problem}")
        db.session.remove()
    return found


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# The sweep of the forms in parts (every POST rule in exactly one), so that parallel runs share it.
PARTS = 4


# The instance admin reaches every form and every choice; signed out, the sign-in form.
@pytest.mark.parametrize("part", range(PARTS))
@pytest.mark.parametrize("who", [ADMIN_EMAIL, None])
def test_every_form_survives_hostile_values(site, pages, page_forms, who, part):
    names, texts = pages[2], text_names()
    failures = Failures()
    part_of_rules = rules(pages[0], "POST")[part::PARTS]
    assert part_of_rules, "fewer POST rules than parts"
    for rule in part_of_rules:
        if rule.endpoint in SKIP_POSTS:
            continue
        url = real_url(rule, site.ids)
        app = site.fresh()  # a POST may change anything: every rule on its own copy
        app.config["LOGIN_THROTTLE"] = "100000 per 5 minutes"
        noted = note_reads(app)
        http = signed_in(app, who, site.key)
        token = csrf_token(http, "/auth/password" if who else "/auth/login")
        http.environ_base["HTTP_X_CSRFTOKEN"] = token  # Flask-WTF reads it when the form has none
        for value in IN_EVERY_NAME:
            every = {**dict.fromkeys(names, value), "csrf_token": token}
            failures.send(http, "POST", url, f"every name={short(value)}", data=every)
        base = page_forms.get(url, {})
        for data in one_at_a_time(set(noted)):
            response = failures.send(http, "POST", url, short(data), data={**base, **data})
            silent = response is not None and response.status_code == 200
            silent = silent and 'role="alert"' not in response.text
            if silent and "a\x00b" in data.values() and set(data) <= texts:
                failures.append(f"POST {url} {short(data)}: 200 without a message")
        failures.extend(f"POST {url}: {problem}" for problem in unstorable(app))
        dispose(app)
    assert not failures, "\n".join(failures[:60])


# --- the JSON API ------------------------------------------------------------------------------

# Hostile JSON values, as JSON text: numbers JSON carries but no column does, NUL, huge strings,
# lists and objects where a string is expected.
JSON_VALUES = [
    *(json.dumps(value) for value in HOSTILE),
    "1e400", "-1", "0", "9" * 30, "null", "true", "[]", '["1", "2"]', "{}",
    '{"a": "\\u0000"}', '{"a": 1e400}', '{"\\u0000": 1}', '"\\ud800"',
]  # fmt: skip


def body_fields(document: dict, schema: dict) -> tuple[set[str], dict[str, str]]:
    """Return every property name of ``schema`` (refs and nesting followed) and a minimal valid
    body: each required string property as "sweep"."""
    names: set[str] = set()
    base: dict[str, str] = {}
    todo, seen = [schema], set()
    while todo:
        part = todo.pop()
        if "$ref" in part:
            if part["$ref"] not in seen:
                seen.add(part["$ref"])
                todo.append(document["components"]["schemas"][part["$ref"].rsplit("/", 1)[1]])
            continue
        properties = part.get("properties", {})
        names |= set(properties)
        for name in part.get("required", []):
            if properties.get(name, {}).get("type") == "string":
                base.setdefault(name, "sweep")
        todo += [*properties.values(), *part.get("oneOf", []), *part.get("anyOf", [])]
        todo += [part["items"]] if isinstance(part.get("items"), dict) else []
    return names, base


def test_every_api_call_answers_hostile_json_with_a_json_4xx(site, pages):
    app = pages[0]
    http = signed_in(app, None, site.key)
    document = http.get("/api/v1/openapi.json").get_json()
    failures = Failures()
    for rule in rules(app, "POST") + rules(app, "PATCH") + rules(app, "PUT"):
        if not rule.rule.startswith("/api/"):
            continue
        url = real_url(rule, site.ids)
        path = document["paths"].get(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule), {})
        names, base = set(), {}
        for operation in path.values():
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema", {})
            more, valid = body_fields(document, schema)
            names, base = names | more, {**valid, **base}
        bodies = [*JSON_VALUES, '{"events": []}', "{" * 100_000, '{"a": 1, "a": 2}']
        for name in sorted(names):
            for value in JSON_VALUES:
                one = {**base, name: "@"}
                bodies.append(json.dumps({name: "@"}).replace('"@"', value))
                bodies.append(json.dumps(one).replace('"@"', value))
                bodies.append(json.dumps({"events": [one]}).replace('"@"', value))
        for method in sorted(rule.methods & {"POST", "PATCH", "PUT"}):
            for body in bodies:
                note, kind = short(body), "application/json"
                response = failures.send(http, method, url, note, data=body, content_type=kind)
                answer = response.get_json(silent=True) if response is not None else {}
                if response is not None and response.status_code >= 400 and "error" not in answer:
                    failures.append(f"{method} {url} {note}: {response.status_code}, no JSON error")
    assert not failures, "\n".join(failures[:40])
