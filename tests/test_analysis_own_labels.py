"""The team's own labels weigh more than the corpus (analysis.own_labels), on the fixture corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.corpus import load_corpus
from analysis.own_labels import DEFAULT_OWN_WEIGHT, choose_own_weight, fit_features, train_with_own
from analysis.pipelines import build_pipeline
from analysis.train import train_models

MINI = Path(__file__).resolve().parent / "fixtures" / "mini_corpus.csv"
SHIFT = {"service": "care", "care": "other", "other": "service"}


def team_rows(corpus, tag: str):
    """Own labels that disagree with the corpus: corpus-like texts of one team, every theme shifted.

    Only a model that weighs these rows above the corpus learns the team's convention.
    """
    texts = [f"{text} at the {tag} depot" for text in corpus.texts]
    return texts, [SHIFT[t] for t in corpus.theme]


def team_setting():
    """``(corpus, corpus features, own texts, own labels, new texts, their labels)`` on the fixture."""
    corpus = load_corpus([MINI])
    X = fit_features(build_pipeline("theme"), corpus.texts)
    texts, labels = team_rows(corpus, "Leeds")
    new_texts, new_labels = team_rows(corpus, "Hull")  # unseen comments of the same team
    return corpus, X, texts, labels, new_texts, new_labels


def test_cross_validation_picks_a_weight_above_one_when_own_labels_disagree():
    corpus = load_corpus([MINI])
    pipe = build_pipeline("theme")
    texts, labels = team_rows(corpus, "Leeds")
    weight, scores = choose_own_weight(pipe, fit_features(pipe, corpus.texts), corpus.theme,
                                       fit_features(pipe, texts), labels)
    assert set(scores) == {1.0, 3.0, 10.0, 30.0}
    assert weight > 1.0 and scores[weight] > scores[1.0]
    # the smallest weight within one standard error of the best: nothing smaller scores as well
    assert all(scores[w] < scores[weight] for w in scores if w < weight)


def test_a_larger_weight_must_win_by_more_than_its_standard_error():
    from analysis.own_labels import _smallest_within_one_se

    # weight 10's mean is higher, but by less than its spread over folds: weight 1 stays
    noisy = {1.0: [0.60, 0.62, 0.58, 0.61, 0.59, 0.60], 10.0: [0.70, 0.52, 0.66, 0.55, 0.68, 0.53]}
    assert _smallest_within_one_se(noisy)[0] == 1.0
    # a clear, steady gain chooses the larger weight
    clear = {1.0: [0.60, 0.62, 0.58, 0.61, 0.59, 0.60], 10.0: [0.72, 0.74, 0.71, 0.73, 0.72, 0.74],
             30.0: [0.73, 0.70, 0.74, 0.72, 0.73, 0.72]}
    weight, means = _smallest_within_one_se(clear)
    assert weight == 10.0 and means == {1.0: 0.6, 10.0: 0.7267, 30.0: 0.7233}


def test_too_few_own_labels_fall_back_to_the_default_weight():
    corpus = load_corpus([MINI])
    pipe = build_pipeline("theme")
    X = fit_features(pipe, corpus.texts)
    assert choose_own_weight(pipe, X, corpus.theme, X[:5], corpus.theme[:5]) == (DEFAULT_OWN_WEIGHT, {})
    one_class = fit_features(pipe, ["slow refund"] * 30)
    assert choose_own_weight(pipe, X, corpus.theme, one_class, ["service"] * 30) == (DEFAULT_OWN_WEIGHT, {})


def test_weighted_own_labels_move_the_model_where_weight_one_does_not():
    corpus, X, texts, labels, new_texts, new_labels = team_setting()

    def agreement(model):
        return float(np.mean(model.predict(new_texts) == np.array(new_labels)))

    plain, info_plain = train_with_own("theme", X, corpus.theme, texts, labels, weight=1.0)
    weighted, info = train_with_own("theme", X, corpus.theme, texts, labels)
    assert info_plain["own_weight"] == 1.0 and info["own_weight"] > 1.0 and info["own_rows"] == 36
    # weight 1: the corpus drowns the team's 36 labels; the chosen weight learns their convention
    assert agreement(plain) < 0.2
    assert agreement(weighted) >= 0.6


def test_feature_augmentation_learns_the_team_convention_at_weight_one():
    # Daume 2007: the own-domain copy of each feature lets 36 labels override the corpus
    corpus, X, texts, labels, new_texts, new_labels = team_setting()
    model, info = train_with_own("theme", X, corpus.theme, texts, labels, weight=1.0, augment=True)
    assert info["augment"] and info["own_weight"] == 1.0
    assert float(np.mean(model.predict(new_texts) == np.array(new_labels))) >= 0.6
    probs = model.predict_proba(new_texts)
    assert probs.shape == (len(new_texts), 3) and np.allclose(probs.sum(1), 1.0)
    # without own rows there is nothing to augment: the plain pipeline comes back
    plain, info = train_with_own("theme", X, corpus.theme, [], [], augment=True)
    assert not info["augment"] and type(plain[-1]).__name__ == "CalibratedClassifierCV"


def test_a_scaled_own_domain_copy_is_the_same_in_training_and_prediction():
    import scipy.sparse as sp

    from analysis.own_labels import AugmentedClassifier, augment_features

    X = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]))
    assert np.array_equal(augment_features(X, True, 0.5).toarray(),
                          [[1, 0, 2, 0.5, 0, 1], [0, 3, 0, 0, 1.5, 0]])
    assert np.array_equal(augment_features(X, False, 0.5).toarray()[:, 3:], np.zeros((2, 3)))
    corpus = load_corpus([MINI])
    pipe = build_pipeline("theme")
    Xc = fit_features(pipe, corpus.texts)
    texts, labels = team_rows(corpus, "Leeds")
    model, info = train_with_own("theme", Xc, corpus.theme, texts, labels, weight=1.0,
                                 augment=True, augment_scale=0.3)
    clf = model[-1]
    assert isinstance(clf, AugmentedClassifier) and clf.scale == 0.3 and info["augment_scale"] == 0.3
    # prediction adds the own-domain copy at the scale it was trained with
    X_new = fit_features(pipe, texts[:4])
    assert np.array_equal(clf.predict(X_new),
                          clf.fitted_.predict(augment_features(X_new, True, 0.3)))
    # a smaller copy moves the model less than the full one (a tighter prior)
    full, _ = train_with_own("theme", Xc, corpus.theme, texts, labels, weight=1.0, augment=True)
    own_part = lambda m: np.abs(m[-1].fitted_.calibrated_classifiers_[0].estimator.coef_[:, Xc.shape[1]:]).sum()  # noqa: E731
    assert own_part(model) * 0.3 < own_part(full)


def test_cross_validation_chooses_augmentation_only_when_it_wins_by_more_than_its_noise(monkeypatch):
    from analysis import own_labels

    steady = [0.60, 0.62, 0.58, 0.61, 0.59, 0.60]

    def fake_scores(aug_scores):
        def scores(pipeline, Xc, yc, Xo, yo, candidates, folds, seed, repeats):
            return {c: (aug_scores if c[1] == 0.3 else steady) for c in candidates}
        return scores

    pipe = build_pipeline("theme")
    # augmentation's mean is higher but within one standard error: the plain weight 1 stays
    monkeypatch.setattr(own_labels, "_cv_scores",
                        fake_scores([0.70, 0.52, 0.66, 0.55, 0.68, 0.53]))
    chosen, means = own_labels.choose_adaptation(pipe, None, None, None, None)
    assert chosen == (1.0, None) and set(means) == {"weight 1", "weight 3", "weight 10",
                                                    "weight 30", "augment 0.1", "augment 0.3"}
    # a clear, steady gain chooses augmentation at its scale
    monkeypatch.setattr(own_labels, "_cv_scores",
                        fake_scores([0.72, 0.74, 0.71, 0.73, 0.72, 0.74]))
    assert own_labels.choose_adaptation(pipe, None, None, None, None)[0] == (1.0, 0.3)


def test_train_with_own_lets_the_cross_validation_choose_weights_or_augmentation():
    from analysis.own_labels import AugmentedClassifier

    corpus, X, texts, labels, new_texts, new_labels = team_setting()
    model, info = train_with_own("theme", X, corpus.theme, texts, labels, augment="cv")
    assert set(info["own_weight_cv"]) >= {"weight 1", "augment 0.1", "augment 0.3"}
    # weight 1 cannot learn a convention that disagrees with the corpus: something else wins
    chosen = f"augment {info['augment_scale']:g}" if info["augment"] else f"weight {info['own_weight']:g}"
    assert chosen != "weight 1"
    assert info["own_weight_cv"][chosen] == max(info["own_weight_cv"].values()) or \
        info["own_weight_cv"][chosen] > info["own_weight_cv"]["weight 1"]
    assert isinstance(model[-1], AugmentedClassifier) == info["augment"]
    assert float(np.mean(model.predict(new_texts) == np.array(new_labels))) >= 0.6


def test_own_rows_as_neighbours_move_only_the_texts_that_resemble_them():
    from analysis.own_labels import NeighbourBlend

    corpus, X, texts, labels, new_texts, new_labels = team_setting()
    corpus_only, _ = train_with_own("theme", X, corpus.theme, [], [])
    model, info = train_with_own("theme", X, corpus.theme, texts, labels, neighbours=0.6)
    blend = model[-1]
    assert isinstance(blend, NeighbourBlend) and info["neighbours"] == 0.6 and info["own_rows"] == 36
    assert blend.columns == 2**18  # the hashed word and character n-grams, not the lexicon block

    def agreement(m):
        return float(np.mean(m.predict(new_texts) == np.array(new_labels)))

    # the classifier is the corpus's; the team's similar comments are pulled towards its labels
    assert agreement(model) > agreement(corpus_only)
    probs = model.predict_proba(new_texts)
    assert probs.shape == (len(new_texts), 3) and np.allclose(probs.sum(1), 1.0)
    # a text sharing no n-gram with any own row keeps the corpus model's probabilities
    unlike = ["zzqx"]
    assert np.allclose(model.predict_proba(unlike), corpus_only.predict_proba(unlike))
    # the vote is the similarity-weighted share of the nearest own rows' labels
    pipe = build_pipeline("theme")
    X_own = fit_features(pipe, texts)
    vote = blend.neighbour_vote(fit_features(pipe, texts[:1]))
    assert vote[0, list(blend.classes_).index(labels[0])] == vote.max() and np.isclose(vote.sum(), 1)
    zero = NeighbourBlend(corpus_only[-1], 0.0, columns=blend.columns).fit(X_own, labels)
    X_new = fit_features(pipe, new_texts)
    assert np.allclose(zero.predict_proba(X_new), corpus_only[-1].predict_proba(X_new))


def test_the_neighbour_search_on_unsure_texts_only_gives_every_text_the_full_blends_label():
    import copy

    from analysis.own_labels import with_own_neighbours

    corpus, X, texts, labels, new_texts, new_labels = team_setting()
    corpus_only, _ = train_with_own("theme", X, corpus.theme, [], [])
    full = with_own_neighbours(copy.deepcopy(corpus_only), texts, labels, share=0.45)
    unsure = with_own_neighbours(copy.deepcopy(corpus_only), texts, labels, share=0.45,
                                 unsure_only=True)
    p_corpus, p_full, p_unsure = (m.predict_proba(new_texts) for m in (corpus_only, full, unsure))
    assert np.array_equal(p_full.argmax(1), p_unsure.argmax(1))
    assert (p_full.argmax(1) != p_corpus.argmax(1)).any()  # the vote did change some labels
    # a text the vote cannot move keeps the corpus model's probabilities, the others are blended
    top = np.sort(p_corpus, axis=1)
    sure = top[:, -1] - top[:, -2] >= 0.45 / 0.55
    assert sure.any() and (~sure).any()
    assert np.allclose(p_unsure[sure], p_corpus[sure]) and np.allclose(p_unsure[~sure], p_full[~sure])
    # the similarity can be measured on the word n-grams alone (the first block)
    words = with_own_neighbours(copy.deepcopy(corpus_only), texts, labels, blocks=("words",))
    assert words[-1].columns == 2**17 and words[-1].own_.shape[1] == X.shape[1]
    assert words[-1].own_[:, 2**17:].nnz == 0


def test_an_own_rows_model_folded_into_the_corpus_svm_moves_the_teams_comments_at_no_cost(tmp_path):
    import copy

    from analysis.model_store import load_pipeline, save_pipeline
    from analysis.own_labels import fold_own_model

    corpus, X, texts, labels, new_texts, new_labels = team_setting()
    corpus_only, _ = train_with_own("theme", X, corpus.theme, [], [])
    folded = copy.deepcopy(corpus_only)
    assert fold_own_model(folded, texts, labels, alpha=1.0, C=1.0)

    def agreement(m):
        return float(np.mean(m.predict(new_texts) == np.array(new_labels)))

    assert agreement(folded) > agreement(corpus_only)
    probs = folded.predict_proba(new_texts)
    assert np.allclose(probs.sum(1), 1.0)
    # the same pipeline, only other weights: it saves and loads with no new type allowed
    save_pipeline(folded, tmp_path / "theme.skops")
    assert np.allclose(load_pipeline(tmp_path / "theme.skops").predict_proba(new_texts), probs)
    # own rows without every class leave the model as it was
    two = [(t, lab) for t, lab in zip(texts, labels) if lab != "other"]
    same = copy.deepcopy(corpus_only)
    assert not fold_own_model(same, [t for t, _ in two], [lab for _, lab in two])
    assert np.array_equal(same.predict_proba(new_texts), corpus_only.predict_proba(new_texts))


def test_the_corrected_paired_test_needs_a_gain_larger_than_the_folds_overlap_allows():
    from scipy.stats import ttest_1samp

    from analysis.own_labels import corrected_paired_p

    # a small gain with spread: the plain t-test calls it significant, the corrected one does
    # not (the folds of repeated CV share most of their training rows, so they are not independent)
    rng = np.random.default_rng(0)
    noisy = 0.01 + 0.05 * rng.standard_normal(50)
    assert ttest_1samp(noisy, 0.0, alternative="greater").pvalue < 0.05
    assert corrected_paired_p(noisy, test_fraction=0.2) > 0.05
    # a steady gain passes; no gain, a loss, or one fold never does
    assert corrected_paired_p(0.10 + 0.01 * rng.standard_normal(50), 0.2) < 0.001
    assert corrected_paired_p([0.0] * 10, 0.2) == 1.0
    assert corrected_paired_p(-0.05 + 0.01 * rng.standard_normal(50), 0.2) > 0.99
    assert corrected_paired_p([0.3], 0.2) == 1.0


def test_the_own_model_is_folded_in_only_when_the_cross_validation_shows_a_real_gain():
    import copy

    from analysis.own_labels import choose_fold

    corpus, X, texts, labels, new_texts, new_labels = team_setting()
    corpus_only, _ = train_with_own("theme", X, corpus.theme, [], [])
    pipe = copy.deepcopy(corpus_only)
    X_own = pipe[:-1].transform(texts)
    # a team whose convention differs from the corpus: folding wins in every fold
    chosen, info = choose_fold(pipe, X_own, labels, seed=0)
    assert chosen is not None and info["gain"][f"{chosen[0]:g}/{chosen[1]:g}"] > 0.3
    assert info["p"][f"{chosen[0]:g}/{chosen[1]:g}"] < 0.05 / len(info["p"])
    # the search leaves the corpus model as it was
    assert np.array_equal(pipe.predict_proba(new_texts), corpus_only.predict_proba(new_texts))
    # a team that labels as the corpus does: nothing to gain, nothing is folded
    same_texts = [f"{t} at the Leeds depot" for t in corpus.texts]
    chosen, info = choose_fold(pipe, pipe[:-1].transform(same_texts), corpus.theme, seed=0)
    assert chosen is None and max(info["gain"].values()) <= 0.05
    # a class with a single own row: no fold can be trained on every class
    few = [k for k, lab in enumerate(labels) if lab != "other"] + [labels.index("other")]
    chosen, info = choose_fold(pipe, X_own[few], [labels[k] for k in few])
    assert chosen is None and "fewer than 2" in info["reason"]


def test_a_model_of_the_corpus_models_errors_folds_in_at_no_cost():
    import copy

    from analysis.own_labels import fold_own_model, fold_own_residual

    corpus, X, texts, labels, new_texts, new_labels = team_setting()
    corpus_only, _ = train_with_own("theme", X, corpus.theme, [], [])
    residual = copy.deepcopy(corpus_only)
    assert fold_own_residual(residual, texts, labels)
    agreement = lambda m: float(np.mean(m.predict(new_texts) == np.array(new_labels)))  # noqa: E731
    assert agreement(corpus_only) < 0.2 and agreement(residual) >= 0.6
    svms = lambda m: [c.estimator for c in m[-1].calibrated_classifiers_]  # noqa: E731
    assert [s.coef_.shape for s in svms(residual)] == [s.coef_.shape for s in svms(corpus_only)]
    two = [(t, lab) for t, lab in zip(texts, labels) if lab != "other"]
    same = copy.deepcopy(corpus_only)
    assert not fold_own_residual(same, [t for t, _ in two], [lab for _, lab in two])
    # an own SVM of the word n-grams only leaves the corpus's other weights as they were
    words = copy.deepcopy(corpus_only)
    assert fold_own_model(words, texts, labels, alpha=1.0, C=1.0, blocks=("words",))
    for before, after in zip(svms(corpus_only), svms(words)):
        assert np.array_equal(before.coef_[:, 2**17:], after.coef_[:, 2**17:])
        assert not np.array_equal(before.coef_[:, :2**17], after.coef_[:, :2**17])


def test_training_records_the_cross_validated_own_weight(tmp_path):
    corpus = load_corpus([MINI])
    texts, labels = team_rows(corpus, "Leeds")
    version = train_models([MINI], extra_labeled=[(t, "theme", lab) for t, lab in zip(texts, labels)],
                           out_dir=tmp_path, seed=0)
    meta = json.loads((tmp_path / f"{version}.json").read_text())
    theme = meta["metrics"]["theme"]
    cv = theme["own_weight_cv"]
    assert theme["own_weight"] > 1.0 and set(cv) == {"1.0", "3.0", "10.0", "30.0"}
    assert cv[str(theme["own_weight"])] > cv["1.0"]
    assert meta["metrics"]["sentiment"]["own_weight"] is None  # no own sentiment labels


# --------------------------------------------------------------------------- #
# the score band (analysis.score_band)
# --------------------------------------------------------------------------- #
def test_score_band_tilts_only_uncertain_comments_and_keeps_unscored_ones():
    import pytest

    from analysis.score_band import combine

    probs = np.array([[0.40, 0.35, 0.25],   # unsure text, detractor -> negative firmer
                      [0.40, 0.20, 0.40],   # a tie, promoter -> positive
                      [0.90, 0.05, 0.05],   # a clear complaint from a promoter stays negative
                      [0.30, 0.40, 0.30]])  # no score: unchanged
    out = combine(probs, ["negative", "positive", "positive", None], weight=0.5)
    assert np.allclose(out.sum(1), 1.0)
    assert out[0, 0] > probs[0, 0] and out[1].argmax() == 2 and out[2].argmax() == 0
    assert np.array_equal(out[3], probs[3])
    assert np.array_equal(combine(probs, ["negative"] * 4, weight=0), probs)
    with pytest.raises(ValueError, match="unknown score band"):
        combine(probs[:1], ["detractor"])
    with pytest.raises(ValueError, match="4 probability rows but 1 bands"):
        combine(probs, ["negative"])


def test_score_band_changes_the_comment_sentiment_but_never_a_clause():
    from analysis.labeller import ClauseLabels, CommentLabels
    from analysis.score_band import with_score_bands

    s = {"negative": 0.45, "neutral": 0.15, "positive": 0.40}
    t = {"service": 0.6, "care": 0.3, "other": 0.1}
    clauses = [ClauseLabels("great engineer", "positive", {"negative": 0.1, "neutral": 0.1, "positive": 0.8},
                            "service", t),
               ClauseLabels("but the bill was wrong", "negative", {"negative": 0.8, "neutral": 0.1, "positive": 0.1},
                            "service", t)]
    comment = CommentLabels("negative", 0.45, s, "service", 0.6, t, clauses)
    (promoter,) = with_score_bands([comment], ["positive"], weight=1.0)
    assert promoter.sentiment == "positive" and abs(sum(promoter.sentiment_probs.values()) - 1) < 1e-9
    assert promoter.clauses == clauses  # the promoter's one complaint still counts as a negative clause
    assert promoter.theme == "service" and comment.sentiment == "negative"  # the input is not changed
    assert with_score_bands([comment], [None])[0].sentiment == "negative"


def test_the_corpus_svm_refit_around_its_own_weights_learns_the_team_and_keeps_its_shape():
    import copy

    from analysis.own_labels import fold_own_prior

    corpus, X, texts, labels, new_texts, new_labels = team_setting()
    corpus_only, _ = train_with_own("theme", X, corpus.theme, [], [])
    agreement = lambda m: float(np.mean(m.predict(new_texts) == np.array(new_labels)))  # noqa: E731
    svms = lambda m: [c.estimator for c in m[-1].calibrated_classifiers_]  # noqa: E731
    prior = copy.deepcopy(corpus_only)
    assert fold_own_prior(prior, texts, labels, C=1.0)
    assert agreement(corpus_only) < 0.2 and agreement(prior) >= 0.6
    assert [s.coef_.shape for s in svms(prior)] == [s.coef_.shape for s in svms(corpus_only)]
    # only the columns the own rows use move, by the same shift in every calibrated SVM
    shifts = [a.coef_ - b.coef_ for a, b in zip(svms(prior), svms(corpus_only))]
    used = np.unique(prior[:-1].transform(texts).indices)
    unused = np.setdiff1d(np.arange(shifts[0].shape[1]), used)
    assert not np.any(shifts[0][:, unused]) and np.any(shifts[0][:, used])
    assert all(np.allclose(s, shifts[0]) for s in shifts)
    # C is how far the team may pull the corpus model: a tighter prior moves it less
    tight = copy.deepcopy(corpus_only)
    assert fold_own_prior(tight, texts, labels, C=0.01)
    tight_shift = svms(tight)[0].coef_ - svms(corpus_only)[0].coef_
    assert 0 < np.linalg.norm(tight_shift) < 0.5 * np.linalg.norm(shifts[0])
    # "fixed" keeps the corpus's intercepts; "free" moves them further than "penalised"
    fixed, free = copy.deepcopy(corpus_only), copy.deepcopy(corpus_only)
    assert fold_own_prior(fixed, texts, labels, intercept="fixed")
    assert fold_own_prior(free, texts, labels, intercept="free")
    corpus_b = svms(corpus_only)[0].intercept_
    moved = lambda m: np.abs(svms(m)[0].intercept_ - corpus_b).sum()  # noqa: E731
    assert moved(fixed) == 0 and moved(free) > moved(prior) > 0
    with pytest.raises(ValueError, match="intercept must be one of"):
        fold_own_prior(copy.deepcopy(corpus_only), texts, labels, intercept="loose")
    # own rows without every class leave the model as it was
    two = [(t, lab) for t, lab in zip(texts, labels) if lab != "other"]
    same = copy.deepcopy(corpus_only)
    assert not fold_own_prior(same, [t for t, _ in two], [lab for _, lab in two])


def test_the_own_svm_can_be_folded_in_without_its_intercepts():
    import copy

    from analysis.own_labels import fold_own_model

    corpus, X, texts, labels, new_texts, new_labels = team_setting()
    corpus_only, _ = train_with_own("theme", X, corpus.theme, [], [])
    svms = lambda m: [c.estimator for c in m[-1].calibrated_classifiers_]  # noqa: E731
    weights_only, whole = copy.deepcopy(corpus_only), copy.deepcopy(corpus_only)
    assert fold_own_model(weights_only, texts, labels, alpha=1.0, C=1.0, intercept=False)
    assert fold_own_model(whole, texts, labels, alpha=1.0, C=1.0)
    for before, a, b in zip(svms(corpus_only), svms(weights_only), svms(whole)):
        assert np.array_equal(a.intercept_, before.intercept_)
        assert not np.array_equal(b.intercept_, before.intercept_)
        assert np.array_equal(a.coef_, b.coef_) and not np.array_equal(a.coef_, before.coef_)
