"""Citation metadata: from ``sources.yaml`` when the report has an entry, else inferred.

Inference reads only the report's front matter (cover, title and imprint pages, i.e. what
comes before the contents or the first section), so the adverts for other reports at the
back ("Published in 2003", other ISBNs) never leak into a report's own citation.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError, Errors
from .structure import Structure

_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_NAME = r"[A-Z][a-zA-Z'’\-]+(?: [A-Z][a-zA-Z'’\-]+){1,3}"
_CITED_AUTHOR = r"[A-Z][a-zA-Z'’\-]+, (?:[A-Z]\.\s?){1,3}"
_CITATION = re.compile(
    rf"^(?P<authors>{_CITED_AUTHOR}(?:,? (?:and|&) {_CITED_AUTHOR}|, {_CITED_AUTHOR})*)\s*\((?P<year>\d{{4}})\)\.?\s+"
    rf"(?P<title>.+?)\.\s+(?P<publisher>[^.]+)\.?$")


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
    source: str = "inferred"  # "sources.yaml" or "inferred"

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def short_citation(self) -> str:
        return short_citation(self.authors, self.year, title=self.title)

    def citation(self, *, fallback: str) -> str:
        """The author–year label; without authors, the short title; without a title, ``fallback``
        (the file's name) — never "Anonymous", which cannot tell two reports apart."""
        return short_citation(self.authors, self.year, title=self.title, fallback=fallback)


def surname(author: str) -> str:
    author = author.strip()
    if "," in author:
        return author.split(",")[0].strip()
    return author.split()[-1] if author.split() else author


#: Words of a title kept in a citation without authors ("Six accounts of practice (n.d.)").
SHORT_TITLE_WORDS = 6


def short_title(title: str) -> str:
    """The title up to its first colon or full stop, at most ``SHORT_TITLE_WORDS`` words."""
    main = re.split(r"[:.;]\s", " ".join(title.split()), maxsplit=1)[0].strip(" .:;,")
    words = main.split()
    return " ".join(words[:SHORT_TITLE_WORDS]) + ("…" if len(words) > SHORT_TITLE_WORDS else "")


def short_citation(authors: list[str], year: int | None, *, title: str | None = None,
                   fallback: str | None = None) -> str:
    """Author–year form: "Armstrong (2015)", "West and Muijs (n.d.)", "Rudd et al. (2004)"; with
    no author, the short title (as APA cites a work without an author), else ``fallback``."""
    names = [surname(a) for a in authors if a.strip()]
    if not names:
        who = (short_title(title) if title and title.strip() else None) or fallback or "Untitled report"
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who} ({year if year else 'n.d.'})"


_SUFFIXED = re.compile(r"\((\d{4}|n\.d\.)(?:-?[a-z])\)$")


def base_label(citation: str) -> str:
    """A citation without the letter that told it apart ("Smith (2004b)" → "Smith (2004)")."""
    return _SUFFIXED.sub(lambda m: f"({m.group(1)})", citation)


def distinct_citations(labels: dict[str, str]) -> dict[str, str]:
    """Citation labels (path -> label) made unique as APA does: reports that share an author–year
    label get a, b, … after the year in path order ("Smith (2004a)", "Smith (n.d.-a)")."""
    groups: dict[str, list[str]] = {}
    for path, label in labels.items():
        groups.setdefault(base_label(label), []).append(path)
    out = {}
    for base, paths in groups.items():
        if len(paths) == 1:
            out[paths[0]] = base
            continue
        for k, path in enumerate(sorted(paths)):
            letter = chr(ord("a") + k) if k < 26 else f"{k + 1}"
            out[path] = re.sub(r"\((\d{4}|n\.d\.)\)$",
                               lambda m: f"({m.group(1)}{'-' if m.group(1) == 'n.d.' else ''}{letter})", base)
    return out


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
    return Metadata(
        title=entry.get("title"), authors=list(entry.get("authors") or []),
        year=int(year) if year else None, publisher=entry.get("publisher"),
        isbn=str(entry["isbn"]) if entry.get("isbn") else None, url=entry.get("url"),
        series=entry.get("series"), note=entry.get("note"), source="sources.yaml")


def _front_matter_lines(raw: str, structure: Structure) -> list[str]:
    front = [u for u in structure.units if u.reason in ("front_matter", "cover") and not u.section_path]
    if not front:
        body = [u for u in structure.units if u.kind == "heading"]
        limit = body[1].start if len(body) > 1 else min(len(raw), 3000)
        front_text = raw[:limit]
    else:
        front_text = raw[: max(u.end for u in front)]
    lines = []
    for block in re.split(r"\n[ \t]*\n", front_text):
        lines.append(re.sub(r"\s+", " ", re.sub(r"[*#_]", "", block)).strip())
    return [l for l in lines if l]


#: A front-matter line longer than this is body text, not a title (a one-line report would
#: otherwise make its whole text the title).
MAX_TITLE_CHARS = 300


#: A title has at most this many words; an abstract or a paragraph has more.
MAX_TITLE_WORDS = 25


