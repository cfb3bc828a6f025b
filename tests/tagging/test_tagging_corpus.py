"""The committed tagger on the real corpus: the dev gold (measurement only — never trained or
tuned on), its model card, determinism, what is not evidence, and explanations."""

import json
import re

import numpy as np
import pytest

from collabmine import store, tagging
from collabmine.explore import review
from collabmine.tagging import model as model_lib
from conftest import GOLD, R001, ROOT, copy_store

#: Measured with the committed model (its card, ``measured.gold``; tagger v7): macro-F1 0.691
#: (structure 0.768, impact 0.694, condition 0.550, barrier 0.750). The floors are well below (a
#: category's F1 moves by ±0.1 with 15–20 sentences); set for v5 and unchanged since.
MACRO_FLOOR = 0.62
CATEGORY_FLOOR = 0.45


def test_dev_regression_floor(tagged_store):
    report = tagging.evaluate_store(tagged_store, GOLD)
    assert len(report.unmatched) <= 4   # gold sentences on spans that are never tagged (front matter)
    assert report.macro_f1 >= MACRO_FLOOR, report.per_category
    for category, values in report.per_category.items():
        assert values["f1"] >= CATEGORY_FLOOR, (category, values)


def test_model_card_states_what_a_fresh_tagging_measures(tagged_store):
    card = tagging.load_tagger(tagged_store).manifest
    report = tagging.evaluate_store(tagged_store, GOLD)
    assert card["measured"]["gold"]["macro_f1"] == report.macro_f1
    assert card["measured"]["gold"]["f1"] == {c: v["f1"] for c, v in report.per_category.items()}
    assert card["measured"]["gold"]["ece"] == report.calibration.ece
    trained = card["training_data"]
    coded = ROOT / "models" / "tagger" / "coded" / "train.jsonl"
    assert trained["files"][0]["sha256"] == tagging.data.file_hash(coded) and trained["sentences"] == 2347
    assert set(card["measured"]) == {"coded_each_report_held_out", "gold", "gold_each_report_held_out"}


def test_probabilities_are_calibrated_on_the_dev_gold(tagged_store):
    report = tagging.evaluate_store(tagged_store, GOLD)
    assert report.calibration.ece <= 0.05, report.calibration.bins


def test_share_tagged_is_near_the_coded_share(tagged_store):
    """The coded data tags 76% of argument sentences (structure 35%); v5 tagged 90% (70%)."""
    con = store.connect(tagged_store.store_path, create=False)
    total = con.execute("SELECT COUNT(*) FROM tag_probabilities").fetchone()[0]
    tagged = con.execute("SELECT COUNT(DISTINCT span_id) FROM tags").fetchone()[0]
    structure = con.execute("SELECT COUNT(*) FROM tags WHERE category='structure'").fetchone()[0]
    con.close()
    assert 0.6 <= tagged / total <= 0.85 and structure / total <= 0.45


def test_tagging_is_deterministic(tagged_store, tmp_path):
    """A report tagged again gives the same tags, scores and explanations, byte for byte (one
    report: the whole corpus doubled the suite's tagging time to say the same)."""
    settings = copy_store(tagged_store, tmp_path / "again")
    doc_id = _doc_id(settings, R001)
    query = ("SELECT span_id, category, score, explanation FROM tags JOIN spans USING (span_id) WHERE doc_id=?"
             " ORDER BY 1, 2")
    con = store.connect(settings.store_path, create=False)
    first = con.execute(query, (doc_id,)).fetchall()
    con.close()
    _forget_tags(settings, doc_id)
    tagging.tag_report(settings, doc_id)
    con = store.connect(settings.store_path, create=False)
    second = con.execute(query, (doc_id,)).fetchall()
    con.close()
    assert [tuple(r) for r in first] == [tuple(r) for r in second] and first


def _forget_tags(settings, doc_id: str) -> None:
    """The report as if never tagged (``tag_report`` leaves a report tagged with its key alone)."""
    con = store.connect(settings.store_path, create=False)
    try:
        with store.transaction(con):
            store.clear_report_tags(con, doc_id)
    finally:
        con.close()


def test_a_report_the_store_holds_tagged_is_not_tagged_again(tagged_store, tmp_path, monkeypatch):
    """With its tags complete for this tagger and code, a report's tagging is a count: the flow
    calls ``tag_report`` whenever Prefect has no cached result (an output folder copied without its
    .cache), and tagging a 50 MB report again took ~80 minutes."""
    settings = copy_store(tagged_store, tmp_path / "complete")
    doc_id = _doc_id(settings, R001)
    tags, _ = _report_rows(settings, doc_id)

    def never(spans, tagger):
        raise AssertionError("tagged again")

    monkeypatch.setattr(tagging.stage, "tag_spans", never)
    assert tagging.tag_report(settings, doc_id) == len(tags) > 0
    assert _report_rows(settings, doc_id)[0] == tags
    # Any other key (tagger retrained, tagging code changed) tags it again.
    con = store.connect(settings.store_path, create=False)
    with store.transaction(con):
        store.mark_tagged(con, doc_id, "tag-other")
    con.close()
    with pytest.raises(AssertionError, match="tagged again"):
        tagging.tag_report(settings, doc_id)


