"""Read a report file into raw text (and pages, where the format knows them).

Every reader returns a :class:`RawDocument` whose ``text`` is what offsets index: for text
formats the decoded file itself; for PDF/DOCX/HTML the extracted text (kept under the output
folder so quotes can be re-opened). A report's identity is the sha256 of its bytes.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Errors, ReportError

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm")
#: Sidecar files that live in the corpus folder but are not reports.
IGNORED_NAMES = {"sources.yaml", "sources.yml", "sources.json", "README.md", ".gitkeep"}


@dataclass(frozen=True)
class PageSpan:
    start: int
    end: int
    label: str


@dataclass
class RawDocument:
    path: Path
    sha256: str
    text: str
    format: str
    encoding: str | None = None
    #: For formats with real pages (PDF): the character range of each page in ``text``.
    pages: list[PageSpan] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: What the file says about itself (PDF document info, DOCX core properties, HTML meta tags):
    #: "title", "authors" (list), "year", and for publishers' scholarly tags "publisher", "isbn",
    #: "url" and "scholarly". Citation metadata weighs these against the text (metadata.infer).
    properties: dict = field(default_factory=dict)

    @property
    def text_is_file(self) -> bool:
        """True when ``text`` is the decoded file itself (so offsets index the file)."""
        return self.format in {"txt", "md"}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def list_reports(corpus_dir: Path) -> list[Path]:
    """All candidate report files in ``corpus_dir`` (sorted, so runs are deterministic)."""
    return sorted(
        p for p in corpus_dir.iterdir()
        if p.is_file() and p.name not in IGNORED_NAMES and not p.name.startswith(".")
    )


def read_report(path: Path, *, max_bytes: int = 200_000_000) -> RawDocument:
    """Read one report. Raises :class:`ReportError` with a coded, actionable message."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ReportError(Errors.E009.format(path=path, size=size, limit=max_bytes))
        data = path.read_bytes()
    except ReportError:
        raise
    except OSError as exc:
        raise ReportError(Errors.E004.format(path=path, detail=exc.strerror or exc)) from exc
    if not data:
        raise ReportError(Errors.E001.format(path=path))
    suffix = path.suffix.lower()
    sha = sha256_bytes(data)
    if suffix == ".pdf":
        return _read_pdf(path, data, sha)
    if suffix == ".docx":
        return _read_docx(path, data, sha)
    if suffix in (".html", ".htm"):
        text, encoding, warnings = decode_text(path, data)
        return RawDocument(path, sha, html_to_text(text), "html", encoding, warnings=warnings,
                           properties=html_properties(text))
    if suffix in (".txt", ".md", ".markdown", ""):
        text, encoding, warnings = decode_text(path, data)
        return RawDocument(path, sha, text, "md" if suffix in (".md", ".markdown") else "txt",
                           encoding, warnings=warnings)
    if _looks_binary(data):
        raise ReportError(Errors.E002.format(path=path, detail=f"unknown type '{suffix}'"))
    raise ReportError(Errors.E005.format(path=path, suffix=suffix))


# --- text decoding ---------------------------------------------------------------------------

_BINARY_MAGIC = {
    b"\x89PNG": "PNG image", b"\xff\xd8\xff": "JPEG image", b"GIF8": "GIF image",
    b"PK\x03\x04": "ZIP archive", b"\x7fELF": "executable", b"%PDF": "PDF with a text suffix",
    b"\x1f\x8b": "gzip archive",
}


#: Byte-order marks, longest first (UTF-32-LE's starts with UTF-16-LE's). The codec named
#: strips the mark, on ingest and on every re-open alike, so offsets index the same text.
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def _looks_binary(data: bytes) -> str | None:
    """Why ``data`` is not text, or None. A few stray NULs or control bytes in text are not
    binary (they are left out of sentences with W002, wherever they are in the file)."""
    head = data[:8192]
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            return what
    if head and head.count(b"\x00") / len(head) > 0.01:
        return "contains NUL bytes"
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    if head and control / len(head) > 0.05:
        return "mostly control characters"
    return None


