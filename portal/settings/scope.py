"""Which clients a user may see and manage on the workflow, trigger and dashboard pages."""

import sqlalchemy as sa
from flask import abort

from portal.extensions import db
from portal.models import Client, User
from portal.permissions import CLIENT_SETTINGS_MANAGE


def visible_clients(user: User) -> list[Client]:
    """Return the user's own client first, then every other client if they manage clients."""
    if not user.can(CLIENT_SETTINGS_MANAGE):
        return [user.client]
    others = db.session.scalars(
        sa.select(Client).where(Client.id != user.client_id).order_by(Client.name)
    )
    return [user.client, *others]


def visible_client_ids(user: User) -> list[int]:
    """Return the ids of :func:`visible_clients`, in the same order."""
    if not user.can(CLIENT_SETTINGS_MANAGE):
        return [user.client_id]
    return [client.id for client in visible_clients(user)]


def owned_or_404(model, row_id: int, user: User):
    """Return the row of ``model`` (a Workflow or ScheduledTrigger) if ``user`` may manage its
    client; 404 otherwise, so other clients' rows do not show that they exist."""
    row = db.get_or_404(model, row_id)
    if row.client_id not in visible_client_ids(user):
        abort(404)
    return row


def rows_by_client(model, clients: list[Client]) -> dict[int, list]:
    """Return the rows of ``model`` of each of ``clients`` by name, keyed by client id."""
    by_client: dict[int, list] = {client.id: [] for client in clients}
    rows = db.session.scalars(
        sa.select(model).where(model.client_id.in_(list(by_client))).order_by(model.name)
    )
    for row in rows:
        by_client[row.client_id].append(row)
    return by_client
