"""What a complaint is about: a small set of generic complaint facets and a model that reads them.

Word statistics, shared answers and word-vector centroids cannot tell "one
complaint told twice" ("on hold" / "customer service") from two complaints
("the wait" / "cancelled orders"): benchmarks/README.md, stops 23-26. The
facets below are that missing evidence. They are the team's own writing, once,
for any business (not learnt from anyone's data): ``models/facets/complaint_facets.csv``
holds examples written the way customers write, across many businesses, plus
``none`` rows (praise, questions, thanks) so the model can say "not a complaint
facet". How well the model transfers to a business it never saw is measured
by ``benchmarks/facets.py`` (grouped cross-validation by business).

No Flask, no survey imports. The codeframe's sort (:mod:`analysis.codeframe`)
uses :func:`facet_probabilities` as a feature block; ``benchmarks/painpoints.py
--facets`` reads pain points with it (as merge evidence it was measured and not
kept, stop 27).
"""

from __future__ import annotations

import csv
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from threadpoolctl import threadpool_limits

from analysis import word_vectors
from analysis.model_store import DEFAULT_MODEL_DIR

#: The complaint facets, in the column order of :func:`facet_probabilities`. Each line is the facet's definition.
FACETS: dict[str, str] = {
    "waiting_delay": "late, slow to happen, weeks to set up, queues",
    "cancellation": "order, booking, flight or appointment cancelled by the company",
    "no_show_appointment": "visit, delivery or engineer missed or moved",
    "reaching_support": "hold times, phone/chat/email unanswered, passed around, can't get through",
    "communication": "not kept informed, promised callbacks never came, wrong or conflicting information",
    "staff_attitude": "rude, dismissive, uncaring, unprofessional",
    "fault_not_working": "broken, outages, app/site errors, slow or dropping service, defects",
    "billing_charges": "wrong bills, overcharged, fees, refunds not paid",
    "price_value": "too expensive, poor value",
    "ordering_booking": "placing or changing an order or booking, checkout, account, login, mis-selling",
    "lost_damaged_item": "lost, damaged or missing parcels, bags, parts; wrong item delivered",
    "quality_comfort": "product, food, room, seat, cleanliness or comfort quality",
    "policy_rules": "rules, terms, restrictions, compensation refused",
    "general_verdict": "only 'terrible service', 'worst company': no specific cause",
}
#: The label of the examples that are not a complaint facet (praise, neutral remarks, questions, thanks).
NONE = "none"
#: Column order of :func:`facet_probabilities`: the facets, then ``none``.
LABELS: tuple[str, ...] = (*FACETS, NONE)

EXAMPLES_PATH: Path = DEFAULT_MODEL_DIR / "facets" / "complaint_facets.csv"
#: The file's columns; ``business`` is the kind of business an example was written for
#: (grouped cross-validation holds whole businesses out).
COLUMNS = ("facet", "text", "business")
#: Fixed seed of the classifier: two fits of the same file give the same probabilities.
SEED = 0


class FacetFileError(ValueError):
    """The examples file is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    facet: str
    text: str
    business: str
    line: int  # line number in the file (the header is line 1)


def load_examples(path: Path | str = EXAMPLES_PATH) -> list[Example]:
    """Read and validate the examples file: header ``facet,text,business``, a known facet
    (or ``none``), a non-empty text and business on every row."""
    path = Path(path)
    try:
        fh = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise FacetFileError(f"{path}: cannot read the complaint facet examples ({exc.strerror})") from exc
    examples: list[Example] = []
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if header is None:
                raise FacetFileError(f"{path}: empty file; expected the header {','.join(COLUMNS)}")
            if tuple(h.strip() for h in header) != COLUMNS:
                raise FacetFileError(f"{path}, line 1: header is {','.join(header)!r}; "
                                     f"expected {','.join(COLUMNS)}")
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(COLUMNS):
                    raise FacetFileError(f"{path}, line {line}: {len(row)} columns; expected "
                                         f"{len(COLUMNS)} ({','.join(COLUMNS)}); quote a text that has commas")
                facet, text, business = (cell.strip() for cell in row)
                if facet not in LABELS:
                    raise FacetFileError(f"{path}, line {line}: unknown facet {facet!r}; "
                                         f"expected one of {', '.join(LABELS)}")
                if not text:
                    raise FacetFileError(f"{path}, line {line}: empty text")
                if not business:
                    raise FacetFileError(f"{path}, line {line}: empty business")
                examples.append(Example(facet, text, business, line))
        except UnicodeDecodeError as exc:
            raise FacetFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except csv.Error as exc:
            raise FacetFileError(f"{path}, line {reader.line_num}: {exc}") from exc
    missing = [label for label in LABELS if not any(e.facet == label for e in examples)]
    if missing:
        raise FacetFileError(f"{path}: no examples of {', '.join(missing)}")
    return examples


#: Words as the vectors read them: letters, digits and apostrophes (the vectors' tokenizer lowercases too).
WORD = re.compile(r"[a-z0-9']+")
#: Words whose vectors are kept per process (1 KiB each); past it the table starts again
#: (bounded memory, same results: a word's vector never changes).
WORD_TABLE_LIMIT = 50_000


class _WordTable:
    """Row of each word seen in this process, and the rows: the mean of its word pieces' vectors
    (not normalised: the vectors' SIF weighting keeps "the" shorter than "cancelled")."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        self.rows: dict[str, int] = {}
        self.vectors: np.ndarray | None = None  # read on first use: importing this module loads no vectors

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """(texts x words) counts over this table's rows; new words get their vectors first."""
        if self.vectors is None:
            self.vectors = np.zeros((0, word_vectors.dimensions()), dtype=np.float32)
        tokens = [WORD.findall(text.lower()) for text in texts]
        new = {w for words in tokens for w in words if w not in self.rows}
        if len(self.rows) + len(new) > WORD_TABLE_LIMIT:
            self.rows, self.vectors = {}, self.vectors[:0]
            new = {w for words in tokens for w in words}
        if new:
            new_words = sorted(new)
            rows = word_vectors.raw_word_vectors(new_words)
            first = len(self.rows)
            self.rows.update((w, first + k) for k, w in enumerate(new_words))
            self.vectors = np.vstack([self.vectors, rows])
        ids = np.fromiter((self.rows[w] for words in tokens for w in words), dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum([len(words) for words in tokens])]).astype(np.int64)
        return sp.csr_matrix((np.ones(len(ids), dtype=np.float32), ids, indptr),
                             shape=(len(texts), len(self.vectors)))


