"""Forms of the account pages."""

from wtforms import IntegerField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from portal.accounts import tokens
from portal.web.forms import CheckboxListField, Form


class TokenForm(Form):
    """Make a personal access token."""

    name = StringField(
        "Name",
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[DataRequired(), Length(max=tokens.MAX_NAME)],
        description="What it is for, e.g. deploy-pipeline.",
    )
    expires_days = IntegerField(
        "Expires after (days)",
        default=tokens.DEFAULT_DAYS,
        validators=[
            InputRequired("Give the expiry in days."),
            NumberRange(1, tokens.MAX_DAYS, f"From 1 to {tokens.MAX_DAYS} days."),
        ],
        render_kw={"inputmode": "numeric", "min": 1, "max": tokens.MAX_DAYS},
    )
    scopes = CheckboxListField(
        "Scopes",
        validators=[DataRequired("Choose at least one scope.")],
        description="A scope works only while you hold the permission it needs.",
    )
    submit = SubmitField("Create token")
