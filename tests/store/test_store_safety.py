"""A damaged or lost store is never a dead end: coded errors naming the file and the way back,
snapshots before every run that writes, and a restore that keeps every analyst's decision."""

import json
import os
import sqlite3

import pytest
from typer.testing import CliRunner

from collabmine import store
from collabmine.explore import review
from collabmine.store import backups
from collabmine.cli import app
from collabmine.errors import StoreError
from conftest import copy_store


def _invoke(*args):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture()
def reviewed(themed, tmp_path):
    """A copy of the corpus store with two reviews, a snapshot, then a third review (which only
    the store and the audit log hold)."""
    settings = copy_store(themed, tmp_path / "out")
    con = store.connect(settings.store_path)
    rows = con.execute("SELECT span_id, category FROM tags ORDER BY span_id LIMIT 3").fetchall()
    review.record_review(con, span_id=rows[0][0], action="accept", category=rows[0][1], reviewer="Ana")
    review.record_review(con, span_id=rows[1][0], action="comment", comment="=HYPERLINK(\"x\")", reviewer="Ana")
    con.close()
    backups.before_run(settings.store_path, keep=settings.snapshots_kept)
    con = store.connect(settings.store_path)
    review.record_review(con, span_id=rows[2][0], action="reject", category=rows[2][1], reviewer="Ben")
    con.close()
    return settings


def _damage(path, how):
    size = path.stat().st_size
    if how == "truncated":
        os.truncate(path, 4096 * 8)
    elif how == "emptied":
        os.truncate(path, 0)
    elif how == "header":
        with open(path, "r+b") as handle:
            handle.write(b"\0" * 100)
    elif how == "mid-file":
        with open(path, "r+b") as handle:
            handle.seek(size // 2 - (size // 2) % 4096)
            handle.write(os.urandom(8192))
    elif how == "foreign":
        path.unlink()
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE customers (name TEXT)")
        con.commit()
        con.close()


def test_every_review_is_in_the_audit_log_beside_the_store(reviewed):
    logged, bad = backups.read_audit_log(reviewed.out_dir / "reviews.jsonl")
    con = store.connect(reviewed.store_path)
    in_store = backups.store_reviews(con)
    con.close()
    assert bad == 0 and len(logged) == len(in_store) == 3
    assert [r["action"] for r in logged] == ["accept", "comment", "reject"] and logged[1]["comment"] == '=HYPERLINK("x")'


@pytest.mark.parametrize("how", ["truncated", "emptied", "header", "mid-file"])
def test_a_damaged_store_gives_e024_and_restore_brings_back_every_review(reviewed, how):
    out = reviewed.out_dir
    _damage(reviewed.store_path, how)
    checked = _invoke("check", "--out", str(out))
    assert checked.exit_code == 1 and "E024" in checked.output and str(reviewed.store_path) in checked.output
    # `check` says what `restore` would bring back — never "run check" again.
    text = " ".join(checked.output.split())
    assert "would bring back" in text and "collabmine check" not in text, checked.output
    verified = _invoke("verify", "--out", str(out))
    assert verified.exit_code == 1 and "E024" in verified.output and "collabmine restore" in verified.output
    # A run stops before writing (and never says "Nothing changed" of a damaged store).
    ran = _invoke("run", "--corpus", str(reviewed.corpus_dir), "--out", str(out), "--no-progress")
    assert ran.exit_code == 1 and "E024" in ran.output and "Nothing changed" not in ran.output

    restored = _invoke("restore", "--out", str(out))
    assert restored.exit_code == 0, restored.output
    assert "replayed 1 reviews" in restored.output and "3 reviews in the store" in restored.output
    assert _invoke("check", "--out", str(out)).exit_code == 0
    con = store.connect(reviewed.store_path)
    assert sorted(r["reviewer"] for r in backups.store_reviews(con)) == ["Ana", "Ana", "Ben"]
    con.close()
    kept = list(out.glob("collabmine.sqlite.replaced-*"))
    assert len([k for k in kept if not k.name.endswith(("-wal", "-shm"))]) == 1   # the damaged file, kept


def test_someone_elses_database_is_named_as_such(reviewed):
    _damage(reviewed.store_path, "foreign")
    result = _invoke("themes", "--out", str(reviewed.out_dir))
    assert result.exit_code == 1 and "E025" in result.output and "not a collabmine store" in result.output


def test_a_lost_store_without_snapshots_keeps_every_review(reviewed):
    for snapshot in (reviewed.out_dir / "backups").glob("*.sqlite"):
        snapshot.unlink()
    reviewed.store_path.unlink()
    refused = _invoke("restore", "--out", str(reviewed.out_dir))
    assert refused.exit_code == 1 and "E026" in refused.output and "--empty" in refused.output
    fresh = _invoke("restore", "--out", str(reviewed.out_dir), "--empty")
    assert fresh.exit_code == 0 and "replayed 3 reviews" in fresh.output
    con = store.connect(reviewed.store_path)
    assert len(backups.store_reviews(con)) == 3
    assert backups.replay_reviews(con) == 0          # replaying twice adds nothing
    con.close()


def test_snapshots_rotate_and_a_damaged_one_is_never_restored(reviewed):
    for _ in range(4):
        backups.before_run(reviewed.store_path, keep=2)
    snapshots = backups.list_snapshots(reviewed.store_path)
    assert len(snapshots) == 2 and all(s.sound and s.reviews == 3 for s in snapshots)
    # Each snapshot is one file: no WAL or shared-memory file beside it, even after being read.
    assert sorted(p.name for p in (reviewed.out_dir / "backups").iterdir()) == sorted(s.path.name for s in snapshots)
    _damage(snapshots[0].path, "header")              # the newest
    listed = _invoke("restore", "--out", str(reviewed.out_dir), "--list")
    assert listed.exit_code == 0 and "no:" in listed.output
    done = backups.restore(reviewed.store_path, cache_dir=reviewed.cache_dir)
    assert done.source == snapshots[1].path and done.reviews == 3 and done.replayed == 0
    refused = _invoke("restore", "--out", str(reviewed.out_dir), "--snapshot", str(snapshots[0].path))
    assert refused.exit_code == 1 and "E027" in refused.output


def test_a_cut_log_line_is_skipped_and_counted(reviewed):
    log = reviewed.out_dir / "reviews.jsonl"
    with open(log, "a", encoding="utf-8") as handle:
        handle.write('{"doc_sha": "ab", "start": 1')          # a crash mid-line
    rows, bad = backups.read_audit_log(log)
    assert len(rows) == 3 and bad == 1
    assert json.loads(log.read_text().splitlines()[0])["reviewer"] == "Ana"


def test_a_store_from_a_newer_collabmine_is_refused(tmp_path):
    path = tmp_path / "collabmine.sqlite"
    store.connect(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version={store.SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match="E028") as refused:
        store.connect(path, create=False)
    assert str(path) in str(refused.value)
