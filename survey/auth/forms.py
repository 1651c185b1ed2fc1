"""Sign-in, password and token forms (CSRF-protected through Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, ValidationError
from wtforms.validators import DataRequired, EqualTo, Length

from survey.auth.passwords import PasswordError, check_new_password


class LoginForm(FlaskForm):
    email = EmailField("E-mail address", validators=[DataRequired("Enter your e-mail address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=1024)])


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[
        DataRequired("Give the token a name, e.g. the script or system that will use it."),
        Length(max=100, message="A token name can be at most 100 characters."),
    ])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])
    new_password = PasswordField("New password", validators=[DataRequired("Choose a new password.")])
    confirm_password = PasswordField("New password again", validators=[
        DataRequired("Type the new password again."),
        EqualTo("new_password", message="The two new passwords are not the same."),
    ])

    def validate_new_password(self, field: PasswordField) -> None:
        from flask import g

        try:
            check_new_password(field.data, g.user.email if g.get("user") else None)
        except PasswordError as exc:
            raise ValidationError(str(exc)) from None
