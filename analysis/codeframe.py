"""Sorting negative comments into a codeframe: the team's own named pain points.

Input: the codeframe's pain points (a name, optional keywords), example texts
for each (the team's examples and the comments analysts confirmed) and the
comments to sort. Output: for each comment, the pain points it belongs to
with a probability -- several are fine, none is an honest answer. Pure and
deterministic; no Flask.

How (each step measured on the tuning half of ``benchmarks/codeframe.py``):

1. **Features**: the complaint units of :mod:`analysis.complaint_terms`
   (stemmed content words, negation kept as "not", their bigrams; handles and
   URLs dropped) and character 2-5-grams within words (misspellings,
   "cancelled"/"canceled"), TF-IDF weighed over the examples, the comments to
   sort and the run's other clauses (``background``); plus
   :data:`LSA_DIMENSIONS` latent dimensions (truncated SVD) learnt from those
   same texts, so that twenty examples also reach the words they do not say
   but that occur alongside theirs ("bag", "luggage", "suitcase").
2. **A classifier** (multinomial logistic regression, balanced classes) fit on
   the examples; each keyword is one more short example of its pain point.
3. **Calibration**: the examples' out-of-fold scores set a temperature
   (Guo et al. 2017) so probabilities mean what they say.
4. **Prior correction**: balanced training treats every pain point as equally
   common, so a rare one (damaged bags) swallows the comments of common ones.
   The share of each pain point among the comments being sorted is estimated
   by EM (Saerens, Latinne & Decaestecker 2002), stopped after
   :data:`PRIOR_EM_STEPS` steps because with twenty examples the posteriors are
   too rough for EM's fixed point (which starves the rare points); the
   probabilities are corrected for it.
5. **"None"**: a comment whose best point's corrected probability stays below
   :data:`NONE_FACTOR` times that point's share (for a point that holds most
   comments: halfway from its share to certain) says little more about it
   than any comment does: none.
   A second pain point is kept when it comes close to the first
   (:data:`SECOND_RATIO`).
6. **Keywords** always assign: a comment that says a pain point's keyword (as a
   stemmed phrase) is in it, whatever the model says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis import complaint_terms as terms

#: Latent (LSA) dimensions learnt from the run's texts, and their weight beside the TF-IDF features.
LSA_DIMENSIONS = 100
LSA_WEIGHT = 0.5
#: The texts the vocabulary and latent dimensions are learnt from, at most (a fixed-seed sample beyond).
MAX_FIT_TEXTS = 30_000
#: The sharpest temperature allowed: with a handful of examples every fold can be right by luck, and
#: the calibration would then sharpen without limit, so that a comment about something else entirely
#: (a bill, when the points are about waits and engineers) is sure of the point its few shared words lean to.
MIN_TEMPERATURE = 0.2
#: EM steps of the prior correction (see step 4 of the module's docstring).
PRIOR_EM_STEPS = 3
#: A comment is "none" when its best point's corrected probability is below this many times the point's
#: share among the comments (for a point holding most of them: below halfway from its share to certain).
NONE_FACTOR = 1.5
#: A second pain point is kept when its probability is at least this share of the first's.
SECOND_RATIO = 0.85
#: Texts are sorted in chunks of this many (memory stays flat on large surveys).
CHUNK = 20_000
#: Keyword assignments carry this probability.
KEYWORD_PROBABILITY = 1.0
C = 1.0


@dataclass(frozen=True)
class Assignment:
    """One pain point of a comment and how sure the sort is."""

    name: str
    probability: float
    by_keyword: bool = False


@dataclass
class CodeframeSorter:
    """A classifier over the codeframe's pain points; :meth:`fit` then :meth:`assign`."""

    names: list[str]
    keywords: dict[str, list[str]] = field(default_factory=dict)
    #: Each point's estimated share among the comments sorted (uniform until estimated).
    prior: np.ndarray | None = None
    temperature: float = 1.0
    _vectorizer: object = None
    _lsa: object = None
    _model: object = None
    _keyword_units: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ #
    @classmethod
    def fit(cls, examples: Sequence[tuple[str, str]], keywords: dict[str, list[str]] | None = None,
            unlabelled: Sequence[str] = (), background: Sequence[str] = (), seed: int = 0) -> "CodeframeSorter":
        """Train from ``(text, pain point name)`` examples, keywords, the texts to sort and the run's other texts."""
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
        sorter._fit_features(texts, unlabelled + list(background), seed)
        x_train = sorter._features(texts)
        y_train = np.array([names.index(n) for n in labels])
        sorter.temperature = _temperature(x_train, y_train, len(names), seed)
        sorter._model = _classifier(seed).fit(x_train, y_train)
        uniform = np.full(len(names), 1.0 / len(names))
        sorter.prior = uniform
        if unlabelled:
            sample = _sample(unlabelled, MAX_FIT_TEXTS, seed)
            sorter.prior = _em_prior(sorter._calibrated(sorter._features(sample)), uniform, PRIOR_EM_STEPS)
        return sorter

    # ------------------------------------------------------------------ #
    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's probability of each pain point (columns in :attr:`names` order), prior-corrected."""
        raw = self._calibrated(self._features(list(texts)))
        corrected = raw * (self.prior * len(self.names))
        return corrected / corrected.sum(axis=1, keepdims=True)

    def assign(self, texts: Sequence[str]) -> list[list[Assignment]]:
        """For each text, its pain points, surest first (an empty list: none fits)."""
        out: list[list[Assignment]] = [[] for _ in texts]
        if self._model is not None and len(texts):
            proba = np.vstack([self.probabilities(texts[start:start + CHUNK]) for start in range(0, len(texts), CHUNK)])
            bar = np.minimum(NONE_FACTOR * self.prior, (1 + self.prior) / 2)
            for i, row in enumerate(proba):
                order = np.argsort(-row, kind="stable")
                best = row[order[0]]
                for j in order:
                    if row[j] < SECOND_RATIO * best or row[j] < bar[j]:
                        break  # (at the first point: says little more about any point than its share does: none)
                    out[i].append(Assignment(self.names[j], float(row[j])))
        if self._keyword_units:
            for i, text in enumerate(texts):
                units = terms.units(terms.tokens(text))
                have = {a.name for a in out[i]}
                for name, phrases in self._keyword_units.items():
                    if name not in have and any(_contains(units, p) for p in phrases):
                        out[i].append(Assignment(name, KEYWORD_PROBABILITY, by_keyword=True))
        return out

    # ------------------------------------------------------------------ #
    def _fit_features(self, texts: list[str], run_texts: list[str], seed: int) -> None:
        corpus = texts + _sample(run_texts, MAX_FIT_TEXTS, seed)
        self._vectorizer = _vectorizer()
        x = self._vectorizer.fit_transform(corpus)
        dimensions = min(LSA_DIMENSIONS, min(x.shape) - 1)
        if dimensions >= 2:
            from sklearn.decomposition import TruncatedSVD

            self._lsa = TruncatedSVD(dimensions, random_state=seed).fit(x)

    def _features(self, texts: list[str]):
        from scipy.sparse import csr_matrix, hstack
        from sklearn.preprocessing import normalize

        x = self._vectorizer.transform(texts)
        if self._lsa is None:
            return x.tocsr()
        latent = normalize(self._lsa.transform(x)) * LSA_WEIGHT
        return hstack([x, csr_matrix(latent)]).tocsr()

    def _calibrated(self, x) -> np.ndarray:
        return _softmax(_scores(self._model, x) / self.temperature)


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

    return LogisticRegression(C=C, class_weight="balanced", max_iter=1000, random_state=seed)


