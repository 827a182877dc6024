"""Pieces shared by the workflow and trigger forms."""

from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, ValidationError

from portal.accounts import names
from portal.models import Client
from portal.web.forms import Form


def strip(value: object) -> object:
    """Filter: trim the text of a string field (and turn a missing value into "")."""
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


def name_field(model, label: str = "Name") -> StringField:
    """Return the name input of ``model``: trimmed, its limit shown as a hint and enforced by
    the browser (``maxlength``), longer text refused by the server with a message."""
    limit = names.max_length(model)

    def within_limit(_form, field) -> None:
        problem = names.length_problem(model, field.data or "")
        if problem:
            raise ValidationError(problem)

    return StringField(
        label,
        filters=[strip],
        validators=[DataRequired(), within_limit],
        description=f"Up to {limit} characters.",
        render_kw={"maxlength": limit},
    )


class ClientScopedForm(Form):
    """A form for a row that belongs to one client and has a name unique within that client."""

    client_id = SelectField("Client", coerce=int)
    name = StringField("Name", filters=[strip])
    enabled = BooleanField("Enabled", default=True)

    def __init__(self, clients: list[Client], editing_id: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.client_id.choices = [SelectChoice(client.id, client.name) for client in clients]
        self.editing_id = editing_id

    def name_taken(self, model) -> bool:
        """Return whether another row of ``model`` of the chosen client has this name (in any
        case)."""
        if self.client_id.errors:  # not one of the choices: maybe not even a valid row id
            return False
        taken = names.taken_by(
            model,
            self.name.data,
            exclude_id=self.editing_id,
            where=[model.client_id == self.client_id.data],
        )
        return taken is not None


class ConfirmForm(Form):
    """An empty form: a POST button (toggle, delete) that carries only the CSRF token."""
