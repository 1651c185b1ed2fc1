"""The team's own labels weigh more than the generic corpus.

A few hundred labels a team gives (``flask analyze train --labels``, dashboard
corrections) describe *its* customers; the 6,000-row written corpus describes
everyone's. Trained side by side with weight 1, 200 own rows are 3% of the
data and hardly move the model. Each own row therefore gets a sample weight
``w`` chosen by cross-validation on the own rows themselves
(:func:`choose_own_weight`): for each candidate in :data:`OWN_WEIGHTS`, the
classifier is trained on the corpus plus the other folds of own rows at that
weight and scored (macro-F1) on the held-out own fold, over two repeated
splits; the smallest weight within one standard error of the best mean wins
(a larger weight than the labels support fits their accidents: on the tuning
halves, 100 own rows at weight 10 score lower on new comments than at weight 1).
This is the sample-weight form of
domain adaptation (the corpus is the source domain, the team's comments the
target); with too few own rows to cross-validate, :data:`DEFAULT_OWN_WEIGHT`
(chosen by the learning-curve benchmark on the tuning halves) applies.

The feature steps are stateless (hashing + fixed lexicons), so features are
computed once per text and only the linear classifier is refit per candidate;
selection uses the uncalibrated LinearSVC (calibration does not change which
weight ranks best and costs five extra fits).

The other form of domain adaptation, feature augmentation (Daumé III,
"Frustratingly easy domain adaptation", 2007), is available with
``augment=True``: every feature gets a second, own-domain copy that is zero on
corpus rows, so the classifier can learn where the team's labels differ from
the corpus without moving the shared weights; the team's comments are then
classified with both copies (:class:`AugmentedClassifier`). ``augment_scale``
shrinks the own-domain copy (a tighter prior on how far the team may differ).
The learning-curve benchmark measures it against sample weights
(``--method augment --augment-scale S``), and :func:`choose_adaptation` lets
the same cross-validation pick weights or augmentation (``--method cv``). On
the tuning halves augmentation won on NPS theme and lost on tweet theme at
every scale tried, and the CV never chose it (MODEL_CARD.md), so training and
the dashboard's retrain keep the cross-validated weight.

A third form leaves the classifier as the corpus trained it and lets the own
rows act as neighbours (``neighbours=share``, :class:`NeighbourBlend`): a
text's probabilities become ``(1 - share)`` times the classifier's plus
``share`` times the similarity-weighted vote of its ``k`` most similar own rows
(cosine over the hashed word and character n-grams). On the tuning halves
(100 own labels) share 0.1 lifted NPS theme above weights and no own labels and
changed no tweet's theme; larger shares lowered tweets (MODEL_CARD.md, stop 23).
It is measured only (``learning_curve.py --method neighbours``), not used in
training: besides rising on one set only, the neighbour search costs what
``classify`` cannot spare (stop 24: with 300 own rows it doubles the labelling's
CPU; on word n-grams alone it adds 28%), and the form cheap enough
(``unsure_only``) loses the NPS gain.

A fourth form costs nothing when labelling: a linear SVM of the own rows alone
added to the corpus SVM's weights (:func:`fold_own_model`,
``learning_curve.py --method fold``). On the tuning halves it lifts NPS theme
more than the neighbours and leaves tweets level at one setting of a small grid
(MODEL_CARD.md, stop 24); how to choose that setting without the tuning rows is
left, so it is measured only.

A fifth form refits the corpus SVM on the own rows with its own weights as the
prior mean (:func:`fold_own_prior`, Chelba & Acero 2006; ``learning_curve.py
--fold-rule prior``): only own rows the corpus model gets wrong or inside its
margin move it. On the tuning halves it lifts NPS theme and tweet sentiment and
lowers tweet theme at every ``C`` tried, and NPS sentiment moves the other way
from tweet sentiment as ``C`` grows (benchmarks/README.md, stop 26), so it is
measured only as well.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

#: Candidate weights of one own label relative to one corpus row.
OWN_WEIGHTS = (1.0, 3.0, 10.0, 30.0)
#: Scales of the own-domain copy that :func:`choose_adaptation` tries beside the weights.
AUGMENT_SCALES = (0.1, 0.3)
#: Weight used when there are too few own labels to cross-validate.
DEFAULT_OWN_WEIGHT = 10.0
#: Cross-validation needs at least this many own rows, and 2 per class present.
MIN_ROWS_FOR_CV = 20
CV_FOLDS = 3
#: Repeated splits of the own rows (different seeds), so one lucky split does not decide.
CV_REPEATS = 2


def fit_features(pipeline, texts):
    """Fit the (stateless) feature steps of ``pipeline`` and return the feature matrix of ``texts``."""
    return pipeline[:-1].fit_transform(list(texts))


def fit_classifier_on_features(pipeline, X, labels, sample_weight=None):
    """Fit only the final step on precomputed features; the pipeline is then ready to use."""
    from analysis.train import single_threaded_blas

    with single_threaded_blas():
        pipeline[-1].fit(X, np.asarray(labels), sample_weight=sample_weight)
    return pipeline


def augment_features(X, own_domain: bool, scale: float = 1.0):
    """``[X, s X]`` for own-domain rows, ``[X, 0]`` for corpus rows (Daumé 2007).

    ``s`` < 1 makes the own-domain copy dearer to use under the classifier's
    L2 penalty (a tighter prior on how far the team may differ from the corpus)."""
    import scipy.sparse as sp

    X = sp.csr_matrix(X)
    second = (X * float(scale) if scale != 1 else X) if own_domain else sp.csr_matrix(X.shape, dtype=X.dtype)
    return sp.hstack([X, second], format="csr")


class AugmentedClassifier(ClassifierMixin, BaseEstimator):
    """``estimator`` fitted on augmented features, applied to own-domain texts.

    ``fit`` takes the augmented training matrix (:func:`_training_matrix`);
    ``predict``/``predict_proba`` take the plain feature matrix and add the
    own-domain copy, so a pipeline whose last step is this labels the team's
    comments as its own domain.
    """

    def __init__(self, estimator=None, scale: float = 1.0):
        self.estimator = estimator
        self.scale = scale

    def fit(self, X_augmented, y, sample_weight=None):
        from sklearn.base import clone

        self.fitted_ = clone(self.estimator).fit(X_augmented, y, sample_weight=sample_weight)
        self.classes_ = self.fitted_.classes_
        return self

    def predict_proba(self, X):
        return self.fitted_.predict_proba(augment_features(X, True, self.scale))

    def predict(self, X):
        return self.fitted_.predict(augment_features(X, True, self.scale))


class NeighbourBlend(ClassifierMixin, BaseEstimator):
    """``(1 - share)`` × ``estimator``'s probabilities + ``share`` × the own rows' vote.

    The vote of a text is over its ``k`` most similar own rows (cosine over the
    first ``columns`` feature columns: the hashed n-gram blocks), each row
    counting its similarity; a text similar to no own row keeps the
    estimator's probabilities. ``fit`` takes the own rows' plain features and
    labels; ``estimator`` is already fitted (on the corpus).

    With ``unsure_only`` the vote is computed only for texts whose two likeliest
    classes are less than ``share / (1 - share)`` apart: the largest gap a vote
    can close, so every text's label is the one the blend of all texts gives,
    and the cost of the neighbour search falls on the few unsure texts (about
    5% of the comments and clauses the labeller classifies); the sure ones
    keep the estimator's probabilities.
    """

    def __init__(self, estimator=None, share: float = 0.1, k: int = 10, columns: int | None = None,
                 unsure_only: bool = False):
        self.estimator = estimator
        self.share = share
        self.k = k
        self.columns = columns
        self.unsure_only = unsure_only

    def fit(self, X_own, y_own):
        import scipy.sparse as sp
        from sklearn.preprocessing import normalize

        if len(y_own) == 0:
            raise ValueError("NeighbourBlend needs at least one own row")
        self.classes_ = self.estimator.classes_
        X_own = sp.csr_matrix(X_own)
        unit = normalize(X_own[:, : self.columns] if self.columns else X_own)
        # as wide as the features, zero past ``columns``: a text's other columns then
        # drop out of the product without slicing its matrix
        self.own_ = sp.csr_matrix((unit.data, unit.indices, unit.indptr), shape=X_own.shape)
        y_own = np.asarray(y_own)
        self.own_onehot_ = (y_own[:, None] == self.classes_[None, :]).astype(np.float64)
        return self

    def neighbour_vote(self, X):
        """Similarity-weighted class shares of each row's ``k`` nearest own rows
        (rows similar to none: all zero).

        The text's own length is left out of the cosine: scaling a row's
        similarities by one positive number changes neither which own rows
        are nearest nor their shares of the vote."""
        import scipy.sparse as sp

        sim = (sp.csr_matrix(X) @ self.own_.T).toarray()
        np.maximum(sim, 0.0, out=sim)
        k = min(int(self.k), sim.shape[1])
        nearest = np.argpartition(-sim, k - 1, axis=1)[:, :k] if k < sim.shape[1] else \
            np.broadcast_to(np.arange(k), sim.shape)
        weights = np.take_along_axis(sim, nearest, axis=1)
        vote = np.einsum("nk,nkc->nc", weights, self.own_onehot_[nearest])
        total = vote.sum(axis=1, keepdims=True)
        return np.divide(vote, total, out=np.zeros_like(vote), where=total > 0)

    def unsure_rows(self, proba) -> np.ndarray:
        """Rows whose label a vote can change (all rows unless ``unsure_only``)."""
        if not self.unsure_only or self.share >= 1:
            return np.arange(proba.shape[0])
        top = np.partition(proba, -2, axis=1)
        return np.flatnonzero(top[:, -1] - top[:, -2] < self.share / (1 - self.share))

    def predict_proba(self, X):
        proba = self.estimator.predict_proba(X)
        rows = self.unsure_rows(proba)
        if not rows.size or not self.share:
            return proba
        vote = self.neighbour_vote(X[rows] if rows.size < proba.shape[0] else X)
        has_vote = vote.sum(axis=1) > 0
        rows, vote = rows[has_vote], vote[has_vote]
        proba[rows] = (1 - self.share) * proba[rows] + self.share * vote
        return proba

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def with_own_neighbours(pipeline, own_texts, own_labels, share: float = 0.1, k: int = 10,
                        blocks=("words", "chars"), unsure_only: bool = False):
    """``pipeline`` (fitted on the corpus) with its classifier wrapped in a
    :class:`NeighbourBlend` of the own rows; returned for chaining.

    The blend keeps the own rows' unit n-gram vectors over ``blocks`` (the
    leading feature blocks), not their texts."""
    name, clf = pipeline.steps[-1]
    blend = NeighbourBlend(clf, float(share), int(k), columns=_ngram_columns(pipeline, blocks),
                           unsure_only=unsure_only)
    pipeline.steps[-1] = (name, blend.fit(pipeline[:-1].transform(list(own_texts)),
                                          list(own_labels)))
    return pipeline


def own_svm(X_own, y_own, C: float = 0.1, seed: int = 0):
    """A linear SVM (balanced classes) fitted on the own rows' features alone."""
    from sklearn.svm import LinearSVC

    from analysis.train import single_threaded_blas

    with single_threaded_blas():
        return LinearSVC(C=C, class_weight="balanced", max_iter=5000, random_state=seed).fit(
            X_own, np.asarray(y_own))