def _sample(texts: list[str], limit: int, seed: int) -> list[str]:
    if len(texts) <= limit:
        return texts
    keep = np.sort(np.random.default_rng(seed).choice(len(texts), limit, replace=False))
    return [texts[i] for i in keep]


def _scores(model, x) -> np.ndarray:
    """One column per class: with two, scikit-learn gives a single score (the second class's log-odds)."""
    scores = model.decision_function(x)
    return np.column_stack([np.zeros_like(scores), scores]) if scores.ndim == 1 else scores


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(axis=1, keepdims=True)


def _temperature(x, y: np.ndarray, n_classes: int, seed: int) -> float:
    """The temperature that makes held-out examples' probabilities most likely (out-of-fold, step 3)."""
    from sklearn.model_selection import StratifiedKFold

    folds = int(min(5, np.bincount(y, minlength=n_classes).min()))
    if folds < 2:
        return 1.0
    scores = np.zeros((len(y), n_classes))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        scores[test] = _scores(_classifier(seed).fit(x[train], y[train]), x[test])
    candidates = np.exp(np.linspace(np.log(MIN_TEMPERATURE), np.log(5.0), 80))
    loss = [-np.log(_softmax(scores / t)[np.arange(len(y)), y] + 1e-12).mean() for t in candidates]
    return float(candidates[int(np.argmin(loss))])


def _em_prior(proba: np.ndarray, trained: np.ndarray, steps: int) -> np.ndarray:
    """Each point's share among the texts behind ``proba`` (Saerens et al. 2002, ``steps`` EM steps)."""
    prior = trained.copy()
    for _ in range(steps):
        adjusted = proba * (prior / trained)
        adjusted /= adjusted.sum(axis=1, keepdims=True)
        prior = adjusted.mean(axis=0)
    return prior
