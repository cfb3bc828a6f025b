"""The real tagger on the real corpus, measured on the dev gold (regression floor)."""

from collabmine import store, tagging
from conftest import GOLD, R001

#: Measured with the committed model (v5, heading prototypes): macro-F1 0.675 (structure 0.706,
#: impact 0.595, condition 0.615, barrier 0.786). The floor is that minus a small margin.
#: (v4, heading rules, gave 0.673: structure 0.684, impact 0.638, condition 0.703, barrier 0.667.)
MACRO_FLOOR = 0.65
CATEGORY_FLOOR = 0.57
#: Each report held out (``collabmine eval --held-out``), measured with the same model: macro-F1
#: 0.618 (structure 0.688, impact 0.479, condition 0.596, barrier 0.710); floors as above.
HELD_OUT_MACRO_FLOOR = 0.59
HELD_OUT_CATEGORY_FLOOR = 0.45


def test_dev_regression_floor(tagged_store):
    report = tagging.evaluate_store(tagged_store, GOLD)
    assert not report.unmatched
    assert report.macro_f1 >= MACRO_FLOOR, report.per_category
    for category, values in report.per_category.items():
        assert values["f1"] >= CATEGORY_FLOOR, (category, values)


def test_held_out_regression_floor(tagged_store):
    """The estimate for an unseen report: each report's sentences tagged by a classifier trained
    without that report, at thresholds tuned on the other reports' gold."""
    report = tagging.evaluate_held_out(tagged_store, GOLD)
    assert not report.unmatched and report.n == 137
    assert report.macro_f1 >= HELD_OUT_MACRO_FLOOR, report.per_category
    for category, values in report.per_category.items():
        assert values["f1"] >= HELD_OUT_CATEGORY_FLOOR, (category, values)
    # Held out is harder than in-sample; were it not, the folds would be leaking.
    in_sample = tagging.evaluate_store(tagged_store, GOLD)
    assert report.macro_f1 < in_sample.macro_f1
    # The committed model card states what this run measures.
    measured = tagging.load_tagger(tagged_store).manifest["measured"]
    assert measured["macro_f1"] == in_sample.macro_f1
    assert measured["macro_f1_each_report_held_out"] == report.macro_f1
    assert measured["f1_each_report_held_out"] == {c: v["f1"] for c, v in report.per_category.items()}


def test_held_out_needs_gold_from_two_reports(tagged_store, tmp_path):
    import pytest

    from collabmine.errors import ModelError

    one_report = tmp_path / "one.jsonl"
    lines = GOLD.read_text(encoding="utf-8").splitlines()
    one_report.write_text("\n".join(l for l in lines if R001 in l) + "\n", encoding="utf-8")
    with pytest.raises(ModelError, match="E044"):
        tagging.evaluate_held_out(tagged_store, one_report)


def test_tagging_is_deterministic(tagged_store):
    con = store.connect(tagged_store.store_path, create=False)
    first = con.execute("SELECT span_id, category, score, explanation FROM tags ORDER BY 1, 2").fetchall()
    con.close()
    tagging.tag_store(tagged_store)
    con = store.connect(tagged_store.store_path, create=False)
    second = con.execute("SELECT span_id, category, score, explanation FROM tags ORDER BY 1, 2").fetchall()
    embedded = con.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    con.close()
    assert [tuple(r) for r in first] == [tuple(r) for r in second] and first
    assert embedded > 2000  # second pass read the embedding cache


def test_non_argument_material_is_never_tagged(tagged_store):
    con = store.connect(tagged_store.store_path, create=False)
    reasons = {r[0] for r in con.execute("SELECT DISTINCT s.exclude_reason FROM tags t JOIN spans s USING (span_id) "
                                         "WHERE s.excluded=1")}
    headings = con.execute("SELECT COUNT(*) FROM tags t JOIN spans s USING (span_id) WHERE s.kind='heading'").fetchone()[0]
    glossary = con.execute("SELECT COUNT(*) FROM tags t JOIN spans s USING (span_id) "
                           "WHERE s.exclude_reason='glossary'").fetchone()[0]
    con.close()
    assert reasons <= set(store.TAGGABLE_EXCLUSIONS) and headings == 0
    assert glossary > 0  # glossary entries defining partnership forms are structure evidence


def test_codebook_examples_explain_unseen_wording(tagged_store):
    """A sentence with none of the barrier vocabulary still finds its category through the nearest
    codebook example, and the tag names that example. (Not every paraphrase does: "supply cover
    was so expensive" is missed — see the issue 3 note.)"""
    tags = tagging.tag_text("Governors in one school voted against joining the federation.",
                            heading=None, settings=tagged_store)
    barrier = next(t for t in tags if t.category == "barrier")
    assert "rule" not in barrier.method
    assert 'codebook example p=0.9' in barrier.explanation and "resisted the federation" in barrier.explanation
    assert tagging.tag_text("The fieldwork took place between March and July, with interviews lasting an hour.",
                            heading=None, settings=tagged_store) == []


def test_heading_worded_unlike_the_corpus_still_cues_its_category(tagged_store):
    """No heading in the bundled reports reads like this one, and no heading rule matches it; its
    prototype ("Obstacles to partnership working") still makes it a barrier cue, named in the tag."""
    from collabmine.lexicon import heading_categories

    heading = "Where the partnership struggled"
    assert heading_categories([heading]) == set()
    text = "Finding supply cover for teachers was hard."
    with_heading = tagging.tag_text(text, heading=heading, settings=tagged_store)
    barrier = next(t for t in with_heading if t.category == "barrier")
    assert "heading" in barrier.method and f'heading cue: "{heading}"' in barrier.explanation
    without = {t.category: t.score for t in tagging.tag_text(text, heading=None, settings=tagged_store)}
    assert barrier.score > without.get("barrier", 0.0)
    methods = tagging.tag_text(text, heading="2 Methodology", settings=tagged_store)
    assert all("heading" not in t.method for t in methods)  # a "none" heading cues nothing
