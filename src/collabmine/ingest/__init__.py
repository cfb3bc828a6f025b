"""Ingest: a report file → its sentences, each with exact raw offsets, section and page, and its
citation metadata. Pure functions over data; ``flows/`` wires them into Prefect tasks.

- ``readers`` — txt / md / pdf / docx / html → raw text (and pages, and document properties);
- ``normalise`` — small ``str -> str`` steps composed, with a map back to raw offsets;
- ``structure`` — headings, sections, pages, contents, what is not argument;
- ``segment`` — sentences (spaCy's sentencizer, streamed in batches);
- ``metadata/`` — citation fields, each with where it came from and how far to trust it;
- ``process`` — one report end to end (``process_report``), duplicates, the run's ingest summary.
"""

from .metadata import Metadata, resolve_metadata
from .normalise import (CONTROL_CHARACTERS, SUPERSCRIPT_DIGITS, MappedText, normalise_span, normalise_text,
                        visible_controls)
from .process import (ReportResult, candidate_reports, mark_duplicates, process_report, report_changes, summarise,
                      text_store_path)
from .readers import (IGNORED_NAMES, SUPPORTED_SUFFIXES, PageSpan, RawDocument, list_reports, read_report,
                      sha256_bytes, source_text)
from .segment import Span, load_sentencizer, make_span_id
from .structure import Structure, Unit, build_structure

__all__ = ["CONTROL_CHARACTERS", "IGNORED_NAMES", "SUPERSCRIPT_DIGITS", "SUPPORTED_SUFFIXES", "MappedText", "Metadata",
           "PageSpan", "RawDocument", "ReportResult", "Span", "Structure", "Unit", "build_structure",
           "candidate_reports", "list_reports", "load_sentencizer", "make_span_id", "mark_duplicates",
           "normalise_span", "normalise_text", "process_report", "read_report", "report_changes", "resolve_metadata",
           "sha256_bytes", "source_text", "summarise", "text_store_path", "visible_controls"]
