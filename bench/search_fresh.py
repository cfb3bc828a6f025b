"""Search quality on fresh questions (issue 34): 44 questions written before any result was seen,
every variant's top 10 pooled and graded by reading (2 answers the question, 1 on topic, 0 not
relevant: `bench/search_pool.py`). Half of them (`held_out`) are never used to choose anything;
their figures are reported on their own.

Per variant: precision@5 strict (grade 2) and lenient (grade ≥ 1), nDCG@10 with graded gains
(ideal: the question's judged grades, best first), the questions with no answer in the top 5,
lead-ins or signposting in any top 5, and warm latency per query.

    .venv/bin/python bench/search_fresh.py --out out
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from search_pool import variants  # noqa: E402  (also sets up the offline environment)

from collabmine import store  # noqa: E402
from collabmine.evidence import is_signposting  # noqa: E402
from collabmine.explore import query  # noqa: E402
from collabmine.explore.reranker import default_reranker, load_reranker  # noqa: E402
from collabmine.settings import load_settings  # noqa: E402

JUDGMENTS = ROOT / "bench" / "search_judgments_fresh.json"
K_PRECISION, K_NDCG = 5, 10


def ndcg(gains: list[int], ideal: list[int], k: int = K_NDCG) -> float:
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))
    best = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(ideal, reverse=True)[:k]))
    return dcg / best if best else 0.0


def measure(runs: dict[str, list[str]], judged: dict, texts: dict[str, str]) -> dict:
    """Means over the questions of one variant's ``runs`` (question id -> span ids)."""
    strict, lenient, n10, missed, lead_ins, unjudged = [], [], [], [], 0, 0
    for qid, hits in runs.items():
        grades = {h["span_id"]: h["grade"] for h in judged[qid]["hits"]}
        gains = [grades.get(s, 0) for s in hits]
        unjudged += sum(s not in grades for s in hits)
        strict.append(sum(g == 2 for g in gains[:K_PRECISION]) / K_PRECISION)
        lenient.append(sum(g >= 1 for g in gains[:K_PRECISION]) / K_PRECISION)
        n10.append(ndcg(gains, list(grades.values())))
        missed += [qid] if not any(g == 2 for g in gains[:K_PRECISION]) else []
        lead_ins += sum(is_signposting(texts[s]) for s in hits[:K_PRECISION] if s in texts)
    return {"P@5 strict": statistics.mean(strict), "P@5 lenient": statistics.mean(lenient),
            "nDCG@10": statistics.mean(n10), "no answer in top 5": len(missed), "lead-ins in top 5": lead_ins,
            "unjudged hits": unjudged, "questions": len(runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    parser.add_argument("--judgments", type=Path, default=JUDGMENTS)
    parser.add_argument("--reranker", type=Path, default=None,
                        help="A reranker folder to measure instead of the shipped models/reranker.")
    parser.add_argument("--depth", type=int, default=None, help="Candidates the reranker reorders.")
    parser.add_argument("--held-out", action="store_true",
                        help="Also print the held-out half (only for the figure reported, never while choosing).")
    args = parser.parse_args()
    reranker = load_reranker(args.reranker) if args.reranker else "default"
    if reranker is None:
        parser.error(f"no reranker in {args.reranker}")
    if args.depth:
        query.RERANK_DEPTH = args.depth

    data = json.loads(args.judgments.read_text(encoding="utf-8"))
    judged = data["questions"]
    con = store.connect(load_settings(out_dir=args.out).store_path, create=False)
    texts = {h["span_id"]: h["text"] for q in judged.values() for h in q["hits"]}
    runs: dict[str, dict[str, list[str]]] = {}
    for qid, q in judged.items():
        for name, hits in variants(con, q["question"], reranker=reranker).items():
            runs.setdefault(name, {})[qid] = hits
    timings: dict[str, list[float]] = {"today's search": [], "without the reranker": [],
                                       "today's search, the question asked again": []}
    model = default_reranker() if reranker == "default" else reranker
    for q in judged.values():                 # warm: every model loaded, every question asked once above
        for name, chosen in (("today's search", reranker), ("without the reranker", None),
                             ("today's search, the question asked again", reranker)):
            if name == "today's search" and model is not None:
                model.forget_scores()         # as a question asked for the first time: every pair scored
            started = time.perf_counter()
            query.search(con, q["question"], top=K_NDCG, reranker=chosen)
            timings[name].append(time.perf_counter() - started)
    con.close()
    parts = {"held out": [k for k, q in judged.items() if q["held_out"]],
             "the rest": [k for k, q in judged.items() if not q["held_out"]]}
    if not args.held_out:
        del parts["held out"]
    for part, ids in parts.items():
        print(f"\n{part} ({len(ids)} questions)")
        for name, run in runs.items():
            m = measure({k: run[k] for k in ids}, judged, texts)
            print(f"  {name:9} P@5 strict {m['P@5 strict']:.3f}  lenient {m['P@5 lenient']:.3f}  "
                  f"nDCG@10 {m['nDCG@10']:.3f}  no answer in top 5: {m['no answer in top 5']}  "
                  f"lead-ins in top 5: {m['lead-ins in top 5']}  unjudged: {m['unjudged hits']}")
    for name, times in timings.items():
        print(f"warm latency, {name}: median {statistics.median(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms over {len(times)} questions")


if __name__ == "__main__":
    main()
