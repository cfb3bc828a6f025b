"""Reviews: validated, append-only, keyed by span identity, and applied to every later stage."""

import sqlite3

import numpy as np
import pytest

from collabmine import store
from collabmine.explore import review
from collabmine.embed import model_name
from collabmine.errors import NotFoundError, ReviewError
from collabmine.themes.stage import _apply_moves, themes_input_hash
from collabmine.themes import Theme, ThemeParams
from conftest import copy_store


@pytest.fixture()
def reviewed(themed, tmp_path):
    settings = copy_store(themed, tmp_path / "out")
    con = store.connect(settings.store_path)
    yield settings, con
    con.close()


def _model_tag(con, category="barrier"):
    return con.execute("SELECT t.span_id FROM tags t JOIN theme_members m USING (span_id, category)"
                       " WHERE t.category=? AND m.theme_id IS NOT NULL ORDER BY t.span_id LIMIT 1", (category,)).fetchone()[0]


def test_reject_removes_the_tag_from_what_later_stages_read(reviewed):
    _, con = reviewed
    span = _model_tag(con)
    before = store.tagged_spans(con)
    hash_before = themes_input_hash(before, ThemeParams(), model_name(), store.theme_moves(con))
    review.record_review(con, span_id=span, action="reject", category="barrier", reviewer="Ana")
    after = store.tagged_spans(con)
    assert ("barrier", span) in {(r["category"], r["span_id"]) for r in before}
    assert ("barrier", span) not in {(r["category"], r["span_id"]) for r in after}
    assert len(after) == len(before) - 1
    # The model's own tag is kept (the tagger re-writes it every run); the decision overrides it.
    assert con.execute("SELECT 1 FROM tags WHERE span_id=? AND category='barrier'", (span,)).fetchone()
    assert themes_input_hash(after, ThemeParams(), model_name(), store.theme_moves(con)) != hash_before

    # Changing one's mind is a new row: the latest decision wins, the history stays.
    review.record_review(con, span_id=span, action="accept", category="barrier", reviewer="Bo")
    assert len(store.tagged_spans(con)) == len(before)
    log = review.review_log(con)
    assert list(log["action"]) == ["reject", "accept"] and list(log["reviewer"]) == ["Ana", "Bo"]
    assert log["applies"].tolist() == [1, 1]


def test_added_category_and_set_categories(reviewed):
    _, con = reviewed
    span = _model_tag(con, "impact")
    current = review.current_categories(con, span)
    wanted = (current - {"impact"}) | {"barrier"}
    ids = review.set_categories(con, span_id=span, categories=wanted, reviewer="Ana", comment="reads as a cost")
    # Every category decided: the kept and added ones accepted, the dropped one rejected.
    assert len(ids) == len(wanted) + len(current - wanted)
    decided = {r["category"]: r["action"] for r in con.execute(
        "SELECT category, action FROM label_decisions WHERE span_id=?", (span,))}
    assert decided == {c: "accept" for c in wanted} | {c: "reject" for c in current - wanted}
    assert review.set_categories(con, span_id=span, categories=wanted, reviewer="Ana") == []   # nothing new
    assert review.current_categories(con, span) == wanted
    labels = {r["category"]: r["review"] for r in con.execute(
        "SELECT category, review FROM effective_tags WHERE span_id=?", (span,))}
    if "barrier" not in current:
        assert labels["barrier"] == "added"
    progress = {p.category: p for p in review.progress(con)}
    assert progress["impact"].rejected == 1 and progress["impact"].precision == 0.0
    assert progress["impact"].interval[1] > 0.5  # one review says little: the interval is wide


def test_reviews_survive_the_report_being_rewritten(reviewed, corpus_results):
    settings, con = reviewed
    span = _model_tag(con)
    review.record_review(con, span_id=span, action="reject", category="barrier", reviewer="Ana")
    doc = con.execute("SELECT doc_id FROM spans WHERE span_id=?", (span,)).fetchone()[0]
    result = next(r for r in corpus_results.values() if r.doc_id == doc)
    store.write_document(con, result.record, result.spans)  # what a re-run does: row and spans replaced
    assert ("barrier", span) not in {(r["category"], r["span_id"]) for r in store.tagged_spans(con)}
    # A changed sentence (different text at the same offsets) is not the sentence that was reviewed.
    con.execute("UPDATE spans SET text_hash='x' WHERE span_id=?", (span,))
    assert review.review_log(con)["applies"].tolist() == [0]


