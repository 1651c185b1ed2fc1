"""Writes of the results screens: label corrections, through ``survey.labels``."""

from __future__ import annotations

from survey.labels import correct_labels
from survey.models import Response, User


def apply_corrections(response: Response, wanted: dict[str, str], user: User) -> list[str]:
    """Store a correction for each field whose value the analyst changed; return those fields.

    All changed fields are stored in one transaction, each with who and when.
    """
    changed = [name for name, value in wanted.items() if getattr(response, name) != value]
    if changed:
        correct_labels(response, {name: wanted[name] for name in changed}, user)
    return changed
