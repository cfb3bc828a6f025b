"""Claims are built from the theme's name, category, counts and citations only; key quotes are
full sentences, every supporting report heard first."""

import json

import pytest

from collabmine import evidence, store
from collabmine.evidence.claim import KEY_QUOTES, Candidate, claim_text, interleave, is_plural, quotable


def test_claim_text_is_built_from_name_category_counts_and_citations_only():
    text = claim_text("barrier", "Lack of time and workload", citations=["Armstrong (2015)", "Rudd et al. (2004)"],
                      total_reports=5)
    assert text == ("Lack of time and workload is reported as a barrier to collaboration in 2 of 5 reports: "
                    "Armstrong (2015); Rudd et al. (2004).")
    assert claim_text("structure", "Federations", citations=["A (2001)"], total_reports=1) == \
        "Federations are reported as a way collaboration is organised in 1 of 1 report: A (2001)."


@pytest.mark.parametrize("name, plural", [("Federations", True), ("Trust and mutual respect", True),
                                          ("Lack of time and workload", False), ("Committed leadership", False),
                                          ("Networks, clusters and alliances", True), ("Mutual benefit", False)])
def test_the_verb_agrees_with_the_name(name, plural):
    assert is_plural(name) is plural


@pytest.mark.parametrize("text, kind, verb, ok", [
    ("Trust between heads grew because they were not competing.", "paragraph", True, True),
    ("Barriers to making the partnership work included:", "paragraph", True, False),   # lead-in
    ("Partnerships can be:", "paragraph", True, False),
    ("Funding and sustainability.", "paragraph", False, False),                          # fragment
    ("Staff training and professional development in the partnership", "heading", False, False),
    ("and the schools then agreed to share a bursar between them.", "bullet", True, False),  # starts mid-sentence
    ("Staff were released to attend the joint training days.", "bullet", True, True),
])
def test_only_full_sentences_are_quotable(text, kind, verb, ok):
    assert quotable(text, kind, has_verb=verb) is ok


def test_key_quotes_hear_every_report_before_any_twice():
    candidates = [Candidate("a1", "A", 0.9, True), Candidate("a2", "A", 0.8, True), Candidate("a3", "A", 0.7, True),
                  Candidate("b1", "B", 0.5, True), Candidate("c1", "C", 0.6, False), Candidate("c2", "C", 0.4, True)]
    assert [c.span_id for c in interleave(candidates)] == ["a1", "b1", "c2", "a2", "a3", "c1"]


def test_verb_verdicts_are_kept_in_the_store_for_later_runs(tmp_path, monkeypatch):
    """A later run (a new process) reads a text's verdict from the store instead of tagging it
    again; a text no run has seen is tagged, and its verdict kept."""
    from collabmine.evidence import claim

    con = store.connect(tmp_path / "collabmine.sqlite")
    texts = ["Staff shared planning time across the schools.", "Shared planning time", "Trust between heads."]
    assert claim.has_verbs(texts, con=con) == [True, False, False]
    assert con.execute("SELECT COUNT(*) FROM verb_verdicts").fetchone()[0] == 3
    monkeypatch.setattr(claim, "_VERDICTS", {})          # a new process ...

    def no_tagger():
        raise AssertionError("tagged again")

    monkeypatch.setattr(claim, "_tagger", no_tagger)     # ... that must not need spaCy for them
    assert claim.has_verbs(texts[::-1], con=con) == [False, False, True]
    monkeypatch.undo()
    monkeypatch.setattr(claim, "_VERDICTS", {})
    assert claim.has_verbs(["Heads met every week.", texts[1]], con=con) == [True, False]
    assert con.execute("SELECT COUNT(*) FROM verb_verdicts").fetchone()[0] == 4
    con.close()


def test_corpus_claims_are_rebuilt_exactly_from_their_parts(themed):
    con = store.connect(themed.store_path, create=False)
    total = con.execute("SELECT COUNT(*) FROM documents WHERE status='ok'").fetchone()[0]
    themes = con.execute("SELECT theme_id, category, kind, label, claim, supporting, n_reports FROM themes").fetchall()
    cited = dict(con.execute("SELECT doc_id, COALESCE(citation, file_name) FROM documents WHERE status='ok'").fetchall())
    members, key_reports = {}, {}
    for theme_id, doc_id, key in con.execute("SELECT DISTINCT e.theme_id, e.doc_id, e.key_quote FROM evidence e"):
        members.setdefault(theme_id, set()).add(cited[doc_id])
        if key:
            key_reports.setdefault(theme_id, set()).add(doc_id)
    con.close()
    assert themes and any(t["kind"] == "frame" for t in themes)
    for t in themes:
        supporting = json.loads(t["supporting"])
        # The claim's reports are those whose sentences are confidently in the theme: a subset of
        # the reports its evidence rows come from.
        assert supporting and set(supporting) <= members[t["theme_id"]] and len(supporting) == t["n_reports"]
        if t["kind"] in ("frame", "emergent"):
            assert t["claim"] == claim_text(t["category"], t["label"], citations=supporting, total_reports=total,
                                            one_report_quotes=len(key_reports.get(t["theme_id"], ())) == 1)
        else:
            assert t["claim"] == ""   # an unnamed or dismissed cluster makes no claim


def test_corpus_key_quotes_are_full_sentences_from_distinct_reports_first(themed):
    con = store.connect(themed.store_path, create=False)
    try:
        key = evidence.key_quotes(con)
        reports = dict(con.execute("SELECT theme_id, n_reports FROM themes").fetchall())
        kinds = dict(con.execute("SELECT span_id, kind FROM spans").fetchall())
        texts = dict(con.execute("SELECT span_id, text FROM spans").fetchall())
        rows = con.execute("SELECT theme_id, span_id, doc_id, quote, key_quote FROM evidence ORDER BY theme_id, rank"
                           ).fetchall()
    finally:
        con.close()
    assert len(key) >= len(reports)
    by_theme = {}
    for r in rows:
        by_theme.setdefault(r["theme_id"], []).append(r)
    for theme_id, members in by_theme.items():
        chosen = [r for r in members if r["key_quote"]]
        assert len(chosen) <= KEY_QUOTES and members[:len(chosen)] == chosen    # ranked first
        if not chosen:   # a theme without key quotes has no sentence that could be one
            verbs = evidence.has_verbs([texts[r["span_id"]] for r in members])
            assert not any(evidence.quotable(texts[r["span_id"]], kinds[r["span_id"]], has_verb=v)
                           for r, v in zip(members, verbs)), theme_id
        # As many reports as have a quotable sentence are heard once before any is heard twice
        # (a claim's reports are those confidently in the theme: its quotes may come from more).
        heard = len({r["doc_id"] for r in chosen})
        assert len({r["doc_id"] for r in chosen[:heard]}) == heard <= len({r["doc_id"] for r in members}), theme_id
        for r in chosen:
            assert not r["quote"].strip().endswith(":") and len(r["quote"].split()) >= 6, r["quote"]
            assert kinds[r["span_id"]] not in ("heading", "contents", "caption", "table")
