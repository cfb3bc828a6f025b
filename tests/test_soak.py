"""Many readers, one writer (CI-sized soak): the web app serving pages and taking reviews, and a
CLI polling `runs`, in this process, while `collabmine run` (another process) takes corpus
updates — a report added and another changed, then one removed. Every run completes with nothing logged as an
error, no page or poll fails (a theme listed before a run re-clustered its category away answers 404: counted
apart, as a review of a sentence gone is), and every review posted is kept and applied by the next run (a
review of a sentence its report's new version no longer has is kept, not applied).

(Polling `runs` during a cold run once failed it 3 of 3 times with "disk I/O error".)
bench/soak.py runs the same for longer (``soak`` with whole reports and more cycles).

In the test suite the runs use one Prefect server started for the session (``prefect_api``), not
a temporary server each: the readers' window is the runs' stages, not Prefect's start-up."""

import os
import random
import shutil
import subprocess
import sys
import threading
import time

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from collabmine import store
from collabmine.cli import app as cli
from collabmine.explore.web import create_app
from collabmine.settings import load_settings
from conftest import CORPUS, R000, R001, R004, excerpt

CLI = [sys.executable, "-m", "collabmine.cli"]
BASE = "http://127.0.0.1"
PAGES = ("/", "/reports", "/review", "/search?q=trust+between+headteachers", "/api/progress", "/api/themes")


class Readers:
    """Threads that read and review until stopped, recording anything that went wrong."""

    def __init__(self, settings):
        self.settings = settings
        self.run = 0                                      # the run in progress while a review is posted
        self.client = TestClient(create_app(settings), base_url=BASE)
        self.csrf = self.client.get("/api/csrf").json()["csrf"]
        self.failures: list[str] = []
        self.posted: list[tuple[int, int]] = []          # (review id, run in progress)
        self.stale = 0                                    # sentences gone between reading and posting
        self.vanished = 0                                 # themes gone between the list and their page
        self.reads = self.polls = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._guarded, args=(self._web,), daemon=True),
                        threading.Thread(target=self._guarded, args=(self._poll,), daemon=True)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def _guarded(self, loop) -> None:
        """An exception inside the app or the CLI is a failure, and reading goes on."""
        while not self.stop.is_set():
            try:
                loop()
            except Exception as exc:  # noqa: BLE001 - recorded and asserted on
                import traceback

                self.failures.append("".join(traceback.format_exception(exc))[-1500:])

    def _web(self) -> None:
        rng = random.Random(7)
        while not self.stop.is_set():
            for url in PAGES:
                response = self.client.get(url)
                self.reads += 1
                if response.status_code != 200:
                    self.failures.append(f"GET {url}: {response.status_code} {response.text[:300]}")
            themes = self.client.get("/api/themes").json()
            if themes:
                theme = rng.choice(themes)["theme_id"]
                page = self.client.get(f"/themes/{theme}")
                if page.status_code == 404 and theme not in {t["theme_id"] for t in self.client.get("/api/themes").json()}:
                    self.vanished += 1  # a run re-clustered its category between the list and the page
                elif page.status_code != 200:
                    self.failures.append(f"GET /themes/{theme}: {page.status_code} {page.text[:300]}")
            # Like an analyst: a tagged sentence of the report that stays, read from the store now.
            con = store.connect(self.settings.store_path, create=False)
            rows = con.execute("SELECT t.span_id, t.category FROM tags t JOIN spans s USING (span_id) JOIN documents d"
                               " USING (doc_id) WHERE d.path = ? ORDER BY t.span_id", (R001,)).fetchall()
            con.close()
            if not rows:      # its new version is stored but not yet tagged
                time.sleep(0.2)
                continue
            row = rng.choice(rows)
            run = self.run
            posted = self.client.post("/api/reviews", headers={"X-CSRF-Token": self.csrf}, json={
                "span_id": row["span_id"], "action": "reject", "category": row["category"], "reviewer": "Soak"})
            if posted.status_code == 200:
                self.posted.append((posted.json()["review_ids"][0], run))
            elif posted.status_code == 404 and "E080" in posted.text:
                self.stale += 1     # the report changed between reading the sentence and posting
            else:
                self.failures.append(f"POST /api/reviews: {posted.status_code} {posted.text[:300]}")
            time.sleep(0.5)

    def _poll(self) -> None:
        runner = CliRunner()
        while not self.stop.is_set():
            result = runner.invoke(cli, ["runs", "--out", str(self.settings.out_dir)])
            self.polls += 1
            if result.exit_code != 0:
                self.failures.append(f"collabmine runs: {result.output[-500:]}")
            time.sleep(0.5)