def _report_rows(settings, doc_id: str) -> tuple[list, list]:
    con = store.connect(settings.store_path, create=False)
    try:
        tags = con.execute("SELECT span_id, category, score FROM tags JOIN spans USING (span_id) WHERE doc_id=?"
                           " ORDER BY 1, 2", (doc_id,)).fetchall()
        probabilities = con.execute("SELECT p.* FROM tag_probabilities p JOIN spans USING (span_id) WHERE doc_id=?"
                                    " ORDER BY 1", (doc_id,)).fetchall()
        return [tuple(r) for r in tags], [tuple(r) for r in probabilities]
    finally:
        con.close()


def _doc_id(settings, path: str) -> str:
    con = store.connect(settings.store_path, create=False)
    try:
        return next(r["doc_id"] for r in store.documents(con) if r["path"] == path)
    finally:
        con.close()


def test_a_report_tagged_a_chunk_at_a_time_gets_the_same_tags(tagged_store, tmp_path, monkeypatch):
    """Chunks of 50 sentences (each read, tagged and committed in turn) against the whole report
    at once. Batches of other lengths pad differently, so probabilities may move by float noise."""
    settings = copy_store(tagged_store, tmp_path / "chunks")
    doc_id = _doc_id(settings, R001)
    tags, probabilities = _report_rows(settings, doc_id)
    monkeypatch.setattr(tagging.stage, "SPANS_PER_CHUNK", 50)
    _forget_tags(settings, doc_id)
    assert tagging.tag_report(settings, doc_id) == len(tags)
    chunked_tags, chunked_probabilities = _report_rows(settings, doc_id)
    assert [t[:2] for t in chunked_tags] == [t[:2] for t in tags]
    assert np.allclose([t[2] for t in chunked_tags], [t[2] for t in tags], atol=2e-4)
    assert [p[0] for p in chunked_probabilities] == [p[0] for p in probabilities] and len(probabilities) > 100
    assert np.allclose([p[1:] for p in chunked_probabilities], [p[1:] for p in probabilities], atol=2e-4)
    assert tagging.stale_reports(settings, [doc_id]) == set()


def _stop_in_third_chunk(settings, doc_id: str, monkeypatch) -> list[int]:
    """Tag the report 100 sentences at a time, killed in its third chunk; the chunks' lengths
    given to ``tag_spans`` from then on are returned (as they are tagged)."""
    monkeypatch.setattr(tagging.stage, "SPANS_PER_CHUNK", 100)
    real, calls = tagging.stage.tag_spans, []

    def failing(spans, tagger):
        calls.append(len(spans))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(spans, tagger)

    monkeypatch.setattr(tagging.stage, "tag_spans", failing)
    _forget_tags(settings, doc_id)
    with pytest.raises(KeyboardInterrupt):
        tagging.tag_report(settings, doc_id)
    resumed: list[int] = []

    def counting(spans, tagger):
        resumed.append(spans)
        return real(spans, tagger)

    monkeypatch.setattr(tagging.stage, "tag_spans", counting)
    return resumed


def test_a_report_whose_tagging_stops_midway_resumes_where_it_stopped(tagged_store, tmp_path, monkeypatch):
    """The chunks before the failure are committed with how far the report got, but the report is
    not marked tagged: the flow tags it again next run even where Prefect holds a cached result
    for it, and only the sentences not yet tagged are tagged (a 50 MB report's tag stage is
    ~1.5 hours here: a kill near its end must not cost all of it)."""
    settings = copy_store(tagged_store, tmp_path / "killed")
    doc_id = _doc_id(settings, R001)
    tags, probabilities = _report_rows(settings, doc_id)
    resumed = _stop_in_third_chunk(settings, doc_id, monkeypatch)
    committed = _report_rows(settings, doc_id)[1]
    assert len(committed) == 200
    assert tagging.stale_reports(settings, [doc_id]) == {doc_id}

    assert tagging.tag_report(settings, doc_id) == len(tags)
    assert sum(len(spans) for spans in resumed) == len(probabilities) - 200
    con = store.connect(settings.store_path, create=False)
    in_order = [r["span_id"] for r in store.taggable_spans(con, doc_id=doc_id)]
    assert sorted(in_order[:200]) == [p[0] for p in committed] and resumed[0].span_ids[0] == in_order[200]
    assert resumed[0].contexts[0].previous == store.span_text(con, in_order[199])   # across the kill
    assert store.tagging_progress(con, doc_id) is None
    con.close()
    again_tags, again_probabilities = _report_rows(settings, doc_id)
    assert set(committed) <= set(again_probabilities)        # kept as committed, not tagged twice
    assert [t[:2] for t in again_tags] == [t[:2] for t in tags]
    assert [p[0] for p in again_probabilities] == [p[0] for p in probabilities]
    assert np.allclose([p[1:] for p in again_probabilities], [p[1:] for p in probabilities], atol=2e-4)
    assert tagging.stale_reports(settings, [doc_id]) == set()


