"""Feature blocks from the shipped word vectors: what they compute, that a model
using them saves and loads whole, and that they refuse other vectors. No shared
data needed: training uses the small fixture corpus in tests/fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis import pipelines, word_vectors
from analysis.features import Tokenizer
from analysis.labeller import Labeller
from analysis.train import train_models
from analysis.vector_features import WordClusters, WordVectorMeans

MINI = Path(__file__).resolve().parent / "fixtures" / "mini_corpus.csv"


def rows(block, texts):
    return block.transform(Tokenizer().transform(texts)).toarray()


def test_mean_vectors_are_unit_rows_scaled_by_weight_and_mean_what_the_words_mean():
    block = WordVectorMeans(weight=2.0).fit()
    X = rows(block, ["the flight was delayed five hours", "my plane was late by 5 hrs",
                     "the agent was rude to me", "", "!!! 123"])
    assert X.shape == (5, 2 * word_vectors.dimensions())
    assert np.allclose(np.linalg.norm(X[:3], axis=1), 2.0, atol=1e-4)
    assert not X[3:].any()  # no words: a zero row, not NaN
    unit = X[:3] / 2.0
    # two ways to say "late" are closer to each other than to rudeness
    assert unit[0] @ unit[1] > unit[0] @ unit[2] + 0.15


def test_negated_words_fill_the_second_copy_unless_dropped():
    d = word_vectors.dimensions()
    split = rows(WordVectorMeans().fit(), ["helpful", "not helpful"])
    assert split[0, :d].any() and not split[0, d:].any()
    assert split[1, d:].any()  # "helpful" in a negation scope
    dropped = rows(WordVectorMeans(negation="drop").fit(), ["helpful", "not helpful"])
    assert dropped.shape == (2, d)
    assert dropped[0] @ dropped[1] > 0.5  # read as if not negated


def test_a_row_does_not_depend_on_the_batch():
    block = WordVectorMeans(dims=64).fit()
    alone = rows(block, ["lost my bag at the gate"])
    batch = rows(block, ["refund please", "lost my bag at the gate", "thanks!"])
    assert np.allclose(alone[0], batch[1], atol=1e-6)
    clusters = WordClusters(n_clusters=64).fit()
    assert np.allclose(rows(clusters, ["lost my bag at the gate"])[0],
                       rows(clusters, ["ok", "lost my bag at the gate"])[1])


def test_word_clusters_put_synonyms_in_one_column_and_negation_in_another():
    block = WordClusters(n_clusters=256).fit()
    X = rows(block, ["late", "delayed", "not late", "luggage"])
    assert X.shape == (4, 512)
    col = [int(np.flatnonzero(r)[-1]) for r in X]
    assert col[0] == col[1]  # "late" and "delayed" share a cluster
    assert col[2] == col[0] + 256  # "NEG_late": the same cluster's second copy
    assert col[3] != col[0]
    # the clusters are fitted with a fixed seed: the same every time
    assert np.array_equal(WordClusters(n_clusters=256).fit().centroids_, block.centroids_)


def test_a_model_with_the_block_saves_loads_and_labels(tmp_path, monkeypatch):
    monkeypatch.setattr(pipelines, "WORD_VECTOR_WEIGHT", 1.0)
    monkeypatch.setattr(pipelines, "WORD_VECTOR_DIMS", 32)
    version = train_models([MINI], out_dir=tmp_path, seed=0,
                           fixed_params={t: {"clf__estimator__C": 0.3}
                                         for t in ("sentiment", "theme")})
    labeller = Labeller.load([tmp_path])  # through the skops allow-list
    assert labeller.version == version
    names = [n for n, _ in labeller.pipelines["theme"].named_steps["features"].transformer_list]
    assert names == ["words", "chars", "lexicon", "vectors"]
    out = labeller.label(["The agent was rude and the refund took weeks", "great, thanks"])
    assert [c.sentiment for c in out][1] == "positive"
    assert all(abs(sum(c.theme_probs.values()) - 1) < 1e-6 for c in out)


def test_a_model_fitted_on_other_vectors_is_refused(monkeypatch):
    block = WordVectorMeans().fit()
    monkeypatch.setattr(block, "vectors_digest_", "0" * 16)
    with pytest.raises(ValueError, match="other word vectors"):
        rows(block, ["late again"])


def test_the_default_pipeline_leaves_the_block_out():
    # measured on the tuning halves and not adopted (MODEL_CARD.md, "Word-vector features")
    names = [n for n, _ in pipelines.build_features().transformer_list]
    assert names == ["words", "chars", "lexicon"]


def test_mean_norm_is_the_token_mean_so_a_linear_model_can_fold_it_per_token():
    d = word_vectors.dimensions()
    block = WordVectorMeans(norm="mean", negation="drop").fit()
    X = rows(block, ["late", "late late", "late refund"])
    one = rows(block, ["refund"])[0]
    assert np.allclose(X[0], X[1], atol=1e-6)  # a repeated word does not change the mean
    assert np.allclose(X[2], (X[0] + one) / 2, atol=1e-6)
    assert X.shape == (3, d)
