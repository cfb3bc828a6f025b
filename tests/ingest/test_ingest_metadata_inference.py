"""Citation metadata inferred from any report: "cite as" lines, title pages and imprints, PDF
document info, DOCX core properties and HTML meta tags — each field with its origin and confidence."""

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from collabmine import ingest
from collabmine.ingest.metadata import (METADATA_FIELDS, entry_type, infer_metadata, parse_citation, resolve_metadata,
                                 series_number)
from collabmine.evidence.outputs.write import bibtex
from collabmine.settings import load_settings
from collabmine.ingest.structure import build_structure
from conftest import CORPUS, R001, R002, R004

BODY = ("Schools in the cluster shared a single governing body. Trust between heads grew over time.\n\n"
        "Lack of time was the main barrier to the joint work of the schools in the partnership.\n\n")


def _process_text(folder: Path, name: str, text: str) -> dict:
    (folder / name).write_text(text, encoding="utf-8")
    return _process(folder / name)


def _process(path: Path):
    settings = load_settings(corpus_dir=path.parent, out_dir=path.parent / "out")
    result = ingest.process_report(path, settings)
    assert result.status == "ok", result.error
    return result.record


def _origins(record: dict) -> dict:
    return {k: (v["origin"], v["confidence"]) for k, v in json.loads(record["metadata_fields"]).items()}


def _infer(text: str, **kw):
    return resolve_metadata(text, build_structure(text), file_name="x.txt", sha256="0" * 64, sources={}, **kw)


def test_bundled_reports_without_sources_yaml():
    metas = {p.name: _infer(p.read_text(encoding="utf-8")) for p in sorted(CORPUS.glob("*.txt"))}
    m004 = metas[R004]
    # The repository cover sheet's "Citation for published version (APA):" line is the report's own citation.
    assert (m004.title, m004.authors, m004.year, m004.publisher) == (
        "School Partnerships and Collaboration: A Review of the Evidence", ["Armstrong, P."], 2015,
        "Department for Education")
    assert {str(m004.provenance[k]) for k in ("title", "authors", "year", "publisher")} == {"cite-as line (high)"}
    # Its ISBN and report number are on the back-cover imprint, after the references.
    assert (m004.isbn, m004.series) == ("978-1-78105-520-5", "DFE-RR466")
    m002 = metas[R002]
    assert m002.citation() == "Rudd et al. (2004)" and str(m002.provenance["authors"]) == "title page (medium)"
    assert (m002.title, m002.year, m002.isbn) == ("Partnership approaches to sharing best practice", 2004, "1 903880 64 5")
    assert m002.provenance["isbn"].confidence == "high" and m002.publisher == "National Foundation for Educational Research"
    assert metas[R001].citation() == "Ship (n.d.)"
    assert metas[R001].title == "A Guide to Effective Collaboration"
    assert metas["000_47f8c43ff3c82b8a.txt"].citation() == "Six accounts of practice (n.d.)"
    labels = [m.citation() for name, m in metas.items()]
    assert len(set(labels)) == 4 and not any("Anonymous" in label for label in labels)
    # Every value has an origin, every origin a value.
    for meta in metas.values():
        assert set(meta.provenance) == {k for k in METADATA_FIELDS if getattr(meta, k)}


def test_cite_as_line_gives_every_field_with_high_confidence(tmp_path):
    text = ("Working together in rural schools\n\nPlease cite this report as: Smith, J. and Lee, K. (2019). "
            "Working together: a study of rural partnerships. London: Institute of Education. "
            "https://doi.org/10.1234/ioe.5678\n\n# Introduction\n\n" + BODY)
    record = _process_text(tmp_path, "r.txt", text)
    assert record["citation"] == "Smith and Lee (2019)"
    assert (record["title"], record["publisher"], record["url"]) == (
        "Working together: a study of rural partnerships", "Institute of Education", "https://doi.org/10.1234/ioe.5678")
    assert set(_origins(record).values()) == {("cite-as line", "high")}
    assert record["entry_type"] == "report"


def test_a_report_whose_first_paragraph_is_an_abstract(tmp_path):
    text = ("Abstract\n\nThis report summarises findings from a two-year study of school partnerships. It draws "
            "on interviews with heads in four local authorities. Partnerships improved teaching.\n\n"
            "# Introduction\n\n" + BODY)
    record = _process_text(tmp_path, "study_2011.txt", text)
    assert record["title"] is None                       # neither "Abstract" nor the abstract itself
    # Never by its file name, never "Anonymous": flagged (inferred) for a sources.yaml entry instead.
    assert record["citation"] == "Untitled report (n.d.)" and record["metadata_source"] == "inferred"


def test_pdf_document_info(tmp_path):
    from reportlab.pdfgen import canvas

    def make(path, *, title, author, lines):
        c = canvas.Canvas(str(path), invariant=1)       # invariant: creation date 2000-01-01, bytes stable
        c.setTitle(title)
        c.setAuthor(author)
        y = 800
        for line in lines:
            c.drawString(72, y, line)
            y -= 32
        c.showPage()
        c.save()

    body = [s for s in BODY.split("\n") if s]
    make(tmp_path / "info.pdf", title="Collaboration between small rural schools", author="Jane Smith; Tom Lee",
         lines=body)
    record = _process(tmp_path / "info.pdf")
    assert (record["title"], json.loads(record["authors"]) if isinstance(record["authors"], str) else record["authors"]) \
        == ("Collaboration between small rural schools", ["Jane Smith", "Tom Lee"])
    origins = _origins(record)
    assert origins["title"] == ("PDF document info", "medium") and origins["authors"] == ("PDF document info", "medium")
    assert record["year"] == 2000 and origins["year"] == ("PDF document info", "low")   # a creation date, not publication
    # Authoring tools' defaults are not metadata.
    make(tmp_path / "junk.pdf", title="Microsoft Word - draft3.docx", author="jsmith", lines=body)
    junk = _process(tmp_path / "junk.pdf")
    assert junk["title"] != "Microsoft Word - draft3.docx" and "jsmith" not in str(junk["authors"])
    # The text and the document info agreeing on the title: more trusted than either alone.
    make(tmp_path / "agree.pdf", title="Rural partnerships", author="Jane Smith",
         lines=["Rural partnerships", "", *body])
    agree = _process(tmp_path / "agree.pdf")
    assert agree["title"] == "Rural partnerships" and _origins(agree)["title"][1] == "high"


