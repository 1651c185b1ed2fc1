"""The two classifier pipelines, declared in one place.

``build_pipeline("sentiment")`` and ``build_pipeline("theme")`` return
scikit-learn :class:`~sklearn.pipeline.Pipeline` objects with the same named
steps::

    ("normalise", Tokenizer())                 text -> tokens (negation, emoji, URLs)
    ("features",  FeatureUnion([
        ("words",   WordNgrams()),             hashed stemmed uni+bigrams
        ("chars",   CharNgrams()),             hashed char 3-5-grams within tokens
        ("lexicon", LexiconFeatures())]))      sentiment lexicon + theme cue counts
        (+ ("vectors", WordVectorMeans()) when WORD_VECTOR_WEIGHT is set: measured, off)
    ("clf", CalibratedClassifierCV(LinearSVC(...), method="sigmoid"))

Why these choices:

* Hashing instead of a fitted vocabulary: an order of magnitude faster at
  prediction time, and the feature steps are stateless, so the labeller can
  compute them once and feed both classifiers.
* A linear SVM (liblinear): the corpus has a few thousand rows; a linear model on
  n-grams is the strongest thing that does not overfit it, and it is fast (LinearSVC fits this data
  in a fraction of a second where lbfgs logistic regression takes 20 s).
  ``class_weight="balanced"`` because real feedback is mostly negative while
  the corpus is roughly balanced.
* ``CalibratedClassifierCV`` (sigmoid, 5 stratified folds with a fixed seed)
  so ``predict_proba`` is calibrated: the report shows these probabilities
  and the labeller averages them across clauses. ``ensemble=False``: one
  SVM refit on all rows plus sigmoids fitted on out-of-fold scores, so the
  saved model holds one weight matrix instead of five.

:data:`PARAM_GRID` is the small grid ``analysis.train`` searches, in
``step__param`` form.
"""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from analysis.features import CharNgrams, LexiconFeatures, Tokenizer, WordNgrams
from analysis.vector_features import WordVectorMeans
from analysis.labels import TASKS


#: Hyper-parameters searched by ``analysis.train`` (GridSearchCV, training split only).
PARAM_GRID = {
    "sentiment": {"clf__estimator__C": [0.1, 0.3, 1.0]},
    "theme": {"clf__estimator__C": [0.1, 0.3, 1.0]},
}

#: Defaults that differ by task (the rest is shared).
TASK_DEFAULTS = {
    "sentiment": {"C": 0.3},
    "theme": {"C": 0.3},
}


#: Weight of the word-vector block against the l2-normalised n-gram blocks;
#: ``None`` leaves the block out (see MODEL_CARD.md for the A/B on the tuning halves).
WORD_VECTOR_WEIGHT: float | None = None
WORD_VECTOR_DIMS = 256
WORD_VECTOR_NEGATION = "split"


_SETTING = object()  # "use the module's constant", read at call time


def build_features(word_vector_weight=_SETTING, word_vector_dims=_SETTING,
                   word_vector_negation=_SETTING) -> FeatureUnion:
    """The shared feature union (stateless n-gram hashing + lexicon block, and
    the mean pretrained word vector when ``word_vector_weight`` is set).
    Unset arguments take the module's ``WORD_VECTOR_*`` settings, read at call time."""
    if word_vector_weight is _SETTING:
        word_vector_weight = WORD_VECTOR_WEIGHT
    if word_vector_dims is _SETTING:
        word_vector_dims = WORD_VECTOR_DIMS
    if word_vector_negation is _SETTING:
        word_vector_negation = WORD_VECTOR_NEGATION
    blocks = [
        ("words", WordNgrams(ngram_range=(1, 2), n_features=2**17)),
        ("chars", CharNgrams(ngram_range=(3, 5), n_features=2**17)),
        ("lexicon", LexiconFeatures(weight=1.0)),
    ]
    if word_vector_weight:
        blocks.append(("vectors", WordVectorMeans(weight=word_vector_weight,
                                                  dims=word_vector_dims,
                                                  negation=word_vector_negation)))
    return FeatureUnion(blocks)


def build_pipeline(task: str, seed: int = 0) -> Pipeline:
    """Return the unfitted pipeline for ``task`` ("sentiment" or "theme")."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    base = LinearSVC(
        C=TASK_DEFAULTS[task]["C"],
        class_weight="balanced",
        max_iter=5000,
        random_state=seed,
    )
    clf = CalibratedClassifierCV(
        base,
        method="sigmoid",
        cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=seed),
        ensemble=False,
    )
    return Pipeline(
        [
            ("normalise", Tokenizer()),
            ("features", build_features()),
            ("clf", clf),
        ]
    )
