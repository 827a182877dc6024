"""Names of roles, groups, clients, workflows and triggers: unique without regard to case, trimmed,
their limit shown and enforced (never cut), in the forms, the CLI and the database."""

import importlib.util
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal import accounts
from portal.accounts import AccountError, names
from portal.extensions import db
from portal.models import AccessGroup, AuditEntry, Client, Role
from tests.admin_helpers import client_id, role_id, text
from tests.conftest import post_form
from tests.test_postgres import pg_app  # noqa: F401  (the PostgreSQL fixture)

MIGRATION = (
    Path(__file__).resolve().parents[2] / "migrations/versions/0009_case_insensitive_names.py"
)


def load_migration():
    spec = importlib.util.spec_from_file_location("migration_0009", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("Night shift", "night shift", True),
        ("Night shift", "  NIGHT SHIFT  ", True),
        ("Straße", "STRASSE", True),  # full case folding, not only ASCII
        ("Ärzte", "ärzte", True),
        ("Night shift", "Night shifts", False),
        ("Night shift", "Nightshift", False),
    ],
)
def test_name_key(first, second, same):
    assert (names.name_key(first) == names.name_key(second)) is same


def test_create_refuses_a_name_that_differs_only_in_case(app):
    with app.app_context():
        accounts.create_group("Night shift")
        with pytest.raises(AccountError) as refused:
            accounts.create_group("  night SHIFT ")
        assert str(refused.value) == (
            "An access group named Night shift already exists. "
            "Names that differ only in case count as the same name."
        )
        assert refused.value.field == "name"
        with pytest.raises(AccountError, match=r"^A role named Operator already exists\.$"):
            accounts.create_role("Operator", [])  # the same case: no note about case
        with pytest.raises(AccountError, match="A client named Default already exists"):
            accounts.clean_name("DEFAULT", "A client", Client)


def test_a_row_may_change_the_case_of_its_own_name(app):
    with app.app_context():
        role = accounts.find_roles(["Operator"])[0]
        accounts.update_role(role, "OPERATOR", role.permissions)
        db.session.commit()
        assert role.name == "OPERATOR"


def test_too_long_names_are_refused_not_cut(app):
    with app.app_context():
        with pytest.raises(AccountError, match="Up to 80 characters: this name has 81"):
            accounts.create_role("r" * 81, [])
        accounts.create_role("r" * 80, [])  # exactly the limit is fine
        with pytest.raises(AccountError, match="Up to 120 characters: this name has 121"):
            accounts.clean_name("c" * 121, "A client", Client)


@pytest.mark.parametrize(("model", "other"), [(Role, "operator"), (AccessGroup, "administrators")])
def test_the_database_refuses_case_duplicates(app, model, other):
    """The unique index on lower(name) holds even when the check is bypassed."""
    with app.app_context():
        db.session.add(model(name=other))
        with pytest.raises(IntegrityError):
            db.session.commit()


@pytest.mark.parametrize(
    ("url", "taken", "message"),
    [
        ("/settings/roles/new", "OPERATOR", "A role named Operator already exists."),
        ("/settings/groups/new", "administrators", "An access group named Administrators"),
        ("/settings/clients/new", "default", "A client named Default already exists."),
    ],
)
def test_forms_show_the_duplicate_and_keep_the_values(app, admin_client, url, taken, message):
    policy = {"password_retry_limit": 5, "lockout_minutes": 15, "retention_days": 30}
    response = post_form(admin_client, url, {"name": taken, **policy})
    page = text(response)
    assert response.status_code == 200
    assert message in page and "Names that differ only in case" in page
    assert f'value="{taken}"' in page


@pytest.mark.parametrize(
    ("url", "limit"),
    [
        ("/settings/roles/new", 80),
        ("/settings/groups/new", 80),
        ("/settings/clients/new", 120),
        ("/settings/workflows/new", 120),
        ("/settings/triggers/new", 120),
    ],
)
def test_name_inputs_show_their_limit(admin_client, url, limit):
    page = admin_client.get(url).get_data(as_text=True)
    assert f'maxlength="{limit}"' in page
    assert f"Up to {limit} characters." in page


