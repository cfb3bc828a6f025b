"""End-to-end scenarios (not tests), each a fresh `collabmine run` process as a user runs it:
cold (empty output folder and caches), warm no-op, and one new report added to the rest.
Prints wall time, the run's seconds per stage (from the runs table) and peak memory.

    .venv/bin/python bench/scenarios.py [--corpus corpus]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(corpus: Path, out: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "collabmine.cli", "run", "--corpus", str(corpus), "--out", str(out),
                           "--no-progress"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    con = sqlite3.connect(out / "collabmine.sqlite")
    row = con.execute("SELECT counts, durations FROM runs ORDER BY started DESC, rowid DESC LIMIT 1").fetchone()
    con.close()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"wall": wall, "counts": json.loads(row[0]), "stages": json.loads(row[1]),
            "peak_mb": max(peak, before) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    args = parser.parse_args()
    reports = sorted(p for p in args.corpus.iterdir() if p.suffix in (".txt", ".md", ".pdf", ".docx", ".html"))
    work = Path(tempfile.mkdtemp(prefix="collabmine-scenarios-"))
    rows = []

    full = work / "full"
    shutil.copytree(args.corpus, full)
    rows.append(("cold (empty caches)", run(full, work / "out-full")))
    rows.append(("warm no-op re-run", run(full, work / "out-full")))

    # One new report: the rest first (not timed), then the smallest report added.
    newcomer = min(reports, key=lambda p: p.stat().st_size)
    partial = work / "partial"
    shutil.copytree(args.corpus, partial)
    (partial / newcomer.name).unlink()
    run(partial, work / "out-partial")
    shutil.copy(newcomer, partial / newcomer.name)
    rows.append((f"one new report ({newcomer.stat().st_size // 1024} KB)", run(partial, work / "out-partial")))

    cold = rows[0][1]["wall"]
    print(f"corpus: {len(reports)} reports ({sum(p.stat().st_size for p in reports) // 1024} KB), {args.corpus}")
    print(f"{'scenario':32} {'wall s':>7} {'× cold':>7} {'peak MB':>8}  stages (s)")
    for name, r in rows:
        stages = " ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
        print(f"{name:32} {r['wall']:7.1f} {r['wall'] / cold:7.2f} {r['peak_mb']:8.0f}  {stages}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
