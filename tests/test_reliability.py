"""A killed run loses nothing, two runs cannot share a store, and the flow runs on Dask."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from collabmine.cli import app
from collabmine.errors import StoreError
from collabmine.store.lock import run_lock
from conftest import CORPUS, R001, R004, excerpt

CLI = [sys.executable, "-m", "collabmine.cli"]


def _corpus(root, *names):
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    for name in (*names, "sources.yaml"):
        shutil.copy(CORPUS / name, corpus / name)
    return corpus


def _stage(store_path) -> tuple[str, str] | None:
    try:
        con = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=1)
        row = con.execute("SELECT status, stage FROM runs ORDER BY started DESC, rowid DESC LIMIT 1").fetchone()
        con.close()
        return row
    except sqlite3.Error:
        return None


#: Where a run is killed (SIGKILL, by the run itself: collabmine.runtime.fault_point): at the
#: start of each stage, and with every output file written but none yet moved into place.
FAULT_POINTS = ("ingest", "embed", "tag", "themes", "evidence", "outputs", "outputs-staged")


def _outputs(out) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and not p.name.startswith(".")
            and p.suffix in (".csv", ".parquet", ".xlsx", ".md", ".bib", ".html")}


def test_a_run_killed_at_any_point_loses_nothing(tmp_path, prefect_api):
    """kill -9 at each stage in turn (each killed run resuming the last): the previous outputs
    stay byte for byte and verify, reviews stay, the next run completes, and `changes` shows
    what the killed runs did; an orphaned temporary Prefect server is ended.

    The runs use one Prefect server (``prefect_api``) but the last killed run, which starts its
    own temporary server as a plain run does and so leaves it orphaned for the next run to end.
    The added report is a 20,000-character excerpt: where a run is killed does not depend on
    the size of what it was doing."""
    from collabmine import store
    from collabmine.explore import review
    from collabmine.runtime import orphaned_servers

    corpus, out = _corpus(tmp_path, R001), tmp_path / "out"
    shared = os.environ | {"PREFECT_API_URL": prefect_api}
    first = subprocess.run([*CLI, "run", "--corpus", str(corpus), "--out", str(out), "--no-progress"],
                           capture_output=True, text=True, timeout=600, env=shared)
    assert first.returncode == 0, first.stderr[-3000:]
    con = store.connect(out / "collabmine.sqlite")
    span_id, category = con.execute("SELECT span_id, category FROM tags ORDER BY span_id LIMIT 1").fetchone()
    review.record_review(con, span_id=span_id, action="reject", category=category, reviewer="Ana")
    con.close()
    before = _outputs(out)

    added = corpus / "excerpt_of_004.txt"
    added.write_text(excerpt(R004, 20_000), encoding="utf-8")
    orphans = set()
    for point in FAULT_POINTS:
        # Output to a file, not a pipe: the orphaned Prefect server inherits it and would keep a
        # pipe open (capture_output would wait for it forever).
        log = tmp_path / f"killed-at-{point}.log"
        own_server = point == FAULT_POINTS[-1]
        with open(log, "w") as sink:
            victim = subprocess.run([*CLI, "run", "--corpus", str(corpus), "--out", str(out), "--no-progress"],
                                    stdout=sink, stderr=subprocess.STDOUT, timeout=600,
                                    env=(os.environ if own_server else shared) | {"COLLABMINE_FAULT_AT": point})
        assert victim.returncode == -signal.SIGKILL, (point, log.read_text()[-2000:])
        assert _stage(out / "collabmine.sqlite") == ("running", "outputs" if point == "outputs-staged" else point)
        assert _outputs(out) == before, point                      # every output file as it was
        verified = CliRunner().invoke(app, ["verify", "--out", str(out), "--corpus", str(corpus)])
        assert verified.exit_code == 0, (point, verified.output)
        orphans |= set(orphaned_servers())
        if own_server:
            assert orphans  # the killed run could not stop its temporary Prefect server …

    after = subprocess.run([*CLI, "run", "--corpus", str(corpus), "--out", str(out), "--no-progress"],
                           capture_output=True, text=True, timeout=600, env=shared)
    assert after.returncode == 0, after.stderr[-3000:]
    assert not (set(orphaned_servers()) & orphans)                  # … the next run ended it
    con = sqlite3.connect(out / "collabmine.sqlite")
    statuses = [r[0] for r in con.execute("SELECT status FROM runs ORDER BY started, rowid")]
    cited = {r[0] for r in con.execute("SELECT DISTINCT file FROM evidence")}
    reviews = con.execute("SELECT reviewer, action FROM reviews").fetchall()
    con.close()
    assert statuses == ["ok", *["abandoned"] * len(FAULT_POINTS), "ok"] and cited == {R001, added.name}
    assert reviews == [("Ana", "reject")] and not (out / ".outputs-partial").exists()
    assert _outputs(out) != before
    # The killed run that ingested the added report recorded it; `changes` shows it with the run that completed.
    shown = CliRunner().invoke(app, ["changes", "--out", str(out)], env={"COLUMNS": "250"})
    assert "report_added" in shown.output and added.name in shown.output and "stopped before it finished" in shown.output


def test_a_second_run_on_the_same_store_exits_with_a_clear_message(tmp_path):
    out = tmp_path / "out"
    with run_lock(out):
        result = CliRunner().invoke(app, ["run", "--corpus", str(CORPUS), "--out", str(out), "--no-progress"])
    assert result.exit_code == 1 and "E060" in result.output and "--wait" in result.output
    assert "Traceback" not in result.output and "prefect" not in result.output.lower()  # stopped before Prefect


def test_the_lock_waits_for_a_run_that_finishes(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from collabmine.store.lock import run_lock\n"
        f"with run_lock(Path({str(tmp_path)!r})):\n    print('held', flush=True); time.sleep(2)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(StoreError, match="E060"):
        with run_lock(tmp_path, wait=0):
            pass
    started = time.monotonic()
    with run_lock(tmp_path, wait=30):
        assert time.monotonic() - started > 0.5  # it waited for the holder to let go
    holder.wait()


def test_per_report_tasks_run_on_a_two_worker_dask_cluster(tmp_path):
    pytest.importorskip("prefect_dask")
    from collabmine.settings import load_settings
    from flows.pipeline import run_pipeline

    corpus = _corpus(tmp_path, R001)
    settings = load_settings(corpus_dir=corpus, out_dir=tmp_path / "out", task_runner="dask", dask_workers=2)
    summary = run_pipeline(settings)
    assert summary["ok"] == 1 and summary["tags"] > 100 and summary["tagged_reports"] == 1
    assert summary["verified"]["quotes"] == summary["evidence_rows"] > 0


def test_refit_themes_reaches_the_flow(tmp_path, monkeypatch):
    import flows.pipeline as fp

    seen = {}

    def stop(settings, run, summary, show_progress):
        seen["refit"] = settings.refit_themes
        raise RuntimeError("stages stubbed")

    monkeypatch.setattr(fp, "_run_stages", stop)
    corpus = _corpus(tmp_path, R001)
    with pytest.raises(RuntimeError, match="stages stubbed"):
        fp.collabmine_flow.fn(str(corpus), str(tmp_path / "out"), refit_themes=True)
    assert seen == {"refit": True}

    # The CLI flag travels through run_pipeline into the flow's parameters, with the lock held.
    passed = {}

    def fake_flow(*args, **kwargs):
        passed.update(kwargs)
        passed["lock_free"] = _lock_is_free(tmp_path / "out2")
        return {"ok": 1, "reports": 1, "spans": 1, "argument_spans": 1, "errors": [], "duplicates": [], "store": "s"}

    monkeypatch.setattr(fp, "preload_in_background", lambda *loaders: None)
    monkeypatch.setattr(fp.collabmine_flow, "with_options", lambda **options: fake_flow)
    result = CliRunner().invoke(app, ["run", "--corpus", str(corpus), "--out", str(tmp_path / "out2"), "--refit-themes",
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    assert passed["refit_themes"] is True and passed["lock_held"] is True and passed["lock_free"] is False


def _lock_is_free(out) -> bool:
    try:
        with run_lock(out, wait=0):
            return True
    except StoreError:
        return False
