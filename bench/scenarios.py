"""End-to-end scenarios (not tests), each a fresh `collabmine run` process as a user runs it:
cold (empty output folder and caches), warm no-op, and one new report added to the rest.
Prints wall time, the run's seconds per stage (from the runs table) and peak memory.

    .venv/bin/python bench/scenarios.py [--corpus corpus] [--scale 10 --scale 100]

``--scale N`` adds a cold run and a no-op re-run on a corpus of N shuffled copies of every report
(bench/corpus.py), to see whether time grows in proportion to size and memory stays bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import make_corpus, shuffled_copy  # noqa: E402


def run(corpus: Path, out: Path) -> dict:
    """One fresh CLI process; its own peak RSS comes from wait4 (not the cumulative maximum)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen([sys.executable, "-m", "collabmine.cli", "run", "--corpus", str(corpus), "--out",
                                  str(out), "--no-progress"], stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        if status != 0:
            log.seek(0)
            raise SystemExit(log.read().decode(errors="replace")[-3000:])
    con = sqlite3.connect(out / "collabmine.sqlite")
    row = con.execute("SELECT counts, durations FROM runs ORDER BY started DESC, rowid DESC LIMIT 1").fetchone()
    con.close()
    return {"wall": wall, "counts": json.loads(row[0]), "stages": json.loads(row[1]), "peak_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--scale", type=int, action="append", default=[],
                        help="Also run a corpus N times larger (repeatable).")
    parser.add_argument("--keep", action="store_true", help="Keep the generated corpora and outputs.")
    parser.add_argument("--only-scale", action="store_true", help="Skip the bundled-corpus scenarios.")
    args = parser.parse_args()
    reports = sorted(p for p in args.corpus.iterdir() if p.suffix in (".txt", ".md", ".pdf", ".docx", ".html"))
    work = Path(tempfile.mkdtemp(prefix="collabmine-scenarios-"))
    rows = []

    if not args.only_scale:
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

    for times in args.scale:
        scaled = work / f"x{times}"
        make_corpus(args.corpus, scaled, times=times)
        size = sum(p.stat().st_size for p in scaled.iterdir()) // 1024
        rows.append((f"x{times} cold ({times * len(reports)} reports, {size} KB)", run(scaled, work / f"out-x{times}")))
        print(f"  {rows[-1][0]}: {rows[-1][1]['wall']:.1f} s", flush=True)
        rows.append((f"x{times} no-op re-run", run(scaled, work / f"out-x{times}")))
        # One more report on top of the scaled corpus: its cost should follow its own size.
        newcomer = min(reports, key=lambda p: p.stat().st_size)
        (scaled / f"new_{newcomer.name}").write_text(
            shuffled_copy(newcomer.read_text(encoding="utf-8"), seed=999_999), encoding="utf-8")
        rows.append((f"x{times} + one new report ({newcomer.stat().st_size // 1024} KB)",
                     run(scaled, work / f"out-x{times}")))

    cold = rows[0][1]["wall"]
    print(f"corpus: {len(reports)} reports ({sum(p.stat().st_size for p in reports) // 1024} KB), {args.corpus}")
    print(f"{'scenario':44} {'wall s':>7} {'× first':>7} {'peak MB':>8} {'sent/s':>7}  stages (s)")
    for name, r in rows:
        stages = " ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
        counts = r["counts"]
        if counts.get("unchanged_since"):
            stages += " (inputs unchanged: recognised before Prefect started)"
        elif counts.get("themes_fitted"):
            stages += (f" (themes clustered afresh: {', '.join(counts.get('themes_refitted', [])) or 'none'}; "
                       f"{counts.get('themes_placed', 0)} sentences placed)")
        sentences = counts.get("spans", 0)
        print(f"{name:44} {r['wall']:7.1f} {r['wall'] / cold:7.2f} {r['peak_mb']:8.0f} "
              f"{sentences / r['wall']:7.0f}  {stages}")
    print("\npeak RSS (MB) of the run's process when each stage ended:")
    for name, r in rows:
        print(f"  {name:42} " + " ".join(f"{k} {v}" for k, v in r["counts"].get("peak_mb_after_stage", {}).items()))
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
