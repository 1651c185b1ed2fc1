"""benchmarks/encoder_ceiling.py stays out of Rapport's dependencies: without torch it skips
with a message, and the score step without saved embeddings says how to make them."""

from __future__ import annotations

import importlib.util

import pytest

from benchmarks import encoder_ceiling


def test_the_embed_step_skips_with_a_message_when_the_encoder_packages_are_absent(capsys):
    if importlib.util.find_spec("sentence_transformers") is not None:
        pytest.skip("sentence-transformers is installed here; the skip path cannot be seen")
    assert encoder_ceiling.main(["embed"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SKIP:")
    assert "torch" in out or "data folder" in out


def test_the_score_step_without_embeddings_skips_and_names_the_embed_step(tmp_path, capsys):
    missing = tmp_path / "none.npz"
    assert encoder_ceiling.main(["score", "--cache", str(missing)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SKIP:")
    assert str(missing) in out or "data folder" in out
    assert not missing.exists()


def test_the_text_digest_changes_with_the_texts_and_their_order():
    a = encoder_ceiling.digest(["late again", "kind agent"])
    assert a == encoder_ceiling.digest(["late again", "kind agent"])
    assert a != encoder_ceiling.digest(["kind agent", "late again"])
    assert a != encoder_ceiling.digest(["late again", "kind agent", "x"])
