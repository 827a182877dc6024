"""Names of clients, roles and access groups unique without regard to case

Revision ID: 0009
Revises: 0008

Existing names that differ only in case (or in surrounding spaces) are resolved first: the oldest
row keeps its name, each later one becomes "name (2)", "name (3)", ... (shortened to fit the
column), and every rename is written to the audit log.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# table -> (audit module, label in the audit description, length of the name column)
TABLES = {
    "clients": ("clients", "client", 120),
    "roles": ("roles", "role", 80),
    "access_groups": ("groups", "access group", 80),
}

audit_entries = sa.table(
    "audit_entries",
    sa.column("created_at", sa.DateTime()),
    sa.column("actor", sa.String()),
    sa.column("module", sa.String()),
    sa.column("action", sa.String()),
    sa.column("description", sa.Text()),
    sa.column("before", sa.JSON()),
    sa.column("after", sa.JSON()),
)


def key(name: str) -> str:
    """The comparison of portal.accounts.names.name_key, frozen here as of this migration."""
    return (name or "").strip().casefold()


def new_names(rows: list[tuple[int, str]], limit: int) -> dict[int, str]:
    """Return {id: new name} for the rows (oldest first) whose names clash with an older one."""
    keep: dict[str, int] = {}
    for row_id, name in rows:
        keep.setdefault(key(name), row_id)
    taken = set(keep)
    renamed = {}
    for row_id, name in rows:
        if keep[key(name)] == row_id:
            continue
        number = 2
        while True:
            suffix = f" ({number})"
            candidate = name.strip()[: limit - len(suffix)].rstrip() + suffix
            if key(candidate) not in taken:
                break
            number += 1
        taken.add(key(candidate))
        renamed[row_id] = candidate
    return renamed


def upgrade():
    bind = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)  # the portal stores naive UTC
    for table_name, (module, label, limit) in TABLES.items():
        table = sa.table(table_name, sa.column("id", sa.Integer()), sa.column("name", sa.String()))
        query = sa.select(table.c.id, table.c.name).order_by(table.c.id)
        rows = [tuple(row) for row in bind.execute(query)]
        old = dict(rows)
        for row_id, name in new_names(rows, limit).items():
            bind.execute(table.update().where(table.c.id == row_id).values(name=name))
            bind.execute(
                audit_entries.insert().values(
                    created_at=now,
                    actor="migration",
                    module=module,
                    action="update",
                    description=f"Renamed {label} {old[row_id]} to {name}: names are now "
                    "unique without regard to case",
                    before={"name": old[row_id]},
                    after={"name": name},
                )
            )
        op.create_index(
            f"uq_{table_name}_name_lower", table_name, [sa.text("lower(name)")], unique=True
        )


def downgrade():
    for table_name in TABLES:
        op.drop_index(f"uq_{table_name}_name_lower", table_name=table_name)
