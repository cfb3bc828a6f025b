"""Citation metadata inferred from a report itself, each field with its origin and confidence.

Sources, strongest first: a "cite as" line (the report's own citation of itself), identifiers
(ISBN, DOI), the title page and imprint, the file's document properties (PDF document info, DOCX
core properties, HTML meta tags) and, last, the first title-like heading. Each source is a small
function giving candidates; :func:`merge` keeps the most trusted candidate per field.

Only the front matter (cover, title and imprint pages — what comes before the contents or the
first section) and a report's last lines (a back-cover imprint) are read, so adverts for other
reports ("Published in 2003", other ISBNs) and the reference list never leak into a citation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..structure import Structure
from .record import CONFIDENCE_LEVELS, FieldOrigin, Metadata

_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_NAME = r"[A-Z][a-zA-Z'’\-]+(?: [A-Z][a-zA-Z'’\-]+){1,3}"
_CITED_AUTHOR = r"[A-Z][a-zA-Z'’\-]+(?: [A-Z][a-zA-Z'’\-]+)?, (?:[A-Z]\.\s?-?){1,3}"
_CITED_AUTHORS = rf"{_CITED_AUTHOR}(?:(?:,? (?:and|&) |, ){_CITED_AUTHOR})*(?:,? et al\.?)?"
_CITATION = re.compile(
    rf"^(?P<authors>{_CITED_AUTHORS})\s*\((?P<year>\d{{4}})[a-z]?(?:, [A-Za-z]+(?: \d{{1,2}})?)?\)\.?\s+"
    rf"(?P<tail>.+?)\s*$")
#: Words that introduce a report's citation of itself: "Please cite this report as:",
#: "Citation for published version (APA):", "Suggested citation:", "How to cite this report:".
_CITE_AS = re.compile(
    r"(?i)(?:\bcite[sd]?\s+(?:this\s+(?:\w+\s+)?)?as\b|\bcitation\s+for\s+(?:the\s+)?published\s+version\b|"
    r"\b(?:suggested|recommended|preferred)\s+citation\b|\bhow\s+to\s+cite\b(?:\s+this\s+\w+)?|"
    r"^\s*citation\b)[^:]{0,40}:\s*(?P<rest>.*)$")
_URL = re.compile(r"https?://\S+|\bwww\.\S+")
_DOI = re.compile(r"(?i)(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?\b(10\.\d{4,9}/[^\s\"<>,;]+[^\s\"<>,;.)])")
_ISBN = re.compile(r"ISBN(?:-1[03])?:?\s*((?:97[89][ \-]?)?[0-9][0-9 \-]{8,14}[0-9Xx])\b")
#: A heading a report uses for a section, never its title.
_SECTION_WORDS = re.compile(
    r"(?i)^(?:abstract|summary|executive summary|contents|table of contents|introduction|foreword|preface|"
    r"acknowledg(?:e)?ments?|key findings|glossary|references|about (?:this|the) (?:report|guide|authors?)|"
    r"research report|final report|report)$")
#: Document-property values that authoring tools write by default, not a person.
_JUNK_PROPERTY = re.compile(
    r"(?i)^(?:untitled|document\d*|title|author|user|owner|admin(?:istrator)?|python-docx|microsoft.*|"
    r"unknown|anonymous|.*\.(?:docx?|pdf|rtf|odt|indd|tex|qxd))$|^microsoft word - ")

#: A front-matter line longer than this is body text, not a title (a one-line report would
#: otherwise make its whole text the title).
MAX_TITLE_CHARS = 300

#: A title has at most this many words; an abstract or a paragraph has more.
MAX_TITLE_WORDS = 25

#: The last characters of a report read as its back-cover imprint (ISBN, report number).
BACK_MATTER_CHARS = 1000


@dataclass(frozen=True)
class Candidate:
    field: str
    value: Any
    origin: FieldOrigin


def _c(field: str, value: Any, origin: str, confidence: str) -> Candidate:
    return Candidate(field, value, FieldOrigin(origin, confidence))


# --- what is read -------------------------------------------------------------------------------

def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[*#_]", "", text)).strip()


def front_matter_text(raw: str, structure: Structure) -> str:
    front = [u for u in structure.units if u.reason in ("front_matter", "cover") and not u.section_path]
    if not front:
        body = [u for u in structure.units if u.kind == "heading"]
        limit = body[1].start if len(body) > 1 else min(len(raw), 3000)
        return raw[:limit]
    return raw[: max(u.end for u in front)]


def blocks_of(text: str) -> list[str]:
    """Paragraphs (blank-line separated) with markup removed and lines joined."""
    return [b for b in (_clean(block) for block in re.split(r"\n[ \t]*\n", text)) if b]


def rows_of(text: str) -> list[str]:
    """Physical lines with markup removed."""
    return [r for r in (_clean(line) for line in text.splitlines()) if r]


# --- titles -------------------------------------------------------------------------------------

def looks_like_title(line: str) -> bool:
    """A line that can be a title: a few words, one sentence at most (an abstract's first lines
    are several sentences), no URL, copyright or ISBN, not a section's heading ("Abstract")."""
    words = line.split()
    if not 2 <= len(words) <= MAX_TITLE_WORDS or len(line) > MAX_TITLE_CHARS:
        return False
    if _SECTION_WORDS.match(line.strip(" .:")):
        return False
    if re.search(r"https?://|www\.|©|ISBN|@", line) or re.search(r"[.!?]\s+[A-Z]", line):
        return False
    return not (line.rstrip().endswith(".") and len(words) > 12)


