"""Writes of the results screens: label corrections, through ``survey.labels``."""

from __future__ import annotations

from survey.labels import correct_label
from survey.models import Response, User


def apply_corrections(response: Response, wanted: dict[str, str], user: User) -> list[str]:
    """Store a correction for each field whose value the analyst changed; return those fields.

    The values were validated by the form, so every ``correct_label`` call
    succeeds; each stores who and when and puts the label in force at once.
    """
    changed = [name for name, value in wanted.items() if getattr(response, name) != value]
    for name in changed:
        correct_label(response, name, wanted[name], user)
    return changed
