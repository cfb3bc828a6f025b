"""Search quality on judged researcher questions: precision@5 and nDCG@10 of `collabmine query`,
against the search before session 8 rebuilt in the same run.

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

from collabmine import store  # noqa: E402
from collabmine.explore import query  # noqa: E402
from collabmine.embed import default_embedder  # noqa: E402
from collabmine.settings import load_settings  # noqa: E402

#: Precision is read at 5 (what a researcher sees first), nDCG at 10 (the first page).
K_PRECISION, K_NDCG = 5, 10


def ndcg(gains: list[int], ideal: int, k: int = K_NDCG) -> float:
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))
    best = sum(1 / math.log2(i + 2) for i in range(min(ideal, k)))
    return dcg / best if best else 0.0


def baseline(con, question: str) -> list[str]:
    """The search before session 8, rebuilt from the same library functions: reciprocal rank
    fusion of BM25 and MiniLM, no category intent, no re-ranking, no floor."""
    filters = query.Filters()
    scores = query.fuse([r for r in (query.lexical_ranking(con, question, filters),
                                     query.semantic_ranking(con, question, filters, embedder=default_embedder()).ids) if r])
    return sorted(scores, key=lambda s: (-scores[s], s))[:K_NDCG]


def score(systems: dict, judged: dict) -> dict:
    """Per system: mean P@5, P@10, nDCG@10 over questions with a judged relevant answer, the
    nonsense queries' hit counts, and the hits nobody judged."""
    out = {}
    for name, run in systems.items():
        p5, p10, n10, noise, unjudged = [], [], [], {}, []
        for question, answers in judged.items():
            hits = run[question]
            relevant = {s for s, a in answers.items() if a["relevant"]}
            unjudged += [(question, s) for s in hits if s not in answers]
            if not relevant:
                noise[question] = len(hits)
                continue
            gains = [int(s in relevant) for s in hits]
            p5.append(sum(gains[:K_PRECISION]) / K_PRECISION)
            p10.append(sum(gains[:K_NDCG]) / K_NDCG)
            n10.append(ndcg(gains, len(relevant)))
        out[name] = {"P@5": sum(p5) / len(p5), "P@10": sum(p10) / len(p10), "nDCG@10": sum(n10) / len(n10),
                     "per_question": dict(zip([q for q, a in judged.items() if any(x["relevant"] for x in a.values())],
                                              zip(p5, n10))),
                     "noise": noise, "unjudged": unjudged}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    parser.add_argument("--judgments", type=Path, default=ROOT / "bench" / "search_judgments.json")
    parser.add_argument("--unjudged", type=Path, help="write the hits nobody judged (to judge by reading) to this JSON file")
    args = parser.parse_args()
    judged = json.loads(args.judgments.read_text(encoding="utf-8"))["questions"]
    con = store.connect(load_settings(out_dir=args.out).store_path, create=False)
    systems = {"before (RRF of BM25 and MiniLM)": {q: baseline(con, q) for q in judged},
               "now (intent, readable first, no near-duplicates, floor)":
                   {q: query.search(con, q, top=K_NDCG)["span_id"].tolist() for q in judged}}
    results = score(systems, judged)
    names = list(results)
    print(f"{'question':66} " + "  ".join(f"P@5 nDCG@10 [{k}]" for k in range(len(names))))
    for question in results[names[-1]]["per_question"]:
        cells = "  ".join(f"{results[n]['per_question'][question][0]:.2f} {results[n]['per_question'][question][1]:.3f}"
                          for n in names)
        print(f"{question[:66]:66} {cells}")
    for k, name in enumerate(names):
        r = results[name]
        print(f"[{k}] {name}: P@5 {r['P@5']:.3f}, P@10 {r['P@10']:.3f}, nDCG@10 {r['nDCG@10']:.3f} over "
              f"{len(r['per_question'])} questions; nonsense queries' hits {r['noise']}; {len(r['unjudged'])} hits not judged")
    if args.unjudged:
        texts = {}
        for r in results.values():
            for question, span_id in r["unjudged"]:
                row = con.execute("SELECT text FROM spans WHERE span_id = ?", (span_id,)).fetchone()
                texts.setdefault(question, {})[span_id] = {"relevant": None, "text": row[0]}
        args.unjudged.write_text(json.dumps(texts, indent=1, ensure_ascii=False), encoding="utf-8")
    con.close()


if __name__ == "__main__":
    main()
