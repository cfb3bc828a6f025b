"""Each kind of bad input gets its status and an actionable message; good reports still run."""

import shutil
from pathlib import Path

import pytest

from collabmine import ingest
from collabmine.settings import load_settings
from conftest import CORPUS, R001

GOOD = "Schools in the cluster shared a single governing body. Trust between heads grew over time.\n\n" * 3


def make_pdf(path: Path, pages: list[str]) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            if line:
                c.drawString(72, y, line)
            y -= 16
        c.showPage()
    c.save()


@pytest.fixture()
def bad_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / R001, corpus / R001)
    shutil.copy(CORPUS / R001, corpus / "001_d1e1163017c50461 - Copy.txt")  # sorts first, longer name
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (corpus / "legacy.txt").write_bytes(("Heads said the federation\u2019s \u201cshared vision\u201d mattered. "
                                         "Caf\u00e9 meetings helped.\n\n").encode("cp1252") * 3)
    from reportlab.pdfgen import canvas
    c = canvas.Canvas(str(corpus / "scanned.pdf"))
    c.rect(10, 10, 100, 100, fill=1)                                    # a page with no text layer
    c.showPage()
    c.save()
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    (corpus / "notes.xyz").write_text("hello")
    return corpus


def run_all(corpus):
    settings = load_settings(corpus_dir=corpus, out_dir=corpus.parent / "out")
    results = [ingest.process_report(p, settings) for p in ingest.candidate_reports(corpus)]
    ingest.mark_duplicates(results)
    return {r.path.name: r for r in results}


def test_each_bad_input_has_status_and_message(bad_corpus):
    results = run_all(bad_corpus)
    assert results[R001].status == "ok" and results[R001].spans
    expectations = {
        "empty.txt": ("error", "E001"), "image.txt": ("error", "E002"), "scanned.pdf": ("error", "E003"),
        "broken.pdf": ("error", "E007"), "notes.xyz": ("error", "E005"),
        "001_d1e1163017c50461 - Copy.txt": ("duplicate", "E010"),
    }
    for name, (status, code) in expectations.items():
        r = results[name]
        assert r.status == status, (name, r.status, r.error)
        assert r.error.startswith(code) and name in r.error, r.error
        assert r.record["status"] == status
    assert "OCR" in results["scanned.pdf"].error
    assert R001 in results["001_d1e1163017c50461 - Copy.txt"].error and "the shortest name" in \
        results["001_d1e1163017c50461 - Copy.txt"].error


def test_a_duplicate_keeps_the_report_already_in_the_store(bad_corpus):
    settings = load_settings(corpus_dir=bad_corpus, out_dir=bad_corpus.parent / "out")
    results = [ingest.process_report(bad_corpus / n, settings) for n in (R001, "001_d1e1163017c50461 - Copy.txt")]
    ingest.mark_duplicates(results, in_store={"001_d1e1163017c50461 - Copy.txt"})
    assert [r.status for r in results] == ["duplicate", "ok"] and "already in the store" in results[0].error


def test_control_characters_never_reach_a_sentence_and_are_reported(tmp_path):
    text = ("Schools in the cluster shared a single governing body. " * 200 + "\n\n"
            + "Trust\x00 between heads\x07 grew over time.\n\n" + GOOD)
    (tmp_path / "nul.txt").write_bytes(text.encode("utf-8"))
    settings = load_settings(corpus_dir=tmp_path, out_dir=tmp_path / "out")
    r = ingest.process_report(tmp_path / "nul.txt", settings)
    assert r.status == "ok" and r.record["warnings"] and r.record["warnings"][0].startswith("W002")
    assert "2 control characters" in r.record["warnings"][0]
    assert not any(c in s.text for s in r.spans for c in "\x00\x07")
    s = next(s for s in r.spans if s.text == "Trust between heads grew over time.")
    assert text[s.start:s.end] == "Trust\x00 between heads\x07 grew over time."    # offsets: the raw text
    from collabmine.ingest.normalise import visible_controls
    assert visible_controls(text[s.start:s.end]) == "Trust\u2400 between heads\u2407 grew over time."


def test_legacy_encoding_is_detected_and_recorded(bad_corpus):
    r = run_all(bad_corpus)["legacy.txt"]
    assert r.status == "ok"
    assert r.record["encoding"] == "cp1252"
    assert any("W001" in w for w in r.record["warnings"])
    assert any("\u201cshared vision\u201d" in s.text for s in r.spans)


def test_unreadable_file(tmp_path):
    settings = load_settings(corpus_dir=tmp_path, out_dir=tmp_path / "out")
    r = ingest.process_report(tmp_path / "gone.txt", settings)
    assert r.status == "error" and r.error.startswith("E004") and "gone.txt" in r.error


