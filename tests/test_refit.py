"""A refit is a rebuild, never a loss: claims, confidence and supporting reports come back
whenever themes are fitted afresh — on an unchanged store, a reviewed one, and one whose run was
killed between the themes and the evidence (issue 31: a refit once wiped every claim while
saying "Claims: 67 … verified")."""

import re

from collabmine import evidence, store, themes
from collabmine.evidence import outputs
from collabmine.explore import review
from conftest import copy_store

TEXT_OUTPUTS = ("themes.csv", "evidence.csv", "evidence_rows.csv", "evidence.md", "matrix.csv", "sources.bib",
                "report.html")


def _built(settings, *, refit: bool = False, evidence_too: bool = True) -> dict[str, str]:
    themes.build_themes(settings.with_(refit_themes=refit))
    if not evidence_too:
        return {}
    evidence.build_evidence(settings)
    outputs.write_outputs(settings.out_dir)
    texts = {name: (settings.out_dir / name).read_text(encoding="utf-8") for name in TEXT_OUTPUTS}
    # The report says when it was generated; nothing else may differ.
    texts["report.html"] = re.sub(r"generated \d{4}-\d\d-\d\d \d\d:\d\d UTC", "generated …", texts["report.html"])
    return texts


def _claims_complete(settings) -> None:
    con = store.connect(settings.store_path, create=False)
    rows = con.execute("SELECT kind, claim, confidence, supporting, n_reports FROM themes").fetchall()
    con.close()
    named = [r for r in rows if r["kind"] in ("frame", "emergent")]
    assert named and all(r["claim"] and r["confidence"] and r["supporting"] and r["n_reports"] >= 1
                     for r in named)


def test_a_refit_of_an_unchanged_store_rebuilds_every_output(themed, tmp_path):
    settings = copy_store(themed, tmp_path / "unchanged")
    clean = _built(settings)
    refitted = _built(settings, refit=True)
    _claims_complete(settings)
    assert refitted == clean and clean["report.html"].count("is reported as") > 10


def test_a_refit_of_a_reviewed_store_keeps_the_reviews_and_the_claims(themed, tmp_path):
    settings = copy_store(themed, tmp_path / "reviewed")
    con = store.connect(settings.store_path, create=False)
    span_id, category = con.execute("SELECT e.span_id, t.category FROM evidence e JOIN themes t USING (theme_id)"
                                    " WHERE e.key_quote = 1 ORDER BY e.span_id LIMIT 1").fetchone()
    review.record_review(con, span_id=span_id, action="reject", category=category, reviewer="Ana")
    store.applied(con)
    con.close()
    clean = _built(settings)
    refitted = _built(settings, refit=True)
    _claims_complete(settings)
    assert refitted == clean
    con = store.connect(settings.store_path, create=False)
    assert con.execute("SELECT COUNT(*) FROM evidence WHERE span_id=?", (span_id,)).fetchone()[0] == 0
    assert [tuple(r) for r in con.execute("SELECT reviewer, action FROM reviews")] == [("Ana", "reject")]
    con.close()


def test_a_run_killed_after_a_refit_rebuilds_the_claims_next_time(themed, tmp_path):
    settings = copy_store(themed, tmp_path / "killed")
    clean = _built(settings)
    _built(settings, refit=True, evidence_too=False)      # killed before the evidence stage
    assert _built(settings) == clean                        # a plain run after it
    _claims_complete(settings)
