"""What a researcher takes away from a run, written from the store: the evidence table (CSV,
Parquet, XLSX, Markdown), the theme-by-report matrix, BibTeX, the HTML report (``report_html``)
and the raw tables (``export``). Spreadsheet cells are neutralised against formula injection
(``spreadsheets``)."""

from .export import TABLES, export_tables, read_table
from .report_html import bar_chart, render_report
from .spreadsheets import safe_frame, write_csv, write_workbook
from .write import Outputs, bibtex, matrix_frame, reports_frame, themes_frame, write_outputs

__all__ = ["TABLES", "Outputs", "bar_chart", "bibtex", "export_tables", "matrix_frame", "read_table", "render_report",
           "reports_frame", "safe_frame", "themes_frame", "write_csv", "write_outputs", "write_workbook"]
