"""The maintenance-mode settings form."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, SubmitField, TextAreaField
from wtforms.validators import Length

from portal.maintenance.changes import MAX_MESSAGE_LENGTH


class MaintenanceForm(FlaskForm):
    enabled = BooleanField("Maintenance mode")
    restrict_event_processor = BooleanField(
        "Restrict event processor",
        description="On: no event is processed, no workflow runs and no trigger fires; incoming "
        "events are held. Off: event processing continues normally.",
    )
    message = TextAreaField(
        "Maintenance message",
        validators=[Length(max=MAX_MESSAGE_LENGTH)],
        description="Plain text shown on the login screen and in the header of bypass users.",
        render_kw={"rows": 4},
    )
    bypass_roles = SelectMultipleField(
        "Maintenance bypass roles", coerce=int, description="Roles allowed in during maintenance."
    )
    bypass_groups = SelectMultipleField(
        "Maintenance bypass access groups",
        coerce=int,
        description="Access groups allowed in during maintenance.",
    )
    submit = SubmitField("Save")
    preview = SubmitField("Preview who can sign in")
