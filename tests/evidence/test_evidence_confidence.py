"""GRADE-CERQual-style confidence on hand-made evidence profiles."""

import json

from collabmine import store
from collabmine.evidence.confidence import GRADES, NOT_REVIEWED, Evidence, grade, reviewed


def test_wide_coherent_reviewed_evidence_is_high():
    c = grade(Evidence(sentences=40, reports=4, total_reports=5, report_coherence=0.86, reviewed=10, accepted=9))
    assert c.grade == "high" and len(c.reasons) == 4
    assert all("no or very minor concerns" in r for r in c.reasons)


def test_unreviewed_evidence_is_at_most_moderate():
    c = grade(Evidence(sentences=40, reports=4, total_reports=5, report_coherence=0.86))
    # "Not yet reviewed" is a status said once, not a reason on every claim; it still caps the grade.
    assert c.grade == "moderate" and len(c.reasons) == 3 and not reviewed(c.reasons)
    assert "at most moderate" in NOT_REVIEWED
    assert grade(Evidence(40, 4, 5, 0.86, reviewed=5, accepted=5)).grade == "high"


def test_one_report_is_low_or_worse():
    c = grade(Evidence(sentences=12, reports=1, total_reports=5, report_coherence=None, reviewed=6, accepted=6))
    # adequacy serious (one report), coherence minor (cannot be judged), relevance serious (1 of 5)
    assert c.grade == "very low"
    assert "1 report" in c.reasons[0] and "only one report" in c.reasons[1] and "1 of the 5" in c.reasons[2]
    assert "too little to be sure" in c.reasons[0] and "found in few" in c.reasons[2]
    assert "cosine" not in " ".join(c.reasons)      # plain words, the measure after them


def test_adequacy_says_which_sentences_it_counts():
    """A theme page shows all its sentences; adequacy counts those confidently in the theme, and
    says so when the two differ."""
    some = grade(Evidence(sentences=27, reports=4, total_reports=4, report_coherence=0.86, members=32))
    assert some.reasons[0].startswith("adequacy: 27 of its 32 sentences confidently in the theme, from 4 reports")
    every = grade(Evidence(sentences=27, reports=4, total_reports=4, report_coherence=0.86, members=27))
    assert every.reasons[0].startswith("adequacy: 27 sentences, from 4 reports")
    assert some.grade == every.grade


def test_analysts_rejecting_quotes_lowers_confidence():
    base = dict(sentences=30, reports=3, total_reports=4, report_coherence=0.85)
    accepted = grade(Evidence(**base, reviewed=10, accepted=10)).grade
    rejected = grade(Evidence(**base, reviewed=10, accepted=4)).grade
    assert GRADES.index(rejected) > GRADES.index(accepted)
    assert accepted == "high" and rejected == "low"


def test_incoherent_reports_lower_confidence():
    coherent = grade(Evidence(30, 3, 4, 0.85, 10, 9)).grade
    incoherent = grade(Evidence(30, 3, 4, 0.5, 10, 9)).grade
    assert (coherent, incoherent) == ("high", "low")


def test_every_corpus_claim_is_graded_with_its_reasons(themed):
    con = store.connect(themed.store_path, create=False)
    rows = con.execute("SELECT theme_id, n_reports, confidence, confidence_reasons FROM themes"
                       " WHERE kind IN ('frame', 'emergent')").fetchall()
    con.close()
    assert rows
    for r in rows:
        assert r["confidence"] in GRADES
        reasons = json.loads(r["confidence_reasons"])
        assert [x.split(":")[0] for x in reasons] == ["adequacy", "coherence", "relevance"]   # none reviewed yet
        assert f"{r['n_reports']} report" in reasons[0]
