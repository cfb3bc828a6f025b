"""Outputs a researcher opens: CSV/Parquet/Excel/Markdown, the framework matrix, sources.bib and
the self-contained HTML report (rendered in headless Chromium; corpus text always escaped)."""

import json
import os
import shutil
import subprocess

import pandas as pd
import pytest

from collabmine.evidence.outputs.write import bibtex, markdown_table, write_outputs
from collabmine.evidence.outputs.report_html import render_report
from conftest import copy_store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: `make test` installs Debian's chromium and sets this, so CI cannot silently skip the browser.
REQUIRE_BROWSER = os.environ.get("COLLABMINE_REQUIRE_BROWSER") == "1"
HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'


@pytest.fixture(scope="module")
def written(themed, tmp_path_factory):
    settings = copy_store(themed, tmp_path_factory.mktemp("outputs"))
    return write_outputs(settings.out_dir)


def test_every_output_file_is_written_and_consistent(written):
    names = {p.name for p in written.files}
    assert {"themes.csv", "evidence.csv", "evidence.parquet", "evidence.xlsx", "evidence.md", "matrix.csv",
            "sources.bib", "report.html"} <= names
    claims = pd.read_csv(written.directory / "evidence.csv")
    themes = pd.read_csv(written.directory / "themes.csv")
    assert len(claims) == len(themes) and claims["citation"].notna().all()
    # Parquet keeps the confidence reasons and supporting reports as lists; CSV joins them with "; ".
    parquet = pd.read_parquet(written.directory / "evidence.parquet")
    for column in ("confidence_reasons", "supporting"):
        parquet[column] = parquet[column].map("; ".join)
    # CSV cannot tell an empty text (a cluster's claim) from a missing one: compare as text.
    assert parquet.fillna("").astype(str).equals(claims.fillna("").astype(str))
    # Frame and named emergent themes make claims, graded; an unnamed cluster makes none.
    claiming = claims[claims["kind"].isin(["frame", "emergent"])]
    assert len(claiming) and claiming["confidence"].isin(["high", "moderate", "low", "very low"]).all()
    assert claims.loc[~claims["kind"].isin(["frame", "emergent"]), "claim"].isna().all()
    sheets = pd.read_excel(written.directory / "evidence.xlsx", sheet_name=None)
    assert {"claims", "evidence", "themes", "matrix"} <= set(sheets) and len(sheets["claims"]) == len(claims)
    matrix = pd.read_csv(written.directory / "matrix.csv")
    count_columns = [c for c in matrix.columns if c.endswith(" n")]
    assert len(count_columns) == 4 and len(matrix) == len(themes)
    assert (matrix[count_columns].sum(axis=1).values == themes.set_index("theme_id")
            .loc[matrix["theme_id"], "n_sentences"].values).all()
    bib = (written.directory / "sources.bib").read_text()
    # Three research reports and one book (the Oxford University Press guide), by their metadata.
    assert bib.count("@techreport{") == 3 and bib.count("@book{ship") == 1 and bib.count("sha256") == 4
    assert "type = {Research report},\n  number = {DFE-RR466}" in bib and "publisher = {Oxford University Press" in bib
    md = (written.directory / "evidence.md").read_text()
    # Every claim under its name, with its confidence and reasons, then its key quotes and citations.
    assert md.count("\n### ") == len(claims) and md.count("**Confidence: ") == len(claiming)
    assert md.count("\n### Unnamed cluster") == len(claims) - len(claiming)
    for claim in claiming.itertuples():
        assert " ".join(claim.claim.split()) in md
    assert md.count("\n> — ") == (pd.read_csv(written.directory / "evidence_rows.csv")["key_quote"] == 1).sum()


def test_the_full_tables_are_streamed_in_chunks_and_equal_the_whole(written, themed):
    """evidence_rows.csv/.parquet/.xlsx are written chunk by chunk from the store (a 50 MB report has
    380,000 rows); with chunks of 7 rows they hold exactly the table read whole."""
    from collabmine import store
    from collabmine.evidence import evidence_row_chunks, evidence_rows
    from collabmine.evidence.outputs.spreadsheets import write_csv, write_workbook
    from collabmine.evidence.outputs.write import write_parquet
    from collabmine.evidence.table import EVIDENCE_ROW_COLUMNS, EVIDENCE_ROW_INTEGERS

    con = store.connect(themed.store_path, create=False)
    try:
        whole = evidence_rows(con)
        chunks = list(evidence_row_chunks(con, rows=7))
    finally:
        con.close()
    assert len(chunks) == -(-len(whole) // 7) and tuple(whole.columns) == EVIDENCE_ROW_COLUMNS
    # A chunk whose page column is all empty reads as object, not str: the values are the same.
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole, check_dtype=False)
    folder = written.directory
    csv = pd.read_csv(folder / "evidence_rows.csv", keep_default_na=False)
    assert len(csv) == len(whole) and csv["span_id"].tolist() == whole["span_id"].tolist()
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "evidence_rows.parquet"), whole, check_dtype=False)
    sheet = pd.read_excel(folder / "evidence.xlsx", sheet_name="evidence")
    assert sheet["span_id"].tolist() == whole["span_id"].tolist()

    # Writing from small chunks gives the same files as writing the frame whole.
    tmp = folder.parent / "chunked"
    tmp.mkdir(exist_ok=True)
    write_csv(whole, tmp / "whole.csv")
    write_csv(iter(chunks), tmp / "chunks.csv")
    assert (tmp / "whole.csv").read_bytes() == (tmp / "chunks.csv").read_bytes()
    write_parquet(iter(chunks), tmp / "chunks.parquet", integers=EVIDENCE_ROW_INTEGERS)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp / "chunks.parquet"), whole, check_dtype=False)
    write_workbook(tmp / "chunks.xlsx", {"evidence": iter(chunks)})
    import openpyxl
    ws = openpyxl.load_workbook(tmp / "chunks.xlsx")["evidence"]
    assert ws.max_row == len(whole) + 1 and ws.auto_filter.ref.endswith(str(len(whole) + 1))
    assert pd.read_excel(tmp / "chunks.xlsx", sheet_name="evidence").equals(sheet)


