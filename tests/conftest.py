"""Shared fixtures: a fresh SQLite file per test, copied from one migrated template.

The suite's markers are given here, from where a test lives and what it needs, so that no file
has to remember them: ``browser`` (tests/browser/), ``postgres`` (a PostgreSQL server: the
``pg_app`` fixture or a ``postgres`` parameter) and ``slow`` (tests/faults/, and the tests marked
so by hand because they start subprocesses). ``make test-fast`` deselects all three and sets
``PORTAL_TESTS_FAST=1``, under which a test that starts a subprocess fails, naming the marker it
lacks.
"""

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import jinja2
import jinja2.bccache
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.util import LRUCache
from werkzeug.routing.rules import Rule
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from portal import accounts, create_app
from portal.extensions import db
from portal.models import User

ADMIN_EMAIL = "admin@example.com"
PASSWORD = "correct-horse-battery"
# The portal hashes with scrypt, slow on purpose. The users the fixtures make (the first admin
# included) carry this cheap hash of the same password instead, so that the suite's hundreds of
# sign-ins cost no scrypt each: werkzeug checks a hash by the method written in it. Passwords the
# tests set through the forms and the CLI are hashed by the portal itself, with scrypt.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


TESTS = Path(__file__).resolve().parent
FAST_RUN = os.environ.get("PORTAL_TESTS_FAST") == "1"
POSTGRES_PARAMS = {"postgres", "postgresql"}


