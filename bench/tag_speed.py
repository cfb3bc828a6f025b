"""The tag pass's throughput (issue 33): the shipped tagger over every taggable sentence of the
bundled corpus, against bare ``SentenceTransformer.encode`` of the same sentences in the same
process, alternating for a few rounds (the machine's speed drifts; the ratio is what compares
across runs and versions). With ONNX Runtime where the tagger has it, and with PyTorch alone.

    .venv/bin/python bench/tag_speed.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from collabmine.runtime import configure_environment  # noqa: E402

configure_environment()

from collabmine import ingest, store, tagging  # noqa: E402
from collabmine.embed import MiniLMEmbedder  # noqa: E402
from collabmine.ingest.metadata import load_sources  # noqa: E402
from collabmine.settings import load_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings(out_dir=Path(tempfile.mkdtemp(prefix="collabmine-tagspeed-")))
    sources = load_sources(settings.sources_file)
    con = store.connect(settings.store_path)
    for path in ingest.candidate_reports(settings.corpus_dir):
        result = ingest.process_report(path, settings, sources=sources)
        store.write_document(con, result.record, result.spans)
    spans = tagging.data.taggable_spans(con)
    embedder = MiniLMEmbedder()
    tagger = tagging.load_tagger(settings)
    variants = {"bare encode": lambda: embedder.model.encode(spans.texts, batch_size=64, show_progress_bar=False)}
    if getattr(tagger, "text_encoder", None) is not None:
        variants["tag (ONNX Runtime)"] = lambda: tagging.stage.tag_spans(spans, tagger)
    pytorch_only = dataclasses.replace(tagger, text_encoder=None) if hasattr(tagger, "text_encoder") else tagger
    variants["tag (PyTorch)"] = lambda: tagging.stage.tag_spans(spans, pytorch_only)
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, run in variants.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    bare = statistics.median(seconds["bare encode"])
    print(f"tagger {tagging.TAGGER_VERSION} ({tagging.fingerprint(tagging.tagger_dir(settings))}), "
          f"{len(spans.texts)} sentences, {args.rounds} rounds, medians:")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"  {name:22} {median:7.2f} s  {len(spans.texts) / median:6.0f} sentences/s  ×{median / bare:.2f} of bare encode"
              f"   (rounds: {', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
