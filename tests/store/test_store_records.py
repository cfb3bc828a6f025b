"""What the stages read from the store: one category at a time gives exactly the rows (and order)
of the whole, and the keys alone give the same order without the text."""

from collabmine import store
from collabmine.categories import CATEGORIES


def test_tagged_spans_by_category_and_keys_match_the_whole(tagged_store):
    con = store.connect(tagged_store.store_path, create=False)
    try:
        whole = [tuple(r) for r in store.tagged_spans(con)]
        by_category = [tuple(r) for c in CATEGORIES for r in store.tagged_spans(con, category=c)]
        keys = [tuple(r) for r in store.tagged_keys(con)]
    finally:
        con.close()
    assert whole and sorted(by_category) == sorted(whole)
    assert [(r[0], r[1]) for r in whole] == keys
    assert {r[0] for r in whole} <= set(CATEGORIES)


def _tag_count(con, doc_id: str) -> int:
    return con.execute("SELECT count(*) FROM tags JOIN spans USING (span_id) WHERE doc_id=?", (doc_id,)).fetchone()[0]


def test_rewriting_a_report_with_the_same_spans_keeps_its_tags(tagged_store, corpus_results, tmp_path):
    """Only the citation metadata changed: the tags stand (a new title never re-tags a report);
    changed spans take their tags, and the record that the report is fully tagged, with them."""
    from collabmine.tagging import stale_reports
    from conftest import R001, copy_store

    settings = copy_store(tagged_store, tmp_path / "out")
    result = corpus_results[R001]
    con = store.connect(settings.store_path)
    tags = _tag_count(con, result.doc_id)
    assert tags > 0 and stale_reports(settings, [result.doc_id]) == set()
    store.write_document(con, dict(result.record, title="A better title"), result.spans)
    assert _tag_count(con, result.doc_id) == tags
    assert con.execute("SELECT title FROM documents WHERE path=?", (R001,)).fetchone()[0] == "A better title"
    store.write_document(con, result.record, result.spans[:-1])
    assert _tag_count(con, result.doc_id) == 0 and store.tagged_with(con, result.doc_id) is None
    con.close()
    assert stale_reports(settings, [result.doc_id]) == {result.doc_id}


def test_tagging_progress_lives_until_the_report_is_tagged_or_its_tags_go(tagged_store, corpus_results, tmp_path):
    """A chunk's progress record is replaced by the next, ended by ``mark_tagged``, and goes with the
    report's tags when they are cleared or its spans change (a resume never skips a sentence)."""
    from conftest import R001, copy_store

    settings = copy_store(tagged_store, tmp_path / "out")
    result = corpus_results[R001]
    con = store.connect(settings.store_path)
    doc_id = result.doc_id
    assert store.tagging_progress(con, doc_id) is None
    first, second = store.TaggingProgress("tag-a", (10, "s1"), 3), store.TaggingProgress("tag-a", (90, "s9"), 7)
    for progress in (first, second):
        with store.transaction(con):
            store.note_tagging_progress(con, doc_id, progress)
    assert store.tagging_progress(con, doc_id) == second
    with store.transaction(con):
        store.mark_tagged(con, doc_id, "tag-a")
    assert store.tagging_progress(con, doc_id) is None and store.tagged_with(con, doc_id) == "tag-a"
    with store.transaction(con):
        store.note_tagging_progress(con, doc_id, first)
        store.clear_report_tags(con, doc_id)
    assert store.tagging_progress(con, doc_id) is None and store.tagged_with(con, doc_id) is None
    with store.transaction(con):
        store.note_tagging_progress(con, doc_id, first)
    store.write_document(con, result.record, result.spans[:-1])
    assert store.tagging_progress(con, doc_id) is None
    con.close()


def test_taggable_count_up_to_a_span_counts_what_precedes_it(tagged_store):
    con = store.connect(tagged_store.store_path, create=False)
    try:
        doc_id = store.documents(con)[0]["doc_id"]
        rows = store.taggable_spans(con, doc_id=doc_id)
        assert store.taggable_count(con, doc_id=doc_id) == len(rows) > 10
        for i in (0, 5, len(rows) - 1):
            assert store.taggable_count(con, doc_id=doc_id, upto=(rows[i]["start"], rows[i]["span_id"])) == i + 1
    finally:
        con.close()


def test_evidence_is_written_as_it_comes_and_compared_with_the_previous_table(tmp_path):
    """``write_evidence`` takes a generator that fills the claims as it goes, and says which
    (theme, sentence) rows are new and which went, counted in SQL."""
    con = store.connect(tmp_path / "s.sqlite")
    con.execute("INSERT INTO themes (theme_id, category, topic, label, keywords, claim, n_sentences, n_reports,"
                " single_report, representative_span_id, centroid) VALUES"
                " ('t1', 'barrier', 0, 'Time', '[]', '', 1, 1, 1, 'a', x'00')")

    def rows(spans, claims):
        for rank, span in enumerate(spans, start=1):
            yield {"theme_id": "t1", "rank": rank, "span_id": span, "doc_id": "d", "file": "r.txt", "start": rank,
                   "end": rank + 1, "quote": "q", "citation": "c", "section": None, "page": None, "key_quote": 0}
        claims["t1"] = {"claim": f"{len(spans)} sentences"}

    claims: dict = {}
    first = store.write_evidence(con, rows(["a", "b", "c"], claims), input_hash="h1", claims=claims)
    assert (first.rows, first.added, first.removed) == (3, 3, 0)
    claims = {}
    second = store.write_evidence(con, rows(["b", "c", "d", "e"], claims), input_hash="h2", claims=claims)
    assert (second.rows, second.added, second.removed) == (4, 2, 1)
    assert con.execute("SELECT claim FROM themes").fetchone()[0] == "4 sentences"
    assert store.get_state(con, "evidence_input") == "h2"
    assert store.write_evidence(con, iter([]), claims={}) == store.EvidenceChange(0, 0, 4)
    con.close()
