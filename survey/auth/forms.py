"""Sign-in, password and token forms (CSRF-protected through Flask-WTF)."""

from __future__ import annotations

from flask import current_app
from wtforms import EmailField, PasswordField, SelectField, StringField, ValidationError
from wtforms.validators import DataRequired, EqualTo, Length

from survey.security import PageForm
from survey.auth.passwords import PasswordError, check_new_password


class LoginForm(PageForm):
    email = EmailField("E-mail address", validators=[DataRequired("Enter your e-mail address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=1024)])


LIFETIME_DAYS = (30, 90, 365)  # offered on the tokens page, with "never"
NEVER = "never"


def lifetime_choices() -> list[tuple[str, str]]:
    """The lifetimes offered: 30, 90 and 365 days, the site's API_TOKEN_DEFAULT_DAYS if it differs, and never."""
    days = set(LIFETIME_DAYS)
    configured = current_app.config["API_TOKEN_DEFAULT_DAYS"]
    if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
        days.add(configured)
    return [(str(n), "1 day" if n == 1 else f"{n} days") for n in sorted(days)] + [(NEVER, "Never expires")]


def default_lifetime() -> str:
    configured = current_app.config["API_TOKEN_DEFAULT_DAYS"]
    return NEVER if configured is None else str(configured)


class TokenForm(PageForm):
    name = StringField("Name", validators=[
        DataRequired("Give the token a name, e.g. the script or system that will use it."),
        Length(max=100, message="A token name can be at most 100 characters."),
    ])
    # Left out of a post: the default. validate_lifetime says what is allowed instead of "Not a valid choice".
    lifetime = SelectField("Expires after", choices=lifetime_choices, default=default_lifetime,
                           validate_choice=False)

    def validate_lifetime(self, field: SelectField) -> None:
        if field.data not in {value for value, _ in lifetime_choices()}:
            field.data = default_lifetime()  # shown again with a choice that exists
            days = [str(n) for n in sorted(int(value) for value, _ in lifetime_choices() if value != NEVER)]
            raise ValidationError(f"Choose how long the token lasts: {', '.join(days[:-1])} or {days[-1]} days, "
                                  "or never.")

    @property
    def lifetime_days(self) -> int | None:
        """The chosen lifetime in days, None for never (after validation)."""
        return None if self.lifetime.data == NEVER else int(self.lifetime.data)


class PasswordChangeForm(PageForm):
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
