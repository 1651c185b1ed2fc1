"""The label vocabulary: the sentiments and themes a comment can carry.

Defined once here (codebook: ``/work/shared/docs/codebook.md``); the
pipelines, the labeller, the pain points, the database constraints, forms,
filters, the API schema and the report all take their lists from this module,
so a new label is added in one place (plus an alembic migration for the
database's CHECK constraints). The order is the order shown everywhere and the
column order of probability arrays.
"""

from __future__ import annotations

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
THEMES: tuple[str, ...] = ("service", "care", "other")

#: The two labelling tasks and their labels.
TASKS: tuple[str, ...] = ("sentiment", "theme")
LABELS: dict[str, tuple[str, ...]] = {"sentiment": SENTIMENTS, "theme": THEMES}


def theme_order(theme: str) -> tuple[int, str]:
    """Sort key: the known themes in vocabulary order, then any others alphabetically."""
    return (THEMES.index(theme) if theme in THEMES else len(THEMES), theme)
