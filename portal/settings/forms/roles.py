"""Forms of the roles page."""

from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from portal.permissions import CATALOGUE
from portal.settings.forms.common import MultiCheckboxField


class RoleForm(FlaskForm):
    """A role's name and permissions."""

    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    permissions = MultiCheckboxField("Permissions")
    submit = SubmitField("Save")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.permissions.choices = [(code, f"{code} — {text}") for code, text in CATALOGUE.items()]