def test_a_chunk_with_an_empty_text_column_keeps_the_columns_type(tmp_path):
    from collabmine.evidence.outputs.write import write_parquet

    chunks = [pd.DataFrame({"section": [None, None], "start": [1, 2]}),
              pd.DataFrame({"section": ["§1 Aims", None], "start": [3, 4]})]
    write_parquet(iter(chunks), tmp_path / "t.parquet", integers=frozenset({"start"}))
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert back["section"].isna().tolist() == [True, True, False, True] and back["section"][2] == "§1 Aims"
    assert pd.api.types.is_string_dtype(back["section"]) and back["start"].tolist() == [1, 2, 3, 4]


def test_html_report_renders_in_headless_chromium(written, tmp_path):
    if not CHROMIUM:
        if REQUIRE_BROWSER:
            pytest.fail("chromium is not installed; `make test` installs it (apt-get install chromium)")
        pytest.skip("chromium not installed")
    shot = tmp_path / "report.png"
    _chromium("--screenshot=" + str(shot), "--window-size=1200,1600", written.html.as_uri(), tmp=tmp_path)
    assert shot.exists() and shot.stat().st_size > 10_000
    dom = _chromium("--dump-dom", written.html.as_uri(), tmp=tmp_path)
    assert "Evidence gap map" in dom and dom.count('class="theme"') >= 12


def test_the_report_opens_with_a_gap_map_whose_cells_hold_their_quotes(written, themed):
    """Every named theme a row, shaded by each report's count; a cell's quotes are that report's
    quotes of the theme; frame themes nobody speaks to are rows too, unnamed clusters are not."""
    import re

    from collabmine import store
    from collabmine.evidence.gapmap import build_gap_map, shade
    from collabmine.themes.frame import default_frame

    html = written.html.read_text(encoding="utf-8")
    section = html[html.index('<section id="gaps">'):html.index("</section>", html.index('<section id="gaps">'))]
    con = store.connect(written.directory / "collabmine.sqlite", create=False)
    try:
        gap = build_gap_map(con, frame=default_frame())
        named = con.execute("SELECT theme_id FROM themes WHERE kind IN ('frame', 'emergent')").fetchall()
        counts = {(r[0], r[1]): r[2] for r in con.execute(
            "SELECT theme_id, file, COUNT(*) FROM evidence GROUP BY theme_id, file")}
    finally:
        con.close()
    rows = re.findall(r'<tr data-theme="([^"]+)">', section)
    assert set(rows) >= {r[0] for r in named} and len(rows) == len(gap.rows) == len(set(rows))
    assert all(not r.n_sentences for r in gap.rows if r.theme_id not in {n[0] for n in named})   # the gaps
    paths = [r["path"] for r in gap.reports]
    for row in gap.rows:
        for cell, path in zip(row.cells, paths):
            assert cell.n == counts.get((row.theme_id, path), 0) and cell.level == shade(cell.n)
    # A cell's quotes come from its report: each shown sentence is one of that report's evidence rows.
    import html as html_lib

    first = next(r for r in gap.rows if r.n_sentences)
    con = store.connect(written.directory / "collabmine.sqlite", create=False)
    try:
        said = {(r[0], " ".join(r[1].split())) for r in con.execute(
            "SELECT e.file, s.text FROM evidence e JOIN spans s USING (span_id) WHERE e.theme_id = ?",
            (first.theme_id,))}
    finally:
        con.close()
    opened = re.search(rf'<tr data-theme="{first.theme_id}">(.*?)</tr>', section, re.S).group(1)
    cells = opened.split('<td class="cell')[1:]
    shown = 0
    for cell, path in zip(cells, paths):
        for quote in re.findall(r"<blockquote>(.*?)<cite>", cell, re.S):
            assert (path, " ".join(html_lib.unescape(quote).split())) in said
            shown += 1
    assert shown > 0
    assert 'support-chart' in section and section.count("<circle") == sum(1 for r in gap.rows if r.confidence)