def _run(corpus, out, log, api_url: str | None = None) -> float:
    started = time.perf_counter()
    env = (os.environ | {"PREFECT_API_URL": api_url}) if api_url else None
    with open(log, "w") as sink:
        done = subprocess.run([*CLI, "run", "--corpus", str(corpus), "--out", str(out), "--no-progress"],
                              stdout=sink, stderr=subprocess.STDOUT, timeout=3600, env=env)
    text = log.read_text()
    assert done.returncode == 0, text[-3000:]
    assert "Traceback" not in text and "| ERROR" not in text and "disk I/O" not in text, text[-3000:]
    assert "Warning" not in text, text[-3000:]       # no library warnings in a normal run
    return time.perf_counter() - started


def soak(root, *, excerpt_chars: int, cycles: int, api_url: str | None = None) -> dict:
    """A cold run, then ``cycles`` × (a report added and another changed; the added one removed)
    with the readers going; asserts everything the module docstring promises, returns figures.
    ``api_url``: a Prefect server for the runs (else each starts its own temporary server)."""
    corpus, out = root / "corpus", root / "out"
    corpus.mkdir()
    shutil.copy(CORPUS / R001, corpus / R001)                 # reviewed throughout: it never changes
    changed, added = corpus / "excerpt_of_004.txt", corpus / "excerpt_of_000.txt"
    changed.write_text(excerpt(R004, excerpt_chars), encoding="utf-8")
    seconds = [_run(corpus, out, root / "run-0.log", api_url)]
    settings = load_settings(corpus_dir=corpus, out_dir=out)

    def add_one_change_another(k: int):
        added.write_text(excerpt(R000, excerpt_chars), encoding="utf-8")
        changed.write_text(excerpt(R004, excerpt_chars) + f"\nHeads said trust grew over year {k}.\n",
                           encoding="utf-8")

    updates = [step for k in range(cycles) for step in
               ((f"add-and-change-{k}", lambda k=k: add_one_change_another(k)), (f"remove-{k}", added.unlink))]
    with Readers(settings) as readers:
        for k, (what, update) in enumerate(updates, start=1):
            update()
            readers.run = k
            seconds.append(_run(corpus, out, root / f"run-{k}-{what}.log", api_url))
        time.sleep(0.5)
    assert not readers.failures, readers.failures[:5]
    assert readers.reads > 20 and readers.polls > 5 and readers.stale < len(readers.posted)

    con = store.connect(settings.store_path, create=False)
    kept = {r[0] for r in con.execute("SELECT review_id FROM reviews WHERE reviewer='Soak'")}
    statuses = [r[0] for r in con.execute("SELECT status FROM runs ORDER BY started, rowid")]
    # Reviews posted before the last run started were applied by it: no sentence a review
    # rejected (and that is still in the corpus) sits in a theme for that category.
    before_last = max(i for i, run in readers.posted if run < len(updates))
    applied = con.execute("SELECT COUNT(*) FROM label_decisions WHERE action='reject' AND review_id <= ?",
                          (before_last,)).fetchone()[0]
    still_in_themes = con.execute("SELECT COUNT(*) FROM label_decisions d JOIN theme_members m USING (span_id, category)"
                                  " WHERE d.action='reject' AND d.review_id <= ? AND m.theme_id IS NOT NULL",
                                  (before_last,)).fetchone()[0]
    con.close()
    assert kept == {i for i, _ in readers.posted}
    assert statuses == ["ok"] * (len(updates) + 1)
    assert applied > 0 and still_in_themes == 0
    return {"runs": len(seconds), "run_seconds": [round(x, 1) for x in seconds], "page_reads": readers.reads,
            "runs_polls": readers.polls, "reviews_posted": len(readers.posted), "reviews_kept": len(kept),
            "stale_sentences": readers.stale, "vanished_themes": readers.vanished, "rejections_applied": applied, "failures": len(readers.failures)}


def test_readers_and_reviewers_while_runs_write(tmp_path, prefect_api):
    soak(tmp_path, excerpt_chars=20_000, cycles=1, api_url=prefect_api)
