"""The base of every form of the portal (its text fields refuse what no database stores), and
the fields the portal's forms share."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

from portal.inputs import UNSTORABLE, storable

DAMAGED = "The form came back damaged (a hidden field holds text no database stores): reload it."


class Form(FlaskForm):
    """A FlaskForm whose text inputs (text, textarea, email, password, search) refuse NUL
    characters with a message next to the field, as PostgreSQL would refuse to store them."""

    def validate(self, extra_validators=None) -> bool:
        """Run the fields' validators, then refuse unstorable text in any text field."""
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field, StringField) and not storable(field.data or ""):
                field.errors.append(UNSTORABLE)
                if isinstance(field, HiddenField):  # its errors are not shown next to it
                    self.form_errors = [*self.form_errors, DAMAGED]
                valid = False
        return valid


class CheckboxListField(SelectMultipleField):
    """A multiple choice as a list of labelled checkboxes: a click ticks one more, never replaces
    the others (as a click on a native multi-select does). Render it with the
    ``render_checkbox_list`` macro of ``_macros.html``."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __iter__(self):
        # A checkbox takes the list's validators: "required" would then ask for every box;
        # the list (at least one) is checked by the server and its error shown on the list.
        for option in super().__iter__():
            option.flags.required = False
            yield option
