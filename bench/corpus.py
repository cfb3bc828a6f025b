"""Scaled corpora for the benchmarks: ``times`` copies of every bundled report, each copy with its
body paragraphs shuffled (seeded), so every file has its own bytes and sha256 while the language,
paragraph lengths and headings stay those of real reports.

    .venv/bin/python bench/corpus.py --times 10 --dest /tmp/corpus-x10
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = (".txt", ".md")
#: The opening paragraphs (cover, title page, imprint) stay first, so metadata is still found.
KEEP_FRONT = 12


def shuffled_copy(text: str, seed: int) -> str:
    paragraphs = re.split(r"\n[ \t]*\n", text)
    front, body = paragraphs[:KEEP_FRONT], paragraphs[KEEP_FRONT:]
    random.Random(seed).shuffle(body)
    return "\n\n".join(front + body)


def make_corpus(source: Path, dest: Path, *, times: int) -> list[Path]:
    """Write ``times`` shuffled copies of each report in ``source`` to ``dest``; returns them."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    reports = sorted(p for p in source.iterdir() if p.suffix in SUFFIXES)
    for k in range(times):
        for n, report in enumerate(reports):
            text = report.read_text(encoding="utf-8")
            path = dest / f"copy{k:03d}_{report.name}"
            path.write_text(text if k == 0 else shuffled_copy(text, seed=k * 1000 + n), encoding="utf-8")
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--times", type=int, required=True)
    parser.add_argument("--dest", type=Path, required=True)
    parser.add_argument("--source", type=Path, default=ROOT / "corpus")
    args = parser.parse_args()
    written = make_corpus(args.source, args.dest, times=args.times)
    print(f"{len(written)} reports, {sum(p.stat().st_size for p in written) / 1e6:.1f} MB in {args.dest}")


if __name__ == "__main__":
    main()
