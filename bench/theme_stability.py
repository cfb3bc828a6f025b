"""How many sentences keep their theme when a report is added: run the bundled corpus without
one report, add it, run again, and count the (sentence, category) pairs of the other reports
whose theme id is the same (split by the kind of theme they were in).

    .venv/bin/python bench/theme_stability.py [--leave 001_d1e1163017c50461.txt]   (~3 min)
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def memberships(store: Path) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    con = sqlite3.connect(store)
    try:
        return {(s, c): (t, k) for s, c, t, k in con.execute(
            "SELECT m.span_id, m.category, m.theme_id, t.kind FROM theme_members m LEFT JOIN themes t USING (theme_id)")}
    finally:
        con.close()


def run(corpus: Path, out: Path) -> None:
    subprocess.run([sys.executable, "-m", "collabmine.cli", "run", "--corpus", str(corpus), "--out", str(out),
                    "--no-progress"], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leave", default="001_d1e1163017c50461.txt", help="the report added second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus, out = Path(tmp) / "corpus", Path(tmp) / "out"
        corpus.mkdir()
        for path in (ROOT / "corpus").iterdir():
            if path.name != args.leave:
                shutil.copy(path, corpus / path.name)
        run(corpus, out)
        before = memberships(out / "collabmine.sqlite")
        shutil.copy(ROOT / "corpus" / args.leave, corpus / args.leave)
        run(corpus, out)
        after = memberships(out / "collabmine.sqlite")
    kept, total = Counter(), Counter()
    for pair, (theme, kind) in before.items():
        if pair not in after:
            continue
        group = kind or "outlier"
        total[group] += 1
        kept[group] += after[pair][0] == theme
    for group in sorted(total):
        print(f"{group:10s} {kept[group]:5d} of {total[group]:5d} kept ({kept[group] / total[group]:.1%})")
    print(f"{'all':10s} {sum(kept.values()):5d} of {sum(total.values()):5d} kept "
          f"({sum(kept.values()) / max(1, sum(total.values())):.1%})")


if __name__ == "__main__":
    main()