def test_a_long_name_posted_past_the_browser_gets_the_form_error(app, admin_client):
    long_name = "names-" + "x" * 75  # 81 characters
    response = post_form(admin_client, "/settings/groups/new", {"name": long_name})
    page = text(response)
    assert response.status_code == 200
    assert "Up to 80 characters: this name has 81. Shorten it and save again." in page
    assert f'value="{long_name}"' in page  # kept whole, for the user to shorten
    with app.app_context():
        stored = db.session.scalars(
            sa.select(AccessGroup.name).where(AccessGroup.name.like("names-%"))
        ).all()
    assert stored == []


def test_workflow_names_follow_the_same_rule(app, admin_client):
    data = {
        "client_id": client_id(app),
        "name": "Names flow",
        "event_type": "x",
        "action": "record",
    }
    assert post_form(admin_client, "/settings/workflows/new", data).status_code == 302
    again = post_form(admin_client, "/settings/workflows/new", {**data, "name": " NAMES FLOW "})
    assert "This client already has a workflow with this name." in text(again)


def test_cli_treats_a_case_variant_as_existing(app, runner):
    result = runner.invoke(args=["roles", "create", "operator"])
    assert result.exit_code == 0 and "Role Operator already exists." in result.output
    result = runner.invoke(args=["groups", "create", "ADMINISTRATORS"])
    assert result.exit_code == 0 and "Access group Administrators already exists." in result.output
    result = runner.invoke(args=["clients", "create", "default"])
    assert result.exit_code != 0 and "A client named Default already exists." in result.output
    result = runner.invoke(args=["roles", "create", "r" * 81])
    assert result.exit_code != 0 and "Up to 80 characters" in result.output
    with app.app_context():
        assert names.taken_by(Role, "r" * 81) is None


def test_setup_again_keeps_a_builtin_role_renamed_to_another_case(app, runner):
    rid = role_id(app, "Viewer")
    with app.app_context():
        db.session.get(Role, rid).name = "viewer"
        db.session.commit()
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count(Role.id)).where(Role.name.ilike("viewer"))
        )
    assert count == 1


def test_migration_new_names_are_deterministic_and_fit():
    new_names = load_migration().new_names
    rows = [(1, "Night shift"), (2, "night shift"), (3, "Night shift (2)"), (4, " NIGHT SHIFT")]
    assert new_names(rows, 80) == {2: "night shift (3)", 4: "NIGHT SHIFT (4)"}
    long = "n" * 80
    renamed = new_names([(1, long), (2, long.upper())], 80)
    assert renamed == {2: "N" * 76 + " (2)"}


def check_migration_resolves_case_duplicates(app) -> None:
    """Downgrade below 0009, store duplicates as an old version could, upgrade again."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "downgrade", "0008"]).exit_code == 0
    with app.app_context():
        db.session.execute(
            sa.text("INSERT INTO roles (name, permissions) VALUES ('operator', '[]')")
        )
        db.session.execute(
            sa.text("INSERT INTO access_groups (name, description) VALUES ('ADMINISTRATORS', '')")
        )
        db.session.commit()
        db.session.remove()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        roles = db.session.scalars(sa.select(Role.name).where(Role.name.ilike("operator%"))).all()
        groups = db.session.scalars(
            sa.select(AccessGroup.name).where(AccessGroup.name.ilike("administrators%"))
        ).all()
        assert sorted(roles) == ["Operator", "operator (2)"]
        assert sorted(groups) == ["ADMINISTRATORS (2)", "Administrators"]
        entry = db.session.scalar(
            sa.select(AuditEntry).where(
                AuditEntry.actor == "migration", AuditEntry.module == "roles"
            )
        )
        assert entry.before == {"name": "operator"} and entry.after == {"name": "operator (2)"}
        db.session.add(Role(name="OPERATOR (2)", permissions=[]))
        with pytest.raises(IntegrityError):
            db.session.commit()


def test_migration_resolves_existing_case_duplicates(app):
    check_migration_resolves_case_duplicates(app)


def test_migration_resolves_existing_case_duplicates_on_postgres(pg_app):  # noqa: F811
    check_migration_resolves_case_duplicates(pg_app)
