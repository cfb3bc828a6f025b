"""Peak memory of ingesting a corpus with a plain thread pool (no Prefect), to separate what the
data costs from what the flow around it costs.

    .venv/bin/python bench/corpus.py --times 10 --dest /tmp/x10 && .venv/bin/python bench/ingest_memory.py /tmp/x10
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from collabmine.runtime import configure_environment  # noqa: E402

configure_environment()

from collabmine import ingest  # noqa: E402
from collabmine.settings import load_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--workers", type=int, default=6, help="6 = Prefect's default thread pool on 2 cores")
    args = parser.parse_args()
    settings = load_settings(corpus_dir=args.corpus)
    paths = ingest.candidate_reports(settings.corpus_dir)
    started = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(lambda p: ingest.process_report(p, settings, sources={}), paths))
    print(f"{len(results)} reports, {sum(len(r.spans) for r in results)} spans, {args.workers} threads: "
          f"{time.perf_counter() - started:.1f} s, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
