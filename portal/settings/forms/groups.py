"""Forms of the access groups page."""

from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length


class GroupForm(FlaskForm):
    """An access group's name and description."""

    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    description = TextAreaField("Description", validators=[Length(max=500)])
    submit = SubmitField("Save")