def title_case_fixed(title: str) -> str:
    """A title written all in lower case gets a capital first letter ("school partnerships" →
    "School partnerships"); any other capitalisation is the author's and is kept."""
    return title[:1].upper() + title[1:] if title == title.lower() else title


# --- sources of candidates ----------------------------------------------------------------------

def parse_citation(text: str) -> dict[str, Any] | None:
    """An APA-style reference ("Armstrong, P. (2015). Title. Publisher. https://…") as fields."""
    m = _CITATION.match(_clean(text))
    if not m:
        return None
    authors = [a.strip().rstrip(",") for a in re.split(r",? (?:and|&) |(?<=\.), ", m.group("authors"))
               if a.strip() and not a.strip().startswith("et al")]
    fields: dict[str, Any] = {"authors": authors, "year": int(m.group("year"))}
    tail = m.group("tail")
    doi, url = _DOI.search(tail), _URL.search(tail)
    if doi:
        fields["url"] = f"https://doi.org/{doi.group(1)}"
    elif url:
        fields["url"] = url.group(0).rstrip(".,;")
    tail = _URL.sub("", _DOI.sub("", tail))
    tail = re.sub(r"(?i)\b(?:available (?:at|from)|retrieved from|doi)\b:?", "", tail).strip(" ,;:")
    # "Title. Publisher." — the last sentence is the publisher (a title may hold "?" or ":").
    parts = re.split(r"(?<=[.?!])\s+(?=[A-Z])", tail)
    if len(parts) >= 2:
        publisher = re.sub(r"^[A-Z][a-zA-Z ]+:\s+", "", parts[-1].strip())   # "London: DfE" → "DfE"
        fields["publisher"] = publisher.strip(" .,;:")
        parts = parts[:-1]
    fields["title"] = " ".join(parts).strip().rstrip(".").strip()
    if not fields["title"]:
        return None
    if not fields.get("publisher") or len(fields["publisher"].split()) > 15:
        fields.pop("publisher", None)
    return fields


def from_cite_as(rows: list[str]) -> list[Candidate]:
    """The report's citation of itself, after a "cite as" cue (same line or the next): high."""
    for i, row in enumerate(rows):
        m = _CITE_AS.search(row)
        if not m:
            continue
        for text in (m.group("rest"), *rows[i + 1:i + 3]):
            fields = parse_citation(text) if text else None
            if fields:
                return [_c(k, v, "cite-as line", "high") for k, v in fields.items()]
    return []


def from_reference_line(blocks: list[str]) -> list[Candidate]:
    """A front-matter paragraph that is a full reference without a cue: medium."""
    for block in blocks:
        fields = parse_citation(block)
        if fields:
            return [_c(k, v, "front-matter reference", "medium") for k, v in fields.items()]
    return []


