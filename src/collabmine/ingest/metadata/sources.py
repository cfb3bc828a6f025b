"""``sources.yaml``: citation metadata a person has checked, and `collabmine sources`' view of
every report's metadata (where each field came from, what is missing)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ...errors import ConfigError, Errors
from .citation import ENTRY_TYPES
from .record import CITATION_FIELDS, METADATA_FIELDS, FieldOrigin, Metadata


def load_sources(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(Errors.E030.format(path=path, detail=exc)) from exc
    if not isinstance(data, dict):
        raise ConfigError(Errors.E030.format(path=path, detail="top level must be a mapping of file name to entry"))
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def lookup(sources: dict[str, dict], file_name: str, sha256: str) -> Metadata | None:
    """An entry matches by file name, or by sha256 (a renamed copy keeps its metadata)."""
    entry = sources.get(file_name)
    if entry is None:
        entry = next((e for e in sources.values() if e.get("sha256") == sha256), None)
    if entry is None:
        return None
    year = entry.get("year")
    kind = str(entry.get("type") or "").lower()
    meta = Metadata(
        title=entry.get("title"), authors=list(entry.get("authors") or []),
        year=int(year) if year else None, publisher=entry.get("publisher"),
        isbn=str(entry["isbn"]) if entry.get("isbn") else None, url=entry.get("url"),
        series=entry.get("series"), note=entry.get("note"),
        entry_type=kind if kind in ENTRY_TYPES else None, source="sources.yaml")
    meta.provenance = {k: FieldOrigin("sources.yaml", "reviewed") for k in METADATA_FIELDS if getattr(meta, k)}
    return meta


@dataclass
class SourceStatus:
    path: str
    file_name: str
    sha256: str
    citation: str
    origin: str                      # "sources.yaml" or "inferred"
    fields: dict                     # field -> value (None / [] when missing)
    #: field -> FieldOrigin, for the fields that have a value.
    provenance: dict

    @property
    def missing(self) -> list[str]:
        return [k for k in CITATION_FIELDS if not self.fields.get(k)]


def source_statuses(documents: list[dict]) -> list[SourceStatus]:
    """Each processed report's citation metadata, where each field came from and what is missing
    (``documents``: the store's rows)."""
    out = []
    for d in documents:
        if d["status"] != "ok":
            continue
        authors = d["authors"]
        fields = {k: d.get(k) for k in METADATA_FIELDS} | {
            "authors": json.loads(authors) if isinstance(authors, str) else authors or []}
        stored = json.loads(d.get("metadata_fields") or "{}")
        provenance = {k: FieldOrigin(v["origin"], v["confidence"]) for k, v in stored.items() if fields.get(k)}
        out.append(SourceStatus(d["path"], d["file_name"], d["doc_id"], d["citation"] or "",
                                d["metadata_source"] or "inferred", fields, provenance))
    return sorted(out, key=lambda s: s.path)


def entry_lines(status: SourceStatus) -> str:
    """The ``sources.yaml`` lines for an inferred report, ready for a person to check: what was
    inferred, each field's origin and confidence under ``inferred_from`` (delete that once checked)."""
    entry = {"sha256": status.sha256, **{k: v for k, v in status.fields.items()},
             "note": "inferred by collabmine from the report itself: check every field",
             "inferred_from": {k: str(v) for k, v in status.provenance.items()}}
    return yaml.safe_dump({status.file_name: entry}, sort_keys=False, allow_unicode=True, width=100)


def entries_to_check(documents: list[dict]) -> dict[str, str]:
    """For each processed report cited from inferred metadata (no ``sources.yaml`` entry): its
    path -> the lines to check and add to ``sources.yaml`` (``documents``: the store's rows)."""
    return {s.path: entry_lines(s) for s in source_statuses(documents) if s.origin != "sources.yaml"}


def write_entries(path: Path, statuses: list[SourceStatus]) -> list[str]:
    """Append an entry to ``sources.yaml`` for every inferred report that has none, ready for a
    person to check: each field's origin and confidence are listed under ``inferred_from`` (delete
    that once checked); existing entries and comments are kept as they are. Returns the file
    names added."""
    existing = load_sources(path)
    new = [s for s in statuses if s.origin == "inferred" and s.file_name not in existing]
    if not new:
        return []
    blocks = [entry_lines(s) for s in new]
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(text + ("" if not text or text.endswith("\n") else "\n") + "".join(blocks), encoding="utf-8")
    return [s.file_name for s in new]
