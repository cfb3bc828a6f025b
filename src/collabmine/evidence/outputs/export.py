"""Tables out of the store as CSV or Parquet (pandas)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ... import store
from ...ingest import visible_controls
from .spreadsheets import write_csv

#: Table name → (SQL, columns written). Columns are stable: analysts script against them.
TABLES: dict[str, str] = {
    "documents": "SELECT doc_id, path, title, authors, year, publisher, isbn, citation, metadata_source,"
                 " format, encoding, status, error, n_spans FROM documents ORDER BY path",
    "spans": 'SELECT span_id, doc_id, start, "end", text, kind, section, page, para_index, sent_index,'
             " excluded, exclude_reason FROM spans ORDER BY doc_id, start",
    "tags": "SELECT t.span_id, s.doc_id, t.category, t.score, t.method, t.explanation, s.text FROM tags t"
            " JOIN spans s USING (span_id) ORDER BY s.doc_id, s.start, t.category",
    # Every taggable sentence's calibrated probability per category (tags hold those at or above
    # the tagger's thresholds) and its margin from the nearest threshold.
    "probabilities": "SELECT p.span_id, s.doc_id, p.structure, p.impact, p.condition, p.barrier, p.margin, s.text"
                     " FROM tag_probabilities p JOIN spans s USING (span_id) ORDER BY s.doc_id, s.start",
    # The labels every later stage uses: model tags with analysts' decisions applied.
    "labels": "SELECT t.span_id, s.doc_id, t.category, t.score, t.method, t.review, s.text FROM effective_tags t"
              " JOIN spans s USING (span_id) ORDER BY s.doc_id, s.start, t.category",
    # The audit log: every review ever made (append-only), and whether it still applies.
    "reviews": store.REVIEW_LOG_SQL,
    "themes": "SELECT theme_id, category, kind, label, description, keywords, claim, confidence, confidence_reasons,"
              " supporting, n_sentences, n_reports, single_report,"
              " representative_span_id, why_unnamed, coherence FROM themes ORDER BY category, theme_id",
    # The clean sentence beside the verbatim quote (the quote re-opens at its offsets; the
    # sentence is what a reader quotes), as evidence_rows.csv has them.
    "evidence": 'SELECT e.theme_id, e."rank", e.key_quote, e.span_id, e.doc_id, e.file, e.start, e."end",'
                ' s.text AS sentence, e.quote, e.citation, e.section, e.page'
                ' FROM evidence e LEFT JOIN spans s USING (span_id) ORDER BY e.theme_id, e."rank"',
}


def read_table(con, name: str) -> pd.DataFrame:
    return pd.read_sql_query(TABLES[name], con)


def whole_years(frame: pd.DataFrame) -> pd.DataFrame:
    """A year column as whole numbers with blanks for unknown ("2004", never "2004.0": pandas reads
    an integer column with NULLs as floats)."""
    if "year" in frame.columns:
        frame = frame.assign(year=frame["year"].astype("Int64"))
    return frame


def shown_controls(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells with control characters (NUL, BEL, ESC …) as their control pictures (␀), as in
    the run's own outputs: raw ones break the tools an export is opened in. Offsets still index
    the source file, where the characters are."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(lambda v: visible_controls(v) if isinstance(v, str) else v)
    return out


def export_tables(out_dir: Path, *, fmt: str = "csv", dest: Path | None = None) -> list[Path]:
    """Write every table to ``dest`` (default ``out_dir/export``); returns the files written."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}: use csv or parquet")
    dest = dest or out_dir / "export"
    dest.mkdir(parents=True, exist_ok=True)
    con = store.connect(out_dir / "collabmine.sqlite", create=False)
    written = []
    try:
        for name in TABLES:
            frame = whole_years(shown_controls(read_table(con, name)))
            path = dest / f"{name}.{fmt}"
            if fmt == "csv":
                write_csv(frame, path)
            else:
                frame.to_parquet(path, index=False)
            written.append(path)
    finally:
        con.close()
    return written
