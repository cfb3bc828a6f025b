"""The evidence table and what stands on it: every theme's quotes with citations (``table``),
its claim and key quotes (``claim``) and the confidence in it (``confidence``); ``verify``
re-opens every cited report and checks every quote at its offsets. ``outputs/`` writes what a
researcher takes away: CSV, Parquet, XLSX, Markdown, the HTML report, BibTeX and the exports."""

from . import outputs
from .claim import claim_text, has_verbs, is_signposting, quotable
from .confidence import Confidence, Evidence, grade
from .table import (CLAIM_COLUMNS, EvidenceOutcome, Verification, build_evidence, claims, evidence_counts,
                    evidence_row_chunks, evidence_rows, format_citation, key_quotes, page_reference, record_corpus,
                    recorded_corpus, section_reference, shown_label, verify)

__all__ = ["outputs", "claim_text", "has_verbs", "is_signposting", "quotable", "Confidence", "Evidence", "grade", "CLAIM_COLUMNS",
           "EvidenceOutcome", "Verification", "build_evidence", "claims", "evidence_counts", "evidence_row_chunks",
           "evidence_rows", "format_citation", "key_quotes", "page_reference", "record_corpus",
           "recorded_corpus", "section_reference", "shown_label", "verify"]
