"""Forms of the access groups page."""

from wtforms import HiddenField, SubmitField, TextAreaField
from wtforms.validators import Length

from portal.models import AccessGroup
from portal.web.forms import Form
from portal.web.settings.forms.common import name_field


class GroupForm(Form):
    """An access group's name and description."""

    version = HiddenField()  # the row's version when the form was opened (edits only)

    name = name_field(AccessGroup)
    description = TextAreaField("Description", validators=[Length(max=500)])
    submit = SubmitField("Save")
