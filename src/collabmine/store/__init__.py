"""The SQLite store: one file (WAL), a versioned schema, transactional writes — and what keeps it
trustworthy: runs and their change records, the run lock, snapshots and the reviews' audit log.

- ``connection`` — ``connect`` (one check before anything is read), ``transaction``, health checks;
- ``migrations/`` — the schema, one SQL file per version;
- ``records`` — what the stages write and read (reports, sentences, tags, themes, evidence, state);
- ``runs`` — a run's record, its changes and honest no-ops; ``lock`` — one writing run at a time;
- ``backups`` — snapshots before each writing run, the reviews' audit log, ``restore``.
"""

from . import backups, runs
from .connection import (OWN_TABLES, SQLITE_HEADER, check_header, check_identity, connect, damaged, health, is_damage,
                         migrate, require_healthy, snapshot, transaction)
from .lock import LOCK_NAME, run_lock
from .migrations import SCHEMA_VERSION
from .records import (PREVIOUS_TEXT_SQL, REVIEW_LOG_SQL, TAGGABLE_EXCLUSIONS, TAGGABLE_WHERE, EvidenceChange, TaggingProgress,
                      add_report_tags, applied, clear_report_tags, documents, get_state, label_citations, mark_tagged,
                      note_tagging_progress, reanchor_reviews, remove_missing, report_tag_count, set_state, span_text, taggable_count,
                      taggable_spans, tagged_keys, tagged_spans, tagged_with, tagging_progress, theme_moves,
                      write_document, write_evidence, write_themes)

__all__ = ["LOCK_NAME", "OWN_TABLES", "PREVIOUS_TEXT_SQL", "REVIEW_LOG_SQL", "SCHEMA_VERSION", "SQLITE_HEADER", "TAGGABLE_EXCLUSIONS",
           "TAGGABLE_WHERE", "EvidenceChange", "TaggingProgress", "add_report_tags", "applied", "backups",
           "check_header", "check_identity", "clear_report_tags", "connect", "damaged", "documents", "get_state",
           "health", "is_damage", "label_citations", "mark_tagged", "migrate", "note_tagging_progress",
           "remove_missing", "report_tag_count", "require_healthy", "run_lock", "runs", "set_state", "span_text",
           "taggable_count", "taggable_spans", "tagged_keys", "tagged_spans", "tagged_with", "tagging_progress",
           "reanchor_reviews", "snapshot", "theme_moves", "transaction", "write_document", "write_evidence", "write_themes"]
