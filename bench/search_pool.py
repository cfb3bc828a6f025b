"""Pool the hits of every search variant for a question set, for judging by reading.

For each question: the top 10 of today's hybrid search, of the search before session 8 (RRF of
BM25 and MiniLM), of MiniLM alone and of BM25 alone, merged and shuffled by span id (a judge sees
no rank and no variant). Judges write a grade per hit: 2 answers the question (states a finding
about what was asked), 1 on topic but does not answer it, 0 not relevant.

    .venv/bin/python bench/search_pool.py --questions Q.json --out out --pool pool.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from search_quality import K_NDCG, baseline  # noqa: E402  (also sets up the offline environment)

from collabmine import store  # noqa: E402
from collabmine.explore import query  # noqa: E402
from collabmine.settings import load_settings  # noqa: E402


def variants(con, question: str, *, reranker="default") -> dict[str, list[str]]:
    """Each variant's top ``K_NDCG`` span ids for ``question`` (``reranker``: the cross-encoder of
    today's search; "default" is the shipped one)."""
    matcher = query.match_theme
    query.match_theme = lambda *a, **k: None       # the same search without theme matching
    try:
        unthemed = query.search(con, question, top=K_NDCG, reranker=None)["span_id"].tolist()
    finally:
        query.match_theme = matcher
    return {"now": query.search(con, question, top=K_NDCG, reranker=reranker)["span_id"].tolist(),
            "no rerank": query.search(con, question, top=K_NDCG, reranker=None)["span_id"].tolist(),
            "no theme": unthemed,
            "before": baseline(con, question),
            "semantic": query.search(con, question, top=K_NDCG, mode="semantic")["span_id"].tolist(),
            "lexical": query.search(con, question, top=K_NDCG, mode="lexical")["span_id"].tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    parser.add_argument("--pool", type=Path, required=True)
    args = parser.parse_args()
    questions = json.loads(args.questions.read_text(encoding="utf-8"))["questions"]
    con = store.connect(load_settings(out_dir=args.out).store_path, create=False)
    pool = {}
    for q in questions:
        ids = sorted({s for hits in variants(con, q["question"]).values() for s in hits})
        rows = {r[0]: r for r in con.execute(
            f"SELECT s.span_id, s.text, d.citation FROM spans s JOIN documents d ON d.doc_id = s.doc_id"
            f" WHERE s.span_id IN ({','.join('?' * len(ids))})", ids)} if ids else {}
        pool[q["id"]] = {"question": q["question"], "hits": [{"span_id": s, "text": rows[s][1], "report": rows[s][2],
                                                              "grade": None} for s in ids if s in rows]}
    con.close()
    args.pool.write_text(json.dumps(pool, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"{sum(len(p['hits']) for p in pool.values())} hits to judge for {len(pool)} questions -> {args.pool}")


if __name__ == "__main__":
    main()
