"""What a researcher takes away from a run: themes, claims and evidence as CSV, Parquet, Excel
and Markdown, the framework matrix, ``sources.bib`` and a self-contained HTML report.

Everything is read from the store; nothing here computes evidence, it only lays it out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd

from ... import store
from ...categories import CATEGORIES
from ...ingest.metadata import entries_to_check, entry_type, series_number, surname
from ...runtime import fault_point
from ..confidence import NOT_REVIEWED, reviewed
from ..table import CLAIMING_KINDS, EVIDENCE_ROW_INTEGERS, claims, evidence_counts, evidence_row_chunks, evidence_rows, kind_order
from .report_html import not_reviewed
from .spreadsheets import write_csv, write_workbook


@dataclass
class Outputs:
    directory: Path
    files: list[Path]
    html: Path


def themes_frame(con) -> pd.DataFrame:
    frame = pd.read_sql_query("SELECT theme_id, category, kind, label, description, keywords, claim, confidence,"
                              " confidence_reasons, supporting, n_sentences, n_reports, single_report,"
                              " representative_span_id, why_unnamed, coherence FROM themes ORDER BY category, "
                              + kind_order("kind") + ", n_sentences DESC, theme_id", con)
    for column in ("keywords", "confidence_reasons", "supporting"):
        frame[column] = frame[column].map(lambda k: "; ".join(json.loads(k)) if k else "")
    return frame


def reports_frame(con) -> pd.DataFrame:
    return pd.read_sql_query("SELECT doc_id, path, file_name, citation, title, authors, year, publisher, isbn, url,"
                             " series, entry_type FROM documents WHERE status='ok' ORDER BY path", con)


def matrix_frame(con) -> pd.DataFrame:
    """Framework matrix, long form: one row per (theme, report) with sentence count and the
    first-ranked sentence of that theme from that report (clean text; its verbatim quote and
    offsets are in the evidence rows)."""
    # One pass with window functions: the correlated sub-queries this replaces took 75 s on a
    # ×100 corpus (261,416 evidence rows) and 0.1 s here.
    return pd.read_sql_query(
        "WITH ranked AS (SELECT e.theme_id, e.doc_id, e.file, s.text AS quote, e.citation,"
        " COUNT(*) OVER (PARTITION BY e.theme_id, e.doc_id) AS n_sentences,"
        " ROW_NUMBER() OVER (PARTITION BY e.theme_id, e.doc_id ORDER BY e.rank) AS position FROM evidence e"
        " LEFT JOIN spans s ON s.span_id = e.span_id)"
        " SELECT t.theme_id, t.category, t.label, r.file, d.citation, r.n_sentences, r.quote,"
        " r.citation AS quote_citation"
        " FROM ranked r JOIN themes t USING (theme_id) JOIN documents d ON d.doc_id=r.doc_id AND d.path=r.file"
        " WHERE r.position = 1 ORDER BY t.category, t.theme_id, r.file", con)


def matrix_wide(long: pd.DataFrame, reports: pd.DataFrame) -> pd.DataFrame:
    """Themes × reports: "<citation> n" and "<citation> quote" columns per report."""
    base = long[["theme_id", "category", "label"]].drop_duplicates().set_index("theme_id")
    for _, report in reports.iterrows():
        part = long[long["file"] == report["path"]].set_index("theme_id")
        name = f"{report['citation']} [{report['file_name']}]"
        base[f"{name} n"] = part["n_sentences"].reindex(base.index).fillna(0).astype(int)
        base[f"{name} quote"] = part["quote"].reindex(base.index).fillna("")
    return base.reset_index()


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-style table; cells are single-line with pipes escaped (corpus text is data)."""
    def cell(value) -> str:
        return " ".join(str(value).split()).replace("|", "\\|")

    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    return head + "".join("| " + " | ".join(cell(v) for v in row) + " |\n" for row in frame.itertuples(index=False))


