"""The workflow form: what a workflow matches and which action it runs."""

import json
import math
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from wtforms import FloatField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.core import jsonvalues
from portal.events import conditions, targets
from portal.events.webhooks.signing import secret_key
from portal.models import Workflow
from portal.web.settings.forms.common import ClientScopedForm, name_field, strip

OPERATORS = [
    SelectChoice("eq", "equals"),
    SelectChoice("ne", "does not equal"),
    SelectChoice("gt", "is greater than"),
    SelectChoice("lt", "is less than"),
    SelectChoice("exists", "exists"),
]
ACTIONS = [
    SelectChoice("record", "Record a result row"),
    SelectChoice("webhook", "Call a webhook (HTTP POST)"),
]


def parse_value(text: str) -> Any:
    """Read a condition value: JSON if it parses (42, true, "x"), otherwise the plain text.

    Raise NonFiniteNumber for a number JSON cannot carry (NaN, Infinity, 1e400)."""
    try:
        return jsonvalues.loads(text)
    except jsonvalues.NonFiniteNumber:
        raise
    except ValueError:
        return text


def value_text(value: Any) -> str:
    """Show a stored condition value so that :func:`parse_value` reads it back unchanged."""
    try:
        if isinstance(value, str) and parse_value(value) == value:
            return value
    except jsonvalues.NonFiniteNumber:
        pass  # the text "NaN": shown quoted, so it reads back as text
    return json.dumps(value)


class WorkflowForm(ClientScopedForm):
    name = name_field(Workflow)
    event_type = StringField(
        "Event type",
        filters=[strip],
        default="*",
        validators=[DataRequired(), Length(max=200)],
        description="The exact event type to match, or * for every event.",
    )
    condition_field = StringField(
        "Payload field",
        filters=[strip],
        validators=[Optional(), Length(max=conditions.MAX_PATH_LENGTH)],
        description="Optional condition: a dotted path into the payload, e.g. sensor.temp. "
        "Leave empty to match every payload.",
    )
    condition_op = SelectField("Operator", choices=OPERATORS, default="eq")
    condition_value = StringField(
        "Value",
        filters=[strip],
        validators=[Length(max=500)],
        description='A JSON value (42, true, "text") or plain text; not needed for "exists".',
    )
    action = SelectField("Action", choices=ACTIONS, default="record")
    url = StringField("Webhook URL", filters=[strip], validators=[Length(max=2000)])
    secret = StringField(
        "Signing secret",
        filters=[strip],
        validators=[Length(max=200)],
        description="Standard Webhooks secret (whsec_ followed by base64) that signs each "
        "call. Leave empty to generate one (or, when editing, to keep the current one).",
    )
    max_in_flight = IntegerField(
        "Calls in flight at most",
        validators=[Optional(), NumberRange(min=1, max=10_000)],
        description="Empty: no cap of its own (the gateway's WEBHOOK_CONCURRENCY applies); "
        "1: one call at a time, oldest first.",
    )
    rate_limit = FloatField(
        "Calls per second at most",
        validators=[Optional(), NumberRange(min=0.01, max=100_000)],
        description="Empty: no rate limit.",
    )

    def validate(self, extra_validators=None) -> bool:
        """Check the fields, then the rules that span several of them."""
        ok = super().validate(extra_validators)
        if self.name.data and self.name_taken(Workflow):
            self.name.errors.append("This client already has a workflow with this name.")
            ok = False
        if self.condition_field.data:
            ok = self._check_condition() and ok
        elif self.condition_value.data:
            self.condition_field.errors.append("Name the payload field the value applies to.")
            ok = False
        if self.action.data == "webhook":
            ok = self._check_url() and ok
            ok = self._check_secret() and ok
        if self.rate_limit.data is not None and not math.isfinite(self.rate_limit.data):
            self.rate_limit.errors.append("Give a number of calls per second.")
            ok = False
        return ok

    def _check_secret(self) -> bool:
        if not self.secret.data:
            return True  # generate one, or keep the current one
        key = secret_key(self.secret.data)
        if key is None or len(key) < 16:
            self.secret.errors.append(
                "Give a Standard Webhooks secret: whsec_ followed by the base64 of at least "
                "16 bytes, or leave it empty to generate one."
            )
            return False
        return True

    def _check_condition(self) -> bool:
        if self.condition_field.errors:
            return False  # too long already
        problem = conditions.path_problem(self.condition_field.data)
        if problem:
            self.condition_field.errors.append(problem)
            return False
        op, text = self.condition_op.data, self.condition_value.data
        if op == "exists":
            return True
        if not text:
            self.condition_value.errors.append("Give the value to compare the field with.")
            return False
        try:
            value = parse_value(text)
        except jsonvalues.NonFiniteNumber as exc:
            self.condition_value.errors.append(str(exc))
            return False
        if op in ("gt", "lt") and (isinstance(value, bool) or not isinstance(value, int | float)):
            self.condition_value.errors.append("Greater/less than compares numbers: give a number.")
            return False
        return True

    def _check_url(self) -> bool:
        url = self.url.data
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.url.errors.append("Give a full http:// or https:// URL for the webhook.")
            return False
        problem = targets.url_problem(url, current_app.config["WEBHOOK_ALLOWED_NETWORKS_PARSED"])
        if problem:
            self.url.errors.append(problem)
            return False
        return True

    def condition(self) -> dict[str, Any] | None:
        """Return the condition in the stored JSON shape, or None when there is none."""
        field = self.condition_field.data
        if not field:
            return None
        op = self.condition_op.data
        value = None if op == "exists" else parse_value(self.condition_value.data)
        return {"field": field, "op": op, "value": value}

    def values(self) -> dict[str, Any]:
        """Return the workflow's column values from the submitted form."""
        webhook = self.action.data == "webhook"
        return {
            "client_id": self.client_id.data,
            "name": self.name.data,
            "enabled": self.enabled.data,
            "event_type": self.event_type.data,
            "condition": self.condition(),
            "action": self.action.data,
            "url": self.url.data if webhook else "",
            "max_in_flight": self.max_in_flight.data if webhook else None,
            "rate_limit": self.rate_limit.data if webhook else None,
        }

    def load(self, workflow: Workflow) -> None:
        """Fill the form from a stored workflow (the secret stays empty: blank keeps it)."""
        self.client_id.data = workflow.client_id
        self.name.data = workflow.name
        self.enabled.data = workflow.enabled
        self.event_type.data = workflow.event_type
        self.action.data = workflow.action
        self.url.data = workflow.url
        self.max_in_flight.data = workflow.max_in_flight
        self.rate_limit.data = workflow.rate_limit
        condition = workflow.condition or {}
        self.condition_field.data = condition.get("field", "")
        self.condition_op.data = condition.get("op", "eq")
        has_value = "value" in condition and condition.get("op") != "exists"
        self.condition_value.data = value_text(condition["value"]) if has_value else ""
