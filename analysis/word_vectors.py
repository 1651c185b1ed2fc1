"""Pretrained word vectors shipped with Rapport, read offline.

``models/word_vectors/`` holds all-MiniLM-L6-v2 distilled to one static
vector per word piece (Model2Vec; how it was made: ``analysis.distill_vectors``).
A text's vector is the mean of its pieces' vectors, so words never seen in the
team's corpus ("rebooked", "bagage", "enginner") still land near what they
mean, and "late" sits near "delayed" in every run, whatever the data: unlike
vectors learnt from the run itself, these do not move when comments are added.

Word vectors are cached per word: a survey's clauses repeat a few thousand
words, so a clause's vector is a sparse sum over cached rows, not a new pass of
the tokenizer.

Nothing here downloads: model2vec reads the folder by path, and the hub is
switched off before it is imported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from analysis.model_store import DEFAULT_MODEL_DIR

VECTORS_DIR: Path = DEFAULT_MODEL_DIR / "word_vectors"


@lru_cache(maxsize=1)
def _static_model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder needs no hub; never let it try
    from model2vec import StaticModel

    if not (VECTORS_DIR / "model.safetensors").is_file():
        raise FileNotFoundError(f"word vectors missing: {VECTORS_DIR} (reinstall Rapport)")
    return StaticModel.from_pretrained(VECTORS_DIR)


@lru_cache(maxsize=1)
def digest() -> str:
    """Short digest of the shipped vector table: a model trained on one table is
    not used with another (:class:`analysis.vector_features.WordVectorMeans` checks it)."""
    import hashlib

    h = hashlib.sha256()
    with open(VECTORS_DIR / "model.safetensors", "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def dimensions() -> int:
    return int(_static_model().dim)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def text_vectors(texts: Sequence[str]) -> np.ndarray:
    """One unit-length float32 row per text (zeros for a text without word pieces)."""
    if not len(texts):
        return np.zeros((0, dimensions()), dtype=np.float32)
    return unit_rows(_static_model().encode(list(texts), use_multiprocessing=False))


def raw_word_vectors(words: Sequence[str]) -> np.ndarray:
    """Mean of each word's piece vectors, not normalised, float32 ``(len(words), dimensions())``.

    Their lengths keep the vectors' Zipf (SIF) weighting: frequent words such
    as "the" are short, so a sum over a comment's words is led by the words
    that say something. Not cached here: callers keep per-token tables.
    """
    if not len(words):
        return np.zeros((0, dimensions()), dtype=np.float32)
    rows = _static_model().encode(list(words), normalize=False, use_multiprocessing=False)
    return np.asarray(rows, dtype=np.float32)


def vocabulary_words() -> list[str]:
    """The whole words (alphabetic ASCII, two letters or more) of the vectors' vocabulary, sorted."""
    vocab = _static_model().tokenizer.get_vocab()
    return sorted(w for w in vocab if len(w) > 1 and w.isalpha() and w.isascii())


def vocabulary_vectors() -> tuple[list[str], np.ndarray]:
    """The whole words (alphabetic ASCII, two letters or more) of the vectors'
    vocabulary, sorted, with their unit vectors (each is one row of the table)."""
    model = _static_model()
    vocab = model.tokenizer.get_vocab()
    words = vocabulary_words()
    rows = np.asarray(model.embedding, dtype=np.float32)[[vocab[w] for w in words]]
    return words, unit_rows(rows)


#: Words kept in the cache; past it the cache starts again (bounded memory, same results).
WORD_CACHE_LIMIT = 200_000
_word_cache: dict[str, np.ndarray] = {}


def word_vectors(words: Sequence[str]) -> np.ndarray:
    """One unit-length float32 row per word, cached: ``(len(words), dimensions())``.

    The joiners and negation marks of the project's tokens (``on_hold``,
    ``not_late``) are read as spaces.
    """
    if not len(words):
        return np.zeros((0, dimensions()), dtype=np.float32)
    uncached = [w for w in dict.fromkeys(words) if w not in _word_cache]
    if len(_word_cache) + len(uncached) > WORD_CACHE_LIMIT:
        _word_cache.clear()
        uncached = list(dict.fromkeys(words))
    if uncached:
        rows = text_vectors([w.replace("_", " ") for w in uncached])
        _word_cache.update(zip(uncached, rows))
    return np.stack([_word_cache[w] for w in words])