def looks_like_title(line: str) -> bool:
    """A line that can be a title: a few words, one sentence at most (an abstract's first lines
    are several sentences), no URL, copyright or ISBN."""
    words = line.split()
    if not 2 <= len(words) <= MAX_TITLE_WORDS or len(line) > MAX_TITLE_CHARS:
        return False
    if re.search(r"https?://|©|ISBN", line) or re.search(r"[.!?]\s+[A-Z]", line):
        return False
    return not (line.rstrip().endswith(".") and len(words) > 12)


def title_case_fixed(title: str) -> str:
    """A title written all in lower case gets a capital first letter ("school partnerships" →
    "School partnerships"); any other capitalisation is the author's and is kept."""
    return title[:1].upper() + title[1:] if title == title.lower() else title


def infer_metadata(raw: str, structure: Structure) -> Metadata:
    """Best-effort citation metadata from a report's own front matter."""
    meta = Metadata(source="inferred")
    lines = _front_matter_lines(raw, structure)
    for line in lines:
        m = _CITATION.match(line)
        if m:
            meta.authors = [a.strip().rstrip(",") for a in re.split(r",? (?:and|&) |(?<=\.), ", m.group("authors")) if a.strip()]
            meta.year = int(m.group("year"))
            meta.title = m.group("title").strip()
            meta.publisher = m.group("publisher").strip()
            break
    if not meta.authors:
        for idx, line in enumerate(lines):
            m = re.match(rf"^(?:by|written by|authors?:?)\s+({_NAME}(?:(?:,| and| &) {_NAME})*)\s*$", line, re.I)
            if m:
                meta.authors = [a.strip() for a in re.split(r",\s*|\s+and\s+|\s+&\s+", m.group(1)) if a.strip()]
                # On a title page the title sits just above its "by ..." line.
                if idx > 0 and meta.title is None and len(lines[idx - 1].split()) >= 2:
                    meta.title = lines[idx - 1]
                break
    joined = "\n".join(lines)
    if meta.year is None:
        m = (re.search(rf"Published (?:in )?(?:{_MONTHS} )?(\d{{4}})", joined)
             or re.search(rf"\b{_MONTHS} ((?:19|20)\d{{2}})\b", joined)
             or re.search(r"©[^\n]*?((?:19|20)\d{2})", joined))
        if m:
            meta.year = int(m.group(1))
    m = re.search(r"ISBN:?\s*([0-9][0-9 \-]{8,16}[0-9Xx])", joined)
    if m:
        meta.isbn = m.group(1).strip()
    if meta.title is None:
        headings = [u.text for u in structure.units if u.kind == "heading" and u.reason in ("front_matter", "cover")]
        candidates = headings or lines
        meta.title = next((c for c in candidates if looks_like_title(c)), None)
    if meta.title:
        meta.title = title_case_fixed(meta.title)
    return meta


def resolve_metadata(raw: str, structure: Structure, *, file_name: str, sha256: str,
                     sources: dict[str, dict]) -> Metadata:
    return lookup(sources, file_name, sha256) or infer_metadata(raw, structure)


# --- reviewing metadata (`collabmine sources`) ---------------------------------------------------

CITATION_FIELDS = ("title", "authors", "year", "publisher", "isbn", "url")


@dataclass
class SourceStatus:
    path: str
    file_name: str
    sha256: str
    citation: str
    origin: str                      # "sources.yaml" or "inferred"
    fields: dict                     # field -> value (None / [] when missing)

    @property
    def missing(self) -> list[str]:
        return [k for k in CITATION_FIELDS if not self.fields.get(k)]


def source_statuses(documents: list[dict]) -> list[SourceStatus]:
    """Each processed report's citation metadata, where it came from and what is missing
    (``documents``: the store's rows)."""
    import json

    out = []
    for d in documents:
        if d["status"] != "ok":
            continue
        authors = d["authors"]
        fields = {k: d[k] for k in CITATION_FIELDS} | {"authors": json.loads(authors) if isinstance(authors, str) else authors or []}
        out.append(SourceStatus(d["path"], d["file_name"], d["doc_id"], d["citation"] or "", d["metadata_source"] or "inferred",
                                fields))
    return sorted(out, key=lambda s: s.path)


def write_entries(path: Path, statuses: list[SourceStatus]) -> list[str]:
    """Append an entry to ``sources.yaml`` for every inferred report that has none, ready for a
    person to check (marked so in its note); existing entries and comments are kept as they are.
    Returns the file names added."""
    existing = load_sources(path)
    new = [s for s in statuses if s.origin == "inferred" and s.file_name not in existing]
    if not new:
        return []
    blocks = []
    for s in new:
        entry = {"sha256": s.sha256, **{k: v for k, v in s.fields.items()},
                 "note": "inferred by collabmine from the report's front matter: check every field"}
        blocks.append(yaml.safe_dump({s.file_name: entry}, sort_keys=False, allow_unicode=True, width=100))
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(text + ("" if not text or text.endswith("\n") else "\n") + "".join(blocks), encoding="utf-8")
    return [s.file_name for s in new]
