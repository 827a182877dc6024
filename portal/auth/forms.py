from wtforms import BooleanField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from portal.forms import Form


class LoginForm(Form):
    email = StringField("Email", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField("Keep me signed in")
    submit = SubmitField("Sign in")


class ChangePasswordForm(Form):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField(
        "Confirm new password", validators=[EqualTo("new_password", "The passwords differ.")]
    )
    submit = SubmitField("Change password")


class ResetRequestForm(Form):
    email = StringField("Email", validators=[DataRequired(), Length(max=255)])
    submit = SubmitField("Send me a link")


class ResetPasswordForm(Form):
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField(
        "Confirm new password", validators=[EqualTo("new_password", "The passwords differ.")]
    )
    submit = SubmitField("Set new password")
