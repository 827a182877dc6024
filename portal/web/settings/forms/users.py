"""Forms of the users page."""

from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SearchField,
    SelectField,
    SubmitField,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional

from portal.web.forms import CheckboxListField, Form

MISMATCH = "The passwords differ."


class UserForm(Form):
    """Edit a user's details (the password has its own form)."""

    version = HiddenField()  # the row's version when the form was opened (edits only)

    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    client = SelectField("Client", coerce=int, validators=[InputRequired()])
    roles = CheckboxListField(
        "Roles", coerce=int, validators=[DataRequired("Choose at least one role.")]
    )
    groups = CheckboxListField(
        "Access groups", coerce=int, validators=[DataRequired("Choose at least one access group.")]
    )
    active = BooleanField("Active (may sign in)", default=True)
    must_change_password = BooleanField("Must change the password at the next sign-in")
    submit = SubmitField("Save")


class NewUserForm(UserForm):
    """Create a user: the details and a first password."""

    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField(
        "Confirm password", validators=[DataRequired(), EqualTo("password", MISMATCH)]
    )
    submit = SubmitField("Create user")


class PasswordResetForm(Form):
    """An admin sets a new password for a user."""

    # own ids: this form shares the page with the details form
    password = PasswordField(
        "New password", id="reset-password", validators=[DataRequired(), Length(max=1024)]
    )
    confirm = PasswordField(
        "Confirm new password",
        id="reset-confirm",
        validators=[DataRequired(), EqualTo("password", MISMATCH)],
    )
    # An admin's password is a temporary one: by default the user replaces it at sign-in.
    must_change_password = BooleanField(
        "Must change it at the next sign-in", id="reset-must-change-password", default=True
    )
    submit = SubmitField("Set password", id="reset-submit")


class UserSearchForm(Form):
    """The list's search box (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    q = SearchField("Email contains", validators=[Optional(), Length(max=255)])