def needs_postgres(item: pytest.Item) -> bool:
    """Whether ``item`` runs against a PostgreSQL server."""
    if "pg_app" in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and bool(POSTGRES_PARAMS & set(map(str, callspec.params.values())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0]
        if folder == "browser":
            item.add_marker(pytest.mark.browser)
        elif folder == "faults":
            item.add_marker(pytest.mark.slow)
        if needs_postgres(item):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _fast_run_starts_no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    """In ``make test-fast``, starting a subprocess fails the test: it belongs to ``slow``."""
    if not FAST_RUN:
        return

    def refuse(self, args, *rest, **kwargs):
        raise AssertionError(f"the fast run starts no subprocess (mark the test slow): {args!r}")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


class SharedTemplateCode(jinja2.BytecodeCache):
    """Compiled templates kept across the apps of one test process. Each test makes an app of
    its own, and each app's Jinja environment would compile every template it renders again:
    that was a fifth of the suite's time. A changed template has another checksum, so it is
    compiled afresh."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = SharedTemplateCode()


UNSHARED_BUILDER = Rule._compile_builder  # werkzeug's own, for tests/test_fixtures.py


def share_url_builders() -> None:
    """Compile each URL rule's builder once per test process, not once per app.

    Werkzeug turns every rule into a small Python function (``Rule._compile_builder``) when an
    app registers it: about 30 ms of each test app's 35 ms start. The function depends only on
    the rule's text, its parsed parts and its defaults, and receives the rule itself as its
    first argument, so rules equal in those share it. Anything unhashable compiles as before.
    """
    builders: dict[tuple, object] = {}

    def shared(self: Rule, append_unknown: bool = True):
        # sorted by name (unique strings); the type too, since True == 1 but converts otherwise
        defaults = tuple((k, type(v), v) for k, v in sorted((self.defaults or {}).items()))
        key = (append_unknown, self.rule, tuple(self._trace), defaults)
        try:
            hash(key)
        except TypeError:
            return UNSHARED_BUILDER(self, append_unknown)
        if key not in builders:
            builders[key] = UNSHARED_BUILDER(self, append_unknown)
        return builders[key]

    Rule._compile_builder = shared


share_url_builders()


# Compiled SQL statements kept across the SQLite engines of one test process (make_app).
COMPILED_SQL = LRUCache(5000)


def share_compiled_sql() -> None:
    """Let the test apps' SQLite engines share their compiled statements.

    SQLAlchemy compiles each statement once per engine and keys its cache by the dialect
    object, so every test app compiled the portal's queries again: a fifth of a page test's
    time. Here two SQLite dialects are equal when they are configured alike (everything a
    statement is compiled from), and make_app hands every SQLite engine one cache. PostgreSQL
    engines keep a cache of their own.
    """

    def settings(dialect) -> tuple:
        return (
            dialect.paramstyle,
            dialect.positional,
            dialect.dbapi.sqlite_version_info if dialect.dbapi else None,
            dialect.server_version_info,
            dialect.native_datetime,
            dialect._json_serializer,
            dialect._json_deserializer,
            dialect.label_length,
            dialect.isolation_level,
        )

    def equal(self, other) -> bool:
        return type(other) is type(self) and settings(other) == settings(self)

    SQLiteDialect_pysqlite.__eq__ = equal
    SQLiteDialect_pysqlite.__hash__ = lambda self: hash(type(self))


share_compiled_sql()


def make_app(db_file: Path, instance: Path, **config) -> Flask:
    """Create an app on ``db_file`` with test settings (CSRF stays on)."""
    settings = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
        "PROCESSOR_ENABLED": False,
        # The tests' webhook receivers listen on 127.0.0.1: allowed explicitly, as in make run.
        "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.0/8"],
    }
    settings.update(config)
    app = create_app(settings, instance_path=str(instance))
    app.jinja_env.bytecode_cache = TEMPLATE_CODE
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            db.engine.update_execution_options(compiled_cache=COMPILED_SQL)
    return app


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """Run the real migrations and ``flask setup`` once; tests copy the result."""
    folder = tmp_path_factory.mktemp("template")
    app = make_app(folder / "portal.db", folder / "instance")
    result = app.test_cli_runner().invoke(
        args=["setup", "--admin-email", ADMIN_EMAIL, "--admin-password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        admin = db.session.scalar(sa.select(User).filter_by(email=ADMIN_EMAIL))
        assert admin.password_hash.startswith("scrypt:")  # as `flask setup` stores it
        admin.password_hash = PASSWORD_HASH
        db.session.commit()
        db.engine.dispose()
    return folder / "portal.db"


@pytest.fixture()
def db_path(template_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "portal.db"
    shutil.copy(template_db, path)
    return path


@pytest.fixture()
def app(db_path: Path, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(db_path, tmp_path / "instance")
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def runner(app: Flask):
    return app.test_cli_runner()


def csrf_token(client: FlaskClient, url: str) -> str:
    """GET ``url`` and return the CSRF token of its form."""
    page = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def post_form(client: FlaskClient, url: str, data: dict, *, token_from: str | None = None, **kw):
    """POST a form the way a browser does: with the token of the page that shows it."""
    payload = dict(data)
    payload["csrf_token"] = csrf_token(client, token_from or url)
    return client.post(url, data=payload, **kw)


def login(client: FlaskClient, email: str = ADMIN_EMAIL, password: str = PASSWORD, **extra):
    """Sign in through the real form; return the response (not followed)."""
    return post_form(client, "/auth/login", {"email": email, "password": password, **extra})


@pytest.fixture()
def make_user(app: Flask):
    """Create a user with the session's password; roles and groups by name."""

    def factory(
        email: str,
        roles: tuple[str, ...] = ("Viewer",),
        groups: tuple[str, ...] = (),
        client: str = accounts.DEFAULT_CLIENT,
    ) -> int:
        with app.app_context():
            user = User(
                email=email,
                password_hash=PASSWORD_HASH,
                client=accounts.find_client(client),
                roles=accounts.find_roles(roles),
                groups=accounts.find_groups(groups),
            )
            db.session.add(user)
            db.session.commit()
            return user.id

    return factory


@pytest.fixture()
def admin_client(client: FlaskClient) -> FlaskClient:
    """A test client signed in as the first admin."""
    response = login(client)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture()
def live_url(app: Flask) -> Iterator[str]:
    """Serve the app on a free 127.0.0.1 port for the length of the test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture()
def browser():
    """Launch headless Chromium through Playwright; skip the test where either is missing
    (under CI, ``CI=true``, that is a failure instead: the browser tests must run there)."""
    missing = None if CHROMIUM else "Chromium is not installed"
    try:
        from playwright import sync_api
    except ImportError:
        missing = missing or "playwright is not installed"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} (CI=true: the browser tests must run)", pytrace=False)
        pytest.skip(missing)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture()
def smtp():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""
    from tests.smtp import SMTPServer

    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture()
def mail_app(db_path: Path, tmp_path: Path, smtp) -> Iterator[Flask]:
    """The app with mail on, sending to ``smtp``; a failed attempt may retry at once."""
    app = make_app(db_path, tmp_path / "instance", MAIL_BACKOFF_SECONDS=0.0, **smtp.config())
    yield app
    with app.app_context():
        db.engine.dispose()
