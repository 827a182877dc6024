"""The audit log's filter form."""

from wtforms import SearchField, SelectField
from wtforms.validators import Length, Optional

from portal.web.forms import Form, LocalDateTimeField


class AuditFilterForm(Form):
    """Filter the log (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    module = SelectField("Module", validators=[Optional()])
    user = SearchField("User (email contains)", validators=[Optional(), Length(max=255)])
    # A day or a day and time, in the viewer's zone; "To" includes its day or minute.
    date_from = LocalDateTimeField("From", validators=[Optional()], dates=True)
    date_to = LocalDateTimeField("To", validators=[Optional()], dates=True, inclusive=True)
