"""Citation labels for any report: never "Anonymous", never two alike; BibTeX without empty fields."""

import pandas as pd

from collabmine.ingest.metadata import Metadata, base_label, distinct_citations, short_citation, short_title
from collabmine.evidence.outputs.write import bibtex


def test_a_report_without_authors_is_cited_by_its_body_or_short_title_never_its_file():
    assert short_citation([], None, title="Six accounts of practice: school partnerships in England") == \
        "Six accounts of practice (n.d.)"
    assert short_title("A very long title with many more words than any citation needs") == \
        "A very long title with many…"
    # APA's group author: the body that published or commissioned it, before the title.
    assert Metadata(title="School partnerships", publisher="Department for Education", year=2015).citation() == \
        "Department for Education (2015)"
    assert Metadata(publisher="National Foundation for Educational Research (NFER), for the LGA").citation() == \
        "National Foundation for Educational Research (n.d.)"
    # Nothing at all: "Untitled report", told apart from others by a, b (never a file name, never "Anonymous").
    assert Metadata(year=2003).citation() == "Untitled report (2003)"
    assert "Anonymous" not in Metadata().citation()
    assert distinct_citations({"003_x.txt": Metadata().citation(), "005_y.txt": Metadata().citation()}) == \
        {"003_x.txt": "Untitled report (n.d.-a)", "005_y.txt": "Untitled report (n.d.-b)"}
    assert Metadata(authors=["Peter Rudd", "A. Lines", "J. Smith"], year=2004, publisher="NFER").citation() == \
        "Rudd et al. (2004)"


def test_a_commissioning_line_names_the_body_when_nothing_else_does():
    from collabmine.ingest.metadata import infer_metadata
    from collabmine.ingest.structure import build_structure

    raw = ("Working together: lessons from twelve school networks\n\n"
           "This evaluation was commissioned by the Education Endowment Foundation, and carried out in 2019.\n\n"
           "1. Introduction\n\nSchools in the networks shared staff and planned together across the year.\n")
    meta = infer_metadata(raw, build_structure(raw))
    assert meta.publisher == "Education Endowment Foundation" and not meta.authors
    assert meta.citation().startswith("Education Endowment Foundation (")
    assert str(meta.provenance["publisher"]).startswith("commissioning line")


def test_two_reports_never_share_a_citation_label():
    labels = {"b.txt": "Smith (2004)", "a.txt": "Smith (2004)", "c.txt": "Six accounts (n.d.)",
              "d.txt": "Six accounts (n.d.)", "e.txt": "Lee (2001)"}
    out = distinct_citations(labels)
    assert out == {"a.txt": "Smith (2004a)", "b.txt": "Smith (2004b)", "c.txt": "Six accounts (n.d.-a)",
                   "d.txt": "Six accounts (n.d.-b)", "e.txt": "Lee (2001)"}
    assert len(set(out.values())) == len(out)
    # Labelling again (a later run, one report gone) starts from the plain labels.
    assert distinct_citations({"a.txt": "Smith (2004a)", "e.txt": "Lee (2001)"}) == \
        {"a.txt": "Smith (2004)", "e.txt": "Lee (2001)"}
    assert base_label("Six accounts (n.d.-b)") == "Six accounts (n.d.)"


def test_bibtex_has_no_empty_or_nan_fields():
    reports = pd.DataFrame([{"doc_id": "ab" * 32, "path": "x.txt", "file_name": "x.txt", "citation": "X (n.d.)",
                             "title": "A title", "authors": "[]", "year": float("nan"), "publisher": float("nan"),
                             "isbn": None, "url": ""}])
    entry = bibtex(reports)
    assert "nan" not in entry and "isbn" not in entry and "url" not in entry and "institution" not in entry
    assert "title = {A title}" in entry


def test_an_abstract_is_never_taken_for_a_title():
    from collabmine.ingest.metadata import looks_like_title, title_case_fixed

    assert looks_like_title("School Partnerships: Six Accounts of Practice")
    assert not looks_like_title("This report summarises findings from a study of partnerships. It draws on "
                                "interviews with heads in four local authorities.")
    assert not looks_like_title(" ".join(["word"] * 30))
    assert not looks_like_title("Published 2004 ISBN 1 903880 75 0")
    assert title_case_fixed("school partnerships in england") == "School partnerships in england"
    assert title_case_fixed("School Partnerships") == "School Partnerships"


def test_bundled_reports_without_sources_get_titles_not_abstracts():
    from conftest import CORPUS

    raw_texts = {p.name: p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")}
    from collabmine.ingest.metadata import infer_metadata
    from collabmine.ingest.structure import build_structure

    for name, raw in raw_texts.items():
        meta = infer_metadata(raw, build_structure(raw))
        assert meta.title is None or (len(meta.title.split()) <= 25 and meta.title[0].isupper()), (name, meta.title)
        assert "Anonymous" not in meta.citation() and name not in meta.citation()


def test_sources_lists_origins_and_gaps_and_writes_reviewable_entries(tmp_path):
    from collabmine.ingest.metadata import load_sources, lookup, source_statuses, write_entries

    docs = [{"path": "new.txt", "file_name": "new.txt", "doc_id": "ab" * 32, "status": "ok",
             "citation": "Six accounts of practice (n.d.)", "metadata_source": "inferred", "title": "Six accounts of practice",
             "authors": "[]", "year": None, "publisher": None, "isbn": None, "url": None},
            {"path": "old.txt", "file_name": "old.txt", "doc_id": "cd" * 32, "status": "ok", "citation": "Rudd (2004)",
             "metadata_source": "sources.yaml", "title": "T", "authors": '["Peter Rudd"]', "year": 2004,
             "publisher": "NFER", "isbn": "1", "url": "u"},
            {"path": "bad.txt", "file_name": "bad.txt", "doc_id": "ef" * 32, "status": "error", "citation": None,
             "metadata_source": None, "title": None, "authors": None, "year": None, "publisher": None, "isbn": None,
             "url": None}]
    statuses = source_statuses(docs)
    assert [s.path for s in statuses] == ["new.txt", "old.txt"]
    assert statuses[0].missing == ["authors", "year", "publisher", "isbn", "url"] and statuses[1].missing == []
    path = tmp_path / "sources.yaml"
    path.write_text("# kept comment\nold.txt:\n  title: T\n", encoding="utf-8")
    assert write_entries(path, statuses) == ["new.txt"]
    assert path.read_text().startswith("# kept comment\nold.txt:")
    entry = lookup(load_sources(path), "renamed.txt", "ab" * 32)        # found again by its sha256
    assert entry.title == "Six accounts of practice" and entry.source == "sources.yaml"
    assert write_entries(path, statuses) == []                          # never twice


def test_sources_command_on_the_corpus(themed):
    from typer.testing import CliRunner

    from collabmine.cli import app

    result = CliRunner().invoke(app, ["sources", "--out", str(themed.out_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "Rudd et al. (2004)" in result.output
    # Each field with where it came from: every bundled report's fields are reviewed entries.
    assert "title: Partnership approaches to sharing best practice — sources.yaml (reviewed)" in result.output
    assert "inferred" not in result.output
