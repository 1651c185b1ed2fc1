"""The three survey kinds: their scales, standard wording and score bands."""

from __future__ import annotations

from dataclasses import dataclass


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

    @property
    def scale(self) -> range:
        return range(self.low, self.high + 1)

    def band(self, score: int) -> str:
        """negative / neutral / positive (NPS: detractor / passive / promoter)."""
        if score <= self.negative_max:
            return "negative"
        if score >= self.positive_min:
            return "positive"
        return "neutral"

    def band_name(self, score: int) -> str:
        if self.code == "nps":
            return {"negative": "detractor", "neutral": "passive", "positive": "promoter"}[self.band(score)]
        return self.band(score)


KINDS: dict[str, SurveyKind] = {
    "nps": SurveyKind(
        "nps", "Net Promoter Score", 0, 10,
        "How likely are you to recommend {subject} to a friend or colleague?",
        "Not at all likely", "Extremely likely", 6, 9,
    ),
    "csat": SurveyKind(
        "csat", "Customer Satisfaction", 1, 5,
        "How satisfied were you with {subject}?",
        "Very dissatisfied", "Very satisfied", 2, 4,
    ),
    "ces": SurveyKind(
        "ces", "Customer Effort Score", 1, 7,
        "{subject} made it easy for me to handle my issue.",
        "Strongly disagree", "Strongly agree", 3, 5,
    ),
}

DEFAULT_FOLLOWUP = {
    "negative": "What could we do better?",
    "neutral": "What is the main reason for your score?",
    "positive": "What is the main reason for your score?",
}
DEFAULT_THANK_YOU = "Thank you! Your answer helps us improve."