def _corpus_svms(pipeline):
    return [c.estimator for c in pipeline[-1].calibrated_classifiers_]


def fold_svm_into(pipeline, svm, alpha, only=None, intercept: bool = True) -> None:
    """``coef + alpha * svm.coef`` (intercepts likewise) in every SVM of ``pipeline``'s
    calibrated classifier, in place; with ``only`` (class labels), only those classes'
    one-vs-rest rows; with ``intercept=False`` the corpus's intercepts stay as they are.
    New arrays are assigned, so a caller holding the old ones can put them back."""
    svms = _corpus_svms(pipeline)
    order = [list(svm.classes_).index(k) for k in svms[0].classes_]
    scale = np.array([[alpha if only is None or k in only else 0.0] for k in svms[0].classes_])
    for corpus_svm in svms:
        corpus_svm.coef_ = corpus_svm.coef_ + scale * svm.coef_[order]
        if intercept:
            corpus_svm.intercept_ = corpus_svm.intercept_ + scale[:, 0] * svm.intercept_[order]


def nearest_rows(X_from, X_to, k: int, columns: int | None = None) -> np.ndarray:
    """Indices (sorted, unique) of the ``k`` rows of ``X_to`` most similar to each row of
    ``X_from`` (cosine over the first ``columns`` columns)."""
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize

    cut = (lambda X: sp.csr_matrix(X)[:, :columns]) if columns else sp.csr_matrix  # noqa: E731
    sim = (normalize(cut(X_from)) @ normalize(cut(X_to)).T).toarray()
    k = min(int(k), sim.shape[1])
    return np.unique(np.argpartition(-sim, k - 1, axis=1)[:, :k])


