"""Large reports of unique text: time and peak memory per stage.

A corpus of copies flatters the pipeline (embeddings are cached by text, so a copy costs almost
nothing); a large *unique* report does not. ``make_report`` writes one deterministically: a
seeded word-bigram model of the bundled corpus, paragraphs of 3–6 sentences of 10–30 words under
a heading every 25 paragraphs. Same size and seed → same bytes.

    .venv/bin/python bench/large_report.py --mb 5                 # ingest only, then a full run
    .venv/bin/python bench/large_report.py --mb 50 --ingest-only  # the ingest stage alone

Each measurement is a fresh process: ``collabmine run`` (its runs table gives seconds and peak
RSS per stage), or ``ingest.process_report`` alone for ``--ingest-only``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_report(path: Path, *, mb: float, seed: int = 0, corpus: Path = ROOT / "corpus") -> Path:
    words: list[str] = []
    for report in sorted(corpus.glob("*.txt")):
        words += re.findall(r"[A-Za-z][a-z']+|[A-Z]{2,}", report.read_text(encoding="utf-8"))
    following: dict[str, list[str]] = {}
    for a, b in zip(words, words[1:]):
        following.setdefault(a.lower(), []).append(b)
    rng = random.Random(seed)
    target = int(mb * 1_000_000)
    size, paragraph, section = 0, 0, 0
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("# A large report of generated text\n\n")
        while size < target:
            if paragraph % 25 == 0:
                section += 1
                heading = f"## {section} " + " ".join(rng.choice(words) for _ in range(rng.randint(2, 5))).capitalize()
                handle.write(heading + "\n\n")
                size += len(heading) + 2
            sentences = []
            for _ in range(rng.randint(3, 6)):
                word = rng.choice(words)
                sentence = [word]
                for _ in range(rng.randint(10, 30) - 1):
                    word = rng.choice(following.get(word.lower()) or words)
                    sentence.append(word)
                sentences.append(" ".join(sentence).capitalize() + ".")
            text = " ".join(sentences) + "\n\n"
            handle.write(text)
            size += len(text)
            paragraph += 1
    return path


def _measure(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        log.seek(0)
        output = log.read().decode(errors="replace")
    if status != 0:
        raise SystemExit(output[-3000:])
    return time.perf_counter() - started, usage.ru_maxrss / 1024, output


INGEST_ONLY = ("import resource, sys, time; from pathlib import Path; "
               "from collabmine.runtime import configure_environment; configure_environment(); "
               "from collabmine import ingest; from collabmine.settings import load_settings; "
               "p = Path(sys.argv[1]); s = load_settings(corpus_dir=p.parent, out_dir=p.parent / 'out'); "
               "t = time.perf_counter(); r = ingest.process_report(p, s, sources={}); "
               "print(r.status, len(r.spans), round(time.perf_counter() - t, 1))")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, action="append", required=True)
    parser.add_argument("--ingest-only", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the generated corpora and outputs under this folder")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="collabmine-large-"))
    for mb in args.mb:
        corpus = root / f"corpus-{mb:g}mb"
        corpus.mkdir(parents=True, exist_ok=True)
        report = corpus / f"generated-{mb:g}mb.txt"
        if not report.exists():
            make_report(report, mb=mb)
        wall, peak, output = _measure([sys.executable, "-c", INGEST_ONLY, str(report)])
        print(f"{mb:g} MB ({report.stat().st_size:,} bytes) ingest alone: {output.split()[-3:]} "
              f"wall {wall:.1f} s, peak RSS {peak:.0f} MB", flush=True)
        if args.ingest_only:
            continue
        out = root / f"out-{mb:g}mb"
        wall, peak, _ = _measure([sys.executable, "-m", "collabmine.cli", "run", "--corpus", str(corpus),
                                  "--out", str(out), "--no-progress"])
        con = sqlite3.connect(out / "collabmine.sqlite")
        durations, counts = (json.loads(v) for v in con.execute(
            "SELECT durations, counts FROM runs WHERE status = 'ok' ORDER BY started DESC LIMIT 1").fetchone())
        con.close()
        stages = ", ".join(f"{k} {v:.0f} s" for k, v in durations.items())
        peaks = ", ".join(f"{k} {v:.0f}" for k, v in counts.get("peak_mb_after_stage", {}).items())
        print(f"{mb:g} MB full run: wall {wall:.0f} s, peak RSS {peak:.0f} MB; {stages}; "
              f"peak MB after each stage: {peaks}; spans {counts.get('spans')}", flush=True)


if __name__ == "__main__":
    main()
