"""Forms of the clients page."""

from wtforms import BooleanField, EmailField, IntegerField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from portal.clients import MAX_LOCKOUT_MINUTES, MAX_RETRY_LIMIT
from portal.models import Client
from portal.web.forms import Form
from portal.web.settings.forms.common import name_field


class ClientForm(Form):
    """A client's name, contact and security policy."""

    name = name_field(Client)
    contact_email = EmailField("Contact email", validators=[Optional(), Length(max=255)])
    password_retry_limit = IntegerField(
        "Password retry limit",
        default=5,
        validators=[
            InputRequired(),
            NumberRange(min=1, max=MAX_RETRY_LIMIT, message="Must be between %(min)s and %(max)s."),
        ],
        description="Failed sign-ins in a row before the account is locked.",
    )
    lockout_minutes = IntegerField(
        "Lockout (minutes)",
        default=15,
        validators=[
            InputRequired(),
            NumberRange(
                min=1, max=MAX_LOCKOUT_MINUTES, message="Must be between %(min)s and %(max)s."
            ),
        ],
    )
    require_two_factor = BooleanField(
        "Require two-factor sign-in",
        description="Every user of this client must sign in with a code from an authenticator "
        "app too; a user without one sets it up at their next sign-in.",
    )
    password_regex = StringField(
        "Password regex",
        validators=[Length(max=500)],
        description="The whole password must match; empty means at least 8 characters.",
    )
    password_rule_message = StringField(
        "Password rule message (English)", validators=[Length(max=500)]
    )
    password_rule_message_de = StringField(
        "Password rule message (German)", validators=[Length(max=500)]
    )
    retention_days = IntegerField(
        "Keep processed and failed events (days)",
        default=30,
        validators=[
            Optional(),  # left out (older scripts, API-less forms): keep the current value
            NumberRange(min=1, max=3650, message="Must be between 1 and 3650 days."),
        ],
        description="Older processed and failed events and their deliveries are deleted by "
        "the event processor; queued events are never deleted.",
    )
    submit = SubmitField("Save")
