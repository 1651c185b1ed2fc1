"""How a score, an interval and a change are written, wherever they appear.

One rule, so the same number reads the same on the survey list, the results
page, the survey's own page, the analysis report and ``flask survey list``:

* NPS: whole points, signed ("+12", "-26", "0"), on -100..100;
* CSAT: whole percent ("62%");
* CES: two decimals ("5.25") on the 1..7 scale;
* a change: signed, with the score's decimals, and always the one unit word
  ``UNIT`` ("+8 points", "-0.25 points"): percentage points for CSAT, NPS
  points, scale points for CES.

A tested change (a score's, or a pain point's share of comments) is told in
words first, the p-value after (``verdict_text``): "a real change, not chance
(p = 0.012)" or "within normal variation, may be chance (p = 0.310)".

Below ``MIN_ANSWERS`` (config key, default 10) a score is not written as if it
were known: ``enough(n)`` is False and the pages say "too few answers".
Plain Python; ``init_app`` makes each function a Jinja filter.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from markupsafe import Markup

from survey.kinds import KINDS
from survey.metrics import METHODS

UNIT = "points"
DECIMALS = {code: kind.score_decimals for code, kind in KINDS.items()}
DEFAULT_MIN_ANSWERS = 10
TOO_FEW = "too few answers"
NOTHING = "–"


def _fixed(value: float, kind: str, signed: bool) -> str:
    text = f"{value:{'+' if signed else ''}.{DECIMALS[kind]}f}"
    # -0.4 rounds to "-0": a sign on nothing reads as a change that is not there.
    if text.lstrip("+-").strip("0.") == "":
        return text.lstrip("+-")
    return text


def score_text(value: float | None, kind: str) -> str:
    """A score on its reporting scale: "+12" (NPS), "62%" (CSAT), "5.25" (CES), "–" when unknown."""
    if value is None:
        return NOTHING
    text = _fixed(value, kind, signed=KINDS[kind].score_signed)
    return text + KINDS[kind].score_suffix


def interval_text(low: float | None, high: float | None, kind: str) -> str:
    """ "+4 to +30" / "48% to 71%"; "–" when there is no interval."""
    if low is None or high is None:
        return NOTHING
    return f"{score_text(low, kind)} to {score_text(high, kind)}"


def change_text(value: float | None, kind: str) -> str:
    """A difference of two scores: "+8 points", "-0.25 points", "0 points"."""
    if value is None:
        return NOTHING
    return f"{_fixed(value, kind, signed=True)} {UNIT}"


def change_interval_text(low: float | None, high: float | None, kind: str) -> str:
    """The interval of a change: "-66 to -2 points"."""
    if low is None or high is None:
        return NOTHING
    return f"{_fixed(low, kind, signed=True)} to {change_text(high, kind)}"


def method_text(method: str | None) -> str:
    """The interval method's name as a reader sees it ("Wilson score interval")."""
    return METHODS.get(method or "", method or NOTHING)


def p_value_text(p: float | None) -> str:
    if p is None:
        return "p –"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def verdict_text(significant: bool, p_value: float | None) -> str:
    """Whether a change is more than chance, said the same way on every page: significant (at 95%)
    means a change this big would seldom come from chance alone."""
    if significant:
        return f"a real change, not chance ({p_value_text(p_value)})"
    return f"within normal variation, may be chance ({p_value_text(p_value)})"


def plural(noun: str, n: int, many: str | None = None) -> str:
    """``noun`` as it reads after the number ``n``: "1 label", "0 labels" (``many``: an irregular plural)."""
    return noun if n == 1 else (many or noun + "s")


def counted(n: int, noun: str, many: str | None = None) -> str:
    """A number and its noun: "1 label", "3 labels"; pages say this, never "label(s)"."""
    return f"{n} {plural(noun, n, many)}"


def enough(n: int | None, minimum: int = DEFAULT_MIN_ANSWERS) -> bool:
    """Whether ``n`` answers are enough to show a score as a number."""
    return n is not None and n >= minimum


def when_text(moment: dt.datetime | dt.date | None) -> str:
    """``7 Dec 2026, 09:43 UTC`` (a date alone: ``7 Dec 2026``): how every page and flash writes a moment."""
    if moment is None:
        return "–"
    if isinstance(moment, dt.datetime):
        return moment.strftime("%-d %b %Y, %H:%M UTC")
    return moment.strftime("%-d %b %Y")


def bdi(text: object) -> Markup:
    """``text`` that a person typed (a comment, a name, an attribute), escaped, in its own ``<bdi>``.

    It is shown as given, right-to-left overrides, embeddings and isolates (U+202A-U+202E,
    U+2066-U+2069) included, but isolated: what such a character starts ends with the text, and
    cannot reorder the words around it ("3 comments" read backwards, a name seeming to belong to
    another figure: a "Trojan Source"-style spoof). Every page and report.html writes user text
    next to its own words through this filter; text alone in its element is its own paragraph already.
    """
    return Markup("<bdi>%s</bdi>") % ("" if text is None else text)


#: Bidirectional classes that can reorder what stands around a text: right-to-left letters and
#: digits, and the explicit embeddings, overrides and isolates.
_REORDERING = frozenset({"R", "AL", "AN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})


def isolated(text: str) -> str:
    """:func:`bdi` for plain text (a flash message, a tooltip, an e-mail, whose clients may not know
    ``<bdi>``): ``text`` between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE, which end whatever
    a direction character in it started. Text with nothing that could reorder its neighbours is
    returned as it is: a customer's invitation Subject or a copied name carries no invisible
    characters it does not need."""
    text = "" if text is None else text
    if not any(unicodedata.bidirectional(character) in _REORDERING for character in text):
        return text
    return f"\u2068{text}\u2069"


def init_app(app) -> None:
    for function in (score_text, interval_text, change_text, change_interval_text, method_text, p_value_text,
                     verdict_text, plural, counted, when_text, bdi, isolated):
        app.add_template_filter(function)

    @app.context_processor
    def min_answers() -> dict:
        minimum = int(app.config.get("MIN_ANSWERS", DEFAULT_MIN_ANSWERS))
        return {"min_answers": minimum, "enough_answers": lambda n: enough(n, minimum), "too_few": TOO_FEW}
