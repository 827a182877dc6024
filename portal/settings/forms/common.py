"""Form pieces shared by the admin pages."""

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, SubmitField
from wtforms.widgets import CheckboxInput, ListWidget


class MultiCheckboxField(SelectMultipleField):
    """A multi-select rendered as a list of labelled checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ButtonForm(FlaskForm):
    """A POST button (delete, unlock, rotate key): only the CSRF token and a submit."""

    submit = SubmitField("Confirm")
