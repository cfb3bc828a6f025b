"""Citation labels for any report: never "Anonymous", never two alike; BibTeX without empty fields."""

import pandas as pd

from collabmine.metadata import Metadata, base_label, distinct_citations, short_citation, short_title
from collabmine.outputs import bibtex


def test_a_report_without_authors_is_cited_by_its_short_title_or_its_file():
    assert short_citation([], None, title="Six accounts of practice: school partnerships in England") == \
        "Six accounts of practice (n.d.)"
    assert short_title("A very long title with many more words than any citation needs") == \
        "A very long title with many…"
    assert Metadata(year=2003).citation(fallback="002_report") == "002_report (2003)"
    assert "Anonymous" not in Metadata().citation(fallback="x")
    assert Metadata(authors=["Peter Rudd", "A. Lines", "J. Smith"], year=2004).citation(fallback="x") == \
        "Rudd et al. (2004)"


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