def flat(claim_rows: pd.DataFrame) -> pd.DataFrame:
    """Claims with their list columns (confidence reasons, supporting reports) as "; "-joined text,
    for CSV and spreadsheets."""
    out = claim_rows.copy()
    for column in ("confidence_reasons", "supporting"):
        out[column] = out[column].map("; ".join)
    return out


def evidence_markdown(claim_rows: pd.DataFrame, rows: pd.DataFrame) -> str:
    """evidence.md: per category, each claim with its confidence and reasons, then its key quotes
    (clean sentences) with citations and the file and offsets of the verbatim text (every quote,
    raw and clean, is in evidence_rows.csv)."""
    def line(value) -> str:
        return " ".join(str(value).split())

    parts = ["# Evidence table\n"]
    if not_reviewed(claim_rows):
        parts.append(f"\nNot yet reviewed: {NOT_REVIEWED[0].lower()}{NOT_REVIEWED[1:]}\n")
    key = rows[rows["key_quote"] == 1]
    for category in CATEGORIES:
        mine = claim_rows[claim_rows["category"] == category]
        if not len(mine):
            continue
        parts.append(f"\n## {category.capitalize()}\n")
        for _, c in mine.iterrows():
            if c["kind"] in CLAIMING_KINDS:
                parts.append(f"\n### {line(c['label'])} ({c['kind']}, `{c['theme_id']}`)\n\n{line(c['claim'])}\n\n"
                             f"**Confidence: {c['confidence']}**"
                             + ("" if reviewed(list(c["confidence_reasons"])) else " (not yet reviewed)") + " — "
                             + "; ".join(line(r) for r in c["confidence_reasons"]) + "\n\n")
            else:
                state = "dismissed" if c["kind"] == "dismissed" else "awaiting an analyst"
                parts.append(f"\n### Unnamed cluster (`{c['theme_id']}`, {state})\n\nNo claim is made"
                             f"{' (' + line(c['why_unnamed']) + ')' if c['why_unnamed'] else ''}. Keywords: "
                             f"{', '.join(json.loads(c['keywords'] or '[]'))}.\n\n")
            for _, q in key[key["theme_id"] == c["theme_id"]].sort_values("rank").iterrows():
                parts.append(f"> {line(q['sentence'])}\n> — {line(q['citation'])} "
                             f"(`{q['file']}` [{q['start']}:{q['end']}])\n\n")
    return "".join(parts)


# --- bibliography --------------------------------------------------------------------------

def _bib_escape(value: str) -> str:
    return re.sub(r"([{}%&#$_])", r"\\\1", value)


def _present(value) -> bool:
    # pandas gives NaN for a missing field: it is left out, never written as "nan".
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and bool(str(value).strip())


def bibtex(reports: pd.DataFrame) -> str:
    """One entry per report: ``@techreport`` (institution, type and number from its series) or
    ``@book`` (publisher, series), by the report's entry type; no empty or "nan" field."""
    entries = []
    for _, r in reports.iterrows():
        authors = json.loads(r["authors"] or "[]")
        year = str(int(r["year"])) if pd.notna(r["year"]) else None
        key = f"{re.sub(r'[^a-z]', '', surname(authors[0]).lower()) if authors else 'anon'}{year or 'nd'}_{r['doc_id'][:6]}"
        kind = r.get("entry_type") if _present(r.get("entry_type")) else entry_type(
            title=r["title"], publisher=r["publisher"] if _present(r["publisher"]) else None,
            series=r.get("series") if _present(r.get("series")) else None,
            isbn=r["isbn"] if _present(r["isbn"]) else None)
        fields = {"title": r["title"], "author": " and ".join(authors) if authors else None, "year": year}
        series = r.get("series") if _present(r.get("series")) else None
        if kind == "book":
            fields |= {"publisher": r["publisher"], "series": series}
        else:
            name, number = series_number(series) if series else (None, None)
            fields |= {"institution": r["publisher"], "type": name, "number": number}
        fields |= {"isbn": r["isbn"], "url": r["url"], "note": f"corpus file {r['path']}; sha256 {r['doc_id']}"}
        body = ",\n".join(f"  {k} = {{{_bib_escape(str(v))}}}" for k, v in fields.items() if _present(v))
        entries.append(f"@{'book' if kind == 'book' else 'techreport'}{{{key},\n{body}\n}}\n")
    return "\n".join(entries)


