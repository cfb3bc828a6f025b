"""Ingestion on the real bundled corpus."""

import re

from collabmine.ingest.normalise import normalise_text
from conftest import R000, R001, R002, R004


def spans_of(results, name, *, included=None):
    spans = results[name].spans
    if included is not None:
        spans = [s for s in spans if s.excluded != included]
    return spans


def find(results, name, needle):
    hits = [s for s in results[name].spans if needle in s.text]
    assert hits, f"no span in {name} contains {needle!r}"
    return hits


def test_all_reports_ok(corpus_results):
    assert {n: r.status for n, r in corpus_results.items()} == {R000: "ok", R001: "ok", R002: "ok", R004: "ok"}


def test_documented_normalisation_of_every_span(corpus_results, raw_texts):
    for name, result in corpus_results.items():
        raw = raw_texts[name]
        bad = [s for s in result.spans if normalise_text(raw[s.start:s.end]) != s.text]
        assert not bad, f"{name}: {len(bad)} spans differ, e.g. {bad[0].text[:80]!r}"
        assert all(0 <= s.start < s.end <= len(raw) for s in result.spans)


def test_span_ids_unique_and_stable(corpus_results, raw_texts):
    from collabmine.ingest.segment import make_span_id

    ids = [s.span_id for r in corpus_results.values() for s in r.spans]
    assert len(ids) == len(set(ids))
    s = corpus_results[R002].spans[100]
    assert s.span_id == make_span_id(corpus_results[R002].doc_id, s.start, s.end)


def test_raw_file_lengths_are_characters_not_bytes(corpus_results, raw_texts):
    assert len(raw_texts[R000]) == 147_747
    assert corpus_results[R000].record["n_chars"] == 147_747
    assert any(ord(c) > 0xFFFF for c in raw_texts[R001])


def test_page_break_split_sentence_is_one(corpus_results):
    [s] = find(corpus_results, R002, "has been a major achievement of partnership working")
    assert s.text.startswith("According to our respondents, enhanced professional development has been a major")
    assert not s.excluded


def test_footnote_moved_out_of_page_break(corpus_results):
    # 004: a footnote (² ...) sits between the two halves of a sentence split by a page break.
    joined = [s for s in corpus_results[R004].spans if "that is collaboration between two or more schools" in s.text]
    assert joined and not any("A small number of studies" in s.text for s in joined)
    notes = find(corpus_results, R004, "A small number of studies encompassing")
    assert all(n.excluded and n.reason == "footnote" for n in notes)


def test_section_paths(corpus_results):
    [s] = find(corpus_results, R002, "has been a major achievement of partnership working")
    assert s.section_path[-1] == "6.4 Staff training and professional development"
    assert s.section_path[0] == "6 Benefits of partnership working"
    challenge = [s for s in corpus_results[R004].spans if s.section_path and
                 s.section_path[0] == "Challenges of inter-school collaboration" and not s.excluded]
    assert len(challenge) > 10


def test_000_accounts_and_subsections(corpus_results):
    headings = [s for s in corpus_results[R000].spans if s.kind == "heading" and s.section_path]
    accounts = [h.section_path[0] for h in headings if len(h.section_path) == 1]
    for n in range(1, 7):
        assert f"Account of practice {n}" in accounts
    [s] = find(corpus_results, R000, "As a result, GCSE results (five or more A*–C grades, 2001–05)")
    assert s.section_path[0] == "Account of practice 1"
    paths = {tuple(h.section_path) for h in headings}
    assert ("Account of practice 5", "Scope and impact of the collaborative", "i Achievement") in paths
    assert ("Account of practice 3", "Factors important to the success of the collaboration",
            "Executive and associate roles") in paths