def test_reviews_follow_their_sentences_into_a_new_version_of_the_report(reviewed, tmp_path):
    """A corrected report (new bytes, same path) keeps its analysts' decisions: each review moves to
    the same sentence of the new version; one whose sentence was deleted is kept, not applied."""
    from collabmine import ingest

    settings, con = reviewed
    span = _model_tag(con)
    file, start, end = con.execute('SELECT d.path, s.start, s."end" FROM spans s JOIN documents d USING (doc_id)'
                                   " WHERE s.span_id=?", (span,)).fetchone()
    gone = con.execute("SELECT t.span_id, t.category FROM tags t JOIN spans s USING (span_id) JOIN documents d"
                       " USING (doc_id) WHERE d.path=? AND t.span_id != ? AND (SELECT COUNT(*) FROM spans s2"
                       " WHERE s2.doc_id = s.doc_id AND s2.text_hash = s.text_hash) = 1 ORDER BY s.start DESC LIMIT 1",
                       (file, span)).fetchone()
    kept_id = review.record_review(con, span_id=span, action="reject", category="barrier", reviewer="Ana")
    review.record_review(con, span_id=span, action="comment", comment="hedged claim", reviewer="Ana")
    gone_id = review.record_review(con, span_id=gone["span_id"], action="reject", category=gone["category"],
                                   reviewer="Ana")
    gone_text = con.execute('SELECT s.start, s."end" FROM spans s WHERE span_id=?', (gone["span_id"],)).fetchone()
    raw = (settings.corpus_dir / file).read_text(encoding="utf-8")
    # The new version: a paragraph added at the top (every offset moves), the last tagged sentence deleted.
    new = "Corrected edition.\n\n" + raw[:gone_text["start"]] + raw[gone_text["end"]:]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / file).write_text(new, encoding="utf-8")
    result = ingest.process_report(corpus / file, settings.with_(corpus_dir=corpus))
    store.write_document(con, result.record, result.spans)
    with store.transaction(con):
        carried = store.reanchor_reviews(con)
    assert carried == 2                                  # the decision and the comment; not the deleted one
    moved = con.execute("SELECT span_id FROM spans WHERE doc_id=? AND start=?",
                        (result.doc_id, start + len("Corrected edition.\n\n"))).fetchone()[0]
    assert moved != span
    assert ("barrier", moved) in {(r["span_id"] and "barrier", r["span_id"]) for r in con.execute(
        "SELECT span_id FROM label_decisions WHERE action='reject' AND category='barrier'")}
    from collabmine.explore import browse
    assert [c["comment"] for c in browse.comments(con, [moved])[moved]] == ["hedged claim"]
    log = review.review_log(con).set_index("review_id")
    assert log.loc[kept_id, "applies"] == 1 and log.loc[kept_id, "carried_to"] == result.doc_id
    assert log.loc[gone_id, "applies"] == 0
    # Idempotent: nothing more to carry.
    with store.transaction(con):
        assert store.reanchor_reviews(con) == 0


def test_reviews_are_never_deleted_or_edited(reviewed):
    _, con = reviewed
    review.record_review(con, span_id=_model_tag(con), action="comment", comment="check §7", reviewer="Ana")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("DELETE FROM reviews")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("UPDATE reviews SET reviewer='Eve'")
    assert len(review.review_log(con)) == 1


@pytest.mark.parametrize("kwargs, code", [
    ({"action": "delete", "category": "barrier"}, "E081"),
    ({"action": "reject", "category": "barriers"}, "E082"),
    ({"action": "reject"}, "E082"),
    ({"action": "reject", "category": "barrier", "reviewer": "   "}, "E083"),
    ({"action": "reject", "category": "barrier", "reviewer": "x" * 101}, "E083"),
    ({"action": "comment"}, "E086"),
    ({"action": "comment", "comment": "x" * 2001}, "E085"),
    ({"action": "move", "category": "barrier", "theme_id": "impact-01"}, "E084"),
    ({"action": "move", "category": "barrier", "theme_id": "'; DROP TABLE reviews; --"}, "E084"),
])
def test_invalid_reviews_write_nothing(reviewed, kwargs, code):
    _, con = reviewed
    args = {"span_id": _model_tag(con), "reviewer": "Ana"} | kwargs
    with pytest.raises(ReviewError, match=code):
        review.record_review(con, **args)
    with pytest.raises(NotFoundError, match="E080"):
        review.record_review(con, span_id="0" * 20, action="reject", category="barrier", reviewer="Ana")
    assert con.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 0


def test_queue_order_is_fixed_and_filters_work(reviewed):
    _, con = reviewed
    first = review.queue(con, category="condition", limit=10)
    assert [i.span_id for i in first] == [i.span_id for i in review.queue(con, category="condition", limit=10)]
    assert all(i.category == "condition" and i.decision is None for i in first)
    # Not score order: a precision measured on the first N reviewed is unbiased.
    scores = [i.score for i in review.queue(con, category="condition", limit=200)]
    assert scores != sorted(scores) and scores != sorted(scores, reverse=True)
    review.record_review(con, span_id=first[0].span_id, action="accept", category="condition", reviewer="Ana")
    assert first[0].span_id not in [i.span_id for i in review.queue(con, category="condition", limit=10)]
    assert [i.span_id for i in review.queue(con, status="accepted")] == [first[0].span_id]
    with pytest.raises(ReviewError, match="E087"):
        review.queue(con, status="done")


