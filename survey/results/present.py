"""How numbers and filters read on the results pages (template filters and filter chips)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

from survey.display import p_value_text, when_text  # noqa: F401 -- where the results pages have always found them
from survey.models import PainPointRecord, Survey
from survey.results import bp
from survey.results.filters import ResponseFilter

CHANNEL_NAMES = {"link": "survey link", "email": "e-mail", "widget": "widget", "import": "import"}


def band_names(survey: Survey) -> dict[str, str]:
    return survey.spec.band_names




@dataclass(frozen=True)
class Chip:
    """One filter in use, shown with a link that removes it."""

    text: str
    remove_url: str


def filter_chips(flt: ResponseFilter, endpoint: str, pain_label: str | None = None) -> list[Chip]:
    names = band_names(flt.survey)
    texts = {
        "start": flt.start and f"from {when_text(flt.start)}",
        "end": flt.end and f"to {when_text(flt.end)}",
        "channel": flt.channel and f"channel: {CHANNEL_NAMES[flt.channel]}",
        "band": flt.band and f"score: {names[flt.band]}",
        "sentiment": flt.sentiment and f"sentiment: {flt.sentiment}",
        "theme": flt.theme and f"theme: {flt.theme}",
        "pain": flt.pain_point is not None and f"pain point: {pain_label or flt.pain_point}",
        "q": flt.q and f"text: “{flt.q}”",
    }
    for key, value in flt.attrs:
        texts[f"attr.{key}"] = f"{key} = {value}"
    return [
        Chip(text, url_for(endpoint, public_key=flt.survey.public_key, **flt.without(name).to_args()))
        for name, text in texts.items() if text
    ]


def pain_point_label(point: PainPointRecord | None) -> str | None:
    return None if point is None else f"#{point.rank} {point.label}"