def fold_own_model(pipeline, own_texts, own_labels, alpha: float = 1.0, C: float = 0.1,
                   seed: int = 0, blocks: tuple[str, ...] | None = None,
                   extra_rows=None, min_class_rows: int = 0, intercept: bool = True) -> bool:
    """Add ``alpha`` × a linear SVM trained on the own rows alone to ``pipeline``'s SVM.

    ``pipeline`` is fitted on the corpus; its calibrated classifier's SVM gets
    ``coef + alpha * own coef`` (and the intercepts likewise), so the model's
    decision is the sum of the corpus's and the team's, read through the
    corpus's calibration, at no cost when labelling. Returns whether it was
    folded: own rows that lack a class give no weight vector for it, and
    leave the pipeline as it is. :func:`choose_fold` decides whether and how
    much to fold. With ``blocks`` (leading feature blocks, e.g. ``("words",)``) the own
    SVM sees only those columns and leaves the corpus's weights on the others alone.
    ``extra_rows`` ``(features, labels)`` are trained on beside the own rows (e.g. the
    corpus rows nearest to them, :func:`nearest_rows`). With ``min_class_rows`` only the
    classes with at least that many own rows are folded. With ``intercept=False`` only the
    own SVM's weights are added: each one-vs-rest intercept carries the own rows' base
    rate of "the rest" (most rows), which the corpus SVM's intercepts carry already, so
    adding both counts it twice (on the tuning tweets' sentiment it moved comments to the
    majority class, negative; benchmarks/README.md, stop 26).
    """
    classes = list(_corpus_svms(pipeline)[0].classes_)
    y_own = np.asarray(list(own_labels))
    if sorted(set(y_own)) != sorted(classes) or len(classes) < 3:
        return False
    only = [k for k in classes if np.sum(y_own == k) >= min_class_rows] if min_class_rows else None
    X_own = pipeline[:-1].transform(list(own_texts))
    if extra_rows is not None:
        import scipy.sparse as sp

        X_own = sp.vstack([sp.csr_matrix(X_own), sp.csr_matrix(extra_rows[0])], format="csr")
        y_own = np.concatenate([y_own, np.asarray(extra_rows[1])])
    if blocks:
        import scipy.sparse as sp

        keep = np.zeros(X_own.shape[1])
        keep[:_ngram_columns(pipeline, tuple(blocks))] = 1.0
        X_own = sp.csr_matrix(X_own) @ sp.diags(keep)
    fold_svm_into(pipeline, own_svm(X_own, y_own, C, seed), alpha, only, intercept)
    return True


