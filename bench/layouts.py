"""Tagging accuracy when the same reports come laid out differently (not a test; ~4 minutes).

The bundled reports are rewritten in layouts that other PDF-to-text tools produce — the words
unchanged, only the line breaks — the dev gold's offsets are moved to the same words in the
rewritten text, and each corpus goes through a fresh `collabmine run` and `collabmine eval`:

- as bundled: one line per paragraph, blank lines between;
- hard-wrapped at 80 columns, blank lines between paragraphs;
- hard-wrapped at 80 columns, *no* blank lines (paragraphs on single line breaks);
- CRLF line endings.

    .venv/bin/python bench/layouts.py [--gold ../shared/gold/dev.jsonl]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]


def _wrap(paragraph: str) -> str:
    if len(paragraph) <= 80 or "\n" in paragraph:
        return paragraph
    return "\n".join(textwrap.wrap(paragraph, 80, break_long_words=False, break_on_hyphens=False))


LAYOUTS: dict[str, Callable[[str], str]] = {
    "as bundled": lambda text: text,
    "wrapped at 80, blank lines": lambda text: "\n\n".join(_wrap(p) for p in text.split("\n\n")),
    "wrapped at 80, no blank lines": lambda text: "\n".join(_wrap(p) for p in text.split("\n\n")),
    "CRLF line endings": lambda text: text.replace("\n", "\r\n"),
}


def relocate(item: dict, text: str, original: str) -> dict | None:
    """The gold sentence's words found in the rewritten text (whitespace may differ); of several
    occurrences, the one at the same relative place."""
    pattern = r"\s+".join(re.escape(word) for word in item["text"].split())
    expected = item["start"] * len(text) / max(1, len(original))
    found = min(re.finditer(pattern, text), key=lambda m: abs(m.start() - expected), default=None)
    if found is None:
        return None
    return dict(item, start=found.start(), end=found.end(), text=found.group(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--gold", type=Path, default=ROOT.parent / "shared" / "gold" / "dev.jsonl")
    args = parser.parse_args()
    gold = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    reports = sorted(p for p in args.corpus.glob("*.txt"))
    work = Path(tempfile.mkdtemp(prefix="collabmine-layouts-"))
    try:
        for name, layout in LAYOUTS.items():
            folder = work / re.sub(r"\W+", "-", name)
            (folder / "corpus").mkdir(parents=True)
            moved = []
            for report in reports:
                original = report.read_text(encoding="utf-8")
                text = layout(original)
                (folder / "corpus" / report.name).write_bytes(text.encode("utf-8"))
                moved += [m for g in gold if g["source"] == report.name and (m := relocate(g, text, original))]
            (folder / "gold.jsonl").write_text("".join(json.dumps(g) + "\n" for g in moved), encoding="utf-8")
            cli = [sys.executable, "-m", "collabmine.cli"]
            subprocess.run([*cli, "run", "--corpus", str(folder / "corpus"), "--out", str(folder / "out"),
                            "--no-progress"], check=True, capture_output=True)
            result = subprocess.run([*cli, "eval", "--gold", str(folder / "gold.jsonl"), "--out", str(folder / "out"),
                                     "--no-errors"], check=True, capture_output=True, text=True)
            summary = " ".join(result.stdout.split())
            macro = re.search(r"macro-F1 ([\d.]+)", summary)
            lost = re.search(r"\((\d+) not matched", summary)
            print(f"{name:32s} macro-F1 {macro.group(1) if macro else '?'}  gold sentences {len(moved)}"
                  f"  not matched to any span {lost.group(1) if lost else 0}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
