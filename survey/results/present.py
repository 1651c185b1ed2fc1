"""How numbers and filters read on the results pages (template filters and filter chips)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

from survey.display import isolated, p_value_text, when_text  # noqa: F401 -- where the results pages have always found them
from survey.models import PainPointRecord, Survey
from survey.results import bp
from survey.results.filters import ResponseFilter

CHANNEL_NAMES = {"link": "survey link", "email": "e-mail", "widget": "widget", "import": "import"}


def band_names(survey: Survey) -> dict[str, str]:
    return survey.spec.band_names




@dataclass(frozen=True)
class Chip:
    """One filter in use, shown with a link that removes it: what it filters on (``name``), then its
    ``value`` (isolated on the page when a person typed it: see survey.display.bdi) and any ``close``."""

    name: str
    value: str
    remove_url: str
    close: str = ""

    @property
    def text(self) -> str:
        """The chip as plain text (its remove link's aria-label): the value isolated as on the page."""
        return f"{self.name}{isolated(self.value)}{self.close}"


def filter_chips(flt: ResponseFilter, endpoint: str, pain: PainPointRecord | None = None) -> list[Chip]:
    names = band_names(flt.survey)
    parts = {
        "start": flt.start and ("from ", when_text(flt.start)),
        "end": flt.end and ("to ", when_text(flt.end)),
        "channel": flt.channel and ("channel: ", CHANNEL_NAMES[flt.channel]),
        "band": flt.band and ("score: ", names[flt.band]),
        "sentiment": flt.sentiment and ("sentiment: ", flt.sentiment),
        "theme": flt.theme and ("theme: ", flt.theme),
        "pain": flt.pain_point is not None and (("pain point: ", str(flt.pain_point)) if pain is None
                                                else (f"pain point: #{pain.rank} ", pain.label)),
        "q": flt.q and ("text: “", flt.q, "”"),
    }
    for key, value in flt.attrs:
        parts[f"attr.{key}"] = ("", f"{key} = {value}")  # both typed (an answer's meta): one isolate
    return [
        Chip(*part[:2], url_for(endpoint, public_key=flt.survey.public_key, **flt.without(name).to_args()), *part[2:])
        for name, part in parts.items() if part
    ]