def _own_rows_under_corpus(pipeline, own_texts, own_labels):
    """``(svms, classes, y_own, X_own, corpus decision on X_own)`` for a fold, or ``None`` when
    the own rows miss a class (or there are fewer than 3): the fold rules refit per class."""
    import scipy.sparse as sp

    svms = _corpus_svms(pipeline)
    classes = list(svms[0].classes_)
    y_own = np.asarray(list(own_labels))
    if sorted(set(y_own)) != sorted(classes) or len(classes) < 3:
        return None
    X = sp.csr_matrix(pipeline[:-1].transform(list(own_texts)))
    mean_coef = np.mean([s.coef_ for s in svms], axis=0)
    mean_b = np.mean([s.intercept_ for s in svms], axis=0)
    return svms, classes, y_own, X, np.asarray(X @ mean_coef.T) + mean_b


def fold_own_residual(pipeline, own_texts, own_labels, C: float = 1.0, scale: float = 10.0,
                      seed: int = 0) -> bool:
    """Fold in a model of what the corpus model gets wrong on the own rows (Daumé's PRED).

    For each class, a binary linear SVM is fitted on the own rows with the corpus
    SVMs' mean decision for that class as one more feature (times ``scale``, so that
    its weight is hardly penalised): it can reuse the corpus's decision and needs
    n-gram weights only where the own rows disagree with it. The result is linear in
    the features, so it folds into every corpus SVM: ``coef_k <- beta_k coef_k + w_k``,
    ``intercept_k <- beta_k intercept_k + b_k``. Returns whether it was folded
    (every class needs an own row of it and one of another class)."""
    import scipy.sparse as sp
    from sklearn.svm import LinearSVC

    from analysis.train import single_threaded_blas

    own = _own_rows_under_corpus(pipeline, own_texts, own_labels)
    if own is None:
        return False
    svms, classes, y_own, X, corpus_decision = own
    parts = []
    with single_threaded_blas():
        for k, label in enumerate(classes):
            Xk = sp.hstack([X, sp.csr_matrix(scale * corpus_decision[:, [k]])], format="csr")
            svm = LinearSVC(C=C, class_weight="balanced", max_iter=5000, random_state=seed).fit(
                Xk, (y_own == label).astype(int))
            parts.append((float(svm.coef_[0, -1]) * scale, svm.coef_[0, :-1], float(svm.intercept_[0])))
    for s in svms:
        coef, intercept = s.coef_.copy(), s.intercept_.copy()
        for k, (beta, w, b) in enumerate(parts):
            coef[k] = beta * coef[k] + w
            intercept[k] = beta * intercept[k] + b
        s.coef_, s.intercept_ = coef, intercept
    return True



#: How :func:`fold_own_prior` treats the intercept shift: penalised like a weight (as
#: LinearSVC's ``intercept_scaling`` does), free, or fixed at the corpus's.
PRIOR_INTERCEPTS = ("penalised", "free", "fixed")