def test_pdf_spans_carry_exact_pages(tmp_path):
    pdf = tmp_path / "report.pdf"
    make_pdf(pdf, ["Trust between schools grew over time.", "Lack of time was the main barrier to the work.",
                   "The federation had a single governing body."])
    settings = load_settings(corpus_dir=tmp_path, out_dir=tmp_path / "out")
    r = ingest.process_report(pdf, settings)
    assert r.status == "ok"
    pages = {s.text: s.page for s in r.spans}
    assert pages["Lack of time was the main barrier to the work."] == "2"
    assert pages["The federation had a single governing body."] == "3"
    text = Path(r.record["text_path"]).read_text(encoding="utf-8")
    s = next(s for s in r.spans if s.page == "2")
    assert text[s.start:s.end] == s.text


def test_docx_and_html_readers(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("Conditions for success", level=1)
    d.add_paragraph("Shared vision was essential. Heads met every month.")
    d.save(tmp_path / "r.docx")
    (tmp_path / "r.html").write_text("<html><body><h2>Barriers</h2><p>Distance made <b>meetings</b> hard.</p>"
                                     "<script>alert(1)</script></body></html>", encoding="utf-8")
    settings = load_settings(corpus_dir=tmp_path, out_dir=tmp_path / "out")
    rd = ingest.process_report(tmp_path / "r.docx", settings)
    assert rd.status == "ok"
    s = next(s for s in rd.spans if s.text == "Heads met every month.")
    assert s.section_path == ["Conditions for success"]
    rh = ingest.process_report(tmp_path / "r.html", settings)
    assert rh.status == "ok"
    assert any(s.text == "Distance made meetings hard." and s.section_path == ["Barriers"] for s in rh.spans)
    assert not any("alert" in s.text for s in rh.spans)


def test_huge_single_line_does_not_crash(tmp_path):
    (tmp_path / "long.txt").write_text("Schools worked together on joint training. " * 120_000, encoding="utf-8")
    settings = load_settings(corpus_dir=tmp_path, out_dir=tmp_path / "out")
    r = ingest.process_report(tmp_path / "long.txt", settings)
    assert r.status == "ok" and len(r.spans) > 1000


@pytest.mark.parametrize("encoding,bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
                                          ("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-16-le", b"")])
def test_utf16_and_utf32_files_are_read_as_text(tmp_path, encoding, bom):
    text = "Heads said the federation\u2019s shared vision mattered.\n\n" + GOOD
    (tmp_path / "wide.txt").write_bytes(bom + text.encode(encoding))
    settings = load_settings(corpus_dir=tmp_path, out_dir=tmp_path / "out")
    r = ingest.process_report(tmp_path / "wide.txt", settings)
    assert r.status == "ok", r.error
    assert any(w.startswith("W001") for w in r.record["warnings"])
    # Offsets index the decoded text, exactly as a re-open (verify, evidence) decodes it.
    decoded = ingest.source_text(tmp_path / "wide.txt", encoding=r.record["encoding"], text_path=None)
    assert decoded == text and all(decoded[s.start:s.end].strip() for s in r.spans)
    assert any(s.text == "Heads said the federation\u2019s shared vision mattered." for s in r.spans)


def test_a_nul_near_the_start_is_treated_like_one_later(tmp_path):
    """One NUL in the first 8 KB once rejected the file as binary; later, it was only W002."""
    text = "Trust\x00 between heads grew over time.\n\n" + GOOD
    (tmp_path / "early.txt").write_bytes(text.encode("utf-8"))
    settings = load_settings(corpus_dir=tmp_path, out_dir=tmp_path / "out")
    r = ingest.process_report(tmp_path / "early.txt", settings)
    assert r.status == "ok" and r.record["warnings"][0].startswith("W002")
    assert any(s.text == "Trust between heads grew over time." for s in r.spans)


def test_a_line_without_full_stops_is_cut_into_sentences_with_offsets_kept(tmp_path):
    clause = "the schools shared staff, pooled budgets and planned together; heads met weekly"
    line = ", ".join([clause] * 200)            # ~16,000 characters, no full stop
    text = "# Findings\n\n" + line + "\n\n" + GOOD
    (tmp_path / "long.txt").write_bytes(text.encode("utf-8"))
    settings = load_settings(corpus_dir=tmp_path, out_dir=tmp_path / "out")
    r = ingest.process_report(tmp_path / "long.txt", settings)
    assert r.status == "ok"
    assert any(w.startswith("W003") and "long.txt" in w for w in r.record["warnings"])
    pieces = [s for s in r.spans if s.split]
    assert len(pieces) >= 16 and all(len(s.text) <= settings.max_sentence_chars for s in r.spans)
    assert all(text[s.start:s.end] == s.text for s in pieces)
    # Cut after a clause's punctuation, not mid-word.
    assert all(s.text[-1] in ",;" or s is pieces[-1] for s in pieces)
    assert "".join(text[a.start:b.start] for a, b in zip(pieces, pieces[1:])) + pieces[-1].text == line
    # An ordinary report has no split sentence.
    assert not any(s.split for s in ingest.process_report(CORPUS / R001, settings).spans)
