"""How well the complaint facet model transfers to a business it never saw (issues #20, #22). A command, not a test.

Measured on the facet examples themselves (``models/facets/complaint_facets.csv``),
by leave-one-business-out cross-validation: the model is fitted on every other
business's examples and predicts the held-out business's, so a facet only
scores when what was written for airlines, banks and gyms carries to, say,
councils. Reported: macro-F1 over the facets and ``none``, per-label F1, the
commonest confusions (true -> predicted), the corpus checks (rows per facet,
the largest business share of a facet, the most similar pair of rows by
character n-gram cosine), the fit time of :func:`analysis.complaint_facets.facet_model`
and the scoring speed on short texts.

``--tweets`` (diagnostic only, tuning half of ``../shared/data/airline_tweets_dev.csv``
as benchmarks/painpoints.py splits it): the share of each crowd
``negative_reason``'s negative tweets that land in each facet. It shows
whether the facets carry; the examples are never changed from reading tweets.

Usage::

    python benchmarks/facets.py                 # cross-validation, corpus checks, speed
    python benchmarks/facets.py --errors 30     # also list held-out rows the model got wrong
    python benchmarks/facets.py --tweets        # facet shares per negative_reason (tuning half)
    python benchmarks/facets.py --no-speed --vector-weight 1 --chars   # a variant of the classifier
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from analysis import complaint_facets as cf  # noqa: E402

#: Rows at least this similar (character 3-5-gram TF-IDF cosine) are near-duplicates.
NEAR_DUPLICATE = 0.8


def most_similar_pairs(texts: list[str], top: int = 5) -> list[tuple[float, int, int]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    m = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit_transform([t.lower() for t in texts])
    sim = (m @ m.T).toarray()
    np.fill_diagonal(sim, 0.0)
    i, j = np.triu_indices(len(texts), 1)
    order = np.argsort(-sim[i, j])[:top]
    return [(float(sim[i[k], j[k]]), int(i[k]), int(j[k])) for k in order]


def corpus_checks(examples: list[cf.Example]) -> None:
    per = Counter(e.facet for e in examples)
    print(f"== corpus: {len(examples)} rows, {len({e.business for e in examples})} businesses")
    for label in cf.LABELS:
        businesses = Counter(e.business for e in examples if e.facet == label)
        top, n = businesses.most_common(1)[0]
        print(f"  {label:20s} {per[label]:3d} rows, {len(businesses):2d} businesses, largest {top} {n / per[label]:.0%}")
    pairs = most_similar_pairs([e.text for e in examples])
    print(f"  most similar rows (char 3-5-gram cosine; near-duplicate at >= {NEAR_DUPLICATE}):")
    for s, i, j in pairs[:3]:
        print(f"    {s:.2f} line {examples[i].line} / line {examples[j].line}")


def cross_validate(examples: list[cf.Example], errors: int = 0, **variant) -> dict:
    from sklearn.metrics import f1_score

    texts = np.array([e.text for e in examples], dtype=object)
    truth = np.array([e.facet for e in examples])
    groups = np.array([e.business for e in examples])
    predicted = np.empty(len(examples), dtype=object)
    for business in sorted(set(groups)):
        held = groups == business
        model = cf.fit([examples[k] for k in np.flatnonzero(~held)], **variant)
        predicted[held] = model.predict(list(texts[held]))
    predicted = predicted.astype(str)
    labels = list(cf.LABELS)
    per_label = f1_score(truth, predicted, labels=labels, average=None, zero_division=0)
    result = {
        "macro_f1": round(float(per_label.mean()), 3),
        "facets_macro_f1": round(float(per_label[:-1].mean()), 3),
        "accuracy": round(float((truth == predicted).mean()), 3),
        "per_label": {label: round(float(f), 3) for label, f in zip(labels, per_label)},
        "confusions": Counter((t, p) for t, p in zip(truth, predicted) if t != p).most_common(12),
    }
    shown = ", ".join(f"{k}={v}" for k, v in variant.items()) or "the kept model"
    print(f"== leave-one-business-out ({len(set(groups))} businesses; {shown}): macro-F1 {result['macro_f1']} "
          f"(facets only {result['facets_macro_f1']}), accuracy {result['accuracy']}")
    for label, f in result["per_label"].items():
        print(f"  {label:20s} F1 {f:.3f}")
    print("  commonest confusions (true -> predicted: rows):")
    for (t, p), n in result["confusions"]:
        print(f"    {t} -> {p}: {n}")
    if errors:
        wrong = [k for k in range(len(examples)) if truth[k] != predicted[k]][:errors]
        print(f"  first {len(wrong)} held-out errors:")
        for k in wrong:
            print(f"    line {examples[k].line} [{examples[k].business}] {truth[k]} -> {predicted[k]}: {texts[k]}")
    return result


def speed() -> None:
    # CPU seconds, not wall time: the machine is shared, and both run on one thread
    from analysis import word_vectors

    start = time.process_time()
    word_vectors.dimensions()  # loaded once per process, shared with the rest of the analysis
    load_s = time.process_time() - start
    cf._model = None
    start = time.process_time()
    model = cf.facet_model()
    fit_s = time.process_time() - start
    # distinct short clause-like texts: 3 to 10 words drawn from the examples' vocabulary
    words = sorted({w for e in cf.load_examples() for w in cf.WORD.findall(e.text.lower())})
    rng = np.random.default_rng(0)
    texts = list(dict.fromkeys(" ".join(rng.choice(words, size=rng.integers(3, 11))) for _ in range(20_000)))
    cf.facet_probabilities(texts[:100], model)  # the words' vectors are looked up once per process
    start = time.process_time()
    probs = cf.facet_probabilities(texts, model)
    score_s = time.process_time() - start
    print(f"== speed (CPU time, one thread): word vectors loaded in {load_s:.2f} s; fit {fit_s:.2f} s; "
          f"{len(texts) / score_s:,.0f} distinct short texts/s "
          f"({probs.shape[0]} x {probs.shape[1]}; {len(words)} words)")


def tweets() -> None:
    from benchmarks.painpoints import half, load

    domain = half(load("air"), "tuning")
    rows = [(domain.texts[i], next(iter(domain.truth[key])))
            for i, key in enumerate(domain.ids) if domain.truth[key]]
    probs = cf.facet_probabilities([t for t, _ in rows])
    chosen = np.array(cf.LABELS)[probs.argmax(1)]
    by_reason: dict[str, Counter] = defaultdict(Counter)
    for (_, reason), facet in zip(rows, chosen):
        by_reason[reason][facet] += 1
    short = {label: label[:8] for label in cf.LABELS}
    print(f"== airline tweets, tuning half: {len(rows)} negative tweets; share of each reason per facet (%)")
    print(f"  {'reason':24s} {'n':>4s} " + " ".join(f"{short[l]:>8s}" for l in cf.LABELS))
    for reason, counts in sorted(by_reason.items(), key=lambda kv: -sum(kv[1].values())):
        n = sum(counts.values())
        print(f"  {reason[:24]:24s} {n:4d} " + " ".join(f"{100 * counts[l] / n:8.0f}" for l in cf.LABELS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--errors", type=int, default=0, help="list this many held-out errors")
    parser.add_argument("--tweets", action="store_true", help="facet shares per airline negative_reason (tuning half)")
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validation")
    parser.add_argument("--no-speed", action="store_true", help="skip the fit and scoring times")
    variants = parser.add_argument_group("a variant of the classifier (cross-validation only; default: the kept one)")
    variants.add_argument("--vector-weight", type=float, help="weight of the word-vector block (0: none)")
    variants.add_argument("--C", type=float, help="inverse regularisation of the logistic regression")
    variants.add_argument("--word-ngrams", type=int, choices=(1, 2, 3), help="longest word n-gram")
    variants.add_argument("--chars", action="store_true", default=None, help="add character 2-4-grams")
    variants.add_argument("--balanced", action="store_const", const="balanced", dest="class_weight",
                          help="class_weight=balanced")
    args = parser.parse_args(argv)
    variant = {k: v for k in ("vector_weight", "C", "word_ngrams", "chars", "class_weight")
               if (v := getattr(args, k)) is not None}
    examples = cf.load_examples()
    corpus_checks(examples)
    if not args.no_cv:
        cross_validate(examples, args.errors, **variant)
    if not args.no_speed:
        speed()
    if args.tweets:
        tweets()
    return 0


if __name__ == "__main__":
    sys.exit(main())
