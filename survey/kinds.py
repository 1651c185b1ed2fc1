"""The three survey kinds: their scales, standard wording, score bands and how they read.

Every fact about a kind is defined here once; ``survey.metrics`` (scales, band
cut points, reporting ranges), the charts, the dashboard, the API schema and
the report all derive theirs from :data:`KINDS` and :data:`BANDS`.
Plain Python, no Flask: the metrics and the report use it outside requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The score bands, lowest first. NPS calls them detractors, passives and promoters.
BANDS: tuple[str, ...] = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class SurveyKind:
    code: str
    title: str
    low: int
    high: int
    question: str  # {subject} is filled in when a survey is created
    low_label: str
    high_label: str
    negative_max: int  # scores up to here are the negative band
    positive_min: int  # scores from here are the positive band
    abbreviation: str  # "NPS": how errors and tables name the kind
    metric_name: str   # what the reported metric is called on charts ("CSAT (% satisfied)")
    metric_range: tuple[float, float]  # the reporting scale: NPS points, CSAT percent, CES scale units
    #: How its score is written (``survey.display``): decimals, a sign, a unit after it.
    score_decimals: int
    score_signed: bool
    score_suffix: str
    #: band → (one answer, the group): "detractor", "detractors". Default: the band's own name.
    band_words: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {band: (band, band) for band in BANDS})

    @property
    def scale(self) -> range:
        return range(self.low, self.high + 1)

    @property
    def band_names(self) -> dict[str, str]:
        """Band → what the group of answers in it is called ("promoters"), in band order."""
        return {band: self.band_words[band][1] for band in BANDS}

    def band(self, score: int) -> str:
        """negative / neutral / positive (NPS: detractor / passive / promoter)."""
        if score <= self.negative_max:
            return "negative"
        if score >= self.positive_min:
            return "positive"
        return "neutral"

    def band_name(self, score: int) -> str:
        """What one answer with this score is called ("detractor", or the band itself)."""
        return self.band_words[self.band(score)][0]


KINDS: dict[str, SurveyKind] = {
    "nps": SurveyKind(
        "nps", "Net Promoter Score", 0, 10,
        "How likely are you to recommend {subject} to a friend or colleague?",
        "Not at all likely", "Extremely likely", 6, 9,
        "NPS", "NPS", (-100.0, 100.0), 0, True, "",
        {"negative": ("detractor", "detractors"), "neutral": ("passive", "passives"),
         "positive": ("promoter", "promoters")},
    ),
    "csat": SurveyKind(
        "csat", "Customer Satisfaction", 1, 5,
        "How satisfied were you with {subject}?",
        "Very dissatisfied", "Very satisfied", 2, 4,
        "CSAT", "CSAT (% satisfied)", (0.0, 100.0), 0, False, "%",
    ),
    "ces": SurveyKind(
        "ces", "Customer Effort Score", 1, 7,
        "{subject} made it easy for me to handle my issue.",
        "Strongly disagree", "Strongly agree", 3, 5,
        "CES", "CES (mean)", (1.0, 7.0), 2, False, "",
    ),
}

DEFAULT_FOLLOWUP = {
    "negative": "What could we do better?",
    "neutral": "What is the main reason for your score?",
    "positive": "What is the main reason for your score?",
}
DEFAULT_THANK_YOU = "Thank you! Your answer helps us improve."
