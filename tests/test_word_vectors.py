"""The shipped word vectors: read offline, stable, and they know synonyms and misspellings."""

import socket

import numpy as np
import pytest

from analysis import word_vectors


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("word vectors tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def cosine(a: str, b: str) -> float:
    va, vb = word_vectors.word_vectors([a, b])
    return float(va @ vb)


def test_they_load_from_the_shipped_folder_without_the_network(no_network):
    word_vectors._static_model.cache_clear()
    word_vectors._word_cache.clear()
    rows = word_vectors.word_vectors(["delayed", "refund"])
    assert rows.shape == (2, word_vectors.dimensions()) and rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)


def test_related_words_are_closer_than_unrelated_ones():
    assert cosine("delayed", "late") > cosine("delayed", "refund") + 0.2
    assert cosine("bag", "luggage") > cosine("bag", "rude") + 0.3
    # a misspelling still lands beside the word it means
    assert cosine("enginner", "engineer") > cosine("enginner", "luggage")


def test_cached_and_uncached_vectors_are_the_same():
    word_vectors._word_cache.clear()
    first = word_vectors.word_vectors(["on_hold", "refund", "on_hold"])
    assert np.array_equal(first[0], first[2])
    word_vectors._word_cache.clear()
    again = word_vectors.word_vectors(["refund"])
    assert np.array_equal(again[0], first[1])
    # joiners of the project's tokens read as spaces
    assert np.allclose(first[0], word_vectors.text_vectors(["on hold"])[0])


def test_texts_without_word_pieces_get_zero_rows_and_empty_input_is_fine():
    rows = word_vectors.text_vectors(["", "late again"])
    assert not rows[0].any() and rows[1].any()
    assert word_vectors.word_vectors([]).shape == (0, word_vectors.dimensions())
    assert word_vectors.text_vectors([]).shape == (0, word_vectors.dimensions())
