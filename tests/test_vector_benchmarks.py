"""The vector benchmarks' plumbing. benchmarks/encoder_ceiling.py stays out of Rapport's
dependencies: without torch it skips with a message, and the score step without saved
embeddings says how to make them. word_vector_block.py --vectors refuses a folder without a
vector table; analysis.distill_vectors' corpus vocabulary is the corpus's own words."""

from __future__ import annotations

import importlib.util

import pytest

from benchmarks import encoder_ceiling, word_vector_block
from benchmarks.splits import DATA


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


def test_word_vector_block_refuses_a_vectors_folder_without_a_table(tmp_path, capsys):
    if not DATA.is_dir():
        pytest.skip(f"{DATA} is absent: the benchmark stops before reading --vectors")
    from analysis import word_vectors

    shipped = word_vectors.VECTORS_DIR
    with pytest.raises(SystemExit) as stop:
        word_vector_block.main(["--vectors", str(tmp_path), "--weights", "0"])
    assert stop.value.code == 2
    assert "no model.safetensors" in capsys.readouterr().err
    assert word_vectors.VECTORS_DIR == shipped  # the refused folder is not left as the process's table


def test_the_corpus_vocabulary_is_lower_case_words_of_three_letters_or_more():
    from analysis.distill_vectors import corpus_vocabulary

    words = corpus_vocabulary()
    assert words == sorted(set(words))
    assert all(w.isalpha() and w.islower() and len(w) >= 3 for w in words)
    assert {"delayed", "refund"} <= set(words)
    assert len(corpus_vocabulary(min_count=1)) > len(words)
