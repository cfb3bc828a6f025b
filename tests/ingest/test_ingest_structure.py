"""Structure detection on small fixtures (edge cases the bundled corpus does not show)."""

import textwrap

from collabmine.ingest.normalise import normalise_text
from collabmine.ingest.structure import build_structure


def test_heading_glued_to_hard_wrapped_paragraph():
    raw = ("Conditions for success\nTrust between the heads grew over many years of joint work and shared\n"
           "training, and it was seen as the key to what the schools achieved together.\n\n"
           "Barriers\n\nDistance between the schools made meetings hard.")
    st = build_structure(raw)
    para = next(u for u in st.units if u.kind == "paragraph" and u.text.startswith("Trust"))
    assert para.section_path == ["Conditions for success"]
    assert normalise_text(raw[para.start:para.end]) == para.text
    assert any(u.kind == "heading" and u.text == "Conditions for success" for u in st.units)


def test_short_line_continued_in_lower_case_is_not_a_heading():
    raw = "Findings\n\nAccording to heads, shared training has been a major\n\nbenefit of the federation."
    st = build_structure(raw)
    [para] = [u for u in st.units if u.kind == "paragraph"]
    assert para.text == "According to heads, shared training has been a major benefit of the federation."
    assert para.section_path == ["Findings"]


def test_numbered_headings_nest_and_references_are_back_matter():
    raw = ("1 Benefits\n\n1.1 Staff development\n\nStaff gained confidence from working together.\n\n"
           "References\n\nSMITH, J. (2001). Networks. London: Routledge.\n\nA selection of other titles\n\n"
           "Price £9.00")
    st = build_structure(raw)
    body = next(u for u in st.units if u.text.startswith("Staff gained"))
    assert body.section_path == ["1 Benefits", "1.1 Staff development"] and not body.excluded
    assert all(u.excluded for u in st.units if u.start > raw.index("References"))


def test_markdown_underlined_headings_nest_and_keep_their_offsets():
    """Setext headings (=== / --- under the line) are headings of level 1 and 2; the underline is
    not part of any unit, and a --- inside a longer block is not an underline."""
    raw = ("Partnership report\n==================\n\nThe study followed six partnerships for two years.\n\n"
           "Barriers to collaboration\n-------------------------\n\nSchools found it hard to release staff.\n\n"
           "A table rule\n---\nand more text below it.")
    st = build_structure(raw)
    barrier = next(u for u in st.units if u.text.startswith("Schools found"))
    assert barrier.section_path == ["Partnership report", "Barriers to collaboration"]
    heading = next(u for u in st.units if u.kind == "heading" and u.text == "Barriers to collaboration")
    assert raw[heading.start:heading.end] == "Barriers to collaboration"
    assert not any("===" in raw[u.start:u.end] or raw[u.start:u.end].startswith("---") for u in st.units)
    assert next(u for u in st.units if u.text.startswith("A table rule")).kind == "paragraph"


def test_paragraphs_run_together_by_single_line_breaks_are_split():
    """Some PDF-to-text tools write no blank lines: paragraphs, headings and lists follow each
    other on single line breaks. Headings, the ends of wrapped paragraphs and lists are found."""
    filler = ("The schools in the partnership met every half term to plan joint work and to review "
              "what had been achieved so far, and the heads said this rhythm mattered to them.")
    wrapped = "\n".join(textwrap.wrap(filler, 70))
    raw = "\n".join([
        "Partnership working in three towns", wrapped, wrapped, "Barriers to collaboration",
        "Heads named several obstacles:", "- lack of time for joint planning",
        "- the cost of supply cover", "- distance between the schools",
        wrapped, "What helped?", wrapped, wrapped, '"It made us think harder."', wrapped])
    assert raw.count("\n") >= 20 and "\n\n" not in raw
    st = build_structure(raw)
    headings = [u.text for u in st.units if u.kind == "heading"]
    assert headings == ["Partnership working in three towns", "Barriers to collaboration", "What helped?"]
    bullets = [u for u in st.units if u.kind == "bullet"]
    assert [u.text for u in bullets] == ["lack of time for joint planning", "the cost of supply cover",
                                          "distance between the schools"]
    assert all(u.section_path[-1] == "Barriers to collaboration" for u in bullets)
    paragraphs = [u for u in st.units if u.kind == "paragraph"]
    assert sum(u.text == normalise_text(filler) for u in paragraphs) >= 4   # wrapped paragraphs kept whole
    assert paragraphs[-1].section_path == ["What helped?"]
    assert all(normalise_text(raw[u.start:u.end]) == u.text for u in st.units)


def test_bundled_reports_laid_out_without_blank_lines_keep_their_sections(raw_texts):
    """Each bundled report rewritten as hard-wrapped lines with no blank lines: its gold sentences
    still fall under the same deepest heading, in or out of the argument as before (measured:
    125 of 137)."""
    import json
    import re

    from conftest import GOLD

    def unit_at(units, start, end):
        best = max(units, key=lambda u: min(u.end, end) - max(u.start, start))
        return best if min(best.end, end) > max(best.start, start) else None

    gold = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = 0
    for name, original in raw_texts.items():
        rewrapped = "\n".join("\n".join(textwrap.wrap(p, 80, break_long_words=False, break_on_hyphens=False))
                              if len(p) > 80 and "\n" not in p else p for p in original.split("\n\n"))
        before, after = build_structure(original).units, build_structure(rewrapped).units
        for item in (g for g in gold if g["source"] == name):
            found = re.search(r"\s+".join(re.escape(w) for w in item["text"].split()), rewrapped)
            a, b = unit_at(before, item["start"], item["end"]), unit_at(after, found.start(), found.end())
            kept += b is not None and a.section_path[-1:] == b.section_path[-1:] and a.excluded == b.excluded
    assert kept >= 0.88 * len(gold), kept


def test_crlf_line_ends_give_the_same_structure_and_offsets(raw_texts):
    """A report saved with Windows line ends is read as the same units (its blank lines are
    "\\r\\n\\r\\n"), and each unit's text still re-opens from the CRLF file's own offsets."""
    for name, lf in raw_texts.items():
        crlf = lf.replace("\n", "\r\n")
        expected = [(u.kind, u.text, u.section_path, u.excluded, u.reason) for u in build_structure(lf).units]
        units = build_structure(crlf).units
        assert [(u.kind, u.text, u.section_path, u.excluded, u.reason) for u in units] == expected, name
        assert all(normalise_text(crlf[u.start:u.end]) == u.text for u in units), name
