"""Forms of the roles page."""

from wtforms import HiddenField, SubmitField
from wtforms.fields.choices import SelectChoice

from portal.accounts.permissions import CATALOGUE
from portal.models import Role
from portal.web.forms import CheckboxListField, Form
from portal.web.settings.forms.common import name_field


class RoleForm(Form):
    """A role's name and permissions."""

    version = HiddenField()  # the row's version when the form was opened (edits only)

    name = name_field(Role)
    permissions = CheckboxListField("Permissions")
    submit = SubmitField("Save")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.permissions.choices = [
            SelectChoice(code, f"{code} — {text}") for code, text in CATALOGUE.items()
        ]
