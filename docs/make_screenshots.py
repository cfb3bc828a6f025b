"""The README's screenshots, made from a real run so they never go stale (`make docs`).

Opens the web app over a copy of OUT's store (nothing is written to OUT) and the run's
report.html in Debian's headless Chromium (never a downloaded browser), and saves:
docs/gaps.png, docs/overview.png, docs/search.png, docs/review.png, docs/report.png.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))   # the live-server and browser helpers the web tests use

from webkit import browser, live_server  # noqa: E402

from collabmine.explore.web import create_app  # noqa: E402
from collabmine.runtime import configure_environment  # noqa: E402
from collabmine.settings import load_settings  # noqa: E402

#: page -> (file, full page?): what a reader sees first on each.
PAGES = {"/gaps": ("gaps.png", False), "/": ("overview.png", False),
         "/search?q=what+happens+when+the+headteacher+who+set+up+the+partnership+leaves": ("search.png", False),
         "/review?category=barrier": ("review.png", False)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "out", help="a run's output folder (default: out/)")
    parser.add_argument("--dest", type=Path, default=ROOT / "docs", help="where the PNGs go (default: docs/)")
    args = parser.parse_args()
    configure_environment()
    store = args.out / "collabmine.sqlite"
    if not store.exists():
        sys.exit(f"No store at {store}: run `make run` first.")
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch)
        shutil.copy(store, copy / store.name)
        with live_server(create_app(load_settings(out_dir=copy))) as base, browser() as b:
            page = b.new_page(viewport={"width": 1280, "height": 900})
            # The review page as an analyst sees it once their name is given (a cookie, no write).
            page.goto(base + "/review")
            page.fill("input[name=name]", "Ana Analyst")
            page.click("text=Start reviewing")
            for url, (name, full) in PAGES.items():
                page.goto(base + url)
                page.screenshot(path=str(args.dest / name), full_page=full)
                print(args.dest / name)
            page.goto((args.out / "report.html").resolve().as_uri())
            page.screenshot(path=str(args.dest / "report.png"))
            print(args.dest / "report.png")


if __name__ == "__main__":
    main()