def test_a_run_that_is_ending_stops_tagging_after_the_committed_chunk(tagged_store, tmp_path, monkeypatch):
    """A run interrupted in its tag stage (SIGTERM, Ctrl-C, another stage failed) asks its tasks to
    stop: the report's tagging ends after the chunk in hand is committed (E062), and the next call
    resumes after it."""
    from collabmine import runtime
    from collabmine.errors import RunStopped

    settings = copy_store(tagged_store, tmp_path / "stopped")
    doc_id = _doc_id(settings, R001)
    tags, _ = _report_rows(settings, doc_id)
    monkeypatch.setattr(tagging.stage, "SPANS_PER_CHUNK", 100)
    real = tagging.stage.tag_spans

    def interrupted(spans, tagger):
        runtime.request_stop("run-tag-test")
        return real(spans, tagger)

    monkeypatch.setattr(tagging.stage, "tag_spans", interrupted)
    _forget_tags(settings, doc_id)
    with runtime.working_for("run-tag-test"), pytest.raises(RunStopped, match="E062"):
        tagging.tag_report(settings, doc_id)
    con = store.connect(settings.store_path, create=False)
    progress = store.tagging_progress(con, doc_id)
    con.close()
    assert progress is not None and len(_report_rows(settings, doc_id)[1]) == 100
    monkeypatch.setattr(tagging.stage, "tag_spans", real)
    with runtime.working_for("run-after"):                # the next run resumes
        assert tagging.tag_report(settings, doc_id) == len(tags)
    assert [t[:2] for t in _report_rows(settings, doc_id)[0]] == [t[:2] for t in tags]


def test_a_stopped_tagging_restarts_the_report_under_another_tagger(tagged_store, tmp_path, monkeypatch):
    """Tags committed by another tagger (or tagging code) are not resumed: the report starts afresh."""
    settings = copy_store(tagged_store, tmp_path / "other")
    doc_id = _doc_id(settings, R001)
    tags, probabilities = _report_rows(settings, doc_id)
    resumed = _stop_in_third_chunk(settings, doc_id, monkeypatch)
    con = store.connect(settings.store_path, create=False)
    with store.transaction(con):
        store.note_tagging_progress(con, doc_id, store.tagging_progress(con, doc_id)._replace(tagged_with="tag-other"))
    con.close()
    assert tagging.tag_report(settings, doc_id) == len(tags)
    assert sum(len(spans) for spans in resumed) == len(probabilities)
    assert _report_rows(settings, doc_id)[0] == tags


def test_non_argument_material_is_never_tagged(tagged_store):
    con = store.connect(tagged_store.store_path, create=False)
    reasons = {r[0] for r in con.execute("SELECT DISTINCT s.exclude_reason FROM tags t JOIN spans s USING (span_id) "
                                         "WHERE s.excluded=1")}
    headings = con.execute("SELECT COUNT(*) FROM tags t JOIN spans s USING (span_id) WHERE s.kind='heading'").fetchone()[0]
    con.close()
    assert reasons <= set(store.TAGGABLE_EXCLUSIONS) and headings == 0


def test_signposting_and_lead_ins(tagged_store):
    """A lead-in that asserts keeps its category; plain signposting is none. (Sentences written
    for this test, not from the corpus.)"""
    assert tagging.tag_text("In this chapter we summarise the findings of the case studies.", heading=None,
                            settings=tagged_store) == []
    barriers = tagging.tag_text("Barriers to making the partnership work included:", heading=None,
                                settings=tagged_store)
    assert [c for c, _, _ in barriers] == ["barrier"]


@pytest.mark.parametrize("text", [
    "The next section describes the methods used.",   # tagged structure by v6 (p 0.39); none by v7
    pytest.param("Partnerships can be:", marks=pytest.mark.xfail(
        strict=True, reason="known gap (issue 16 note): a lead-in read without its list gets structure at the "
                            "threshold for new reports, chosen on held-out predictions (v6 p 0.50)")),
])
def test_signposting_and_empty_lead_ins_are_none(tagged_store, text):
    assert tagging.tag_text(text, heading=None, settings=tagged_store) == [], text