# --- writing -------------------------------------------------------------------------------

def write_parquet(frames: Iterable[pd.DataFrame], path: Path, *, integers: frozenset[str] = frozenset()) -> None:
    """Chunks of one table into one Parquet file as they come: columns in ``integers`` as int64,
    the rest as text (stated, not inferred per chunk: a chunk whose ``section`` is all empty
    would otherwise give that column another type)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for frame in frames:
            if writer is None:
                schema = pa.schema([(c, pa.int64() if c in integers else pa.string()) for c in frame.columns])
                writer = pq.ParquetWriter(path, schema)
            writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
    finally:
        if writer is not None:
            writer.close()


def write_outputs(out_dir: Path, *, dest: Path | None = None) -> Outputs:
    """Write every output file to ``dest`` (default ``out_dir``); returns what was written. The
    evidence rows (380,000 for a 50 MB report) are streamed from the store chunk by chunk into
    each file that holds them all; the report and Markdown read only the quotes they show."""
    from ...themes.curation import frame_in
    from ..gapmap import build_gap_map
    from .report_html import QUOTES_LISTED, render_report

    dest = dest or out_dir
    dest.mkdir(parents=True, exist_ok=True)
    con = store.connect(out_dir / "collabmine.sqlite", create=False)
    try:
        themes, claim_rows, reports, long = themes_frame(con), claims(con), reports_frame(con), matrix_frame(con)
        listed, counts = evidence_rows(con, upto_rank=QUOTES_LISTED), evidence_counts(con)
        wide = matrix_wide(long, reports)
        # Every file is written in a staging folder first and then moved into place whole
        # (os.replace is atomic): a run killed while writing leaves each output file as it was.
        staging = dest / ".outputs-partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        files = []

        def put(name: str, write) -> None:
            write(staging / name)
            files.append(dest / name)

        flat_claims = flat(claim_rows)
        put("themes.csv", lambda p: write_csv(themes, p))
        put("evidence.csv", lambda p: write_csv(flat_claims, p))
        put("evidence.parquet", lambda p: claim_rows.to_parquet(p, index=False))
        put("evidence_rows.csv", lambda p: write_csv(evidence_row_chunks(con), p))
        put("evidence_rows.parquet",
            lambda p: write_parquet(evidence_row_chunks(con), p, integers=EVIDENCE_ROW_INTEGERS))
        put("matrix.csv", lambda p: write_csv(wide, p))

        put("evidence.xlsx", lambda p: write_workbook(p, {"claims": flat_claims, "evidence": evidence_row_chunks(con),
                                                          "themes": themes, "matrix": wide}))
        put("evidence.md", lambda p: p.write_text(evidence_markdown(claim_rows, listed), encoding="utf-8"))
        put("sources.bib", lambda p: p.write_text(bibtex(reports), encoding="utf-8"))
        put("report.html", lambda p: p.write_text(
            render_report(themes=themes, claims=claim_rows, rows=listed, counts=counts, reports=reports, matrix=long,
                          gap_map=build_gap_map(con, frame=frame_in(out_dir)),
                          to_check=entries_to_check([dict(r) for r in store.documents(con)])),
            encoding="utf-8"))
    finally:
        con.close()
    fault_point("outputs-staged")
    for path in files:
        os.replace(staging / path.name, path)
    staging.rmdir()
    html = dest / "report.html"
    return Outputs(dest, files, html)


__all__ = ["Outputs", "write_outputs", "themes_frame", "matrix_frame", "matrix_wide", "bibtex", "markdown_table",
           "CATEGORIES"]
