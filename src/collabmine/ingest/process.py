"""Per-report processing as pure functions over data: read → structure → metadata → sentences.

Prefect flows (``flows/``) only wire these into tasks; they can also be called directly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CollabmineError, Errors, ReportError
from ..settings import Settings
from .metadata import Metadata, resolve_metadata
from .normalise import CONTROL_CHARACTERS
from .readers import RawDocument, list_reports, read_report
from .segment import Span, load_sentencizer, segment
from .structure import build_structure


@dataclass
class ReportResult:
    path: Path
    status: str                      # ok | error | duplicate
    doc_id: str
    record: dict
    spans: list[Span] = field(default_factory=list)
    error: str | None = None
    #: The run that computed this result (a cached result keeps its original run's id).
    run_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _record(path: Path, corpus_dir: Path, *, doc_id: str, status: str, raw: RawDocument | None = None,
            meta: Metadata | None = None, error: str | None = None, text_path: str | None = None,
            n_spans: int = 0) -> dict:
    meta = meta or Metadata()
    return {
        "path": _relative(path, corpus_dir), "doc_id": doc_id, "file_name": path.name,
        "format": raw.format if raw else None, "encoding": raw.encoding if raw else None,
        "n_chars": len(raw.text) if raw else None,
        "title": meta.title, "authors": meta.authors, "year": meta.year, "publisher": meta.publisher,
        "isbn": meta.isbn, "url": meta.url, "series": meta.series,
        "citation": meta.citation() if raw else None,
        "metadata_source": meta.source if raw else None, "text_path": text_path,
        "metadata_fields": json.dumps(meta.provenance_record()) if raw else None,
        "entry_type": meta.entry_type if raw else None,
        "status": status, "error": error, "warnings": raw.warnings if raw else [], "n_spans": n_spans,
    }


def _relative(path: Path, corpus_dir: Path) -> str:
    try:
        return str(path.resolve().relative_to(corpus_dir.resolve()))
    except ValueError:
        return str(path)


def text_store_path(settings: Settings, doc_id: str) -> Path:
    return settings.out_dir / "text" / f"{doc_id}.txt"


def process_report(path: Path, settings: Settings, *, sources: dict[str, dict] | None = None) -> ReportResult:
    """Process one report; a bad report gives a result with status ``error``, never an exception."""
    corpus_dir = settings.corpus_dir
    try:
        raw = read_report(path, max_bytes=settings.max_file_bytes)
    except ReportError as exc:
        doc_id = "unreadable:" + path.name
        return ReportResult(path, exc.status, doc_id, _record(path, corpus_dir, doc_id=doc_id, status=exc.status,
                                                               error=str(exc)), error=str(exc))
    controls = len(re.findall(CONTROL_CHARACTERS, raw.text))
    if controls:
        raw.warnings.append(Errors.W002.format(path=path, count=controls))
    try:
        structure = build_structure(raw.text, pdf_pages=raw.pages or None)
        meta = resolve_metadata(raw.text, structure, file_name=path.name, sha256=raw.sha256, sources=sources or {},
                                properties=raw.properties, file_format=raw.format)
        nlp = load_sentencizer(settings.spacy_model)
        spans = segment(raw.text, structure.units, raw.sha256, nlp=nlp, batch_size=settings.spacy_batch_size,
                        max_chars=settings.max_paragraph_chars, max_sentence_chars=settings.max_sentence_chars)
        split = sum(s.split for s in spans)
        if split:
            raw.warnings.append(Errors.W003.format(path=path, count=split, limit=settings.max_sentence_chars))
        if not any(not s.excluded for s in spans) and not any(s.kind in ("paragraph", "bullet") for s in spans):
            raise ReportError(Errors.E008.format(path=path))
    except ReportError as exc:
        return ReportResult(path, "error", raw.sha256, _record(path, corpus_dir, doc_id=raw.sha256, status="error",
                                                                raw=raw, error=str(exc)), error=str(exc))
    except CollabmineError:
        raise  # a missing model or bad config concerns every report: stop with its message
    except Exception as exc:  # noqa: BLE001 - one bad report must never stop the others
        message = (f"{path}: unexpected error while processing ({type(exc).__name__}: {exc}). "
                   "Please report this with the file; other reports were processed.")
        return ReportResult(path, "error", raw.sha256, _record(path, corpus_dir, doc_id=raw.sha256, status="error",
                                                                raw=raw, error=message), error=message)
    text_path = None if raw.text_is_file else str(text_store_path(settings, raw.sha256))
    if text_path:
        # Offsets of PDF/DOCX/HTML reports index the extracted text, kept so quotes re-open.
        Path(text_path).parent.mkdir(parents=True, exist_ok=True)
        Path(text_path).write_text(raw.text, encoding="utf-8")
    record = _record(path, corpus_dir, doc_id=raw.sha256, status="ok", raw=raw, meta=meta, text_path=text_path,
                     n_spans=len(spans))
    return ReportResult(path, "ok", raw.sha256, record, spans)


def mark_duplicates(results: list[ReportResult], *, in_store: set[str] | frozenset[str] = frozenset()) -> list[ReportResult]:
    """Of reports with the same bytes, one is processed: the one the store already holds (its
    reviews and citations stay put), else the one with the shortest file name ("report.txt", not
    "report - Copy.txt"), else the first by path. The others are duplicates naming the one kept."""
    def preference(result: ReportResult) -> tuple:
        return (result.record["path"] not in in_store, len(result.path.name), str(result.path))

    kept: dict[str, ReportResult] = {}
    for result in sorted((r for r in results if r.ok), key=preference):
        kept.setdefault(result.doc_id, result)
    for result in results:
        first = kept.get(result.doc_id)
        if not result.ok or first is None or first is result:
            continue
        why = ("already in the store" if first.record["path"] in in_store else
               "the shortest name" if len(first.path.name) < len(result.path.name) else "first by name")
        message = Errors.E010.format(path=result.path, other=first.path.name, sha=result.doc_id[:12], why=why)
        result.status, result.error, result.spans = "duplicate", message, []
        result.record.update(status="duplicate", error=message, n_spans=0)
    return results


def candidate_reports(corpus_dir: Path) -> list[Path]:
    if not corpus_dir.is_dir():
        raise CollabmineError(Errors.E023.format(path=corpus_dir))
    return list_reports(corpus_dir)


def summarise(results: list[ReportResult]) -> dict:
    return {
        "reports": len(results),
        "ok": sum(r.status == "ok" for r in results),
        "errors": [(str(r.path.name), r.error) for r in results if r.status == "error"],
        "duplicates": [(str(r.path.name), r.error) for r in results if r.status == "duplicate"],
        "warnings": [(str(r.path.name), w) for r in results for w in r.record.get("warnings") or []],
        "spans": sum(len(r.spans) for r in results),
        "argument_spans": sum(1 for r in results for s in r.spans if not s.excluded),
    }



def report_changes(previous: dict[str, tuple[str, str]], results: list[ReportResult],
                   removed: list[str]) -> list[tuple[str, str, str]]:
    """(kind, path, detail) for reports added, changed, failed or removed since the store's last
    state; ``previous`` maps path → (doc_id, status)."""
    changes = []
    for r in sorted(results, key=lambda r: r.record["path"]):
        path = r.record["path"]
        before = previous.get(path)
        if r.status != "ok" and (before is None or before != (r.doc_id, r.status)):
            changes.append(("report_failed", path, r.error or r.status))
        elif before is None:
            changes.append(("report_added", path, f"sha256 {r.doc_id[:12]}"))
        elif before[0] != r.doc_id or before[1] != "ok":
            changes.append(("report_changed", path, f"sha256 {before[0][:12]} → {r.doc_id[:12]}"))
    changes += [("report_removed", path, "") for path in removed]
    return changes
