"""Structure detection on small fixtures (edge cases the bundled corpus does not show)."""

from collabmine.normalise import normalise_text
from collabmine.structure import build_structure


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