def fold_own_prior(pipeline, own_texts, own_labels, C: float = 1.0,
                   intercept: str = "penalised") -> bool:
    """Refit the corpus SVM on the own rows with the corpus weights as the prior mean.

    Prior-regularised transfer (Chelba & Acero 2006): for each class's one-vs-rest
    row, the shift ``v`` (and intercept shift ``b``) minimises the LinearSVC objective
    on the own rows around the corpus model instead of around 0,
    ``0.5 (|v|^2 + b^2) + C sum_i c_i max(0, 1 - y_i (f_i + x_i.v + b))^2``, where ``f_i`` is
    the corpus SVMs' mean decision and ``c_i`` the balanced class weight. Unlike
    :func:`fold_own_model` (an own SVM fitted from 0 and added at a chosen share), an
    own row the corpus model already gets right beyond the margin costs nothing and
    moves nothing, and the shift grows with the number of rows that disagree with it:
    no share to choose. ``v`` is non-zero only on the own rows' columns; it is added
    to every corpus SVM, so the model keeps its shape. Returns whether it was folded
    (every class needs an own row). ``intercept`` (:data:`PRIOR_INTERCEPTS`): "free"
    leaves ``b`` unpenalised, so the own rows' class shares alone shift every decision
    (a label-shift correction), "fixed" keeps the corpus's intercepts."""
    if intercept not in PRIOR_INTERCEPTS:
        raise ValueError(f"intercept must be one of {PRIOR_INTERCEPTS}, not {intercept!r}")
    from scipy.optimize import minimize

    own = _own_rows_under_corpus(pipeline, own_texts, own_labels)
    if own is None:
        return False
    svms, classes, y_own, X, decision = own
    used = np.unique(X.indices)
    Xu = X[:, used]
    counts = {k: int(np.sum(y_own == k)) for k in classes}
    cw = np.array([len(y_own) / (len(classes) * counts[k]) for k in y_own])
    shifts = []
    for k, label in enumerate(classes):
        y = np.where(y_own == label, 1.0, -1.0)
        f = decision[:, k]

        def objective(theta, y=y, f=f):
            v, b = theta[:-1], theta[-1]
            slack = np.maximum(0.0, 1.0 - y * (f + Xu @ v + b))
            g = -2.0 * C * cw * slack * y
            penalty = b if intercept == "penalised" else 0.0
            return (0.5 * (v @ v + penalty * b) + C * float(cw @ slack ** 2),
                    np.concatenate([v + Xu.T @ g,
                                    [0.0 if intercept == "fixed" else g.sum() + penalty]]))

        theta = minimize(objective, np.zeros(len(used) + 1), jac=True, method="L-BFGS-B",
                         options={"maxiter": 2000}).x
        shifts.append(theta)
    for s in svms:
        coef, intercept = s.coef_.copy(), s.intercept_.copy()
        for k, theta in enumerate(shifts):
            coef[k, used] += theta[:-1]
            intercept[k] += theta[-1]
        s.coef_, s.intercept_ = coef, intercept
    return True


#: ``(alpha, C)`` settings of the own rows' SVM that :func:`choose_fold` compares with not folding.
FOLD_CANDIDATES = ((0.3, 0.1), (1.0, 0.1), (2.0, 0.1), (0.3, 1.0), (1.0, 1.0), (2.0, 1.0))
#: Repeated stratified K-fold over the own rows for :func:`choose_fold` (only the own SVM is refit).
FOLD_CV_FOLDS = 5
FOLD_CV_REPEATS = 10
#: One-sided level of the paired test a fold must pass against not folding (Bonferroni over candidates).
FOLD_SIGNIFICANCE = 0.05


