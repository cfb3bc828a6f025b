"""Search quality on judged researcher questions: precision@5 and nDCG@5 of `collabmine query`.

`bench/search_judgments.json` holds 21 questions (20 a researcher would ask of this corpus, and
one nonsense query that should get "no good match") with the top-5 answers of the search before
and after the session-8 changes, each judged relevant or not by reading it (151 judgments). A
hit nobody judged counts as not relevant and is reported, so a later change is measured against
the same judgments and its unjudged hits are visible. nDCG@5 uses binary gains; the ideal ranking
is all judged-relevant sentences of the question.

    .venv/bin/python bench/search_quality.py --out out        (~20 s: one query per question)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from collabmine.runtime import configure_environment  # noqa: E402

configure_environment()

from collabmine import query, store  # noqa: E402
from collabmine.settings import load_settings  # noqa: E402

K = 5


def ndcg(gains: list[int], ideal: int, k: int = K) -> float:
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))
    best = sum(1 / math.log2(i + 2) for i in range(min(ideal, k)))
    return dcg / best if best else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    parser.add_argument("--judgments", type=Path, default=ROOT / "bench" / "search_judgments.json")
    args = parser.parse_args()
    judged = json.loads(args.judgments.read_text(encoding="utf-8"))["questions"]
    con = store.connect(load_settings(out_dir=args.out).store_path, create=False)
    precisions, ndcgs, unjudged = [], [], 0
    print(f"{'question':70} P@5   nDCG@5  hits")
    for question, answers in judged.items():
        hits = query.search(con, question, top=K)["span_id"].tolist()
        relevant = {s for s, a in answers.items() if a["relevant"]}
        unjudged += sum(s not in answers for s in hits)
        if not relevant:          # nothing relevant in the corpus's judged answers: no hit is right
            print(f"{question[:70]:70} {'ok' if not hits else 'noise':>5}          {len(hits)}")
            continue
        gains = [int(s in relevant) for s in hits]
        p, n = sum(gains) / K, ndcg(gains, len(relevant))
        precisions.append(p)
        ndcgs.append(n)
        print(f"{question[:70]:70} {p:.2f}  {n:.3f}   {len(hits)}")
    con.close()
    print(f"\nmean precision@5 {sum(precisions) / len(precisions):.3f}, nDCG@5 {sum(ndcgs) / len(ndcgs):.3f} "
          f"over {len(precisions)} questions with a judged relevant answer; {unjudged} hits not judged")


if __name__ == "__main__":
    main()
