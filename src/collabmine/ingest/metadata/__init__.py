"""Citation metadata: from ``sources.yaml`` when the report has an entry, else inferred from the
report itself, each field with where it came from and how far to trust it.

- :mod:`.record` — :class:`Metadata` and :class:`FieldOrigin`;
- :mod:`.infer` — inference from the front matter, "cite as" lines and document properties;
- :mod:`.citation` — citation labels ("Rudd et al. (2004)", APA a/b) and BibTeX entry types;
- :mod:`.sources` — ``sources.yaml`` and `collabmine sources`.
"""

from __future__ import annotations

from typing import Any

from ..structure import Structure
from .citation import (base_label, distinct_citations, entry_type, series_number, short_citation, short_title,
                       surname)
from .infer import PROPERTY_ORIGINS, infer_metadata, looks_like_title, parse_citation, title_case_fixed
from .record import CITATION_FIELDS, CONFIDENCE_LEVELS, METADATA_FIELDS, FieldOrigin, Metadata
from .sources import SourceStatus, entries_to_check, entry_lines, load_sources, lookup, source_statuses, write_entries


def resolve_metadata(raw: str, structure: Structure, *, file_name: str, sha256: str, sources: dict[str, dict],
                     properties: dict[str, Any] | None = None, file_format: str | None = None) -> Metadata:
    """A report's metadata: its sources.yaml entry, else inferred; the entry type always set."""
    meta = lookup(sources, file_name, sha256) or infer_metadata(
        raw, structure, properties=properties, properties_origin=PROPERTY_ORIGINS.get(file_format or "", "document properties"))
    if meta.entry_type is None:
        meta.entry_type = entry_type(title=meta.title, publisher=meta.publisher, series=meta.series, isbn=meta.isbn)
    return meta


__all__ = ["Metadata", "FieldOrigin", "CITATION_FIELDS", "METADATA_FIELDS", "CONFIDENCE_LEVELS", "resolve_metadata", "infer_metadata",
           "parse_citation", "looks_like_title", "title_case_fixed", "short_citation", "short_title", "surname",
           "base_label", "distinct_citations", "entry_type", "series_number", "load_sources", "lookup",
           "SourceStatus", "entries_to_check", "entry_lines", "source_statuses", "write_entries"]