def test_pages_from_contents_map(corpus_results):
    [s] = find(corpus_results, R002, "has been a major achievement of partnership working")
    assert s.page_start == "25"
    first_004 = [s for s in corpus_results[R004].spans if s.section_path
                 and s.section_path[0] == "Impact of inter-school collaboration" and not s.excluded]
    assert first_004 and first_004[0].page_start == "20"
    assert all(s.page_start is None for s in corpus_results[R000].spans)  # 000 has no page numbers


def test_non_argument_material_is_excluded(corpus_results):
    cases = {
        R002: ["Staff training and professional development 25",   # contents
               "BARNARD, N. (2000).",                                 # references
               "Published in 2003", "ISBN 1 903880 48 3",             # adverts
               "BRUNDRETT, M. and BURTON, N. (2000)",                 # further reading
               "Registered Charity No. 313392"],                      # imprint
        R004: ["Armstrong, P. (2015).", "Takedown policy", "Towards Self-Improving School Systems",
               "An approved sponsor is a body/organisation",           # glossary
               "Publication/Journal name"],                            # template
        R001: ["Principles Exemplar 10", "This programme enables graduates",  # glossary
               "Todman, Harris, Carter and McCamphill",                    # endnotes
               "(insert name of collaboration)", "Partnership aim Strengths"],  # template / table
    }
    for name, needles in cases.items():
        for needle in needles:
            hits = [s for s in corpus_results[name].spans if needle in s.text]
            assert hits, (name, needle)
            assert all(h.excluded for h in hits), (name, needle, [(h.text[:60], h.reason) for h in hits])


def test_contents_pages_are_excluded_as_contents(corpus_results):
    for name, at_least in [(R000, 40), (R002, 45), (R004, 19)]:
        contents = [s for s in corpus_results[name].spans if s.reason == "contents"]
        assert len(contents) >= at_least or sum(len(s.text.split("\t")) for s in contents) >= 1, name
    first_000 = corpus_results[R000].spans
    # 000's contents are plain lines; "Scope and impact of the zone" is listed before the body starts.
    listed = [s for s in first_000 if s.text == "Scope and impact of the zone"]
    assert listed[0].reason == "contents" and listed[-1].reason == "heading"


def test_argument_text_is_not_excluded(corpus_results):
    for name, needle in [(R004, "The evidence for direct impact of inter-school collaboration on student outcomes is limited."),
                         (R001, "There was strong evidence that collaboration widens opportunities for learners."),
                         (R000, "There is a level of trust that operates because we are not competing")]:
        hits = find(corpus_results, name, needle)
        assert not any(h.excluded for h in hits), (name, needle)


def test_quotes_and_citations_not_split(corpus_results):
    [s] = find(corpus_results, R000, "We wanted to work together. By working together we had a chance")
    assert s.text.count('"') % 2 == 0
    for r in corpus_results.values():
        for s in r.spans:
            assert not re.search(r"\bet al\.$", s.text), s.text


def test_bullets_are_their_own_units(corpus_results):
    bullets = [s for s in corpus_results[R001].spans if s.kind == "bullet"]
    assert any(s.text == "Time allocation for meetings." for s in bullets)
    assert not any(s.text.startswith(("-", "→", "•")) for s in bullets)


def test_citation_metadata(corpus_results):
    assert corpus_results[R004].record["citation"] == "Armstrong (2015)"
    assert corpus_results[R002].record["citation"] == "Rudd et al. (2004)"
    assert corpus_results[R002].record["isbn"] == "1 903880 64 5"


def test_inferred_metadata_without_sources(raw_texts):
    from collabmine.ingest.metadata import infer_metadata
    from collabmine.ingest.structure import build_structure

    m004 = infer_metadata(raw_texts[R004], build_structure(raw_texts[R004]))
    assert (m004.short_citation, m004.source) == ("Armstrong (2015)", "inferred")
    m002 = infer_metadata(raw_texts[R002], build_structure(raw_texts[R002]))
    assert m002.short_citation == "Rudd et al. (2004)"
    assert m002.isbn == "1 903880 64 5"  # the imprint's, not an advert's
    assert m002.year != 2003
