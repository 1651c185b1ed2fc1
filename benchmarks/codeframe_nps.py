"""The codeframe sort in the second domain: NPS comments and their complaint categories (issue #22). A command.

``benchmarks/codeframe.py`` measures the sort on airline tweets end to end; this
checks the same sorter (:class:`analysis.codeframe.CodeframeSorter`, fit and
applied directly, no labeller) on ``../shared/data/nps_verbatims_painpoints_dev.csv``
(multi-label categories, "other" left out; texts from ``nps_verbatims_dev.csv``):

1. the comments with text are split once (seed :data:`SEED`) into an examples
   half and a survey half;
2. from the examples half, up to :data:`EXAMPLES_PER_CATEGORY` comments per
   category become the codeframe's examples, named after the category;
3. the survey half's detractors (score 6 or less: the comments a team's run
   would mostly sort) or, with ``--subset categorised``, its comments with any
   category are sorted;
4. one fixed half of them (seed :data:`SEED`) is scored: per-category precision,
   recall, F1 and their mean. ``--rule old`` keeps stop 19's decision (best
   point, a close second) to compare with.

Usage::

    python benchmarks/codeframe_nps.py [--subset detractors|categorised] [--rule shipped|old] [--draw SEED]
                                       [--encoder block|block:WEIGHT|lr|prototype|blend:WEIGHT|teacher[:N...]|self[:N...]]
                                       [--static-block TABLE.npz[:WEIGHT]]  # benchmarks/static_block.py
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
SEED = 22
EXAMPLES_PER_CATEGORY = 20
LEFT_OUT = "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", choices=("detractors", "categorised"), default="detractors")
    parser.add_argument("--rule", choices=("shipped", "old"), default="shipped",
                        help="old: the best point and a close second (no per-point thresholds)")
    parser.add_argument("--draw", type=int, default=SEED,
                        help=f"Seed of the draw of the examples from the examples half (default {SEED})")
    sys.path.insert(0, str(REPO))
    from benchmarks.encoder_block import add_options

    add_options(parser)
    args = parser.parse_args()
    if args.static_block:
        if args.encoder:
            parser.error("--static-block and --encoder measure one block each: give one")
        sys.path.insert(0, str(REPO))
        from benchmarks.encoder_block import install_static

        try:
            install_static(args.static_block)
        except ValueError as error:
            parser.error(str(error))
    if args.encoder:
        sys.path.insert(0, str(REPO))
        from benchmarks.encoder_block import install, parse_mode

        try:
            parse_mode(args.encoder)
        except ValueError as error:
            parser.error(str(error))
        install(args.encoder)  # exits with a clear message when the packages are absent, before any work
    categories_file, texts_file = DATA / "nps_verbatims_painpoints_dev.csv", DATA / "nps_verbatims_dev.csv"
    if not categories_file.exists() or not texts_file.exists():
        raise SystemExit(f"{DATA} lacks the NPS files: the shared data set is not part of a fresh clone")
    sys.path.insert(0, str(REPO))
    import analysis.codeframe as codeframe

    if args.rule == "old":
        codeframe.THRESHOLD_MIN_COMMENTS = float("inf")
    with open(categories_file, encoding="utf-8", newline="") as fh:
        categories = {r["id"]: [c for c in r["categories"].split(";") if c and c != LEFT_OUT]
                      for r in csv.DictReader(fh)}
    with open(texts_file, encoding="utf-8", newline="") as fh:
        rows = {r["id"]: r for r in csv.DictReader(fh) if r["id"] in categories and r["text"].strip()}
    ids = sorted(rows)
    random.Random(SEED).shuffle(ids)
    examples_half, survey_half = ids[:len(ids) // 2], sorted(ids[len(ids) // 2:])
    names = sorted({c for i in examples_half for c in categories[i]})
    examples = []
    for name in names:
        pool = sorted(i for i in examples_half if name in categories[i])
        examples += [(rows[i]["text"], name)
                     for i in random.Random(args.draw).sample(pool, min(EXAMPLES_PER_CATEGORY, len(pool)))]
    scored = list(survey_half)
    random.Random(SEED).shuffle(scored)
    scored = set(scored[:len(scored) // 2])
    if args.subset == "detractors":
        survey = [i for i in survey_half if rows[i]["nps_score"].strip() and int(rows[i]["nps_score"]) <= 6]
    else:
        survey = [i for i in survey_half if categories[i]]
    texts = [rows[i]["text"] for i in survey]
    sorter = codeframe.CodeframeSorter.fit(examples, unlabelled=texts)
    assigned = {i: {a.name for a in row} for i, row in zip(survey, sorter.assign(texts))}
    print(f"{len(ids)} comments; {len(examples)} examples for {len(names)} categories; sorted {len(survey)} "
          f"({args.subset}), scored {len(scored & set(survey))}; rule: {args.rule}; draw {args.draw}"
          + (f"; encoder: {args.encoder}" if args.encoder else "")
          + (f"; static block: {args.static_block}" if args.static_block else ""))
    print(f"\n{'category':24} {'true':>5} {'members':>7} {'P':>5} {'R':>5} {'F1':>5}")
    f1s = []
    for name in names:
        members = {i for i in survey if i in scored and name in assigned[i]}
        truth = {i for i in survey if i in scored and name in categories[i]}
        tp = len(members & truth)
        p = tp / len(members) if members else 0.0
        r = tp / len(truth) if truth else 0.0
        f1s.append(2 * p * r / (p + r) if tp else 0.0)
        print(f"{name:24} {len(truth):5d} {len(members):7d} {p:5.2f} {r:5.2f} {f1s[-1]:5.2f}")
    print(f"{'macro-F1':24} {sum(f1s) / len(f1s):.3f}")


if __name__ == "__main__":
    main()
