"""The events page's filter form (a GET form: no CSRF token, nothing changes)."""

from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from portal.core.inputs import UNSTORABLE, parse_id, storable
from portal.models import Client
from portal.models.events import EVENT_FAILED, EVENT_PROCESSED, EVENT_QUEUED
from portal.web.forms import Form, LocalDateTimeField

STATUSES = [
    SelectChoice("", "any"),
    SelectChoice(EVENT_QUEUED, "queued (held while the processor is restricted)"),
    SelectChoice(EVENT_PROCESSED, "processed"),
    SelectChoice(EVENT_FAILED, "failed"),
]


class EventFilterForm(Form):
    class Meta:
        csrf = False

    client = SelectField("Client", coerce=str, validators=[Optional()])
    type = StringField("Event type", validators=[Optional(), Length(max=200)])
    status = SelectField("Status", choices=STATUSES, validators=[Optional()])
    since = LocalDateTimeField("Received from", validators=[Optional()])
    until = LocalDateTimeField("Received before", validators=[Optional()])

    def __init__(self, clients: list[Client], **kwargs) -> None:
        super().__init__(**kwargs)
        self.client.choices = [SelectChoice("", "all")] + [
            SelectChoice(str(client.id), client.name) for client in clients
        ]

    def client_ids(self, visible: list[int]) -> list[int]:
        """Return the chosen client's id (if it is visible), or every visible client."""
        chosen = parse_id(self.client.data)
        return [chosen] if chosen in visible else visible


class BulkRequest:
    """What a bulk form asks for: the action and the selection, inside the viewer's clients.

    ``scope`` is ``selected`` (the ticked ``event_id`` boxes), ``filter`` (the events page's
    filter fields, as in :class:`EventFilterForm`) or ``window`` (failed in the drain of the
    maintenance window ``window``). ``problem`` says why it cannot be done, else None.
    """

    def __init__(self, data, clients: list[Client]) -> None:
        self.action = data.get("action", "")
        self.scope = data.get("scope", "selected")
        self.problem: str | None = None
        self.selection: dict = {}
        visible = [client.id for client in clients]
        self.client_ids = visible
        if not all(storable(value) for value in data.values()):
            self.problem = UNSTORABLE
        elif self.action not in ("retry", "replay"):
            self.problem = "Choose an action."
        elif self.scope == "selected":
            ids = [parse_id(value) for value in data.getlist("event_id")]
            if not ids or None in ids:
                self.problem = "Select at least one event."
            else:
                self.selection = {"event_ids": sorted(set(ids))[:MAX_SELECTED]}
        elif self.action == "replay":
            self.problem = "Replay applies to selected events only."
        elif self.scope == "filter":
            self._filter(data, clients)
        elif self.scope == "window" and (window := parse_id(data.get("window"))) is not None:
            self.selection = {"window": window}
        else:
            self.problem = "Unknown selection."

    def _filter(self, data, clients: list[Client]) -> None:
        form = EventFilterForm(clients, formdata=data)
        if not form.validate():
            self.problem = "The filter is not valid; correct it on the events page."
            return
        self.client_ids = form.client_ids(self.client_ids)
        chosen = {"type": form.type.data or None, "status": form.status.data or None}
        for name in ("since", "until"):
            if getattr(form, name).data:
                chosen[name] = getattr(form, name).data.isoformat()  # naive UTC
        self.selection = {"filter": {k: v for k, v in chosen.items() if v}}

    def hidden(self, data) -> list[tuple[str, str]]:
        """Return the (name, value) pairs that carry this request to the confirmation."""
        names = ("action", "scope", "window", "client", "type", "status", "since", "until")
        pairs = [(name, data[name]) for name in names if data.get(name)]
        return pairs + [("event_id", str(i)) for i in self.selection.get("event_ids", [])]


MAX_SELECTED = 500  # ticked boxes come from one page (50 rows); a generous bound
