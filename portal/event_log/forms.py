"""The events page's filter form (a GET form: no CSRF token, nothing changes)."""

from wtforms import DateTimeLocalField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from portal.forms import Form
from portal.inputs import parse_id
from portal.models import Client
from portal.models.events import EVENT_FAILED, EVENT_PROCESSED, EVENT_QUEUED

STATUSES = [
    SelectChoice("", "any"),
    SelectChoice(EVENT_QUEUED, "queued (held while the processor is restricted)"),
    SelectChoice(EVENT_PROCESSED, "processed"),
    SelectChoice(EVENT_FAILED, "failed"),
]
MOMENT = "%Y-%m-%dT%H:%M"


class EventFilterForm(Form):
    class Meta:
        csrf = False

    client = SelectField("Client", coerce=str, validators=[Optional()])
    type = StringField("Event type", validators=[Optional(), Length(max=200)])
    status = SelectField("Status", choices=STATUSES, validators=[Optional()])
    since = DateTimeLocalField("Received from (UTC)", format=MOMENT, validators=[Optional()])
    until = DateTimeLocalField("Received before (UTC)", format=MOMENT, validators=[Optional()])

    def __init__(self, clients: list[Client], **kwargs) -> None:
        super().__init__(**kwargs)
        self.client.choices = [SelectChoice("", "all")] + [
            SelectChoice(str(client.id), client.name) for client in clients
        ]

    def client_ids(self, visible: list[int]) -> list[int]:
        """Return the chosen client's id (if it is visible), or every visible client."""
        chosen = parse_id(self.client.data)
        return [chosen] if chosen in visible else visible
