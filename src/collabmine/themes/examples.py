"""What theme assignment learns from: coded (sentence, category) pairs with their theme, read
from JSONL, with their context (previous sentence, heading) taken from the file or, for pairs
named by report and offsets only, from the store's sentences; and analysts' curation (a sentence
moved to a frame theme, the members of a promoted theme)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ..categories import CATEGORIES
from ..errors import DataError, Errors
from ..settings import Settings
from .assign import OTHER, Example
from .frame import Frame

#: The coded pairs the shipped model is trained on (frame version 2 keys; see RECODING.md there).
CODED_FILE = "themes_train_v2.jsonl"


def coded_file(settings: Settings) -> Path:
    return settings.models_dir / "themes" / "coded" / CODED_FILE


def read_coded(path: Path) -> list[dict]:
    """The JSON records of a coded file; a coded error names the file and line of a bad one."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(Errors.E054.format(path=path, line=0, problem=str(exc))) from exc
    records = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            ok = isinstance(record["text"], str) and isinstance(record["themes"], list)
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(Errors.E054.format(path=path, line=n, problem=f"needs text, category and themes ({exc})")) from exc
        if not ok or record.get("category") not in CATEGORIES:
            raise DataError(Errors.E054.format(path=path, line=n, problem=f"category must be one of {', '.join(CATEGORIES)}"
                                               " and themes a list"))
        records.append(record)
    return records


def with_context(records: list[dict], con: sqlite3.Connection) -> list[dict]:
    """Records without ``previous``/``heading`` get them from the store's sentence their report
    and offsets overlap most (as a run reads it); unmatched ones keep empty context."""
    from ..tagging.data import CodedRow, match_rows, taggable_spans

    need = [r for r in records if "previous" not in r and "source" in r]
    if not need:
        return records
    spans = taggable_spans(con)
    rows = [CodedRow(r["source"], int(r["start"]), int(r["end"]), frozenset(), "", r["text"]) for r in need]
    found, _ = match_rows(rows, spans)
    for record, i in zip(need, found):
        record["previous"] = spans.contexts[i].previous if i is not None else ""
        record["heading"] = spans.contexts[i].heading if i is not None else ""
    return records


def examples_of(records: list[dict], frame: Frame, *, origin: str = "coded") -> list[Example]:
    """One example per record: its first theme that is a key of the frame, else ``other``."""
    known = {(t.category, t.key) for t in frame.themes}
    out = []
    for r in records:
        keys = [t for t in r["themes"] if (r["category"], t) in known]
        out.append(Example(r["category"], keys[0] if keys else OTHER, r["text"], r.get("previous", ""),
                           r.get("heading", ""), r.get("source", ""), origin, tuple(keys[1:])))
    return out
