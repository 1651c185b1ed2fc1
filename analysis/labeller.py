"""Label comments (and each of their clauses) with sentiment and theme.

A comment is first PII-masked (:func:`analysis.text.mask_pii`; everything
downstream, including the clause texts returned, sees only the masked text),
then split into clauses (:func:`analysis.text.split_clauses`). The whole text
and every clause are classified in one batched call per task.

How a comment's label comes from its parts (codebook: "mixed text takes the
side that dominates"):

* **Clause weights.** Each clause weighs its word count, times 1.5 when it
  opens with "but", "however" or "yet" (the clause after a contrast carries
  the writer's point) and times 0.5 when it opens with "although" or "though"
  (a concession). VADER uses the same 1.5 / 0.5 contrast weighting.
* **Sentiment.** The comment's probabilities are the mean of the whole-text
  probabilities and the weighted mean of the clause probabilities.
* **Theme** follows the main point: clause theme probabilities are weighted as
  above *and* by how strongly each clause carries the comment's sentiment
  (its probability of the comment's sentiment label). So in "lovely staff but
  it took three months" (negative) the theme comes mostly from the waiting
  clause. The result is averaged with the whole-text probabilities, which
  weigh 0.7 here (0.5 for sentiment): with commas splitting clauses, short
  side clauses ("went in on Tuesday morning,") otherwise pull the theme away from the
  text's main point (chosen on the tuning halves of both labelled sets).
* A comment with a single clause gets the whole-text probabilities as they are.

Each clause keeps its own labels, so a promoter's single negative clause still
shows up as a pain point.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis import model_store
from analysis.model_store import ModelNotFound  # noqa: F401  (re-exported for callers)
from analysis.features import Tokenizer
from analysis.labels import LABELS, TASKS
from analysis.text import mask_pii, split_clauses, tokenize

#: Weight multipliers for a clause by its first word (see module docstring).
CLAUSE_OPENER_WEIGHT = {"but": 1.5, "however": 1.5, "yet": 1.5,
                        "although": 0.5, "though": 0.5}
#: Share of the whole-text prediction in a multi-clause comment's probabilities.
WHOLE_TEXT_WEIGHT = 0.5
#: The same share for theme (chosen on the tuning halves, see MODEL_CARD.md).
THEME_WHOLE_TEXT_WEIGHT = 0.7


@dataclass
class ClauseLabels:
    """Labels of one clause; ``text`` is PII-masked."""

    text: str
    sentiment: str
    sentiment_probs: dict[str, float]
    theme: str
    theme_probs: dict[str, float]


@dataclass
class CommentLabels:
    """Labels of one comment plus the labels of each of its clauses."""

    sentiment: str
    sentiment_proba: float
    sentiment_probs: dict[str, float]
    theme: str
    theme_proba: float
    theme_probs: dict[str, float]
    clauses: list[ClauseLabels] = field(default_factory=list)


def clause_weights(clauses: list[str]) -> list[float]:
    """Each clause's weight: its word count times its opener's multiplier (module docstring)."""
    opener = CLAUSE_OPENER_WEIGHT.get
    out = []
    for clause in clauses:
        words = clause.split()
        out.append(len(words) * opener(words[0].strip(",.;:!?").lower(), 1.0) if words else 0.0)
    return out


class Labeller:
    """Both fitted pipelines of one model version, with batched labelling."""

    def __init__(self, pipelines: dict, version: str = "unsaved", metadata: dict | None = None):
        missing = [t for t in TASKS if t not in pipelines]
        if missing:
            raise ValueError(f"missing pipeline(s) for {missing}")
        self.pipelines = pipelines
        self.version = version
        self.metadata = metadata or {}
        self._fast_tokens = all(
            type(p.steps[0][1]) is Tokenizer and len(p.steps) == 3 for p in pipelines.values())
        self._shared_features = _feature_signature(pipelines["sentiment"]) == \
            _feature_signature(pipelines["theme"])
        # column order of each classifier -> codebook label order
        self._columns = {}
        for task in TASKS:
            classes = list(pipelines[task].classes_)
            self._columns[task] = [classes.index(lab) if lab in classes else -1
                                   for lab in LABELS[task]]

    @classmethod
    def load(cls, model_dirs: list[Path], version: str | None = None) -> "Labeller":
        """Load the newest version found across ``model_dirs`` (or the pinned ``version``).

        Raises :class:`ModelNotFound` when there is none, and
        :class:`analysis.model_store.UntrustedModelError` for a file with
        types outside the allow-list.
        """
        found = model_store.find_version(model_dirs, version)
        pipelines = {task: model_store.load_pipeline(found.path(task)) for task in TASKS}
        return cls(pipelines, found.version, found.metadata)

    # ------------------------------------------------------------------ #
    def _features(self, texts: list[str], tokens: list[list[str]] | None = None) -> dict:
        """Feature matrices per task (computed once when both pipelines share them).

        ``tokens``, when given, are the output of the ``normalise`` step for
        ``texts`` (the labeller builds whole-text tokens from clause tokens).
        """
        s_pipe, t_pipe = self.pipelines["sentiment"], self.pipelines["theme"]
        if tokens is None:
            tokens = s_pipe[:-2].transform(texts)
        s_feat = s_pipe[-2].transform(tokens)
        if self._shared_features:
            return {"sentiment": s_feat, "theme": s_feat}
        return {"sentiment": s_feat, "theme": t_pipe[:-1].transform(texts)}

    def _proba_from_features(self, task: str, X) -> np.ndarray:
        raw = self.pipelines[task][-1].predict_proba(X)
        out = np.zeros((raw.shape[0], len(LABELS[task])))
        for j, col in enumerate(self._columns[task]):
            if col >= 0:
                out[:, j] = raw[:, col]
        return out

    def predict_proba(self, task: str, texts: list[str]) -> np.ndarray:
        """Whole-text probabilities, shape (n, 3), columns in ``LABELS[task]`` order."""
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(LABELS[task])))
        X = self.pipelines[task][:-1].transform(texts)
        return self._proba_from_features(task, X)

    # ------------------------------------------------------------------ #
    def comment_probs(self, texts: list[str], keep_clauses: bool = False):
        """Batched core of :meth:`label`: comment probabilities as arrays.

        Returns ``(sentiment (n,3), theme (n,3), parts)`` where ``parts`` is
        ``None`` or, with ``keep_clauses``, ``(masked_clauses, offsets,
        clause_sentiment, clause_theme)`` with comment ``i``'s clauses at
        ``offsets[i]:offsets[i+1]``.
        """
        n = len(texts)
        masked = [mask_pii(t or "") for t in texts]
        split = [split_clauses(t) for t in masked]
        multi = [i for i, cl in enumerate(split) if len(cl) > 1]
        clause_texts = [c for i in multi for c in split[i]]
        tokens = None
        if self._fast_tokens:
            # Clause boundaries (sentence ends, ";", contrastive conjunctions)
            # also end negation scopes, so a multi-clause comment's tokens are
            # its clauses' tokens joined: tokenise each piece of text once.
            tok = tokenize
            clause_tokens = [tok(c) for c in clause_texts]
            tokens = [tok(t) for t in masked] if not multi else [None] * n
            if multi:
                for i in range(n):
                    if len(split[i]) <= 1:
                        tokens[i] = tok(masked[i])
                k = 0
                for i in multi:
                    joined = []
                    for _ in split[i]:
                        joined.extend(clause_tokens[k])
                        k += 1
                    tokens[i] = joined
            tokens += clause_tokens
        feats = self._features(masked + clause_texts, tokens)
        probs = {t: self._proba_from_features(t, feats[t]) for t in TASKS}
        sent, theme = probs["sentiment"][:n].copy(), probs["theme"][:n].copy()
        c_sent, c_theme = probs["sentiment"][n:], probs["theme"][n:]

        if multi:
            sizes = np.array([len(split[i]) for i in multi])
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            w = np.array(clause_weights(clause_texts)) + 1e-9
            mean_s = np.add.reduceat(c_sent * w[:, None], starts) / \
                np.add.reduceat(w, starts)[:, None]
            a = WHOLE_TEXT_WEIGHT
            sent[multi] = a * sent[multi] + (1 - a) * mean_s
            label_of = np.repeat(sent[multi].argmax(1), sizes)
            wt = w * c_sent[np.arange(len(w)), label_of] + 1e-9
            mean_t = np.add.reduceat(c_theme * wt[:, None], starts) / \
                np.add.reduceat(wt, starts)[:, None]
            b = THEME_WHOLE_TEXT_WEIGHT
            theme[multi] = b * theme[multi] + (1 - b) * mean_t
        sent /= sent.sum(1, keepdims=True)
        theme /= theme.sum(1, keepdims=True)
        if not keep_clauses:
            return sent, theme, None

        # per-comment clause rows: multi-clause comments use their clause
        # predictions (rows n.. of the batch), single-clause comments reuse
        # the whole-text ones (row i)
        offsets = [0]
        rows: list[int] = []
        all_clauses: list[str] = []
        k = n
        for i, cl in enumerate(split):
            if len(cl) > 1:
                rows.extend(range(k, k + len(cl)))
                k += len(cl)
            elif cl:
                rows.append(i)
            all_clauses.extend(cl)
            offsets.append(len(all_clauses))
        idx = np.array(rows, dtype=np.int64)
        return sent, theme, (all_clauses, offsets, probs["sentiment"][idx],
                             probs["theme"][idx])

    def label(self, texts: list[str]) -> list[CommentLabels]:
        """Label a batch of comments; see the module docstring for the rule."""
        texts = list(texts)
        if not texts:
            return []
        sent, theme, (clauses, offsets, cs, ct) = self.comment_probs(texts, keep_clauses=True)
        s_lab, t_lab = LABELS["sentiment"], LABELS["theme"]
        s_arg, t_arg = sent.argmax(1), theme.argmax(1)
        cs_arg, ct_arg = (cs.argmax(1), ct.argmax(1)) if len(cs) else ([], [])
        sent_l, theme_l, cs_l, ct_l = sent.tolist(), theme.tolist(), cs.tolist(), ct.tolist()
        out = []
        for i in range(len(texts)):
            cl = [
                ClauseLabels(clauses[j], s_lab[cs_arg[j]], dict(zip(s_lab, cs_l[j])),
                             t_lab[ct_arg[j]], dict(zip(t_lab, ct_l[j])))
                for j in range(offsets[i], offsets[i + 1])
            ]
            out.append(CommentLabels(
                sentiment=s_lab[s_arg[i]], sentiment_proba=sent_l[i][s_arg[i]],
                sentiment_probs=dict(zip(s_lab, sent_l[i])),
                theme=t_lab[t_arg[i]], theme_proba=theme_l[i][t_arg[i]],
                theme_probs=dict(zip(t_lab, theme_l[i])),
                clauses=cl,
            ))
        return out


def _feature_signature(pipeline) -> str:
    """Digest of the feature steps' parameters and fitted arrays.

    Equal signatures mean both pipelines compute identical features, so the
    labeller computes them once per batch.
    """
    h = hashlib.sha256()
    for name, step in pipeline.steps[:-1]:
        h.update(name.encode())
        for sub in [step] + [t for _, t in getattr(step, "transformer_list", [])]:
            h.update(type(sub).__name__.encode())
            if isinstance(sub, str):  # "drop" / "passthrough"
                h.update(sub.encode())
                continue
            params = sub.get_params(deep=False)
            h.update(repr(sorted((k, v) for k, v in params.items()
                                 if not hasattr(v, "get_params")
                                 and not isinstance(v, list))).encode())
            for attr, value in sorted(vars(sub).items()):
                if attr.endswith("_") and isinstance(value, np.ndarray):
                    h.update(attr.encode())
                    h.update(value.tobytes())
    return h.hexdigest()