def test_docx_core_properties(tmp_path):
    import docx

    d = docx.Document()
    d.core_properties.title = "Networks of schools in the north"
    d.core_properties.author = "Ana Ruiz"
    d.core_properties.created = datetime(2019, 5, 1)
    d.add_paragraph("Published in March 2020 by the Northern Research Trust, Leeds.")
    d.add_heading("Introduction", level=1)
    for para in BODY.split("\n\n"):
        if para.strip():
            d.add_paragraph(para.strip())
    d.save(tmp_path / "north.docx")
    record = _process(tmp_path / "north.docx")
    origins = _origins(record)
    assert record["citation"] == "Ruiz (2020)"
    assert origins["authors"] == ("DOCX core properties", "medium") and origins["title"][0].startswith("DOCX")
    # The imprint's publication year beats the file's creation date.
    assert origins["year"] == ("imprint", "medium") and record["publisher"] == "Northern Research Trust"
    assert record["entry_type"] == "report"


def test_html_scholarly_meta_tags(tmp_path):
    (tmp_path / "a.html").write_text(
        "<html><head><title>Site | Article</title><meta name='citation_title' content='Leading federations'>"
        "<meta name='citation_author' content='Lee, K.'><meta name='citation_author' content='Patel, R.'>"
        "<meta name='citation_publication_date' content='2017/03/01'><meta name='citation_doi' content='10.5555/lf.1'>"
        "</head><body><h1>Leading federations</h1>" + "".join(f"<p>{p}</p>" for p in BODY.split("\n\n") if p)
        + "</body></html>", encoding="utf-8")
    record = _process(tmp_path / "a.html")
    assert record["citation"] == "Lee and Patel (2017)" and record["url"] == "https://doi.org/10.5555/lf.1"
    assert _origins(record)["authors"] == ("HTML meta tags", "high")


def test_parse_citation_forms():
    fields = parse_citation("Rudd, P., Lines, A. and Reakes, A. (2004). Partnership approaches? A study. Slough: NFER.")
    assert fields["authors"] == ["Rudd, P.", "Lines, A.", "Reakes, A."] and fields["publisher"] == "NFER"
    assert fields["title"] == "Partnership approaches? A study" and fields["year"] == 2004
    assert parse_citation("This report looks at collaboration (2004). It is long.") is None


def test_entry_types_and_bibtex():
    assert entry_type(title="T", publisher="Oxford University Press", series=None, isbn="1") == "book"
    assert entry_type(title="T", publisher="National Foundation for Educational Research", series=None, isbn="1") == "report"
    assert entry_type(title="T", publisher=None, series="LGA Research Report 54", isbn="1") == "report"
    assert entry_type(title="T", publisher=None, series=None, isbn="1") == "book"
    assert entry_type(title="T", publisher=None, series=None, isbn=None) == "report"
    assert series_number("LGA Research Report 54") == ("LGA Research Report", "54")
    assert series_number("Research report DFE-RR466") == ("Research report", "DFE-RR466")
    assert series_number("Oxford School Improvement") == ("Oxford School Improvement", None)
    rows = pd.DataFrame([
        {"doc_id": "ab" * 32, "path": "a.txt", "title": "A guide", "authors": '["Suzanne Ship"]', "year": float("nan"),
         "publisher": "Oxford University Press", "isbn": None, "url": None, "series": None, "entry_type": "book"},
        {"doc_id": "cd" * 32, "path": "b.txt", "title": "Partnerships", "authors": '["Rudd, P."]', "year": 2004.0,
         "publisher": "NFER", "isbn": "1 903880 64 5", "url": None, "series": "LGA Research Report 54",
         "entry_type": "report"}])
    bib = bibtex(rows)
    assert "@book{ship_nd_abab" not in bib and "@book{shipnd_ababab," in bib and "publisher = {Oxford University Press}" in bib
    assert "@techreport{rudd2004_cdcdcd," in bib and "institution = {NFER}" in bib
    assert "type = {LGA Research Report}" in bib and "number = {54}" in bib and "nan" not in bib


def test_sources_yaml_entry_type_is_kept(tmp_path):
    text = (CORPUS / R001).read_text(encoding="utf-8")
    meta = resolve_metadata(text, build_structure(text), file_name=R001, sha256="0" * 64,
                            sources={R001: {"title": "A Guide", "publisher": "Oxford University Press", "type": "report"}})
    assert meta.entry_type == "report" and str(meta.provenance["title"]) == "sources.yaml (reviewed)"
    assert resolve_metadata(text, build_structure(text), file_name=R001, sha256="0" * 64,
                            sources={R001: {"publisher": "Oxford University Press"}}).entry_type == "book"


@pytest.mark.parametrize("junk", ["Microsoft Word - final.doc", "untitled", "report.pdf"])
def test_junk_titles_from_properties_are_dropped(junk):
    meta = infer_metadata("x", build_structure("x"), properties={"title": junk, "authors": "Administrator"})
    assert meta.title != junk and not meta.authors
