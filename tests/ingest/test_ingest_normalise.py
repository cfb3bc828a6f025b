from collabmine.ingest.normalise import MappedText, normalise, normalise_text


def check_map(raw: str) -> MappedText:
    """Every cleaned character maps back to the same raw character (or to whitespace it replaced)."""
    mt = normalise(MappedText.from_raw(raw))
    for ch, off in zip(mt.text, mt.offsets):
        assert raw[off] == ch or (ch == " " and raw[off].isspace()), (ch, off, raw[off])
    return mt


def test_grade_star_kept_but_italics_stripped():
    raw = "Five or more *all* A*–C grades and grade A* in *Using collaboration*."
    assert normalise_text(raw) == "Five or more all A*–C grades and grade A* in Using collaboration."
    check_map(raw)


def test_bold_heading_hashes_and_escapes():
    assert normalise_text("#### **Part 3: Tools for** effective") == "Part 3: Tools for effective"
    assert normalise_text("In 2006 the \\*NCSL commissioned") == "In 2006 the NCSL commissioned"
    assert normalise_text("The School Governance \\(Federations\\)") == "The School Governance (Federations)"


def test_html_sup_footnote_and_links():
    raw = 'Ainscow, Muijs and West<sup>3</sup> defined (see <a href="http://x.org">http://x.org</a> for more)'
    assert normalise_text(raw) == "Ainscow, Muijs and West defined (see http://x.org for more)"
    assert normalise_text("5 <sup>th</sup> January") == "5 th January"
    assert normalise_text("[Maths Hubs: Guidance](#) [online].") == "Maths Hubs: Guidance [online]."
    check_map(raw)


def test_unicode_footnote_markers_removed_not_nfkc():
    assert normalise_text("39 schools¹ (a minimum") == "39 schools (a minimum"
    assert normalise_text("ﬁnance") == "ﬁnance"  # no NFKC


def test_bullets():
    for raw in ("- → There was strong evidence.", "• There was strong evidence.", "i. There was strong evidence.",
                "a) There was strong evidence.", "- a) There was strong evidence.", "→ There was strong evidence."):
        assert normalise_text(raw) == "There was strong evidence.", raw
    assert normalise_text("6.4 Staff training") == "6.4 Staff training"


def test_unwrap_keeps_line_end_hyphens():
    raw = "by Peter Rudd, Anne Lines and\nAngharad Reakes in a school-\nbased project"
    assert normalise_text(raw) == "by Peter Rudd, Anne Lines and Angharad Reakes in a school- based project"


def test_page_break_gap_with_footnote_is_joined():
    raw = "has been a major\n\n¹ This comprised 19 secondary schools.\n\nachievement of partnership working."
    mt = check_map(raw)
    assert mt.text == "has been a major achievement of partnership working."


def test_junk_tokens_and_astral_emoji():
    raw = "**66** Alone we can do so little; together we can do so much. 🤧 Helen Keller"
    assert normalise_text(raw) == "Alone we can do so little; together we can do so much. Helen Keller"


def test_offsets_are_python_string_indices_outside_bmp():
    raw = "🤧 x *y* z"
    mt = check_map(raw)
    assert mt.text == "x y z"
    assert mt.offsets[0] == 2  # code points, not UTF-16 units or bytes


def test_plain_text_path_agrees_with_the_mapped_path_on_the_whole_corpus():
    """``normalise_text`` takes each step's ``str -> str`` form; the offset-mapped steps must give
    the same text on every paragraph, line and page-spanning pair of paragraphs of the corpus."""
    import re

    from conftest import CORPUS

    pieces = 0
    for path in sorted(CORPUS.glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        paragraphs = re.split(r"(?<=\n)[ \t]*\n", raw)
        for piece in paragraphs + raw.splitlines() + [a + "\n\n" + b for a, b in zip(paragraphs, paragraphs[1:])]:
            assert normalise_text(piece) == normalise(MappedText.from_raw(piece)).text, piece[:200]
            pieces += 1
    assert pieces > 5_000  # 6,936 on the bundled corpus
