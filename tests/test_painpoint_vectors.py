"""Word vectors from the run's own clauses, and clauses placed on pain points by them (made-up clauses only)."""

from __future__ import annotations

import numpy as np
import pytest
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


def test_stems_are_read_as_the_shortest_word_written():
    from analysis.complaint_terms import stem, surface

    for word in ("services", "service", "delayed", "delays", "delay"):
        stem(word)
    assert surface(stem("services")) == "service"
    assert surface(stem("delayed")) == "delay"
    assert surface("neverseenstem") == "neverseenstem"


def _suitcase_matrix():
    """Columns "bag", "luggag", "refund" and their own context words; the three are never said together."""
    from analysis.complaint_terms import stem

    for word in ("bag", "luggage", "refund"):
        stem(word)  # the written forms the pretrained vectors read
    vocabulary = np.array(["bag", "luggag", "refund", "belt", "astray", "money"])
    clauses = [[0, 3]] * 8 + [[1, 4]] * 8 + [[2, 5]] * 8
    rows = [r for r, cols in enumerate(clauses) for _ in cols]
    cols = [c for cs in clauses for c in cs]
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(clauses), 6))
    return vocabulary, matrix


def test_seed_words_meaning_the_same_start_as_one_group_though_the_data_never_joins_them(monkeypatch):
    from analysis.painpoint_groups import anchor_groups

    vocabulary, matrix = _suitcase_matrix()
    anchors = [0, 1, 2]
    similar = vectors.anchor_similarity(vocabulary, anchors)
    assert similar[0, 1] > 0.2 and similar[0, 2] == 0.0 and similar[1, 2] == 0.0
    assert anchor_groups(matrix[:, anchors], matrix, similar) == [[0, 1], [2]]
    assert anchor_groups(matrix[:, anchors], matrix) == [[0], [1], [2]]   # the run's own data alone

    monkeypatch.setattr(vectors, "_pretrained", lambda words: None)      # a stripped install: no shipped vectors
    assert vectors.anchor_similarity(vocabulary, anchors) is None


def test_blended_vectors_weigh_the_pretrained_and_the_runs_own_cosines_by_their_shares(monkeypatch):
    from analysis.complaint_terms import stem

    for word in ("delay", "late", "gate", "hour", "bag", "lost", "claim", "belt"):
        stem(word)
    def counted():  # vectors() spends the counts: a fresh count each time
        matrix = matrix_of(CLAUSES)
        cooc = vectors.Cooccurrence(VOCABULARY, np.asarray(matrix.sum(axis=0)).ravel())
        cooc.add_matrix(matrix[:, cooc.columns])
        return cooc

    _, cooc, own = learnt()
    shipped = vectors.blended_vectors(cooc, VOCABULARY, share=1.0)
    cooc = counted()
    half = vectors.blended_vectors(cooc, VOCABULARY, share=0.5)
    a, b = cooc.index["delay"], cooc.index["late"]
    assert float(half[a] @ half[b]) == pytest.approx(0.5 * float(shipped[a] @ shipped[b]) + 0.5 * float(own[a] @ own[b]),
                                                     abs=1e-5)
    assert np.allclose(np.linalg.norm(half, axis=1), 1.0, atol=1e-5)

    monkeypatch.setattr(vectors, "_pretrained", lambda words: None)
    assert np.allclose(vectors.blended_vectors(counted(), VOCABULARY), own)


def test_a_stems_pretrained_form_does_not_depend_on_what_was_stemmed_before():
    # The shortest form seen was a process-wide memory: a survey analysed earlier in the same process
    # ("attend" said there, "attendants" here) changed this survey's vectors and so its pain points.
    from analysis.complaint_terms import stem

    vectors._vocabulary_forms.cache_clear()
    before = vectors._said("cancel servic")
    for word in ("canceling", "cancels", "servicings", "serviced", "servic"):
        stem(word)
    assert vectors._said("cancel servic") == before == "cancel service"
    assert vectors._said("neverseenstemxq") == "neverseenstemxq"   # not a word of the vectors: as seen



def test_a_groups_centre_leaves_out_how_long_so_a_bare_duration_joins_no_group():
    # "hold" and "delay" seed two groups; "hour" is said with holds ("an hour on hold"). With "hour" in the
    # hold queue's centre, "two hours" alone joined the hold queue: how long, taken for what.
    class Words:  # three vector words, one per column
        columns = np.arange(3)

    words = np.eye(3, dtype=np.float32)          # hold, delay, hour: unrelated
    said = [[0, 2]] * 8 + [[1]] * 8 + [[2]] + [[1, 2]]
    rows = [r for r, cols in enumerate(said) for _ in cols]
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, [c for cs in said for c in cs])),
                               shape=(len(said), 3))
    groups, owns = [list(range(8)), list(range(8, 16))], [{0}, {1}]
    weights = np.ones(3, dtype=np.float32)
    timeless = np.array([1.0, 1.0, 0.0], dtype=np.float32)
    bare, delayed = 16, 17

    with_hours, _ = vectors.refine(groups, owns, matrix, Words, weights, words)
    assert bare in with_hours[0]
    placed, _ = vectors.refine(groups, owns, matrix, Words, weights, words, centre_weights=timeless)
    assert bare not in placed[0] + placed[1]                           # an "other negative comment"
    assert delayed in placed[1] and delayed not in placed[0]           # the delays, by what it says
    assert set(range(8)) <= set(placed[0])                             # "an hour on hold" stays on hold