def fold_cv_gains(pipeline, X_own, y_own, candidates, folds: int = FOLD_CV_FOLDS,
                  repeats: int = FOLD_CV_REPEATS, seed: int = 0):
    """``{(alpha, C): [gain per held-out own fold]}`` and the test fraction, or ``None``.

    The gain is the held-out fold's macro-F1 with the own SVM (fitted on the other
    folds) folded in at ``alpha`` minus the corpus model's on the same rows: a
    paired difference. ``pipeline`` is fitted on the corpus alone (so the own rows
    are new to it) and is left as it was. ``None`` when a class of the corpus model
    has fewer than 2 own rows (no fold could be trained on every class)."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    y_own = np.asarray(y_own)
    svms = _corpus_svms(pipeline)
    classes = list(svms[0].classes_)
    counts = [int(np.sum(y_own == k)) for k in classes]
    if len(classes) < 3 or min(counts) < 2 or len(set(y_own) - set(classes)):
        return None
    n_splits = int(min(folds, min(counts)))
    saved = [(s.coef_, s.intercept_) for s in svms]
    clf = pipeline[-1]
    gains = {tuple(c): [] for c in candidates}
    try:
        for r in range(max(1, repeats)):
            cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
            for tr, te in cv.split(np.zeros(len(y_own)), y_own):
                base = f1_score(y_own[te], clf.predict(X_own[te]), average="macro", zero_division=0)
                fitted = {}
                for alpha, C in gains:
                    if C not in fitted:
                        fitted[C] = own_svm(X_own[tr], y_own[tr], C, seed)
                    fold_svm_into(pipeline, fitted[C], alpha)
                    score = f1_score(y_own[te], clf.predict(X_own[te]), average="macro",
                                     zero_division=0)
                    for s, (coef, intercept) in zip(svms, saved):
                        s.coef_, s.intercept_ = coef, intercept
                    gains[(alpha, C)].append(float(score - base))
    finally:
        for s, (coef, intercept) in zip(svms, saved):
            s.coef_, s.intercept_ = coef, intercept
    return gains, 1.0 / n_splits


def corrected_paired_p(gains, test_fraction: float) -> float:
    """One-sided p-value that the mean of ``gains`` (paired differences over the
    folds of repeated K-fold CV) is above 0, by the corrected resampled t-test
    (Nadeau & Bengio 2003; Bouckaert & Frank 2004): the variance is inflated by
    ``n_test / n_train`` because the folds' training sets overlap, which the plain
    t-test ignores (it calls a noise gain significant far too often)."""
    from scipy.stats import t as student_t

    d = np.asarray(gains, dtype=float)
    if len(d) < 2:
        return 1.0
    mean, var = float(d.mean()), float(d.var(ddof=1))
    if var == 0:
        return 0.0 if mean > 0 else 1.0
    ratio = test_fraction / (1.0 - test_fraction)
    stat = mean / np.sqrt((1.0 / len(d) + ratio) * var)
    return float(student_t.sf(stat, df=len(d) - 1))


def choose_fold(pipeline, X_own, y_own, candidates=FOLD_CANDIDATES,
                level: float = FOLD_SIGNIFICANCE, folds: int = FOLD_CV_FOLDS,
                repeats: int = FOLD_CV_REPEATS, seed: int = 0):
    """``((alpha, C) or None, info)``: the own-SVM setting to fold in, or ``None``.

    The candidate with the largest mean cross-validated gain over not folding is
    chosen only if that gain passes :func:`corrected_paired_p` at ``level``
    divided by the number of candidates (the best of several is the luckiest);
    otherwise nothing is folded. ``info`` has each candidate's mean gain and
    p-value."""
    result = fold_cv_gains(pipeline, X_own, y_own, candidates, folds, repeats, seed)
    if result is None:
        return None, {"reason": "a class has fewer than 2 own rows"}
    gains, test_fraction = result
    means = {c: float(np.mean(g)) for c, g in gains.items()}
    p = {c: corrected_paired_p(g, test_fraction) for c, g in gains.items()}
    best = max(gains, key=lambda c: (means[c], -c[0]))
    chosen = best if means[best] > 0 and p[best] < level / len(gains) else None
    return chosen, {"gain": {f"{a:g}/{c:g}": round(means[(a, c)], 4) for a, c in gains},
                    "p": {f"{a:g}/{c:g}": round(p[(a, c)], 4) for a, c in gains}}


def _ngram_columns(pipeline, blocks=("words", "chars")) -> int:
    """Number of leading feature columns that make up ``blocks`` (the first ones of the union)."""
    union = pipeline.named_steps["features"].transformer_list
    if tuple(name for name, _ in union[:len(blocks)]) != tuple(blocks):
        raise ValueError(f"the feature union does not start with {blocks}")
    return sum(int(step.n_features) for _, step in union[:len(blocks)])


def _training_matrix(X_corpus, X_own, augment: bool, scale: float = 1.0):
    import scipy.sparse as sp

    if augment:
        return sp.vstack([augment_features(X_corpus, False), augment_features(X_own, True, scale)],
                         format="csr")
    return sp.vstack([X_corpus, X_own], format="csr")


def _svc(pipeline):
    """An unfitted copy of the pipeline's LinearSVC (the calibrated classifier's estimator)."""
    from sklearn.base import clone

    clf = pipeline[-1]
    return clone(getattr(clf, "estimator", clf))


def choose_own_weight(pipeline, X_corpus, y_corpus, X_own, y_own, weights=OWN_WEIGHTS,
                      folds: int = CV_FOLDS, seed: int = 0,
                      augment: bool = False, repeats: int = CV_REPEATS,
                      augment_scale: float = 1.0) -> tuple[float, dict]:
    """Cross-validate the weight of own rows; return ``(weight, {weight: macro-F1})``.

    ``pipeline`` supplies the classifier settings (C, class weights);
    ``X_*`` are feature matrices from :func:`fit_features`. The own rows are
    split ``repeats`` times into stratified folds (different seeds); each
    weight's score is the mean macro-F1 over all held-out folds. The chosen
    weight is the smallest whose score is within one standard error of the
    best one (the rule :mod:`analysis.train` uses for ``C``): on the tuning
    halves a larger weight than needed costs accuracy on new comments (it
    fits the few own rows' accidents), and one 3-fold split of 50-200 rows
    often ranks a large weight first by chance. Returns
    :data:`DEFAULT_OWN_WEIGHT` and ``{}`` when the own rows are too few or too
    one-sided to cross-validate.
    """
    scale = augment_scale if augment else None
    per_fold = _cv_scores(pipeline, X_corpus, y_corpus, X_own, y_own,
                          [(float(w), scale) for w in weights], folds, seed, repeats)
    if per_fold is None:
        return DEFAULT_OWN_WEIGHT, {}
    return _smallest_within_one_se({w: scores for (w, _), scores in per_fold.items()})


def choose_adaptation(pipeline, X_corpus, y_corpus, X_own, y_own, weights=OWN_WEIGHTS,
                      augment_scales=AUGMENT_SCALES, folds: int = CV_FOLDS, seed: int = 0,
                      repeats: int = CV_REPEATS) -> tuple[tuple[float, float | None], dict]:
    """Sample weights *or* feature augmentation, chosen by the same cross-validation.

    Candidates, simplest first: each weight in ``weights`` (own rows as
    weighted rows), then feature augmentation at weight 1 with each scale in
    ``augment_scales``. The simplest candidate within one standard error of
    the best wins. Returns ``((weight, augment scale or None), {name: mean
    macro-F1})``; ``((DEFAULT_OWN_WEIGHT, None), {})`` when the own rows are
    too few to cross-validate.
    """
    candidates = [(float(w), None) for w in weights] + [(1.0, float(a)) for a in augment_scales]
    per_fold = _cv_scores(pipeline, X_corpus, y_corpus, X_own, y_own, candidates,
                          folds, seed, repeats)
    if per_fold is None:
        return (DEFAULT_OWN_WEIGHT, None), {}
    rank = {c: k for k, c in enumerate(candidates)}
    chosen, means = _smallest_within_one_se({rank[c]: v for c, v in per_fold.items()})
    return candidates[int(chosen)], {_candidate_name(candidates[int(k)]): m
                                     for k, m in means.items()}


def _candidate_name(candidate) -> str:
    weight, scale = candidate
    return f"weight {weight:g}" if scale is None else f"augment {scale:g}"


def _cv_scores(pipeline, X_corpus, y_corpus, X_own, y_own, candidates, folds, seed, repeats):
    """``{(weight, augment scale or None): [macro-F1 per held-out own fold]}``, or
    ``None`` when the own rows are too few or too one-sided to split."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    from analysis.train import single_threaded_blas

    y_own = np.asarray(y_own)
    y_corpus = np.asarray(y_corpus)
    classes, counts = np.unique(y_own, return_counts=True)
    if len(y_own) < MIN_ROWS_FOR_CV or len(classes) < 2 or counts.min() < 2:
        return None
    n_splits = int(min(folds, counts.min()))
    splits = [split for r in range(max(1, repeats))
              for split in StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
              .split(np.zeros(len(y_own)), y_own)]
    per_fold = {}
    with single_threaded_blas():
        for w, scale in candidates:
            per_fold[(w, scale)] = fold_scores = []
            for tr, te in splits:
                X = _training_matrix(X_corpus, X_own[tr], scale is not None, scale or 1.0)
                y = np.concatenate([y_corpus, y_own[tr]])
                sw = np.concatenate([np.ones(len(y_corpus)), np.full(len(tr), float(w))])
                model = _svc(pipeline).fit(X, y, sample_weight=sw)
                X_te = X_own[te] if scale is None else augment_features(X_own[te], True, scale)
                fold_scores.append(f1_score(y_own[te], model.predict(X_te), average="macro",
                                            zero_division=0))
    return per_fold


def _smallest_within_one_se(per_fold: dict) -> tuple[float, dict]:
    """``(weight, {weight: mean score})``: the smallest weight within one
    standard error (over folds) of the best (:func:`analysis.train.simplest_within_one_se`)."""
    from analysis.train import simplest_within_one_se

    weights = list(per_fold)
    folds = [np.asarray(per_fold[w], dtype=float) for w in weights]
    means = [float(s.mean()) for s in folds]
    ses = [float(s.std(ddof=1) / np.sqrt(len(s))) if len(s) > 1 else 0.0 for s in folds]
    chosen = weights[simplest_within_one_se(means, ses, weights)]
    return chosen, {w: round(m, 4) for w, m in zip(weights, means)}


def train_with_own(task: str, X_corpus, y_corpus, own_texts, own_labels, params=None,
                   seed: int = 0, weight: float | None = None, augment: bool | str = False,
                   augment_scale: float = 1.0, neighbours: float | None = None):
    """A fitted pipeline for ``task`` from precomputed corpus features plus own rows.

    The own weight is cross-validated unless ``weight`` is given; with
    ``augment="cv"`` the cross-validation chooses between the weights and
    feature augmentation (:func:`choose_adaptation`). Returns
    ``(pipeline, info)`` with the weight and the CV scores. Used by the
    learning-curve benchmark and by the dashboard's retrain. With ``augment``
    the own rows are a second domain (Daumé 2007) and the returned pipeline
    labels texts as that domain (its last step is an :class:`AugmentedClassifier`).
    With ``neighbours=share`` the classifier is trained on the corpus alone and
    the own rows vote as neighbours (:class:`NeighbourBlend`).
    """
    from analysis.pipelines import build_pipeline

    pipe = build_pipeline(task, seed=seed).set_params(**(params or {}))
    own_texts, own_labels = list(own_texts), list(own_labels)
    if own_texts and neighbours:
        pipe, info = train_with_own(task, X_corpus, y_corpus, [], [], params, seed=seed)
        with_own_neighbours(pipe, own_texts, own_labels, float(neighbours))
        return pipe, {**info, "own_rows": len(own_texts), "neighbours": float(neighbours)}
    if own_texts:
        X_own = fit_features(pipe, own_texts)
        if augment == "cv":
            (weight, scale), scores = choose_adaptation(pipe, X_corpus, y_corpus, X_own,
                                                        own_labels, seed=seed)
            augment, augment_scale = scale is not None, scale or 1.0
        elif weight is None:
            weight, scores = choose_own_weight(pipe, X_corpus, y_corpus, X_own, own_labels,
                                               seed=seed, augment=augment,
                                               augment_scale=augment_scale)
        else:
            scores = {}
        X = _training_matrix(X_corpus, X_own, augment, augment_scale)
        if augment:
            pipe.steps[-1] = (pipe.steps[-1][0], AugmentedClassifier(pipe[-1], augment_scale))
        y = np.concatenate([np.asarray(y_corpus), np.asarray(own_labels)])
        sw = np.concatenate([np.ones(X_corpus.shape[0]), np.full(len(own_texts), float(weight))])
    else:
        fit_features(pipe, ["warm"])  # fit the stateless steps
        X, y, sw, scores, weight = X_corpus, np.asarray(y_corpus), None, {}, None
    fit_classifier_on_features(pipe, X, y, sw)
    return pipe, {"own_rows": len(own_texts), "own_weight": weight, "own_weight_cv": scores,
                  "augment": bool(augment and own_texts),
                  "augment_scale": float(augment_scale) if augment and own_texts else None}


def cross_validated_predictions(task: str, corpus_texts, corpus_labels, own_texts, own_labels,
                                params=None, weight: float | None = None, folds: int = CV_FOLDS,
                                seed: int = 0):
    """Out-of-fold whole-text predictions for the own rows, or ``None``
    when they are too few to split. Each fold trains on the corpus plus the other folds'
    own rows at ``weight`` (default :data:`DEFAULT_OWN_WEIGHT`)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from analysis.pipelines import build_pipeline

    own_texts, own_labels = list(own_texts), np.asarray(list(own_labels))
    if len(own_texts) < max(folds, 2):
        return None
    counts = np.unique(own_labels, return_counts=True)[1]
    splitter = (StratifiedKFold(folds, shuffle=True, random_state=seed) if counts.min() >= folds
                else KFold(folds, shuffle=True, random_state=seed))
    pipe = build_pipeline(task, seed=seed)
    X_corpus = fit_features(pipe, corpus_texts)
    X_own = fit_features(pipe, own_texts)
    pred = np.empty(len(own_texts), dtype=object)
    w = DEFAULT_OWN_WEIGHT if weight is None else float(weight)
    for tr, te in splitter.split(np.zeros(len(own_texts)), own_labels):
        import scipy.sparse as sp

        model = build_pipeline(task, seed=seed).set_params(**(params or {}))
        fit_features(model, ["warm"])
        X = sp.vstack([X_corpus, X_own[tr]], format="csr")
        y = np.concatenate([np.asarray(corpus_labels), own_labels[tr]])
        sw = np.concatenate([np.ones(X_corpus.shape[0]), np.full(len(tr), w)])
        fit_classifier_on_features(model, X, y, sw)
        pred[te] = model[-1].predict(X_own[te])
    return [str(p) for p in pred]
