"""Which clients a user may see and manage on the workflow, trigger and dashboard pages."""

import sqlalchemy as sa

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