_WORDS = _WordTable()


class TextVectors(TransformerMixin, BaseEstimator):
    """Each text's mean pretrained word vector (:func:`analysis.word_vectors.raw_word_vectors`),
    unit length, times ``weight``.

    A few hundred examples cannot teach that "enginner" and "technician" or
    "rang" and "phoned" mean the same; the shipped vectors know. Each word's
    vector is looked up once per process, so a batch is one sparse product
    (three times faster than encoding every text again). Stateless.
    """

    def __init__(self, weight: float = 1.0):
        self.weight = weight

    def fit(self, X=None, y=None):
        return self

    def dense(self, X) -> np.ndarray:
        with _WORDS.lock:
            out = _WORDS.counts(list(X)) @ _WORDS.vectors
        return word_vectors.unit_rows(out) * np.float32(self.weight)

    def transform(self, X):
        out = self.dense(X)
        n, width = out.shape
        # dense rows as CSR directly: sp.csr_matrix(dense) scans for non-zeros
        return sp.csr_matrix((out.ravel(), np.tile(np.arange(width, dtype=np.int32), n),
                              np.arange(0, n * width + 1, width, dtype=np.int64)), shape=(n, width))


def build_pipeline(vector_weight: float = 0.5, C: float = 10.0, word_ngrams: int = 2,
                   chars: bool = False, class_weight: str | None = None):
    """The unfitted classifier: word TF-IDF and mean word vectors, logistic regression (fixed seed).

    The defaults are the kept variant; the others are what ``benchmarks/facets.py``
    measures against it (benchmarks/README.md, "Complaint facets"): the vectors at
    half the word block's weight scored best of 0.35-2; character n-grams added
    no more than noise across businesses and scored three times slower.
    """
    blocks = [("words", TfidfVectorizer(ngram_range=(1, word_ngrams), sublinear_tf=True))]
    if chars:
        blocks.append(("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True,
                                                min_df=2)))
    if vector_weight:
        blocks.append(("vectors", TextVectors(weight=vector_weight)))
    classifier = LogisticRegression(C=C, max_iter=3000, random_state=SEED, class_weight=class_weight)
    return Pipeline([("features", FeatureUnion(blocks)), ("classifier", classifier)])


def fit(examples: Sequence[Example], **variant):
    """The pipeline (``variant``: :func:`build_pipeline`'s arguments) fitted on ``examples``,
    on one BLAS thread: faster on a shared machine, and the same result every time."""
    model = build_pipeline(**variant)
    with threadpool_limits(limits=1, user_api="blas"):
        model.fit([e.text for e in examples], [e.facet for e in examples])
    return model


_model = None
_model_lock = threading.Lock()


def facet_model():
    """The classifier fitted on the shipped examples, once per process."""
    global _model
    with _model_lock:
        if _model is None:
            _model = fit(load_examples())
        return _model


def _probabilities(model, texts: list[str]) -> np.ndarray:
    """``model.predict_proba(texts)``, block by block: the logistic regression's scores are a
    sum over the feature blocks, so the dense word-vector block is never copied into one
    sparse matrix with the n-grams (a fifth of the scoring time)."""
    union, classifier = model.named_steps["features"], model.named_steps["classifier"]
    scores = np.tile(classifier.intercept_, (len(texts), 1))
    start = 0
    for _, block in union.transformer_list:
        features = block.dense(texts) if isinstance(block, TextVectors) else block.transform(texts)
        width = features.shape[1]
        scores += features @ classifier.coef_[:, start:start + width].T
        start += width
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    return scores / scores.sum(axis=1, keepdims=True)


def facet_probabilities(texts: Sequence[str], model=None) -> np.ndarray:
    """``(len(texts), len(LABELS))`` probabilities, columns in :data:`LABELS` order; rows sum to 1.

    Each distinct text is scored once (a survey's negative clauses repeat).
    """
    model = facet_model() if model is None else model
    if not len(texts):
        return np.zeros((0, len(LABELS)))
    first_seen: dict[str, int] = {}
    inverse = np.fromiter((first_seen.setdefault(t, len(first_seen)) for t in texts), dtype=np.int64,
                          count=len(texts))
    with threadpool_limits(limits=1, user_api="blas"):
        probs = _probabilities(model, list(first_seen))
    order = [list(model.classes_).index(label) for label in LABELS]
    return probs[:, order][inverse]
