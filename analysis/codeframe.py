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
   but that occur alongside theirs ("bag", "luggage", "suitcase"); plus the
   shipped pretrained word vectors (:mod:`analysis.word_vectors`, weight
   :data:`WORD_VECTOR_WEIGHT`), which know words no example and no run says
   ("rebooked", "bagage") and what they are near; plus what the complaint is
   *about*: its probabilities of the generic complaint facets
   (:mod:`analysis.complaint_facets`: waits, reaching support, cancellations,
   staff, billing, ...; written once for any business, never from a run's
   data), square-rooted, at a weight (:data:`FACET_WEIGHTS`) chosen by the
   examples' out-of-fold log-loss, so a point whose examples say "on hold"
   and "nobody answers" also takes "can't get through to anyone". Twenty
   examples cannot say which of their words are the complaint and which the
   circumstance; the facets can. The facet block stays out of the gate and
   the prototypes (step 5, 6): "none" is decided as before. Macro-F1, tuning
   halves, mean over four example draws, facets v1: tweets 0.428 -> 0.441,
   NPS detractors 0.458 -> 0.467 (facets v2: tweets 0.442, NPS 0.457).
2. **A classifier** (multinomial logistic regression, balanced classes) fit on
   the examples; each keyword is one more short example of its pain point.
   **Self-training** (EM with soft labels, after Nigam et al. 2000): the
   comments being sorted, each weighed by its prior-corrected probabilities,
   are added to the examples for :data:`SELF_TRAINING_ROUNDS` refits. Each
   point's unlabelled weight is scaled to the same total
   (:data:`UNLABELLED_WEIGHT` of its examples' weight), so the model stays
   balanced and step 4's correction stays valid; without that, the common
   points' pseudo-labels swamp the rest (macro-F1 fell from 0.44 to 0.11).
   Only comments the examples alone place in a point teach, no comment
   weighs more than an example, the temperature is refit with them, and a
   codeframe with fewer than :data:`SELF_TRAINING_MIN_EXAMPLES` examples of
   some point is not self-trained.
3. **Calibration**: the examples' out-of-fold scores set a temperature
   (Guo et al. 2017) so probabilities mean what they say.
4. **Prior correction**: balanced training treats every pain point as equally
   common, so a rare one (damaged bags) swallows the comments of common ones.
   The share of each pain point among the comments being sorted is estimated
   by EM (Saerens, Latinne & Decaestecker 2002) and the probabilities are
   corrected for it. For self-training and the gate, EM stops after
   :data:`PRIOR_EM_STEPS` steps: with twenty examples the posteriors are too
   rough for EM's fixed point under a best-point rule (it starves the rare
   points). The final decision (step 6) runs EM to its fixed point.
5. **"None"**: a comment whose best point's corrected probability stays below
   :data:`NONE_FACTOR` times that point's share (for a point that holds most
   comments: halfway from its share to certain) says little more about it
   than any comment does: none. That is decided by a *gate*: the same
   classifier on the same examples without the word vectors (its own
   temperature and shares), because the dense vectors give every comment a
   confident lean towards some point: with them deciding, a 4-point codeframe
   placed 48% of 58,365 generated complaints instead of 30%, mostly ones it had
   no point for.
