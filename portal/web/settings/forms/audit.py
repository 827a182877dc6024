"""The audit log's filter form."""

from wtforms import DateField, SearchField, SelectField
from wtforms.validators import Length, Optional

from portal.web.forms import Form


class AuditFilterForm(Form):
    """Filter the log (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    module = SelectField("Module", validators=[Optional()])
    user = SearchField("User (email contains)", validators=[Optional(), Length(max=255)])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
