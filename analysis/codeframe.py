"""Sorting negative clauses into a codeframe: the team's own named pain points.

Input: the codeframe's pain points (a name, optional keywords), example texts
for each (the team's examples and the comments analysts confirmed) and the
clauses to sort. Output: for each clause, the pain points it belongs to with a
probability -- several are fine, none is an honest answer. Pure and
deterministic; no Flask.

How:

1. **Features**: the complaint units of :mod:`analysis.complaint_terms`
   (stemmed content words, negation kept as "not", their bigrams; handles and
   URLs dropped) and character 2-5-grams within words (misspellings,
   "cancelled"/"canceled"), TF-IDF weighed over the examples *and* the clauses
   to sort: the run's own texts say which words are rare.
2. **A classifier** (multinomial logistic regression, balanced classes) fit on
   the examples; each keyword is one more short example of its pain point.
3. **Self-training**: twenty examples are few, the clauses to sort are many.
   For :data:`SELF_TRAINING_ROUNDS` rounds, the clauses the model is surest of
   (per pain point, at most :data:`PSEUDO_PER_EXAMPLE` times its examples, and
   only above the threshold) join the training set at weight
   :data:`PSEUDO_WEIGHT`, and the model is fit again (Yarowsky 1995; Lee 2013).
4. **Threshold, calibrated on held-out examples**: out-of-fold probabilities
   of the examples' own pain point give the value a true member usually
   reaches; a clause whose best probability stays below it is "none".
   A second pain point is kept when it comes close to the first
   (:data:`SECOND_RATIO`) and also passes the threshold.
5. **Keywords** always assign: a clause that says a pain point's keyword (as a
   stemmed phrase) is in it, whatever the model says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis import complaint_terms as terms

#: Self-training rounds over the clauses being sorted.
SELF_TRAINING_ROUNDS = 2
#: Per round, at most this many pseudo-labelled clauses per example of a pain point.
PSEUDO_PER_EXAMPLE = 3
#: The weight of a pseudo-labelled clause relative to an example.
PSEUDO_WEIGHT = 0.5
#: The held-out examples' own-point probability at this quantile is the "none" threshold:
#: about this share of true members would be missed by the threshold alone.
THRESHOLD_QUANTILE = 0.25
#: A second pain point is kept when its probability is at least this share of the first's.
SECOND_RATIO = 0.85
#: Keyword assignments carry this probability.
KEYWORD_PROBABILITY = 1.0
C = 4.0


@dataclass(frozen=True)
class Assignment:
    """One pain point of a clause and how sure the sort is."""

    name: str
    probability: float
    by_keyword: bool = False


@dataclass
class CodeframeSorter:
    """A classifier over the codeframe's pain points; :meth:`fit` then :meth:`assign`."""

    names: list[str]
    keywords: dict[str, list[str]] = field(default_factory=dict)
    threshold: float = 0.5
    _vectorizer: object = None
    _model: object = None
    _keyword_units: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ #
    @classmethod
    def fit(cls, examples: Sequence[tuple[str, str]], keywords: dict[str, list[str]] | None = None,
            unlabelled: Sequence[str] = (), seed: int = 0) -> "CodeframeSorter":
        """Train from ``(text, pain point name)`` examples, keywords and the texts to sort."""
        keywords = {name: [k for k in kws if k.strip()] for name, kws in (keywords or {}).items()}
        texts = [t for t, _ in examples]
        labels = [n for _, n in examples]
        for name, kws in keywords.items():
            texts.extend(kws)
            labels.extend([name] * len(kws))
        names = sorted(set(labels))
        sorter = cls(names=names, keywords=keywords)
        sorter._keyword_units = {name: [tuple(terms.units(terms.tokens(k))) for k in kws]
                                 for name, kws in keywords.items()}
        sorter._keyword_units = {n: [u for u in units if u] for n, units in sorter._keyword_units.items()}
        if len(names) < 2:
            # One pain point: nothing to tell apart; membership rests on keywords alone.
            return sorter
        unlabelled = list(unlabelled)
        sorter._vectorizer = _vectorizer()
        x_all = sorter._vectorizer.fit_transform(texts + unlabelled).tocsr()
        x_train, x_pool = x_all[:len(texts)], x_all[len(texts):]
        y_train = np.array([names.index(n) for n in labels])
        sorter.threshold = _calibrated_threshold(x_train, y_train, len(names), seed)
        weights = np.ones(len(texts))
        sorter._model = _classifier(seed).fit(x_train, y_train, sample_weight=weights)
        if unlabelled:
            per_class = np.bincount(y_train, minlength=len(names))
            for _ in range(SELF_TRAINING_ROUNDS):
                proba = sorter._model.predict_proba(x_pool)
                chosen, chosen_labels = _surest(proba, per_class, sorter.threshold)
                if not len(chosen):
                    break
                from scipy.sparse import vstack

                x = vstack([x_train, x_pool[chosen]])
                y = np.concatenate([y_train, chosen_labels])
                w = np.concatenate([weights, np.full(len(chosen), PSEUDO_WEIGHT)])
                sorter._model = _classifier(seed).fit(x, y, sample_weight=w)
        return sorter

    # ------------------------------------------------------------------ #
    def assign(self, texts: Sequence[str]) -> list[list[Assignment]]:
        """For each text, its pain points, surest first (an empty list: none fits)."""
        out: list[list[Assignment]] = [[] for _ in texts]
        if self._model is not None and len(texts):
            raw = self._model.predict_proba(self._vectorizer.transform(list(texts)))
            for i, row in enumerate(raw):
                order = np.argsort(-row, kind="stable")
                best = row[order[0]]
                if best < self.threshold:
                    continue  # like no example of any pain point: none
                for j in order:
                    if row[j] < self.threshold or row[j] < SECOND_RATIO * best:
                        break
                    out[i].append(Assignment(self.names[j], float(row[j])))
        if self._keyword_units:
            for i, text in enumerate(texts):
                units = terms.units(terms.tokens(text))
                have = {a.name for a in out[i]}
                for name, phrases in self._keyword_units.items():
                    if name not in have and any(_contains(units, p) for p in phrases):
                        out[i].append(Assignment(name, KEYWORD_PROBABILITY, by_keyword=True))
        return out


