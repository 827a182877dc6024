"""The audit log's filter form."""

from flask_wtf import FlaskForm
from wtforms import DateField, SearchField, SelectField
from wtforms.validators import Length, Optional


class AuditFilterForm(FlaskForm):
    """Filter the log (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    module = SelectField("Module", validators=[Optional()])
    user = SearchField("User (email contains)", validators=[Optional(), Length(max=255)])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
