"""The maintenance-mode settings form."""

from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from portal.maintenance.changes import MAX_MESSAGE_LENGTH, normalize_message
from portal.models.maintenance import DEFAULT_NOTICE_MINUTES
from portal.web.forms import CheckboxListField, Form, LocalDateTimeField


class MaintenanceForm(Form):
    # The version of the state the form was opened at (portal.audit.concurrency): a save against a
    # state changed since then is refused.
    version = HiddenField()
    enabled = BooleanField("Maintenance mode")
    restrict_event_processor = BooleanField(
        "Restrict event processor",
        description="Part of maintenance mode: only while maintenance mode is on, no event is "
        "processed, no workflow runs and no trigger fires; incoming events are held (nothing is "
        "lost). Off: event processing continues during maintenance.",
    )
    # The Length validator also gives the textarea its maxlength: one limit for both sides.
    # Line breaks are normalised first, so one counts as one character, as the browser counts it.
    message = TextAreaField(
        "Maintenance message",
        filters=[normalize_message],
        validators=[Length(max=MAX_MESSAGE_LENGTH)],
        description="Plain text shown on the login screen and in the header of bypass users. "
        f"At most {MAX_MESSAGE_LENGTH} characters; a line break counts as one.",
        render_kw={"rows": 4},
    )
    bypass_roles = CheckboxListField(
        "Maintenance bypass roles", coerce=int, description="Roles allowed in during maintenance."
    )
    bypass_groups = CheckboxListField(
        "Maintenance bypass access groups",
        coerce=int,
        description="Access groups allowed in during maintenance.",
    )
    scheduled_start = LocalDateTimeField(
        "Scheduled start",
        validators=[Optional()],
        description="In your time zone ({zone}), e.g. {example}. Empty: start now (with "
        "Maintenance mode ticked). The settings above then take effect by themselves at that time.",
        render_kw={"autocomplete": "off"},
    )
    notice_minutes = IntegerField(
        "Advance notice (minutes)",
        default=DEFAULT_NOTICE_MINUTES,
        validators=[Optional()],
        description="How long before a scheduled start every page shows an advance banner.",
        render_kw={"inputmode": "numeric"},
    )
    expected_end = LocalDateTimeField(
        "Expected end",
        validators=[Optional()],
        description="Optional, in your time zone ({zone}): when you expect maintenance to end. "
        "The banners and the login screen tell everyone; ending it stays up to you.",
        render_kw={"autocomplete": "off"},
    )
    email_users = BooleanField(
        "Email affected users",
        description="Email every active user about this change (a scheduled start at its notice "
        "time, a start now, the end); users who turned maintenance emails off get none.",
    )
    # A person's submit (a click or Enter) asks for the review step; a POST without ``review``
    # (the review's "Confirm and apply", or a script) applies directly.
    review = SubmitField("Review changes")
    submit = SubmitField("Confirm and apply")
    back = SubmitField("Back to edit")
    preview = SubmitField("Preview who can sign in")
    unschedule = SubmitField("Cancel the scheduled start")