def test_explanation_cites_the_nearest_coded_sentences(tagged_store):
    tags = tagging.tag_text("Heads said the lack of time to meet was the biggest obstacle to working together.",
                            heading="Challenges", settings=tagged_store)
    barrier = next(t for t in tags if t[0] == "barrier")
    assert barrier[1] >= 0.5 and barrier[2].startswith(f"p={barrier[1]:.2f} | like: \"")
    tagger = tagging.load_tagger(tagged_store)
    # The quoted sentences are coded training sentences of that category, cited as the product cites.
    quoted = barrier[2].split('like: "', 1)[1].split('" — ', 1)[0]
    k = tagging.CATEGORIES.index("barrier")
    assert any(t == quoted and tagger.neighbours.labels[i, k] for i, t in enumerate(tagger.neighbours.texts))
    assert re.search(r'" — [^"]+ \(\d{4}\)', barrier[2])   # "— Rudd et al. (2004), §7.1 ..."


def test_explanations_never_cite_the_sentence_itself(tagged_store):
    """A coded sentence's nearest coded sentence is itself (1,817 of 2,689 explanations once said
    "like: <the same sentence> (cosine 1.00)"); the same wording is never cited twice either."""
    con = store.connect(tagged_store.store_path, create=False)
    rows = con.execute("SELECT s.text, t.explanation FROM tags t JOIN spans s USING (span_id)"
                       " WHERE t.method = 'classifier'").fetchall()
    con.close()
    wording = lambda text: " ".join(text.casefold().split())  # noqa: E731
    own = twice = 0
    for r in rows:
        quoted = [wording(q.split('" — ', 1)[0]) for q in r["explanation"].split('like: "', 1)[-1].split('; "')]
        own += wording(r["text"]) in quoted
        twice += len(set(quoted)) < len(quoted)
    assert len(rows) > 2000 and own < 0.01 * len(rows) and twice == 0, (own, twice, len(rows))


def test_explanations_cite_other_reports_where_they_can(tagged_store):
    """An example from the sentence's own report explains little (session 16: 3,050 of 4,976 cited
    examples, and every example of 1,095 of 2,488 explanations, came from the sentence's own
    report); each category has coded sentences in three or more reports, so none need to."""
    from collabmine.tagging.model import report_of

    con = store.connect(tagged_store.store_path, create=False)
    rows = con.execute("SELECT d.citation, t.explanation FROM tags t JOIN spans s USING (span_id)"
                       " JOIN documents d ON d.doc_id = s.doc_id WHERE t.method = 'classifier'").fetchall()
    con.close()
    cited = [(report_of(r["citation"]), report_of(q.split('" — ', 1)[1].rsplit(" (cosine", 1)[0]))
             for r in rows for q in r["explanation"].split('like: "', 1)[-1].split('; "') if '" — ' in q]
    assert len(cited) > 4000 and sum(own == other for own, other in cited) < 0.01 * len(cited)


def test_learning_queue_asks_about_uncertain_sentences_first(tagged_store, tmp_path):
    settings = copy_store(tagged_store, tmp_path / "learn")
    con = store.connect(settings.store_path, create=False)
    items = review.learning_queue(con, limit=30)
    margins = [i.margin for i in items]
    assert margins == sorted(margins) and margins[0] < 0.1
    everyone = [r[0] for r in con.execute("SELECT margin FROM tag_probabilities")]
    assert np.median(everyone) > margins[-1]
    # Teaching codes the sentence fully; it leaves the queue and stays out of the precision estimate.
    review.label_sentence(con, span_id=items[0].span_id, categories={"condition"}, reviewer="Ana")
    assert items[0].span_id not in {i.span_id for i in review.learning_queue(con, limit=30)}
    decisions = con.execute("SELECT category, action, queue FROM reviews ORDER BY category").fetchall()
    assert {(c, a) for c, a, _ in decisions} == {("barrier", "reject"), ("condition", "accept"),
                                                ("impact", "reject"), ("structure", "reject")}
    assert {q for *_, q in decisions} == {"learn"}
    assert all(p.reviewed == 0 for p in review.progress(con))
    con.close()


def test_artefact_refuses_a_stale_or_missing_model(tmp_path):
    from collabmine.errors import ModelError

    with pytest.raises(ModelError, match="E040"):
        model_lib.load(tmp_path)
    source = ROOT / "models" / "tagger"
    for name in model_lib.ARTEFACT_FILES:
        (tmp_path / name).write_bytes((source / name).read_bytes())
    card = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    card["tagger_version"] = "5"
    (tmp_path / "manifest.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelError, match="E042"):
        model_lib.load(tmp_path)