def from_title_page(blocks: list[str]) -> list[Candidate]:
    """"by A, B and C" (with the title just above it), or a name with a title ("Dr Paul
    Armstrong"): medium."""
    out: list[Candidate] = []
    for idx, block in enumerate(blocks):
        m = re.match(rf"^(?:by|written by|authors?:?|edited by)\s+({_NAME}(?:(?:,| and| &|, and) {_NAME})*)\s*$",
                     block, re.I)
        if m:
            authors = [a.strip() for a in re.split(r",\s*(?:and\s+)?|\s+and\s+|\s+&\s+", m.group(1)) if a.strip()]
            out.append(_c("authors", authors, "title page", "medium"))
            # On a title page the title sits just above its "by ..." line.
            if idx > 0 and looks_like_title(blocks[idx - 1]):
                out.append(_c("title", blocks[idx - 1], "title page", "medium"))
            return out
    for block in blocks:
        m = re.match(rf"^(?:Dr\.?|Professor|Prof\.)\s+({_NAME}(?:(?:,| and| &) (?:(?:Dr\.?|Professor|Prof\.)\s+)?{_NAME})*)$",
                     block)
        if m:
            names = re.split(r",\s*|\s+and\s+|\s+&\s+", m.group(1))
            authors = [re.sub(r"^(?:Dr\.?|Professor|Prof\.)\s+", "", a).strip() for a in names if a.strip()]
            return [_c("authors", authors, "title page", "medium")]
    return out


def from_imprint(blocks: list[str], rows: list[str], back_rows: list[str]) -> list[Candidate]:
    """Year, publisher, ISBN, DOI and report number from the imprint and the back cover."""
    out: list[Candidate] = []
    joined = "\n".join(blocks)
    m = re.search(rf"Published (?:in )?(?:{_MONTHS} )?((?:19|20)\d{{2}})", joined)
    if m:
        out.append(_c("year", int(m.group(1)), "imprint", "medium"))
    m = next((re.fullmatch(rf"(?:{_MONTHS} )?((?:19|20)\d{{2}})", r) for r in rows
              if re.fullmatch(rf"(?:{_MONTHS} )?((?:19|20)\d{{2}})", r)), None)
    if m:
        out.append(_c("year", int(m.group(1)), "title page date", "medium"))
    m = re.search(r"©[^\n]*?((?:19|20)\d{2})", "\n".join(rows))
    if m:
        out.append(_c("year", int(m.group(1)), "copyright line", "low"))
    m = re.search(r"Published (?:in )?(?:[A-Z][a-z]+ )?(?:(?:19|20)\d{2} )?by (?:the )?([A-Z][^,\n]{3,90}?)(?:,|\.|\n|$)",
                  joined)
    if m:
        out.append(_c("publisher", m.group(1).strip(), "imprint", "medium"))
    m = re.search(r"(?:[Cc]ommissioned|[Ff]unded|[Ss]ponsored) by (?:the )?([A-Z][^,\n]{3,90}?)(?:,|\.|\n|$)", joined)
    if m:   # after "Published by": of two equally trusted bodies the publisher is kept
        out.append(_c("publisher", m.group(1).strip(), "commissioning line", "medium"))
    for row in rows:
        m = re.match(r"^©\s*(?:Copyright\s*)?(?:the\s+)?([A-Z][^\d©;]{3,80}?)[\s,]*(?:(?:19|20)\d{2})?$", row)
        if m and not re.search(r"(?i)shutterstock|getty|istock|photo", row):
            out.append(_c("publisher", m.group(1).strip(), "copyright line", "low"))
            break
    isbn = _ISBN.search(joined)
    if isbn:
        out.append(_c("isbn", isbn.group(1).strip(), "imprint", "high"))
    else:
        back = [m.group(1).strip() for m in _ISBN.finditer("\n".join(back_rows))]
        if back:  # the last ISBN: adverts for other reports come before the report's own imprint
            out.append(_c("isbn", back[-1], "back cover", "medium"))
    doi = _DOI.search(joined) or _DOI.search("\n".join(back_rows))
    if doi:
        out.append(_c("url", f"https://doi.org/{doi.group(1)}", "DOI", "high"))
    for row in rows:
        if len(row) <= 60 and re.search(r"\bReport\s+(?:No\.?\s*)?\d+\b", row):
            out.append(_c("series", re.sub(r"\s*[•·|]\s*", " ", row).strip(), "title page", "medium"))
            break
    for row in back_rows + rows:
        m = re.match(r"^(?:Reference|Report (?:no\.?|number)|Publication (?:no\.?|number)):?\s*([A-Z]+-?[A-Z]*\d+\w*)$", row,
                     re.I)
        if m:
            out.append(_c("series", m.group(1), "imprint", "medium"))
            break
    return out


