"""Writes of the results screens: label corrections, through ``survey.labels``."""

from __future__ import annotations

from survey.labels import correct_labels, corrected_fields
from survey.models import Response, User


def apply_corrections(response: Response, wanted: dict[str, str], user: User) -> tuple[list[str], list[str]]:
    """Store the analyst's labels; return ``(changed fields, confirmed fields)``.

    A changed value is a correction. A value equal to the model's label in force is a
    confirmation: the analyst's judgement, stored the same way, so the comment leaves the label
    queue and teaches the next retrain. A value the analyst already set is left alone.
    All are stored in one transaction, each with who and when.
    """
    analysts = corrected_fields([response.id]).get(response.id, set())
    changed = [name for name, value in wanted.items() if getattr(response, name) != value]
    confirmed = [name for name, value in wanted.items()
                 if getattr(response, name) == value and name not in analysts]
    if changed or confirmed:
        correct_labels(response, {name: wanted[name] for name in changed + confirmed}, user)
    return changed, confirmed
