"""The long soak (issue 31): the test suite's readers-and-reviewers soak (tests/test_soak.py)
with larger reports and more corpus updates. Prints the figures for BENCHMARKS.md.

    .venv/bin/python bench/soak.py --cycles 3 --chars 120000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from collabmine.runtime import configure_environment  # noqa: E402

configure_environment()

from test_soak import soak  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=3, help="add+change then remove, this many times")
    parser.add_argument("--chars", type=int, default=120_000, help="characters of each changing report")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="collabmine-soak-") as root:
        figures = soak(Path(root), excerpt_chars=args.chars, cycles=args.cycles)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
