"""The base of every form of the portal: its text fields refuse what no database stores."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

from portal.core.inputs import UNSTORABLE, storable

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