def test_moves_place_a_sentence_in_the_chosen_theme():
    vectors = np.eye(4, dtype=np.float32)
    vectors[3] = [0.6, 0, 0, 0.8]
    themes = [Theme("barrier", 0, "a", [], [0, 1], [0.9, 0.8], np.array([1, 0, 0, 0], np.float32)),
              Theme("barrier", 1, "b", [], [2], [0.7], np.array([0, 0, 1, 0], np.float32))]
    placed = _apply_moves(themes, ["barrier-01", "barrier-02"], ["s0", "s1", "s2", "s3"], vectors,
                          {"s1": "barrier-02", "s3": "barrier-01", "s2": "barrier-09"}, outliers=[3])
    assert placed.outliers == [] and [m for m, _ in placed.themes] == [[0, 3], [2, 1]]
    assert np.allclose([s for _, sims in placed.themes for s in sims], [0.9, 0.6, 0.7, 0.0])


def test_undo_restores_the_decision_that_stood_before(reviewed):
    _, con = reviewed
    span = _model_tag(con)
    decided = lambda: dict(con.execute("SELECT category, action FROM label_decisions WHERE span_id=?",  # noqa: E731
                                       (span,)).fetchall())
    first = review.record_review(con, span_id=span, action="accept", category="barrier", reviewer="Ana")
    second = review.record_review(con, span_id=span, action="reject", category="barrier", reviewer="Ana")
    assert decided() == {"barrier": "reject"}
    # An earlier decision that a later one overtook cannot be undone (it would silently win again).
    with pytest.raises(ReviewError, match="E103"):
        review.undo(con, review_ids=[first], reviewer="Ana")
    review.undo(con, review_ids=[second], reviewer="Ana")
    assert decided() == {"barrier": "accept"}                     # back to the accept before it
    # Undo down to no decision at all: the tag counts as the model's again, the item is back in the queue.
    span2 = _model_tag(con, "impact")
    only = review.record_review(con, span_id=span2, action="reject", category="impact", reviewer="Bo")
    assert span2 not in {it.span_id for it in review.queue(con, span_id=span2, category="impact")}
    written = review.undo(con, review_ids=[only], reviewer="Bo")
    log = review.review_log(con)
    assert log.set_index("review_id").loc[written[0], "action"] == "clear"
    assert [it.span_id for it in review.queue(con, span_id=span2, category="impact")] == [span2]
    assert "impact" in review.current_categories(con, span2)
    # Comments are notes, not decisions: kept by an undo.
    note = review.record_review(con, span_id=span2, action="comment", category="impact", comment="ask", reviewer="Bo")
    assert review.undo(con, review_ids=[note], reviewer="Bo") == []


def test_one_form_decision_with_move_and_comment_and_its_undo(reviewed):
    _, con = reviewed
    span = _model_tag(con)
    target = con.execute("SELECT theme_id FROM themes WHERE category='barrier' AND theme_id NOT IN"
                         " (SELECT theme_id FROM theme_members WHERE span_id=? AND category='barrier')"
                         " ORDER BY theme_id LIMIT 1", (span,)).fetchone()[0]
    with pytest.raises(ReviewError, match="E084"):       # checked before anything is written
        review.decide(con, span_id=span, category="barrier", action="accept", reviewer="Ana",
                      theme_id="impact-no-such", comment="x")
    assert review.review_log(con).empty
    ids = review.decide(con, span_id=span, category="barrier", action="accept", reviewer="Ana", theme_id=target,
                        comment="belongs with staffing")
    assert [d["action"] for d in review.describe(con, ids)] == ["accept", "move", "comment"]
    assert dict(con.execute("SELECT span_id, theme_id FROM theme_moves").fetchall()) == {span: target}
    review.undo(con, review_ids=ids, reviewer="Ana")
    assert con.execute("SELECT COUNT(*) FROM theme_moves").fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM label_decisions").fetchone()[0] == 0
    assert "belongs with staffing" in set(review.review_log(con)["comment"].dropna())   # the note stays


def test_a_store_of_schema_12_keeps_every_review_through_the_undo_migration(tmp_path):
    from collabmine.store.migrations import MIGRATIONS

    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.create_function("collabmine_text_hash", 1, store.connection.text_hash, deterministic=True)
    for version in range(1, 13):
        for statement in store.connection._statements(MIGRATIONS[version]):
            con.execute(statement)
    con.execute("INSERT INTO reviews (doc_sha, start, \"end\", text_hash, span_id, file, action, category, reviewer,"
                " created) VALUES ('d', 0, 5, 'h', 's', 'f.txt', 'reject', 'barrier', 'Ana', 't')")
    con.execute("INSERT INTO review_anchors VALUES (1, 'd2', 10, 15)")
    con.execute("PRAGMA user_version=12")
    con.commit()
    con.close()
    migrated = store.connect(path)
    try:
        assert migrated.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        assert [tuple(r) for r in migrated.execute("SELECT review_id, doc_sha, start, action FROM anchored_reviews")] == \
            [(1, "d2", 10, "reject")]
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            migrated.execute("DELETE FROM reviews")
        migrated.execute("INSERT INTO reviews (doc_sha, start, \"end\", text_hash, span_id, file, action, category,"
                         " reviewer, created) VALUES ('d', 0, 5, 'h', 's', 'f.txt', 'clear', 'barrier', 'Ana', 't')")
        assert migrated.execute("SELECT MAX(review_id) FROM reviews").fetchone()[0] == 2
    finally:
        migrated.close()