def _wide_encoding(data: bytes) -> str | None:
    """UTF-16/32 by its byte-order mark, or UTF-16 without one when every other byte of the head
    is NUL (ASCII text saved as "Unicode")."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    head = data[:8192 - 8192 % 2]
    if len(head) >= 64:
        even, odd = head[0::2].count(0) / (len(head) // 2), head[1::2].count(0) / (len(head) // 2)
        if odd > 0.9 and even < 0.1:
            return "utf-16-le"
        if even > 0.9 and odd < 0.1:
            return "utf-16-be"
    return None


def decode_text(path: Path, data: bytes) -> tuple[str, str, list[str]]:
    """Decode bytes: UTF-16/32 (by byte-order mark or NUL pattern), UTF-8, else the legacy
    encoding (cp1252/latin-1 and the like) that charset-normalizer recognises.

    The raw text is never NFKC-normalised: offsets index exactly this decoded string.
    """
    wide = _wide_encoding(data)
    if wide:
        try:
            return data.decode(wide), wide, [Errors.W001.format(path=path, encoding=wide.upper())]
        except UnicodeDecodeError:
            pass   # not what it looked like: judged as any other file below
    binary = _looks_binary(data)
    if binary:
        raise ReportError(Errors.E002.format(path=path, detail=binary))
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        pass
    # cp1252 is by far the most common legacy encoding for English reports; it is tried before
    # charset-normalizer, whose guesses on short English texts are unstable.
    for encoding in ("cp1252",):
        try:
            text = data.decode(encoding)
            return text, encoding, [Errors.W001.format(path=path, encoding=encoding)]
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ReportError(Errors.E006.format(path=path))
    encoding = best.encoding
    return str(best), encoding, [Errors.W001.format(path=path, encoding=encoding)]


# --- other formats ---------------------------------------------------------------------------

def _read_pdf(path: Path, data: bytes, sha: str) -> RawDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        page_texts = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ReportError(Errors.E007.format(path=path, kind="PDF", detail=exc)) from exc
    properties = _pdf_properties(reader)
    if not any(t.strip() for t in page_texts):
        raise ReportError(Errors.E003.format(path=path))
    parts: list[str] = []
    pages: list[PageSpan] = []
    pos = 0
    for number, page_text in enumerate(page_texts, start=1):
        page_text = page_text.strip("\n")
        if parts:
            # A page break is a paragraph break; segmentation re-joins sentences across it.
            parts.append("\n\n")
            pos += 2
        parts.append(page_text)
        pages.append(PageSpan(pos, pos + len(page_text), str(number)))
        pos += len(page_text)
    return RawDocument(path, sha, "".join(parts), "pdf", None, pages=pages, properties=properties)


def _pdf_properties(reader) -> dict:
    """Title, authors and creation year from a PDF's document info; a damaged info dictionary
    gives nothing (the text is what matters)."""
    try:
        info = reader.metadata
        if info is None:
            return {}
        out = {"title": info.title, "authors": info.author}
        try:
            created = info.creation_date
        except (ValueError, TypeError):
            created = None
        if created is not None:
            out["year"] = created.year
        return {k: v for k, v in out.items() if v}
    except Exception:  # noqa: BLE001 - pypdf raises many types for a bad info dictionary
        return {}


def _read_docx(path: Path, data: bytes, sha: str) -> RawDocument:
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise ReportError(f"{path}: reading .docx needs python-docx; `pip install python-docx`.") from exc
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several unrelated types for bad zips
        raise ReportError(Errors.E007.format(path=path, kind="DOCX", detail=exc)) from exc
    blocks = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name or "").lower() if para.style is not None else ""
        match = re.match(r"heading (\d)", style)
        # Heading styles become markdown headings so structure detection sees them.
        blocks.append(("#" * int(match.group(1)) + " " + text) if match else text)
    core = document.core_properties
    properties = {"title": core.title, "authors": core.author, "year": core.created.year if core.created else None}
    return RawDocument(path, sha, "\n\n".join(blocks), "docx", None,
                       properties={k: v for k, v in properties.items() if v})


_BLOCK_TAGS = ("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section",
               "article", "br", "table", "ul", "ol", "header", "footer")


def html_to_text(html: str) -> str:
    """HTML to paragraph text: block elements become blank-line separated paragraphs,
    headings become markdown headings, scripts and styles are dropped (never executed)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    for level in range(1, 7):
        for tag in soup.find_all(f"h{level}"):
            tag.insert_before("\n\n" + "#" * level + " ")
            tag.insert_after("\n\n")
    for tag in soup.find_all(_BLOCK_TAGS):
        if tag.name == "li":
            tag.insert_before("\n- ")
        else:
            tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    text = soup.get_text()
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


#: Scholarly meta tags (Highwire/Google Scholar, Dublin Core) publishers put in article pages.
_HTML_META = {"citation_title": "title", "dc.title": "title", "citation_author": "authors", "dc.creator": "authors",
              "author": "authors", "citation_publication_date": "year", "citation_date": "year", "dc.date": "year",
              "citation_publisher": "publisher", "dc.publisher": "publisher", "citation_isbn": "isbn",
              "citation_doi": "url", "citation_public_url": "url"}


def html_properties(html: str) -> dict:
    """Title, authors, year (and publisher, ISBN, URL) from an HTML page's meta tags and <title>."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    out: dict = {}
    for tag in soup.find_all("meta"):
        name = str(tag.get("name") or tag.get("property") or "").lower()
        key, content = _HTML_META.get(name), str(tag.get("content") or "").strip()
        if not key or not content:
            continue
        if name.startswith(("citation_", "dc.")):
            out["scholarly"] = True
        if key == "authors":
            out.setdefault("authors", []).append(content)
        elif key == "year":
            match = re.search(r"(?:19|20)\d{2}", content)
            if match:
                out.setdefault("year", int(match.group(0)))
        elif key == "url" and name == "citation_doi":
            out.setdefault("url", "https://doi.org/" + re.sub(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)", "", content))
        else:
            out.setdefault(key, content)
    if "title" not in out and soup.title and soup.title.string:
        # A page's <title> often carries the site's name too ("… | NFER"): a weaker source.
        out["title"], out["title_is_page_title"] = soup.title.string.strip(), True
    return out


def source_text(path: Path, *, encoding: str | None, text_path: str | None) -> str:
    """The text a report's offsets index: the decoded file for .txt/.md, else the extracted text
    kept at ``text_path`` (PDF, DOCX, HTML)."""
    if text_path:
        return Path(text_path).read_text(encoding="utf-8")
    return path.read_bytes().decode(encoding or "utf-8")
