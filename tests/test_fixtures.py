"""The suite's own speed-ups (tests/conftest.py) keep each test's app its own: the compiled SQL
and the URL builders its apps share give the same answers as their own would."""

import shutil

import sqlalchemy as sa
from sqlalchemy.engine.default import DefaultDialect

from portal.extensions import db
from portal.models import Client
from tests.conftest import UNSHARED_BUILDER, make_app


def two_apps(template_db, tmp_path):
    apps = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.db"
        shutil.copy(template_db, path)
        apps.append(make_app(path, tmp_path / name))
    return apps


def test_a_statement_one_app_compiled_is_reused_by_the_next_on_its_own_database(
    template_db, tmp_path
):
    first, second = two_apps(template_db, tmp_path)
    with first.app_context():
        db.session.execute(sa.update(Client).values(contact_email="first@example.com"))
        db.session.commit()
    query = sa.select(Client.contact_email).where(Client.is_default.is_(True))
    read = []
    for app in (first, second):
        with app.app_context():
            result = db.session.connection().execute(query)
            read.append((result.scalar(), result.context.cache_hit))
            db.session.remove()
            db.engine.dispose()
    (first_email, _), (second_email, second_hit) = read
    assert second_hit == DefaultDialect.CACHE_HIT  # not compiled again
    assert (first_email, second_email) == ("first@example.com", "")  # each its own file


def test_every_url_is_built_as_werkzeug_would_build_it_alone(template_db, tmp_path):
    _, app = two_apps(template_db, tmp_path)
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 50
    for rule in rules:
        values = {name: "7" for name in rule.arguments}
        for append_unknown in (False, True):
            own = UNSHARED_BUILDER(rule, append_unknown).__get__(rule, None)
            shared = rule._build_unknown if append_unknown else rule._build
            extra = {"next": "/a b?c"} if append_unknown else {}
            assert shared(**values, **extra) == own(**values, **extra), rule.rule
