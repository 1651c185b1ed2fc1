"""Word vectors from the run's own clauses, and clauses placed on pain points by them (made-up clauses only)."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from analysis import painpoint_vectors as vectors
from analysis.complaint_terms import ClauseTokens, tokens

VOCABULARY = np.array(["delay", "late", "gate", "hour", "bag", "lost", "claim", "belt"])
# Delays are said with "gate" and "hour", lost bags with "claim" and "belt": "delay" and "late"
# are never said together, yet they keep the same company.
CLAUSES = (
    [["delay", "gate", "hour"]] * 6 + [["late", "gate", "hour"]] * 6 + [["delay", "gate"]] * 3 + [["late", "hour"]] * 3
    + [["bag", "lost", "claim"]] * 6 + [["bag", "claim", "belt"]] * 4 + [["lost", "belt"]] * 3
)


def matrix_of(clauses):
    index = {w: k for k, w in enumerate(VOCABULARY)}
    rows = [r for r, words in enumerate(clauses) for _ in words]
    cols = [index[w] for words in clauses for w in words]
    return sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                             shape=(len(clauses), len(VOCABULARY)))


def learnt(clauses=CLAUSES):
    matrix = matrix_of(clauses)
    df = np.asarray(matrix.sum(axis=0)).ravel()
    cooc = vectors.Cooccurrence(VOCABULARY, df)
    cooc.add_matrix(matrix[:, cooc.columns])
    return matrix, cooc, cooc.vectors()


def similarity(cooc, vecs, a, b):
    return float(vecs[cooc.index[a]] @ vecs[cooc.index[b]])


def test_words_said_in_the_same_company_are_close_though_never_said_together():
    _, cooc, vecs = learnt()
    assert similarity(cooc, vecs, "delay", "late") > 0.8
    assert similarity(cooc, vecs, "delay", "late") > similarity(cooc, vecs, "delay", "bag") + 0.5
    assert similarity(cooc, vecs, "lost", "belt") > similarity(cooc, vecs, "lost", "gate")


def test_background_clauses_given_as_words_count_like_the_negative_ones():
    matrix = matrix_of(CLAUSES)
    df = np.asarray(matrix.sum(axis=0)).ravel()
    by_words = vectors.Cooccurrence(VOCABULARY, df)
    by_words.add_units(CLAUSES + [["unknown", "words"]])
    by_matrix = vectors.Cooccurrence(VOCABULARY, df)
    by_matrix.add_matrix(matrix)
    assert np.array_equal(by_words.counts, by_matrix.counts)


def test_a_clause_joins_the_group_it_says_in_other_words_and_the_result_is_deterministic():
    clauses = CLAUSES + [["late"], ["belt"]]
    matrix, cooc, vecs = learnt(clauses)
    z = np.full(len(VOCABULARY), 3.0)
    weights = vectors.word_weights(cooc, z, np.full(len(VOCABULARY), 1.0), min_delta=0.5)
    delays = [i for i, words in enumerate(clauses) if "delay" in words]   # seeded by "delay" only
    bags = [i for i, words in enumerate(clauses) if "bag" in words]        # seeded by "bag" only
    groups, owns = vectors.refine([delays, bags], [{0}, {1}], matrix, cooc, weights, vecs)
    late_alone, belt_alone = len(clauses) - 2, len(clauses) - 1
    assert late_alone in groups[0] and late_alone not in groups[1]
    assert belt_alone in groups[1] and belt_alone not in groups[0]
    assert owns == [{0}, {1}]
    again = vectors.refine([delays, bags], [{0}, {1}], matrix, cooc, weights, learnt(clauses)[2])
    assert again == (groups, owns)


def test_a_word_said_as_often_outside_complaints_weighs_nothing():
    _, cooc, _ = learnt()
    z = np.full(len(VOCABULARY), 3.0)
    delta = np.where(VOCABULARY == "gate", 0.1, 1.0)
    weights = vectors.word_weights(cooc, z, delta, min_delta=0.5)
    assert weights[cooc.index["gate"]] == 0.0 and weights[cooc.index["delay"]] == 3.0


def test_too_few_words_give_no_vectors_and_groups_stay_as_they_are():
    matrix = matrix_of([["delay", "gate"], ["delay", "gate"], ["delay", "gate"]])
    df = np.asarray(matrix.sum(axis=0)).ravel()
    cooc = vectors.Cooccurrence(VOCABULARY, df)
    cooc.add_matrix(matrix[:, cooc.columns])
    vecs = cooc.vectors()
    assert vecs.shape[1] == 1
    assert vectors.refine([[0, 1, 2]], [{0}], matrix, cooc, np.ones(len(cooc.columns)), vecs) == ([[0, 1, 2]], [{0}])


def test_clause_tokens_are_computed_when_asked():
    texts = ["@skylark Nobody called me back", "Lost my bag at https://x.co/1 #fail"]
    lazy = ClauseTokens(texts)
    assert len(lazy) == 2
    assert lazy[1] == tokens(texts[1]) == ["lost", "my", "bag", "at", "fail"]
    assert lazy[0:2] == [tokens(t) for t in texts]
