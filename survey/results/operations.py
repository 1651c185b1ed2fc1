"""Writes of the results screens: label corrections, through ``survey.labels``."""

from __future__ import annotations

from survey.labels import correct_labels, corrected_fields
from survey.models import Response, User


def apply_corrections(response: Response, wanted: dict[str, str], user: User,
                      confirm: bool = False) -> tuple[list[str], list[str]]:
    """Store the analyst's labels; return ``(changed fields, confirmed fields)``.

    A changed value is a correction. A value equal to the model's label in force is stored only
    when the analyst said so (``confirm``, the form's "Confirm both"): then it is a confirmation,
    the analyst's judgement, so the comment leaves the label queue and teaches the next retrain.
    Without it a label left as the form showed it says nothing (the form shows both labels, and
    correcting one is no judgement of the other), so it stays the model's. A value the analyst
    already set is left alone. All are stored in one transaction, each with who and when.
    """
    analysts = corrected_fields([response.id]).get(response.id, set())
    changed = [name for name, value in wanted.items() if getattr(response, name) != value]
    confirmed = [name for name, value in wanted.items()
                 if confirm and getattr(response, name) == value and name not in analysts]
    if changed or confirmed:
        correct_labels(response, {name: wanted[name] for name in changed + confirmed}, user)
    return changed, confirmed
