"""The console's forms (Flask-WTF): each carries its CSRF token, and validates what it is sent."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class SignInForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=60)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class LookUpForm(FlaskForm):
    identifier = StringField("Email or phone number", validators=[DataRequired(), Length(max=320)])


class ActionForm(FlaskForm):
    """A button alone (sign out, retry a job): its token is the whole form."""
