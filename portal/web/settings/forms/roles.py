"""Forms of the roles page."""

from wtforms import HiddenField, SelectMultipleField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from portal.accounts.permissions import CATALOGUE
from portal.models import Role
from portal.web.forms import Form
from portal.web.settings.forms.common import name_field


class MultiCheckboxField(SelectMultipleField):
    """A multi-select rendered as a list of labelled checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RoleForm(Form):
    """A role's name and permissions."""

    version = HiddenField()  # the row's version when the form was opened (edits only)

    name = name_field(Role)
    permissions = MultiCheckboxField("Permissions")
    submit = SubmitField("Save")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.permissions.choices = [
            SelectChoice(code, f"{code} — {text}") for code, text in CATALOGUE.items()
        ]
