"""A report's citation metadata and, for each field, where it came from and how far to trust it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .citation import short_citation

#: How far a field can be trusted, weakest first. "reviewed": a person wrote it in sources.yaml;
#: "high": the report states it as its own citation (a "cite as" line) or as an identifier
#: (ISBN, DOI); "medium": where publishers print it (title page, imprint) or two weaker sources agree;
#: "low": a guess (a file's document properties, a creation date, the first heading).
CONFIDENCE_LEVELS = ("low", "medium", "high", "reviewed")

#: The fields a citation is built from; `collabmine sources` says which of these are missing.
CITATION_FIELDS = ("title", "authors", "year", "publisher", "isbn", "url")
#: Every field with an origin, in the order `collabmine sources` lists them (a series is optional).
METADATA_FIELDS = (*CITATION_FIELDS, "series")


@dataclass(frozen=True)
class FieldOrigin:
    """Where one field's value came from ("cite-as line", "title page", "PDF document info", …)."""
    origin: str
    confidence: str

    def __str__(self) -> str:
        return f"{self.origin} ({self.confidence})"


@dataclass
class Metadata:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    publisher: str | None = None
    isbn: str | None = None
    url: str | None = None
    series: str | None = None
    note: str | None = None
    #: BibTeX entry type, "report" or "book" (sources.yaml `type:`, else `citation.entry_type`).
    entry_type: str | None = None
    source: str = "inferred"  # "sources.yaml" or "inferred"
    #: field -> where its value came from; only fields that have a value.
    provenance: dict[str, FieldOrigin] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def short_citation(self) -> str:
        return short_citation(self.authors, self.year, title=self.title, body=self.publisher)

    def citation(self) -> str:
        """The author–year label; without authors, the publishing or commissioning body; without
        one, the short title; else "Untitled report" (told apart by a, b, …) — never the file's
        name, and never "Anonymous"."""
        return self.short_citation

    def provenance_record(self) -> dict[str, dict[str, str]]:
        """The provenance as JSON-able data (stored with the report)."""
        return {k: {"origin": v.origin, "confidence": v.confidence} for k, v in sorted(self.provenance.items())}
