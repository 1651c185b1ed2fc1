"""Sign-in and token forms (CSRF-protected through Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField("E-mail address", validators=[DataRequired("Enter your e-mail address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=1024)])


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[
        DataRequired("Give the token a name, e.g. the script or system that will use it."),
        Length(max=100, message="A token name can be at most 100 characters."),
    ])
