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
                         migrate, require_healthy, transaction)
from .lock import LOCK_NAME, run_lock
from .migrations import SCHEMA_VERSION
from .records import (REVIEW_LOG_SQL, TAGGABLE_EXCLUSIONS, TAGGABLE_WHERE, applied, documents, get_state,
                      label_citations, remove_missing, replace_report_tags, set_state, taggable_spans, tagged_keys,
                      tagged_spans, theme_moves, write_document, write_evidence, write_themes)

__all__ = ["OWN_TABLES", "REVIEW_LOG_SQL", "SCHEMA_VERSION", "SQLITE_HEADER", "TAGGABLE_EXCLUSIONS", "TAGGABLE_WHERE",
           "LOCK_NAME", "applied", "backups", "check_header", "check_identity", "connect", "damaged", "documents",
           "get_state", "health", "is_damage", "label_citations", "migrate", "remove_missing", "replace_report_tags",
           "require_healthy", "run_lock", "runs", "set_state", "taggable_spans", "tagged_keys", "tagged_spans",
           "theme_moves", "transaction", "write_document", "write_evidence", "write_themes"]