def _person_names(value: Any) -> list[str]:
    parts = value if isinstance(value, list) else re.split(r"\s*;\s*|\s+and\s+|\s*&\s*", str(value or ""))
    names = [p.strip() for p in parts if p and p.strip()]
    ok = all(re.fullmatch(rf"{_NAME}|{_CITED_AUTHOR.rstrip()}", n) and not _JUNK_PROPERTY.match(n) for n in names)
    return names if names and ok else []


#: The origin label of each format's document properties.
PROPERTY_ORIGINS = {"pdf": "PDF document info", "docx": "DOCX core properties", "html": "HTML meta tags"}


def from_properties(properties: dict[str, Any], *, origin: str) -> list[Candidate]:
    """The file's own metadata. Authoring tools fill these with defaults ("Microsoft Word -
    draft3.doc", a user name), so junk is dropped and what is left is medium at best; a
    creation date is when the file was made, not published: low. Publishers' scholarly meta tags
    (``citation_title``) are their statement of the citation: high."""
    out: list[Candidate] = []
    scholarly = bool(properties.get("scholarly"))
    level = "high" if scholarly else "medium"
    title = _clean(str(properties.get("title") or ""))
    if title and not _JUNK_PROPERTY.search(title) and looks_like_title(title):
        out.append(_c("title", title, origin, "low" if properties.get("title_is_page_title") else level))
    authors = _person_names(properties.get("authors"))
    if authors:
        out.append(_c("authors", authors, origin, level))
    year = properties.get("year")
    if year and 1900 <= int(year) <= 2100:
        out.append(_c("year", int(year), origin, level if scholarly else "low"))
    for key in ("publisher", "isbn", "url"):
        if properties.get(key):
            out.append(_c(key, str(properties[key]).strip(), origin, level))
    return out


def from_headings(structure: Structure, blocks: list[str]) -> list[Candidate]:
    """The first title-like front-matter heading (else line): medium when it opens the report."""
    headings = [u.text for u in structure.units if u.kind == "heading" and u.reason in ("front_matter", "cover")]
    if not headings and structure.units and structure.units[0].kind == "heading":
        headings = [structure.units[0].text]     # no front matter: the heading the report opens with
    candidates = [_clean(h) for h in headings] or blocks
    for k, text in enumerate(candidates):
        if looks_like_title(text):
            return [_c("title", text, "first heading" if headings else "first line", "medium" if k == 0 else "low")]
    return []


# --- merging ------------------------------------------------------------------------------------

def _rank(origin: FieldOrigin) -> int:
    return CONFIDENCE_LEVELS.index(origin.confidence)


def _same(a: Any, b: Any) -> bool:
    norm = lambda v: re.sub(r"[^a-z0-9]", "", str(v).lower())  # noqa: E731
    return norm(a) == norm(b)


def merge(candidates: list[Candidate]) -> Metadata:
    """The most trusted candidate per field (the first of equals). A value that the text and the
    file's properties both give is one level more trusted (at most high)."""
    meta = Metadata(source="inferred")
    for name in dict.fromkeys(c.field for c in candidates):
        mine = [c for c in candidates if c.field == name]
        best = max(mine, key=lambda c: _rank(c.origin))   # max keeps the first of equals
        origin = best.origin
        agreeing = {c.origin.origin for c in mine if c is not best and _same(c.value, best.value)}
        if agreeing and (set(PROPERTY_ORIGINS.values()) & (agreeing | {origin.origin})) and _rank(origin) < 2:
            origin = FieldOrigin(f"{origin.origin} + {sorted(agreeing)[0]}", CONFIDENCE_LEVELS[_rank(origin) + 1])
        setattr(meta, name, best.value)
        meta.provenance[name] = origin
    if meta.title:
        meta.title = title_case_fixed(meta.title)
    return meta


def infer_metadata(raw: str, structure: Structure, *, properties: dict[str, Any] | None = None,
                   properties_origin: str = "document properties") -> Metadata:
    """Best-effort citation metadata from a report's own text and its file's properties."""
    front = front_matter_text(raw, structure)
    blocks, rows = blocks_of(front), rows_of(front)
    back_rows = rows_of(raw[-BACK_MATTER_CHARS:])
    candidates = [*from_cite_as(rows + back_rows), *from_reference_line(blocks), *from_title_page(blocks),
                  *from_imprint(blocks, rows, back_rows),
                  *from_properties(properties or {}, origin=properties_origin), *from_headings(structure, blocks)]
    return merge(candidates)
