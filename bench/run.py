"""Benchmarks (not tests): wall time, throughput and peak memory per stage, each model stage
compared in the same run with the bare library doing the same work.

    make bench      # or: .venv/bin/python bench/run.py [--corpus corpus]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from collabmine.runtime import configure_environment  # noqa: E402

configure_environment()

from collabmine import ingest, store, tagging  # noqa: E402
from collabmine.embed import MiniLMEmbedder, embed_cached  # noqa: E402
from collabmine.ingest.metadata import load_sources  # noqa: E402
from collabmine.ingest.normalise import normalise_span  # noqa: E402
from collabmine.ingest.segment import load_sentencizer  # noqa: E402
from collabmine.settings import load_settings  # noqa: E402
from collabmine.ingest.structure import build_structure  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[1] / "corpus")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="collabmine-bench-"))
    settings = load_settings(corpus_dir=args.corpus, out_dir=out)
    sources = load_sources(settings.sources_file)
    paths = ingest.candidate_reports(settings.corpus_dir)
    nlp = load_sentencizer(settings.spacy_model)
    rows = []

    # Ingest (read + structure + normalise + sentences) vs bare nlp.pipe on the same unit texts.
    results, t_ingest = timed(lambda: [ingest.process_report(p, settings, sources=sources) for p in paths])
    n_sent = sum(len(r.spans) for r in results)
    n_words = sum(len(s.text.split()) for r in results for s in r.spans)
    texts = []
    for p in paths:
        raw = p.read_text(encoding="utf-8")
        texts += [normalise_span(raw, u.start, u.end).text for u in build_structure(raw).units
                  if u.kind in ("paragraph", "bullet")]
    _, t_pipe = timed(lambda: sum(1 for _ in nlp.pipe(texts, batch_size=settings.spacy_batch_size)))
    rows.append(("ingest (all stages)", t_ingest, n_sent, n_words, f"bare nlp.pipe {t_pipe:.2f}s → ×{t_ingest / t_pipe:.1f}"))

    con = store.connect(settings.store_path)
    for r in results:
        store.write_document(con, r.record, r.spans)
    arg = store.taggable_spans(con)
    sentences = [r["text"] for r in arg]
    words = sum(len(s.split()) for s in sentences)

    embedder = MiniLMEmbedder()
    _, t_bare = timed(lambda: embedder.model.encode(sentences, batch_size=64, show_progress_bar=False))
    _, t_cold = timed(lambda: embed_cached(sentences, embedder=embedder, con=con))
    _, t_warm = timed(lambda: embed_cached(sentences, embedder=embedder, con=con))
    rows.append(("embed, cold cache", t_cold, len(sentences), words, f"bare encode {t_bare:.2f}s → ×{t_cold / t_bare:.2f}"))
    rows.append(("embed, warm cache", t_warm, len(sentences), words, f"×{t_warm / t_bare:.3f} of bare encode"))

    # The fine-tuned classifier encodes every distinct sentence and heading once (ONNX Runtime unless
    # COLLABMINE_ONNX=0): its baseline is bare SentenceTransformer.encode of the sentences alone,
    # measured above in this run.
    tagger = tagging.load_tagger(settings)
    spans = tagging.data.taggable_spans(con)
    _, t_tag = timed(lambda: tagging.stage.tag_spans(spans, tagger))
    rows.append(("tag (fine-tuned MiniLM, with context)", t_tag, len(spans), words,
                 f"bare encode {t_bare:.2f}s → ×{t_tag / t_bare:.2f}"))

    print(f"corpus: {len(paths)} reports, {settings.corpus_dir}")
    print(f"{'stage':42} {'wall s':>8} {'sent/s':>9} {'words/s':>10}  baseline (same run)")
    for name, t, n, w, base in rows:
        print(f"{name:42} {t:8.2f} {n / t:9.0f} {w / t:10.0f}  {base}")
    print(f"peak RSS {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
