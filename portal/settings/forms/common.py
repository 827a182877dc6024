"""Pieces shared by the workflow and trigger forms."""

import sqlalchemy as sa
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from portal.extensions import db
from portal.models import Client


def strip(value: object) -> object:
    """Filter: trim the text of a string field (and turn a missing value into "")."""
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


class ClientScopedForm(FlaskForm):
    """A form for a row that belongs to one client and has a name unique within that client."""

    client_id = SelectField("Client", coerce=int)
    name = StringField("Name", filters=[strip])
    enabled = BooleanField("Enabled", default=True)

    def __init__(self, clients: list[Client], editing_id: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.client_id.choices = [SelectChoice(client.id, client.name) for client in clients]
        self.editing_id = editing_id

    def name_taken(self, model) -> bool:
        """Return whether another row of ``model`` of the chosen client has this name."""
        query = sa.select(model.id).where(
            model.client_id == self.client_id.data,
            sa.func.lower(model.name) == self.name.data.lower(),
        )
        if self.editing_id is not None:
            query = query.where(model.id != self.editing_id)
        return db.session.scalar(query.limit(1)) is not None


class ConfirmForm(FlaskForm):
    """An empty form: a POST button (toggle, delete) that carries only the CSRF token."""
