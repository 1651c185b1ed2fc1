"""Static stand-ins for the sentence encoder (benchmarks/static_block.py, issue #22 stop 29): a table built once is
read without torch, a text's vector is the SIF-weighted mean of the words *and phrases* it contains, and the
benchmarks' ``--static-block PATH[:WEIGHT]`` option refuses what it cannot measure."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from analysis.codeframe import CodeframeSorter
from benchmarks import encoder_block
from benchmarks.static_block import StaticEncoder, ngrams, windows

PHRASES = ["on", "hold", "on hold", "engineer", "bill", "wrong"]


def table(tmp_path, weights=(1.0, 1.0, 1.0, 1.0, 1.0, 1.0)):
    """A phrase table with one axis per entry, so a text's vector says which entries it was made of."""
    path = tmp_path / "phrase.npz"
    np.savez(path, kind="phrase", phrases=np.array(PHRASES), vectors=np.eye(len(PHRASES), dtype=np.float16),
             weights=np.array(weights, dtype=np.float32), n_max=3)
    return path


def test_a_text_is_the_weighted_mean_of_its_words_and_phrases(tmp_path):
    encode = StaticEncoder(table(tmp_path, weights=(0.1, 1.0, 2.0, 1.0, 1.0, 1.0)))
    on_hold, nothing, both = encode(["Kept ON hold!", "lovely day", "engineer; bill wrong"])
    expected = np.array([0.1, 1.0, 2.0, 0, 0, 0])
    assert np.allclose(on_hold, expected / np.linalg.norm(expected), atol=1e-6)  # the phrase counted beside its words
    assert not nothing.any()  # nothing known: a zero row, not a guess
    assert np.allclose(both, np.array([0, 0, 0, 1, 1, 1]) / np.sqrt(3), atol=1e-6)
    assert encode([]).shape == (0, len(PHRASES))


def test_ngrams_and_windows():
    assert ngrams(["on", "hold", "again"], 2) == ["on", "hold", "again", "on hold", "hold again"]
    cut = windows(["one two three four five six seven eight nine", "too short"], seed=0)
    assert cut and all(len(w.split()) >= 2 for w in cut)
    assert all(w in "one two three four five six seven eight nine" for w in cut)
    assert windows(["one two three four five six seven eight nine"], seed=0) == cut  # a fixed-seed draw


def test_the_static_block_option_parses_and_names_what_is_wrong(tmp_path):
    path = table(tmp_path)
    assert encoder_block.parse_static(str(path)) == (path, "block")
    assert encoder_block.parse_static(f"{path}:0.5") == (path, "block:0.5")
    assert encoder_block.parse_static(f"{path}:blend:0.35") == (path, "blend:0.35")
    with pytest.raises(ValueError, match="expected block"):
        encoder_block.parse_static(f"{path}:blender")
    with pytest.raises(ValueError, match="no table at"):
        encoder_block.parse_static(str(tmp_path / "missing.npz"))
    with pytest.raises(ValueError, match="not negative"):
        encoder_block.parse_static(f"{path}:-1")


def test_the_static_block_sits_outside_the_gate_and_is_read_without_torch(tmp_path):
    examples = [(t, "on hold") for t in ("on hold two hours", "kept on hold forever", "hold music for an hour")]
    examples += [(t, "bill") for t in ("bill is wrong", "wrong bill again", "charged twice on my bill")]
    texts = ["on hold again today", "my bill is wrong", "the engineer never came"]
    shipped = CodeframeSorter.fit(examples, unlabelled=texts)
    restore = encoder_block.install_static(f"{table(tmp_path)}:1")
    try:
        patched = CodeframeSorter.fit(examples, unlabelled=texts)
        assert patched.encoder_weight == 1.0
        assert patched._features(texts).shape[1] == shipped._features(texts).shape[1] + len(PHRASES)
        _, gate_shipped = shipped._calibrated_texts(texts, with_gate=True)
        _, gate_patched = patched._calibrated_texts(texts, with_gate=True)
        assert np.allclose(gate_patched, gate_shipped)
    finally:
        restore()
    assert "torch" not in sys.modules or "sentence_transformers" not in sys.modules


def test_the_nps_benchmark_refuses_both_blocks_at_once(tmp_path, monkeypatch, capsys):
    from benchmarks import codeframe_nps

    monkeypatch.setattr(sys, "argv", ["codeframe_nps.py", "--static-block", str(table(tmp_path)),
                                      "--encoder", "block"])
    with pytest.raises(SystemExit) as stop:
        codeframe_nps.main()
    assert stop.value.code == 2
    assert "give one" in capsys.readouterr().err


def test_the_tweets_benchmark_refuses_the_static_block_on_the_test_half(tmp_path, monkeypatch, capsys):
    from benchmarks import codeframe

    monkeypatch.setattr(sys, "argv", ["codeframe.py", "--static-block", str(table(tmp_path)), "--half", "test"])
    with pytest.raises(SystemExit) as stop:
        codeframe.main()
    assert stop.value.code == 2
    assert "tuning half only" in capsys.readouterr().err