6. **Which points** a comment that passes the gate gets. The probabilities
   the decision reads are the classifier's (step 3) averaged with a
   *prototype* model's (Snell, Swersky & Zemel 2017), weight
   :data:`PROTOTYPE_WEIGHT`: a softmax over the comment's word-vector cosine to
   each point's centroid of examples, at a temperature fit leave-one-out on
   the examples (each example's own centroid made without it) and made
   :data:`PROTOTYPE_SOFTENING` times softer, since comments sit further from
   the centroids than the examples that make them. Twenty examples place a
   centroid more steadily than they fit a classifier over many sparse
   features; the blend moved NPS macro-F1 (detractors, tuning half, mean over
   four example draws) 0.437 -> 0.458 and the tweets 0.426 -> 0.428, and
   leaves the gate, so "none" is as before. Then every point whose
   corrected probability reaches that point's *threshold*, which maximises the
   point's expected F1 over the run's comments (plug-in: the probabilities
   stand for the unknown labels; Lipton, Elkan & Naryanaswamy 2014 show the
   F1-optimal threshold is half the F1 reached, so a point that is hard to tell
   apart gets a low bar and a clear one a high bar). Here the shares come from
   EM run to its fixed point (:data:`PRIOR_EM_TOLERANCE`) as a MAP estimate,
   each point's examples counted as members (a Dirichlet prior): the plain
   fixed point set some NPS categories' shares to 0, which no threshold can
   reach (NPS 0.41 -> 0.35). Macro-F1, old rule -> this: airline tweets (tuning
   half) 0.446 -> 0.450, NPS categories (detractors) 0.408 -> 0.443. Several
   points per comment are allowed; a comment below every threshold is none. With fewer
   than :data:`THRESHOLD_MIN_COMMENTS` comments to estimate thresholds from,
   the best point is kept, and a second one when it comes close to the first
   (:data:`SECOND_RATIO`).
7. **Keywords** always assign: a comment that says a pain point's keyword (as a
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
#: Weight of the pretrained word vectors' block (unit rows) beside the TF-IDF and LSA features.
WORD_VECTOR_WEIGHT = 0.5
#: Self-training refits (step 2) and the weight of the unlabelled comments, per point, relative to
#: that point's examples; at most :data:`SELF_TRAINING_TEXTS` comments (a fixed-seed sample beyond).
SELF_TRAINING_ROUNDS = 2
UNLABELLED_WEIGHT = 0.3
SELF_TRAINING_TEXTS = 5_000
#: A comment's soft label for a point is left out below this probability (fewer rows, same fit).
MIN_SOFT_LABEL = 0.01
#: Self-training needs this many examples of every point: from three, the pseudo-labels echo those three
#: and widen the point to whatever its few words lean to (a muddy car park joined "app keeps crashing").
SELF_TRAINING_MIN_EXAMPLES = 10
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
#: A second pain point is kept when its probability is at least this share of the first's (runs too small
#: for thresholds, step 6).
SECOND_RATIO = 0.85
#: Comments (that pass the gate) needed to set each point's F1-optimal threshold (step 6), and the change
#: in every share below which the decision's EM has reached its fixed point (at most PRIOR_EM_MAX_STEPS).
THRESHOLD_MIN_COMMENTS = 200
PRIOR_EM_TOLERANCE = 1e-6
PRIOR_EM_MAX_STEPS = 1000
#: The decision's probabilities (step 6): this share from the prototypes (a softmax over a comment's word-vector
#: cosines to each point's centroid of examples), the rest from the classifier; and how much softer the prototypes'
#: temperature is than the one fit leave-one-out on the examples (which are nearer their centroids than comments are).
PROTOTYPE_WEIGHT = 0.2
PROTOTYPE_SOFTENING = 2.0
#: Candidate weights of the complaint-facet block (step 1): each text's probabilities of the generic complaint
#: facets (:mod:`analysis.complaint_facets`, written once for any business, not from the run), square-rooted so each
#: row has unit length, after the word vectors and outside the gate. The candidate whose examples' out-of-fold
#: log-loss is lowest is used; 0 leaves the block out. Up to 0.5: at 1.0 (which the examples chose on every NPS draw)
#: NPS macro-F1 fell (mean 0.458 -> 0.450); up to 0.5 the tweets gained on every draw and NPS held (stop 27).
FACET_WEIGHTS = (0.0, 0.25, 0.5)
#: Texts are sorted in chunks of this many (memory stays flat on large surveys).
CHUNK = 5_000
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
    #: Each point's F1-optimal bar on the corrected probability (step 6); None: best point (and a close second).
    thresholds: np.ndarray | None = None
    temperature: float = 1.0
    _vectorizer: object = None
    _lsa: object = None
    _model: object = None
    _gate_model: object = None
    _gate_temperature: float = 1.0
    _gate_prior: np.ndarray | None = None
    _gate_columns: int = 0
    _centroids: np.ndarray | None = None
    _prototype_temperature: float = 1.0
    #: The facet block's weight chosen on the examples (step 1); 0: no block.
    facet_weight: float = 0.0
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
        if max(FACET_WEIGHTS) > 0:
            facets = _facet_rows(texts)
            sorter.facet_weight = _facet_weight(x_train, facets, y_train, len(names), seed)
            if sorter.facet_weight:
                from scipy.sparse import csr_matrix, hstack

                x_train = hstack([x_train, csr_matrix(facets * sorter.facet_weight)]).tocsr()
        sorter.temperature = _temperature(x_train, y_train, len(names), seed)
        sorter._model = _classifier(seed).fit(x_train, y_train)
        # The gate (step 5): the same classifier without the word vectors says whether a comment fits any point.
        sorter._gate_columns = x_train.shape[1] - _word_vector_dimensions() - sorter._facet_columns()
        gate_x = x_train[:, :sorter._gate_columns]
        sorter._gate_temperature = _temperature(gate_x, y_train, len(names), seed)
        sorter._gate_model = _classifier(seed).fit(gate_x, y_train)
        # The prototypes (step 6): each point's centroid of its examples' word vectors.
        from analysis.word_vectors import unit_rows

        vectors = unit_rows(sorter._word_vectors_of(x_train))
        sorter._centroids = unit_rows(np.vstack([vectors[y_train == k].mean(axis=0) for k in range(len(names))]))
        sorter._prototype_temperature = PROTOTYPE_SOFTENING * _prototype_temperature(vectors, y_train, len(names))
        uniform = np.full(len(names), 1.0 / len(names))
        sorter.prior = sorter._gate_prior = uniform
        if unlabelled:
            sample = _sample(unlabelled, MAX_FIT_TEXTS, seed)
            # The sample's features are made chunk by chunk each time, never held whole (30,000 rows with
            # the dense LSA and word-vector blocks took 400 MB more at the peak).
            full, gate = sorter._calibrated_texts(sample, with_gate=True)
            sorter.prior = _em_prior(full, uniform, PRIOR_EM_STEPS)
            sorter._gate_prior = _em_prior(gate, uniform, PRIOR_EM_STEPS)
            pool = _sample(sample, SELF_TRAINING_TEXTS, seed)
            x_pool = sorter._features(pool)
            # Only comments the examples alone place in a point teach (fixed before the first refit): one
            # that fits none would teach its own words, and the next round would then place it.
            posteriors = sorter._pool_labels(pool, x_pool)
            fits = np.flatnonzero(posteriors.max(axis=1) >= sorter._none_bar()[posteriors.argmax(axis=1)])
            x_pool, pool = x_pool[fits], [pool[i] for i in fits]
            thin = np.bincount(y_train, minlength=len(names)).min() < SELF_TRAINING_MIN_EXAMPLES
            for _ in range(0 if thin or not len(fits) else SELF_TRAINING_ROUNDS):
                rows, labels, weight = _soft_labels(y_train, sorter._pool_labels(pool, x_pool))
                taught = (x_pool[rows], labels, weight)
                sorter.temperature = _temperature(x_train, y_train, len(names), seed, taught)
                sorter._model = _fit(x_train, y_train, len(names), seed, taught)
                full = sorter._calibrated_texts(sample)
                sorter.prior = _em_prior(full, uniform, PRIOR_EM_STEPS)
            # The decision reads the LR's probabilities blended with the prototypes' (step 6), its shares too.
            full = sorter._calibrated_texts(sample, blended=True)
            sorter.prior = _em_prior(full, uniform, PRIOR_EM_STEPS)
            sorter._set_thresholds(full, _passes(gate, sorter._gate_prior), uniform,
                                   np.bincount(y_train, minlength=len(names)))
        return sorter

    def _set_thresholds(self, full: np.ndarray, passes: np.ndarray, uniform: np.ndarray,
                        examples: np.ndarray) -> None:
        """The decision's shares (MAP EM, the examples as pseudo-counts) and each point's F1-optimal threshold."""
        if passes.sum() < THRESHOLD_MIN_COMMENTS:
            return
        self.prior = _em_prior(full, uniform, PRIOR_EM_MAX_STEPS, PRIOR_EM_TOLERANCE, examples)
        self.thresholds = _f1_thresholds(self._corrected(full[passes]))

    # ------------------------------------------------------------------ #
    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's probability of each pain point (columns in :attr:`names` order) as the decision reads
        it: the classifier's blended with the prototypes' (step 6), prior-corrected."""
        return self._corrected(self._blended(self._features(list(texts))))

    def assign(self, texts: Sequence[str]) -> list[list[Assignment]]:
        """For each text, its pain points, surest first (an empty list: none fits)."""
        out: list[list[Assignment]] = [[] for _ in texts]
        if self._model is not None and len(texts):
            full, gate = self._calibrated_texts(texts, with_gate=True, blended=True)
            proba = self._corrected(full)
            fits = _passes(gate, self._gate_prior)
            bar = self._none_bar()
            for i, row in enumerate(proba):
                if not fits[i]:
                    continue  # says little more about any point than its share does: none
                order = np.argsort(-row, kind="stable")
                if self.thresholds is not None:
                    out[i] = [Assignment(self.names[j], float(row[j])) for j in order if row[j] >= self.thresholds[j]]
                    continue
                best = row[order[0]]
                for j in order:
                    if out[i] and (row[j] < SECOND_RATIO * best or row[j] < bar[j]):
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

        from analysis.word_vectors import text_vectors

        x = self._vectorizer.transform(texts)
        blocks = [x, csr_matrix(text_vectors([_characters_of(t) for t in texts]) * WORD_VECTOR_WEIGHT)]
        if self._lsa is not None:
            blocks.insert(1, csr_matrix(normalize(self._lsa.transform(x)) * LSA_WEIGHT))
        if self.facet_weight:
            blocks.append(csr_matrix(_facet_rows(texts) * self.facet_weight))
        return hstack(blocks).tocsr()

    def _facet_columns(self) -> int:
        """How many of the features' last columns are the facet block (0 without it)."""
        return _facet_count() if self.facet_weight else 0

    def _word_vectors_of(self, x) -> np.ndarray:
        """The word-vector block of feature rows ``x`` (between the gate's columns and the facet block)."""
        return x[:, self._gate_columns:self._gate_columns + _word_vector_dimensions()].toarray()

    def _calibrated_texts(self, texts: Sequence[str], with_gate: bool = False, blended: bool = False):
        full, gate = [], []
        for start in range(0, len(texts), CHUNK):
            x = self._features(list(texts[start:start + CHUNK]))
            full.append(self._blended(x) if blended else self._calibrated(x))
            if with_gate:
                gate.append(_softmax(_scores(self._gate_model, x[:, :self._gate_columns]) / self._gate_temperature))
        return (np.vstack(full), np.vstack(gate)) if with_gate else np.vstack(full)

    def _pool_labels(self, texts: list[str], x) -> np.ndarray:
        """The soft labels the self-training pool (``texts``, feature rows ``x``) teaches with (step 2): the model's
        own prior-corrected probabilities."""
        return self._corrected(self._calibrated(x))

    def _calibrated(self, x) -> np.ndarray:
        return _softmax(_scores(self._model, x) / self.temperature)

    def _blended(self, x) -> np.ndarray:
        """The classifier's calibrated probabilities averaged with the prototypes' (step 6)."""
        from analysis.word_vectors import unit_rows

        vectors = unit_rows(self._word_vectors_of(x))
        prototypes = _softmax(vectors @ self._centroids.T / self._prototype_temperature)
        return (1 - PROTOTYPE_WEIGHT) * self._calibrated(x) + PROTOTYPE_WEIGHT * prototypes

    def _none_bar(self) -> np.ndarray:
        return _none_bar(self.prior)

    def _corrected(self, raw: np.ndarray) -> np.ndarray:
        return _prior_corrected(raw, self.prior)


def _passes(gate: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Which comments the gate's calibrated probabilities place in some point (step 5)."""
    corrected = _prior_corrected(gate, prior)
    return corrected.max(axis=1) >= _none_bar(prior)[corrected.argmax(axis=1)]


def _f1_thresholds(proba: np.ndarray) -> np.ndarray:
    """Each column's threshold that maximises its expected F1, the probabilities taken as the labels (step 6).

    Taking the comments surest first, the expected true positives are the running sum of
    probabilities and the expected positives the column's total: F1 = 2 TP / (predicted + actual).
    """
    thresholds = np.empty(proba.shape[1])
    for k in range(proba.shape[1]):
        column = np.sort(proba[:, k])[::-1]
        f1 = 2 * np.cumsum(column) / (np.arange(1, len(column) + 1) + column.sum())
        thresholds[k] = column[int(np.argmax(f1))]
    return thresholds


def _none_bar(prior: np.ndarray) -> np.ndarray:
    """The corrected probability below which a comment is not in a point (step 5)."""
    return np.minimum(NONE_FACTOR * prior, (1 + prior) / 2)


def _prior_corrected(raw: np.ndarray, prior: np.ndarray) -> np.ndarray:
    corrected = raw * (prior * len(prior))
    return corrected / corrected.sum(axis=1, keepdims=True)


def _word_vector_dimensions() -> int:
    from analysis.word_vectors import dimensions

    return dimensions()


def _facet_rows(texts: Sequence[str]) -> np.ndarray:
    """Each text's complaint-facet probabilities, square-rooted: unit rows whose dot product is the Bhattacharyya
    coefficient of two texts' facet distributions."""
    from analysis.complaint_facets import facet_probabilities

    return np.sqrt(np.clip(facet_probabilities(list(texts)), 0.0, None))


def _facet_count() -> int:
    from analysis.complaint_facets import FACETS

    return len(FACETS) + 1


def _facet_weight(x, facets: np.ndarray, y: np.ndarray, n_classes: int, seed: int) -> float:
    """The candidate of :data:`FACET_WEIGHTS` whose block, beside the features ``x``, gives the examples the lowest
    out-of-fold log-loss (at its best temperature); ties go to the smaller weight."""
    from scipy.sparse import csr_matrix, hstack

    losses = []
    for weight in FACET_WEIGHTS:
        xw = hstack([x, csr_matrix(facets * weight)]).tocsr() if weight else x
        scores = _out_of_fold_scores(xw, y, n_classes, seed)
        losses.append(np.inf if scores is None else _best_temperature(scores, y)[1])
    return float(FACET_WEIGHTS[int(np.argmin(np.round(losses, 6)))])


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


def _soft_labels(y_train: np.ndarray, posteriors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pool's ``(rows, labels, weights)`` for self-training, each point's pool weight balanced (step 2)."""
    n_classes = posteriors.shape[1]
    rows, labels = np.nonzero(posteriors >= MIN_SOFT_LABEL)
    weight = posteriors[rows, labels]
    totals = np.bincount(labels, weights=weight, minlength=n_classes)
    # Each point's pool weighs UNLABELLED_WEIGHT of its examples; a comment never outweighs an example.
    scale = np.minimum(UNLABELLED_WEIGHT * len(y_train) / n_classes / np.maximum(totals, 1e-12),
                       _example_weights(y_train, n_classes))
    return rows, labels, weight * scale[labels]


def _example_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Each point's weight per example, as ``class_weight="balanced"``."""
    return len(y) / (n_classes * np.maximum(np.bincount(y, minlength=n_classes), 1))


def _fit(x, y: np.ndarray, n_classes: int, seed: int, pool=None):
    """The classifier on the examples (balanced), plus ``pool``: ``(x, labels, weights)`` of soft-labelled comments."""
    if pool is None:
        return _classifier(seed).fit(x, y)
    from scipy.sparse import vstack
    from sklearn.linear_model import LogisticRegression

    x_pool, labels, weight = pool
    model = LogisticRegression(C=C, max_iter=1000, random_state=seed)
    return model.fit(vstack([x, x_pool]).tocsr(), np.concatenate([y, labels]),
                     sample_weight=np.concatenate([_example_weights(y, n_classes)[y], weight]))


def _sample(texts: list, limit: int, seed: int) -> list:
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


def _temperature(x, y: np.ndarray, n_classes: int, seed: int, pool=None) -> float:
    """The temperature that makes held-out examples' probabilities most likely (out-of-fold, step 3).

    With a self-training ``pool`` (see :func:`_fit`), each fold's model learns from it too: the
    pseudo-labels make the model surer, and the temperature must be that of the model used.
    """
    scores = _out_of_fold_scores(x, y, n_classes, seed, pool)
    return 1.0 if scores is None else _best_temperature(scores, y)[0]


def _out_of_fold_scores(x, y: np.ndarray, n_classes: int, seed: int, pool=None) -> np.ndarray | None:
    """The examples' scores each from a model fit without them (stratified folds; None below two examples a point)."""
    from sklearn.model_selection import StratifiedKFold

    folds = int(min(5, np.bincount(y, minlength=n_classes).min()))
    if folds < 2:
        return None
    scores = np.zeros((len(y), n_classes))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        scores[test] = _scores(_fit(x[train], y[train], n_classes, seed, pool), x[test])
    return scores


def _best_temperature(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The temperature that makes the labels ``y`` most likely under ``scores``, and that log-loss."""
    candidates = np.exp(np.linspace(np.log(MIN_TEMPERATURE), np.log(5.0), 80))
    loss = [-np.log(_softmax(scores / t)[np.arange(len(y)), y] + 1e-12).mean() for t in candidates]
    best = int(np.argmin(loss))
    return float(candidates[best]), float(loss[best])


def _prototype_temperature(vectors: np.ndarray, y: np.ndarray, n_classes: int) -> float:
    """The temperature that makes each example's softmax over its cosines to the centroids most likely, its own
    point's centroid made without it (leave-one-out, step 6)."""
    from analysis.word_vectors import unit_rows

    sums = np.vstack([vectors[y == k].sum(axis=0) for k in range(n_classes)])
    cosines = np.empty((len(y), n_classes))
    for i, (vector, k) in enumerate(zip(vectors, y)):
        centroids = sums.copy()
        centroids[k] -= vector
        cosines[i] = unit_rows(centroids) @ vector
    candidates = np.exp(np.linspace(np.log(0.005), np.log(1.0), 120))
    loss = [-np.log(_softmax(cosines / t)[np.arange(len(y)), y] + 1e-12).mean() for t in candidates]
    return float(candidates[int(np.argmin(loss))])


def _em_prior(proba: np.ndarray, trained: np.ndarray, steps: int, tolerance: float = 0.0,
              pseudo_counts: np.ndarray | None = None) -> np.ndarray:
    """Each point's share among the texts behind ``proba`` (Saerens et al. 2002): at most ``steps`` EM steps,
    fewer once no share moves by more than ``tolerance``. With ``pseudo_counts`` (a Dirichlet prior: each
    point's examples counted as members), the estimate is MAP, never 0: the plain fixed point can drive a
    point's share to 0, and such a point can then never be reached."""
    prior = trained.copy()
    pseudo = np.zeros(len(prior)) if pseudo_counts is None else np.asarray(pseudo_counts, dtype=float)
    for _ in range(steps):
        adjusted = proba * (prior / trained)
        adjusted /= adjusted.sum(axis=1, keepdims=True)
        prior, before = (adjusted.sum(axis=0) + pseudo) / (len(proba) + pseudo.sum()), prior
        if np.abs(prior - before).max() < tolerance:
            break
    return prior
