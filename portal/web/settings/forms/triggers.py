"""The scheduled-trigger form: a schedule (interval or cron) and the event it emits."""

import json
from typing import Any

from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.core import jsonvalues
from portal.events.trigger_schedule import cron_problem
from portal.models import ScheduledTrigger
from portal.web.settings.forms.common import ClientScopedForm, name_field, strip

MAX_INTERVAL = 366 * 24 * 3600


class TriggerForm(ClientScopedForm):
    name = name_field(ScheduledTrigger)
    interval_seconds = IntegerField(
        "Interval (seconds)",
        validators=[
            Optional(),
            NumberRange(
                min=1,
                max=MAX_INTERVAL,
                message="The interval is between 1 second and one year (31622400 seconds).",
            ),
        ],
        description="Fire every N seconds, or leave empty and give a cron expression.",
    )
    cron = StringField(
        "Cron expression",
        filters=[strip],
        validators=[Length(max=120)],
        description="Five fields in UTC: minute hour day month weekday, e.g. */15 * * * *. "
        "Name weekdays (mon-sun) to avoid number ambiguity.",
    )
    event_type = StringField(
        "Event type",
        filters=[strip],
        validators=[DataRequired(), Length(max=200)],
        description="The type of the event each firing emits.",
    )
    payload = TextAreaField(
        "Payload (JSON object)",
        filters=[strip],
        default="{}",
        description='The payload of the emitted event, e.g. {"report": "daily"}.',
    )

    def validate(self, extra_validators=None) -> bool:
        """Check the fields, then the schedule and the payload."""
        ok = super().validate(extra_validators)
        if self.name.data and self.name_taken(ScheduledTrigger):
            self.name.errors.append("This client already has a trigger with this name.")
            ok = False
        has_interval, has_cron = self.interval_seconds.data is not None, bool(self.cron.data)
        if has_interval == has_cron and not self.interval_seconds.errors:
            message = (
                "Give either an interval or a cron expression, not both."
                if has_interval
                else "Give an interval in seconds or a cron expression."
            )
            self.interval_seconds.errors.append(message)
            ok = False
        if has_cron and (problem := cron_problem(self.cron.data)):
            self.cron.errors.append(problem)
            ok = False
        if self.event_type.data == "*":
            self.event_type.errors.append("A trigger emits one exact event type, not *.")
            ok = False
        try:
            payload = jsonvalues.loads(self.payload.data or "{}")
        except ValueError as exc:
            self.payload.errors.append(f"The payload is not valid JSON: {exc}")
            return False
        if not isinstance(payload, dict):
            self.payload.errors.append('The payload must be a JSON object, e.g. {"key": "value"}.')
            return False
        return ok

    def values(self) -> dict[str, Any]:
        """Return the trigger's column values from the submitted form."""
        return {
            "client_id": self.client_id.data,
            "name": self.name.data,
            "enabled": self.enabled.data,
            "interval_seconds": self.interval_seconds.data,
            "cron": self.cron.data or None,
            "event_type": self.event_type.data,
            "payload": jsonvalues.loads(self.payload.data or "{}"),
        }

    def load(self, trigger: ScheduledTrigger) -> None:
        """Fill the form from a stored trigger."""
        self.client_id.data = trigger.client_id
        self.name.data = trigger.name
        self.enabled.data = trigger.enabled
        self.interval_seconds.data = trigger.interval_seconds
        self.cron.data = trigger.cron or ""
        self.event_type.data = trigger.event_type
        self.payload.data = json.dumps(trigger.payload or {}, indent=2)
