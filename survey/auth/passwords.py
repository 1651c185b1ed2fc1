"""Password hashing (scrypt through werkzeug) and the rules a new password must meet."""

from __future__ import annotations

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

# werkzeug's scrypt: N=2**15, r=8, p=1, a 16-character salt. Hashes made with
# other parameters still verify and are upgraded at the next sign-in.
METHOD = "scrypt:32768:8:1"
MAX_LENGTH = 1024  # scrypt takes any length; this only bounds the work one request can ask for

# Verified when an e-mail address is unknown, so a wrong address takes as long as a wrong password.
_DUMMY_HASH: list[str] = []


class PasswordError(ValueError):
    """A password that does not meet the rules, with a message for a person."""


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=METHOD)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(hash_password("not a password"))
        check_password_hash(_DUMMY_HASH[0], password)
        return False
    return check_password_hash(password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return not password_hash.startswith(METHOD + "$")


def check_new_password(password: str, email: str | None = None) -> str:
    """Return ``password`` if it is acceptable for a new or changed password; raise PasswordError otherwise."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise PasswordError(f"The password must be at least {minimum} characters long.")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"The password must be at most {MAX_LENGTH} characters long.")
    if password.strip() != password:
        raise PasswordError("The password must not begin or end with a space.")
    if email and password.lower() in {email.lower(), email.split("@")[0].lower()}:
        raise PasswordError("The password must not be your e-mail address.")
    if len(set(password)) < 4:
        raise PasswordError("The password needs more variety than a few repeated characters.")
    return password