def test_corpus_text_is_shown_as_text_never_run(tmp_path):
    html = render_report(**_hostile_frames())
    assert "<script>" not in html and "&lt;script&gt;" in html and "onerror=" not in html.replace("onerror=&#34;", "")
    page = tmp_path / "hostile.html"
    page.write_text(html, encoding="utf-8")
    if CHROMIUM:
        dom = _chromium("--dump-dom", page.as_uri(), tmp=tmp_path)
        assert "pwned" not in dom.split("<title>")[1].split("</title>")[0]
        assert "&lt;script&gt;document.title" in dom  # still visible to the reader, as text


def test_markdown_and_bibtex_escape_their_syntax():
    table = markdown_table(pd.DataFrame({"quote": ["a | b\nc"], "n": [1]}))
    assert "a \\| b c" in table and table.count("\n") == 3
    reports = pd.DataFrame([{"doc_id": "ab" * 32, "path": "r.txt", "file_name": "r.txt", "citation": "X (2001)",
                             "title": "50% of {schools} & more", "authors": '["Smith, J."]', "year": 2001.0,
                             "publisher": None, "isbn": None, "url": None}])
    entry = bibtex(reports)
    assert "@techreport{smith2001_ababab" in entry and r"50\% of \{schools\} \& more" in entry


def test_a_huge_theme_lists_a_bounded_number_of_quotes_and_points_to_the_tables():
    from collabmine.evidence.outputs.report_html import QUOTES_LISTED

    frames = _hostile_frames()
    row = frames["rows"].iloc[0].to_dict()
    frames["rows"] = pd.DataFrame([row | {"rank": k, "quote": f"quote number {k}", "span_id": f"s{k}"}
                                   for k in range(1, QUOTES_LISTED + 51)])
    frames["counts"] = _counts(frames["rows"])
    html = render_report(**frames)
    assert html.count("<blockquote>") == QUOTES_LISTED
    assert f"quote number {QUOTES_LISTED}<" in html and f"quote number {QUOTES_LISTED + 1}<" not in html
    assert "… and 50 more" in html and "evidence_rows.csv" in html
    # Said where the reader sees it, before the quotes, with a link to the full table.
    sample = html.index("A sample: the 200 highest-ranked of\n250 quotes")
    assert sample < html.index("<blockquote>") and '<a href="evidence_rows.csv">' in html[sample:sample + 300]
    # A theme that fits is not called a sample.
    frames["rows"] = frames["rows"].head(10)
    frames["counts"] = _counts(frames["rows"])
    assert "A sample" not in render_report(**frames)


def _hostile_frames() -> dict:
    claim = {"theme_id": "barrier-01", "category": "barrier", "kind": "emergent", "label": HOSTILE,
             "claim": f"{HOSTILE} is reported as a barrier.", "confidence": "low", "confidence_reasons": [HOSTILE],
             "supporting": ["Evil (2020)"], "quote": HOSTILE, "citation": "Evil (2020)", "n_sentences": 1,
             "n_reports": 1, "single_report": 1, "keywords": json.dumps([HOSTILE]), "why_unnamed": None}
    row = {"theme_id": "barrier-01", "category": "barrier", "label": HOSTILE, "rank": 1, "key_quote": 1, "span_id": "s1",
           "quote": HOSTILE, "citation": "Evil (2020), “<b>x</b>”", "file": "<evil>.txt", "start": 0, "end": 10,
           "section": None, "page": None}
    report = {"doc_id": "d", "path": "<evil>.txt", "file_name": "<evil>.txt", "citation": "Evil (2020)",
              "title": HOSTILE, "authors": "[]", "year": 2020, "publisher": None, "isbn": None, "url": None}
    matrix = {"theme_id": "barrier-01", "category": "barrier", "label": HOSTILE, "file": "<evil>.txt",
              "citation": "Evil (2020)", "n_sentences": 1, "quote": HOSTILE, "quote_citation": "Evil (2020)"}
    themes = {k: claim[k] for k in ("theme_id", "category", "kind", "label", "claim", "n_sentences", "n_reports",
                                    "confidence", "single_report")}
    return dict(themes=pd.DataFrame([themes]), claims=pd.DataFrame([claim]), rows=pd.DataFrame([row]),
                counts=_counts(pd.DataFrame([row])), reports=pd.DataFrame([report]), matrix=pd.DataFrame([matrix]))


def _counts(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.groupby(["theme_id", "category", "file"]).size().rename("n").reset_index()


def _chromium(*args: str, tmp) -> str:
    """Debian's chromium, headless, with no network chatter (the machine's network is closed)."""
    profile = tmp / "chromium-profile"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_report_without_isbn_or_year_never_shows_nan():
    import pandas as pd

    from collabmine.evidence.outputs.report_html import _records

    frame = pd.DataFrame({"isbn": ["1 903880 64 5", float("nan")], "year": [2004, float("nan")],
                          "publisher": ["NFER", None]})
    rows = _records(frame)
    assert rows[1] == {"isbn": None, "year": None, "publisher": None} and rows[0]["isbn"] == "1 903880 64 5"