def _contains(units: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(units[i:i + n]) == phrase for i in range(len(units) - n + 1))


def _analyzer(text: str) -> list[str]:
    return terms.features(terms.tokens(text))


def _vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion([
        ("complaint_units", TfidfVectorizer(analyzer=_analyzer, sublinear_tf=True, min_df=1)),
        ("characters", TfidfVectorizer(preprocessor=_characters_of, analyzer="char_wb", ngram_range=(2, 5),
                                       sublinear_tf=True, min_df=2, max_features=20_000)),
    ])


def _characters_of(text: str) -> str:
    return " ".join(terms.tokens(text))


def _classifier(seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=500, random_state=seed)


def _calibrated_threshold(x, y: np.ndarray, n_classes: int, seed: int) -> float:
    """The probability held-out examples reach for their own pain point (see step 4)."""
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(y, minlength=n_classes)
    folds = int(min(5, counts.min()))
    floor = 1.0 / n_classes
    if folds < 2:
        return min(0.9, 1.5 * floor)
    own = np.zeros(len(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        model = _classifier(seed).fit(x[train], y[train])
        proba = model.predict_proba(x[test])
        own[test] = proba[np.arange(len(test)), y[test]]
    return float(np.clip(np.quantile(own, THRESHOLD_QUANTILE), floor, 0.9))


def _surest(proba: np.ndarray, per_class: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Indexes and labels of the pool texts surest of one pain point (at most PSEUDO_PER_EXAMPLE × its examples)."""
    best = proba.argmax(axis=1)
    top = proba.max(axis=1)
    chosen, labels = [], []
    for c in range(proba.shape[1]):
        candidates = np.flatnonzero((best == c) & (top >= threshold))
        candidates = candidates[np.argsort(-top[candidates], kind="stable")][: PSEUDO_PER_EXAMPLE * per_class[c]]
        chosen.extend(candidates.tolist())
        labels.extend([c] * len(candidates))
    return np.array(chosen, dtype=int), np.array(labels, dtype=int)
