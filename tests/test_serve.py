"""`collabmine serve` against a real Prefect server on 127.0.0.1: a triggered run changes the store."""

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import CORPUS, R001, stop_process_group

PREFECT = os.path.join(os.path.dirname(sys.executable), "prefect")


def _wait(predicate, timeout: float, what: str, procs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        for p in procs:
            assert p.poll() is None, f"{what}: a process exited early ({p.args[:3]})"
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _runs_ok(store) -> int:
    try:
        con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1)
        n = con.execute("SELECT COUNT(*) FROM runs WHERE status='ok'").fetchone()[0]
        con.close()
        return n
    except sqlite3.Error:
        return 0


def test_served_deployment_runs_when_triggered(tmp_path, prefect_api):
    """On the session's Prefect server (``prefect_api``: `prefect server start` on 127.0.0.1 with
    a database of its own), as an analyst's would be."""
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    shutil.copy(CORPUS / R001, corpus / R001)
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_API_URL=prefect_api,
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    started = []
    try:
        served = subprocess.Popen([sys.executable, "-m", "collabmine.cli", "serve", "--corpus", str(corpus),
                                   "--out", str(out)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        started.append(served)

        def registered() -> bool:  # asked of the API: each `prefect` command costs seconds of start-up
            try:
                url = prefect_api + "/deployments/name/collabmine/collabmine-scheduled"
                return urllib.request.urlopen(url, timeout=5).status == 200
            except OSError:
                return False

        def trigger() -> bool:
            done = subprocess.run([PREFECT, "deployment", "run", "collabmine/collabmine-scheduled"], env=env,
                                  capture_output=True, text=True, timeout=60)
            return done.returncode == 0

        _wait(registered, 120, "the deployment to be served", started)
        _wait(trigger, 60, "the deployment to be triggered", started)
        _wait(lambda: _runs_ok(out / "collabmine.sqlite") >= 1, 300, "the triggered run to finish", started)
        assert (out / "report.html").exists()
    finally:
        for proc in reversed(started):
            if proc.poll() is None:
                stop_process_group(proc)


def test_serve_checks_the_server_before_saying_it_serves(monkeypatch):
    from typer.testing import CliRunner

    from collabmine.cli import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    unset = CliRunner().invoke(app, ["serve"], env={"COLUMNS": "250", "PREFECT_API_URL": ""})
    assert unset.exit_code == 1 and "E071" in unset.output and "Serving" not in unset.output
    closed = CliRunner().invoke(app, ["serve"], env={"COLUMNS": "250", "PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert closed.exit_code == 1 and "E071" in closed.output and "127.0.0.1:9" in closed.output
    assert "Serving" not in closed.output


def test_the_schedule_names_its_next_runs_in_its_time_zone():
    from datetime import datetime, timezone

    from collabmine.errors import ConfigError
    from collabmine.settings import load_settings
    from flows.pipeline import next_runs

    now = datetime(2026, 12, 7, 4, 0, tzinfo=timezone.utc)          # a Monday, before 06:00
    utc = next_runs(load_settings(), now=now)
    assert [t.isoformat() for t in utc] == ["2026-12-07T06:00:00+00:00", "2026-12-14T06:00:00+00:00",
                                            "2026-12-21T06:00:00+00:00"]
    new_york = next_runs(load_settings(schedule_timezone="America/New_York", schedule_cron="0 6 * * *"), now=now)
    assert new_york[0].isoformat() == "2026-12-07T06:00:00-05:00"
    with pytest.raises(ConfigError, match="E073"):
        next_runs(load_settings(schedule_cron="every monday"), now=now)
