from wtforms import BooleanField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from portal.web.forms import Form


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


class SecondFactorForm(Form):
    code = StringField(
        "Code",
        validators=[DataRequired(), Length(max=64)],
        description="The six digits your authenticator app shows, or one of your recovery codes.",
    )
    submit = SubmitField("Verify")


class EnrolForm(Form):
    code = StringField(
        "Code from the app",
        validators=[DataRequired(), Length(max=64)],
        description="Enter the six digits the app shows for this account to turn it on.",
    )
    submit = SubmitField("Turn on two-factor sign-in")
