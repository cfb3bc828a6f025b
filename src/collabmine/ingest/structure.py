"""Document structure: blocks, headings and their hierarchy, contents pages, exclusions.

Works on the raw text (after reading), so every unit it returns is a contiguous raw range
``[start, end)``; the cleaned text of a unit is ``normalise_span(raw, start, end)``.

A *block* is a run of non-blank lines. Blocks are classified (heading, paragraph, bullets,
contents, footnote, table, junk ...), then grouped into *units*: one per heading, paragraph,
or bullet item. A paragraph split by a page break (it ends mid-sentence and the next text
block starts in lower case) is re-joined into one unit, with any footnote that landed in
the gap moved out as a unit of its own. Non-argument material (covers, imprint, contents,
references, glossaries, endnotes, appendices, templates, adverts) is kept but flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .normalise import SUPERSCRIPT_DIGITS, normalise_span, normalise_text

# --- patterns ------------------------------------------------------------------------------

_BLANK_LINE = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")
_MD_HEADING = re.compile(r"^[ \t]*(#{1,6})[ \t]+\S")
#: A Markdown "setext" heading's underline: === for level 1, --- for level 2.
_SETEXT_UNDERLINE = re.compile(r"^[ \t]*(={3,}|-{3,})[ \t]*$")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?[ \t]+(?=[A-Z])")
_PART = re.compile(r"^(?:part|chapter|section|account of practice|case study|appendix|annex|module|unit)"
                   r"\s+(?:\d{1,2}|[ivxlc]{1,5}|[a-z])\b", re.I)
_CAPTION = re.compile(r"^(?:table|figure|fig\.|chart|box|exhibit|diagram)\s+\d", re.I)
_ROMAN_ITEM = re.compile(r"^(?:[ivx]{1,5}|[a-h])[.)]?\s+[A-Z]")
_BULLET_LINE = re.compile(r"^[ \t]*(?:[-–•▪●◦·→]|\(?(?:[ivx]{1,4}|[a-z])\)|\d{1,2}\.)[ \t]")
_FOOTNOTE_BLOCK = re.compile(rf"^[ \t]*(?:- )?[{SUPERSCRIPT_DIGITS}]+")
_PAGE_NUMBER = re.compile(r"^[ \t]*(?:\d{1,3}|[ivxlc]{1,5})[ \t]*$")
_CONTENTS_LINE = re.compile(r"^(?P<title>.*?\S)(?:\t+|[ ]{2,}|\.{3,}\s*)(?P<page>\d{1,3}|[ivxlc]{1,5})[ \t]*$")
_IMPRINT = re.compile(r"ISBN|©|\bRegistered Charity\b|\bPrice:?\s*£|\bTel(?:ephone)?\b[: ]+\d|\bFax\b|"
                      r"\b[Pp]ublished (?:in|by) (?:[A-Z]|\d{4})|\be-?mail\b.*@")
_TEMPLATE = re.compile(r"\(\*?(?:insert|enter|add)\b[^)]*\)|^[^\n]{1,60}:\t+[ \t]*$|_{5,}", re.I | re.M)
_TERMINAL = re.compile(r"[.!?:;…)\]\"'”’]\s*$")

#: Headings whose sections are non-argument material, with the reason recorded on each unit.
_NON_ARGUMENT = [
    (re.compile(r"^(?:table of )?contents$"), "contents"),
    (re.compile(r"^(?:references|bibliography|works cited|sources that underpin.*)$"), "references"),
    (re.compile(r"^further (?:reading|information)"), "further_reading"),
    (re.compile(r"glossary|^commonly used terms$|^abbreviations$|^acronyms$"), "glossary"),
    (re.compile(r"^(?:end)?notes$|^footnotes$"), "endnotes"),
    (re.compile(r"^append(?:ix|ices|ixes)\b|^annex"), "appendix"),
    (re.compile(r"^acknowledg(?:e)?ments?$|^about the authors?$|^project team$|^for more information"), "front_matter"),
    (re.compile(r"^(?:citation for published version|citing this paper|general rights|takedown policy)"), "cover"),
    (re.compile(r"^(?:part \d+: )?tools?\b|template|exemplar$|audit$|action plan$"), "template"),
    (re.compile(r"^(?:a )?selection of (?:recent )?publications|^other (?:titles|publications)"), "advert"),
]
#: Back matter runs to the end of the report unless a contents-listed heading follows.
_STICKY = {"references", "further_reading", "glossary", "appendix", "advert"}


@dataclass
class Block:
    start: int
    end: int
    raw: str
    kind: str = "paragraph"
    level: int = 0
    text: str = ""
    #: For a Markdown underlined heading: 1 (===) or 2 (---); a # heading's depth is its #s.
    md_depth: int = 0


@dataclass
class Heading:
    text: str
    level: int
    start: int
    end: int
    page: str | None = None
    #: Why this section is non-argument material ("references", "template", ...), if it is.
    reason: str | None = None


@dataclass
class Unit:
    """A citable piece of a report: heading, paragraph or bullet item (before sentences)."""

    kind: str
    start: int
    end: int
    text: str
    section_path: list[str]
    para_index: int
    excluded: bool = False
    reason: str = ""
    page_start: str | None = None
    page_end: str | None = None


@dataclass
class Structure:
    units: list[Unit]
    headings: list[Heading]
    contents_pages: dict[str, str] = field(default_factory=dict)


def heading_number(text: str) -> str | None:
    m = _NUMBERED.match(normalise_text(text).replace("\t", " "))
    return m.group(1) if m else None


def contents_key(text: str) -> str:
    """Key under which a heading is looked up in the contents map: its number if numbered
    (so "Methodology" in an executive summary does not match "2 Methodology")."""
    number = heading_number(text)
    return f"#{number}" if number else heading_key(text)


def heading_key(text: str) -> str:
    """A comparable form of a heading or contents entry."""
    text = normalise_text(text).lower()
    text = re.sub(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?)\s+", "", text)
    text = re.sub(r"(?<=[a-z])\d$", "", text)          # glued footnote digit: "Exemplar1"
    text = re.sub(r"[^\w\s:&'-]", " ", text)
    return re.sub(r"\s+", " ", text).strip(" :")


# --- blocks --------------------------------------------------------------------------------

#: A block of at least this many lines between blank lines is checked for paragraphs run
#: together by single line breaks (as some PDF-to-text tools write them); the bundled reports'
#: longest prose blocks have under 20 lines.
RUN_TOGETHER_MIN_LINES = 20


def split_blocks(raw: str) -> list[Block]:
    """Blocks of text between blank lines: paragraphs, headings, lists, tables. A long block of
    prose whose paragraphs are separated by single line breaks is split where they end."""
    blocks: list[Block] = []
    pos = 0
    for match in _BLANK_LINE.finditer(raw):
        _add_block(raw, pos, match.start(), blocks)
        pos = match.end()
    _add_block(raw, pos, len(raw), blocks)
    out: list[Block] = []
    for block in blocks:
        if _run_together(block):
            for start, end in _line_blocks(block.raw):
                _add_block(raw, block.start + start, block.start + end, out)
        else:
            out.append(block)
    return out


def _run_together(block: Block) -> bool:
    lines = [l for l in block.raw.split("\n") if l.strip()]
    return (len(lines) >= RUN_TOGETHER_MIN_LINES and not _is_table(block)
            and not _all_contents_lines(lines))


def _line_blocks(raw: str) -> list[tuple[int, int]]:
    """Paragraph ranges in text whose paragraphs are separated by single line breaks. A break
    falls around a line that reads as a heading (short, no closing punctuation, after a finished
    line and before a fresh one) and after a line that ends a sentence well short of the text's
    usual width (the last line of a wrapped paragraph) or ends a list; lists, tables and contents
    lines stay together as they would between blank lines. Ranges are offsets into ``raw``."""
    spans, pos = [], 0
    for line in raw.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    lines = [(s, e, raw[s:e].strip()) for s, e in spans if raw[s:e].strip()]
    if not lines:
        return []
    texts = [text for _, _, text in lines]
    lengths = sorted(len(text) for text in texts)
    width = max(40, lengths[int(0.9 * (len(lengths) - 1))])

    def fresh(text: str) -> bool:
        return text[0].isupper() or text[0].isdigit() or text[0] in "\"'‘“(*" or bool(_BULLET_LINE.match(text))

    def finished(text: str) -> bool:
        return bool(_TERMINAL.search(text)) or len(text) < 0.6 * width

    def reads_as_heading(i: int) -> bool:
        s, e, text = lines[i]
        if _MD_HEADING.match(text):
            return True
        line = Block(s, e, raw[s:e], text=normalise_text(raw[s:e]))
        # (a short last line of a quotation or sentence is not a heading; a question may be)
        closes = bool(_TERMINAL.search(text)) and not text.endswith("?")
        return (len(text) < 0.6 * width and not closes and _heading_level_hint(line) is not None
                and (i == 0 or finished(texts[i - 1])) and (i + 1 == len(texts) or fresh(texts[i + 1])))

    heading = [reads_as_heading(i) for i in range(len(lines))]
    out, start = [], lines[0][0]
    for i in range(len(lines) - 1):
        a, b = texts[i], texts[i + 1]
        if _same_block_kind(a, b):
            continue
        short = len(a) < 0.85 * width
        closed = bool(_TERMINAL.search(a))
        in_list, b_item = bool(_BULLET_LINE.match(raw[start:lines[i][1]].lstrip())), bool(_BULLET_LINE.match(b))
        ends_paragraph = short and closed
        introduces_list = closed and b.endswith(":") and i + 2 < len(texts) and bool(_BULLET_LINE.match(texts[i + 2]))
        starts_list = b_item and not in_list
        ends_list = in_list and not b_item and (closed or short)   # an item's own next line starts in lower case
        if heading[i] or heading[i + 1] or (fresh(b) and (ends_paragraph or introduces_list or starts_list or ends_list)):
            out.append((start, lines[i][1]))
            start = lines[i + 1][0]
    out.append((start, lines[-1][1]))
    return out


def _same_block_kind(a: str, b: str) -> bool:
    """Consecutive contents lines, table rows or list items belong to one block."""
    if _CONTENTS_LINE.match(a) and _CONTENTS_LINE.match(b):
        return True
    if a.count("\t") >= 2 and b.count("\t") >= 2:
        return True
    return bool(_BULLET_LINE.match(a) and _BULLET_LINE.match(b))


def _add_block(raw: str, start: int, end: int, blocks: list[Block]) -> None:
    chunk = raw[start:end]
    stripped = chunk.strip()
    if not stripped:
        return
    lead = len(chunk) - len(chunk.lstrip())
    start += lead
    end = start + len(stripped)
    blocks.append(Block(start, end, raw[start:end], text=normalise_text(raw[start:end])))


def _is_junk(block: Block) -> bool:
    raw = block.raw
    if re.search(r"\$\\frac|\\[a-z]+\{", raw):
        return True
    for line in raw.split("\n"):
        fragments = [f for f in line.split("\t") if f.strip()]
        if len(fragments) >= 5 and sum(len(f.strip()) for f in fragments) / len(fragments) <= 4:
            return True
    # Symbols and stray glyphs with no words (logos, decoration).
    return not re.search(r"[A-Za-z]{2}", block.text)


def _all_contents_lines(lines: list[str]) -> bool:
    """Every line reads as a contents entry ("Title<tab>12")."""
    return all(_CONTENTS_LINE.match(l.strip()) for l in lines)


def _is_table(block: Block) -> bool:
    lines = [l for l in block.raw.split("\n") if l.strip()]
    tabbed = [l for l in lines if l.strip("\t ").count("\t") >= 2 or re.search(r"\t\s*$", l) and not _CONTENTS_LINE.match(l)]
    return bool(lines) and len(tabbed) >= max(1, len(lines) // 2) and not _all_contents_lines(lines)


def _heading_level_hint(block: Block) -> str | None:
    """'md', 'numbered' or 'plain' when a single-line block reads as a heading."""
    raw_lines = block.raw.split("\n")
    if len(raw_lines) != 1:
        return None
    text = block.text
    if _MD_HEADING.match(block.raw):
        return "md" if text else None
    words = text.split()
    if not words or len(words) > 14 or len(text) > 120:
        return None
    if _IMPRINT.search(text) or re.search(r"https?://|www\.|@", text):
        return None
    if not (text[0].isupper() or text[0].isdigit() or _ROMAN_ITEM.match(text)):
        return None
    if text[0].isdigit() and not _NUMBERED.match(text):
        return None
    if re.search(r"[.,;:]$", text) and not re.search(r"\b(?:al|etc)\.$", text):
        return None
    if text.endswith("?") and len(words) > 14:
        return None
    if text.count("(") != text.count(")"):
        return None
    return "numbered" if _NUMBERED.match(text) else "plain"


def _setext_heading(block: Block) -> Block | None:
    """A heading line underlined with === or --- (Markdown), as a block without its underline."""
    lines = block.raw.split("\n")
    if len(lines) != 2 or not (underline := _SETEXT_UNDERLINE.match(lines[1])):
        return None
    head = Block(block.start, block.start + len(lines[0].rstrip()), lines[0].rstrip())
    head.text = normalise_text(head.raw)
    if not head.text or _BULLET_LINE.match(head.raw) or _heading_level_hint(head) is None:
        return None
    head.kind, head.md_depth = "heading:md", 1 if underline.group(1)[0] == "=" else 2
    return head


def _glued_heading(block: Block) -> int | None:
    """In hard-wrapped text a heading can sit on the first line of the paragraph below it."""
    lines = block.raw.split("\n")
    if len(lines) < 2:
        return None
    first, second = normalise_text(lines[0]), normalise_text(lines[1])
    if not first or not second or not second[0].isupper():
        return None
    words = first.split()
    if len(words) > 10 or _TERMINAL.search(first) or not (first[0].isupper() or _NUMBERED.match(first)):
        return None
    if len(first) >= 0.6 * len(second) or _BULLET_LINE.match(lines[1]) or _BULLET_LINE.match(lines[0]):
        return None
    if _IMPRINT.search(first) or "\t" in lines[0]:
        return None
    if len(lines) > 2 or len(second) > 50:
        return block.start + len(lines[0])
    return None


def classify(blocks: list[Block]) -> list[Block]:
    out: list[Block] = []
    for block in blocks:
        lines = [l for l in block.raw.split("\n") if l.strip()]
        if _FOOTNOTE_BLOCK.match(block.raw):
            block.kind = "footnote"
        elif _PAGE_NUMBER.match(block.raw):
            block.kind = "page_number"
        elif (setext := _setext_heading(block)) is not None:
            out.append(setext)
            continue
        elif _is_junk(block):
            block.kind = "junk"
        elif _all_contents_lines(lines) and not _MD_HEADING.match(block.raw):
            block.kind = "contents_lines"
        elif _is_table(block):
            block.kind = "table"
        elif (hint := _heading_level_hint(block)) is not None:
            block.kind = f"heading:{hint}"
        elif _BULLET_LINE.match(lines[0]):
            block.kind = "bullets"
        elif (cut := _glued_heading(block)) is not None:
            head = Block(block.start, cut, block.raw[: cut - block.start])
            head.text = normalise_text(head.raw)
            head.kind = "heading:plain"
            rest_start = cut + (len(block.raw[cut - block.start:]) - len(block.raw[cut - block.start:].lstrip()))
            rest = Block(rest_start, block.end, block.raw[rest_start - block.start:])
            rest.text = normalise_text(rest.raw)
            out.extend([head, rest])
            continue
        out.append(block)
    # In a markdown document headings are marked; a plain short line there is a label, a quote
    # attribution or a fact-box line, not a heading.
    if sum(1 for b in out if b.kind == "heading:md") >= 3:
        for block in out:
            if block.kind in ("heading:plain", "heading:numbered"):
                block.kind = "paragraph"
    # A short line that the next text block continues in lower case is a paragraph cut by a
    # page break, not a heading.
    for idx, block in enumerate(out):
        if block.kind != "heading:plain":
            continue
        k = idx + 1
        while k < len(out) and out[k].kind in ("footnote", "page_number"):
            k += 1
        if k < len(out) and out[k].kind in ("paragraph", "bullets") and _starts_continuation(out[k].text) \
                and not _BULLET_LINE.match(out[k].raw):
            block.kind = "paragraph"
    return out


# --- contents ------------------------------------------------------------------------------

def _is_prose(block: Block) -> bool:
    if block.kind not in ("paragraph", "bullets"):
        return False
    lines = [l for l in block.raw.split("\n") if l.strip()]
    if sum(1 for l in lines if _CONTENTS_LINE.match(l.strip()) or "\t" in l) * 2 >= len(lines):
        return False
    words = block.text.split()
    return len(words) > 14 or (len(words) >= 6 and bool(re.search(r"[.!?]$", block.text)))


def find_contents(blocks: list[Block]) -> tuple[int, int, list[tuple[str, str | None]]] | None:
    """Locate a contents page: ``(first_block, body_start_block, [(entry, page)])``."""
    for i, block in enumerate(blocks):
        if block.kind.startswith("heading") and heading_key(block.text) in ("contents", "table of contents"):
            break
    else:
        return None
    region_end = i + 1
    while region_end < len(blocks) and not _is_prose(blocks[region_end]):
        region_end += 1
    region = list(range(i + 1, region_end))
    entries: list[tuple[str, str | None, int]] = []
    for j in region:
        if blocks[j].kind == "junk":
            continue
        for line in blocks[j].raw.split("\n"):
            if not line.strip():
                continue
            m = _CONTENTS_LINE.match(line.strip())
            title, page = (m.group("title"), m.group("page")) if m else (line, None)
            title = re.sub(r"^\d{1,2}(?:\.\d{1,2})*\t+", lambda mm: mm.group().replace("\t", " "), title.strip())
            if heading_key(title):
                entries.append((title, page, j))
    if not entries:
        return None
    first_key = heading_key(entries[0][0])
    body_start = None
    for j in reversed(region):
        if j > entries[0][2] and heading_key(blocks[j].text) == first_key:
            body_start = j
            break
    if body_start is None:
        numbered = [j for _, page, j in entries if page is not None]
        body_start = (max(numbered) + 1) if numbered else region_end
    kept = [(t, p) for t, p, j in entries if j < body_start]
    return i, body_start, kept


# --- headings ------------------------------------------------------------------------------

def _non_argument_reason(key: str) -> str | None:
    for pattern, reason in _NON_ARGUMENT:
        if pattern.search(key):
            return reason
    return None


def _md_depth(block: Block) -> int:
    return block.md_depth or len(_MD_HEADING.match(block.raw).group(1))


def _assign_levels(blocks: list[Block], contents_keys: set[str]) -> None:
    headings = [b for b in blocks if b.kind.startswith("heading")]
    # Appendices are numbered like parts but sit beside the body, not above it.
    has_parts = any(_PART.match(b.text) and not re.match(r"(?i)append|annex", b.text) for b in headings)
    md_counts = sorted({_md_depth(b) for b in headings if b.kind == "heading:md"})
    md_rank = {count: rank + 1 + (1 if has_parts else 0) for rank, count in enumerate(md_counts)}
    base = 2 if has_parts else 1
    for b in headings:
        if _PART.match(b.text):
            b.level = 1
        elif b.kind == "heading:numbered":
            b.level = _NUMBERED.match(b.text).group(1).count(".") + 1
        elif b.kind == "heading:md":
            b.level = md_rank[_md_depth(b)]
        elif _ROMAN_ITEM.match(b.text):
            b.level = base + 1
        elif not contents_keys or contents_key(b.text) in contents_keys:
            b.level = base
        else:
            b.level = base + 1


# --- units ---------------------------------------------------------------------------------

def _bullet_items(raw: str, block: Block) -> list[tuple[int, int]]:
    """Split a bullets block into items; a line without a marker continues the item above."""
    items: list[list[int]] = []
    pos = block.start
    for line in block.raw.split("\n"):
        line_start, line_end = pos, pos + len(line)
        pos = line_end + 1
        if not line.strip():
            continue
        if _BULLET_LINE.match(line) or not items:
            items.append([line_start, line_end])
        else:
            items[-1][1] = line_end
    return [(s, e) for s, e in items]


def _ends_open(text: str) -> bool:
    return bool(text) and not _TERMINAL.search(text)


def _starts_continuation(text: str) -> bool:
    return bool(text) and text[0].islower() and not _ROMAN_ITEM.match(text)


def build_structure(raw: str, *, pdf_pages: list | None = None) -> Structure:
    # Windows (CRLF) and old Mac (CR) line ends read as LF; the same length, so offsets hold.
    raw = raw.replace("\r\n", " \n").replace("\r", "\n")
    blocks = classify(split_blocks(raw))
    contents = find_contents(blocks)
    contents_pages: dict[str, str] = {}
    contents_keys: set[str] = set()
    title_pages: dict[str, str] = {}
    front_end, body_start = 0, 0
    if contents:
        first, body_start, entries = contents
        front_end = first
        for title, page in entries:
            key = contents_key(title)
            contents_keys.add(key)
            if page is not None:
                contents_pages.setdefault(key, page)
                title_pages.setdefault(heading_key(title), page)
    _assign_levels(blocks[body_start:], contents_keys)

    units: list[Unit] = []
    headings: list[Heading] = []
    stack: list[Heading] = []
    section_reason: str | None = None
    sticky: str | None = None
    para_index = 0
    i = 0
    n = len(blocks)
    while i < n:
        block = blocks[i]
        if block.kind == "junk":
            i += 1
            continue
        if i < body_start:
            reason = "front_matter" if i < front_end else "contents"
            kind = "heading" if block.kind.startswith("heading") else "contents" if reason == "contents" else "paragraph"
            units.append(Unit(kind, block.start, block.end, block.text, [], para_index, True, reason))
            para_index += 1
            i += 1
            continue
        if block.kind.startswith("heading") and _CAPTION.match(block.text):
            units.append(Unit("caption", block.start, block.end, block.text, [h.text for h in stack],
                              para_index, True, "caption"))
            para_index += 1
            i += 1
            continue
        if block.kind.startswith("heading"):
            key = heading_key(block.text)
            ckey = contents_key(block.text)
            reason = _non_argument_reason(key)
            page = contents_pages.get(ckey) or _page_by_title_suffix(key, title_pages)
            heading = Heading(block.text, block.level or 1, block.start, block.end, page, reason)
            headings.append(heading)
            while stack and stack[-1].level >= heading.level:
                stack.pop()
            stack.append(heading)
            if sticky and ckey in contents_keys and reason not in _STICKY:
                sticky = None
            if reason in _STICKY:
                sticky = reason
            # A non-argument section covers its whole subtree.
            inherited = next((h.reason for h in stack if h.reason), None)
            section_reason = inherited or sticky
            units.append(Unit("heading", block.start, block.end, block.text, [h.text for h in stack],
                              para_index, True, "heading" if not section_reason else section_reason))
            para_index += 1
            i += 1
            continue
        path = [h.text for h in stack]
        if block.kind in ("footnote", "page_number", "table", "contents_lines"):
            reason = {"footnote": "footnote", "page_number": "page_number", "table": "table",
                      "contents_lines": "contents"}[block.kind]
            units.append(Unit(block.kind, block.start, block.end, block.text, path, para_index, True, reason))
            para_index += 1
            i += 1
            continue
        # Paragraph or bullets: cut into items, then re-join across page breaks.
        pieces = _bullet_items(raw, block) if block.kind == "bullets" else [(block.start, block.end)]
        kind = "bullet" if block.kind == "bullets" else "paragraph"
        moved: list[Unit] = []
        j = i + 1
        last_start, last_end = pieces[-1]
        while True:
            last_text = normalise_text(raw[last_start:last_end])
            if not _ends_open(last_text):
                break
            k, gap = j, []
            while k < n and blocks[k].kind in ("footnote", "page_number"):
                gap.append(blocks[k])
                k += 1
            if k >= n or blocks[k].kind not in ("paragraph", "bullets", "heading:plain"):
                break
            nxt = blocks[k]
            if not _starts_continuation(nxt.text) or _BULLET_LINE.match(nxt.raw):
                break
            nxt_pieces = _bullet_items(raw, nxt) if nxt.kind == "bullets" else [(nxt.start, nxt.end)]
            pieces[-1] = (last_start, nxt_pieces[0][1])
            pieces.extend(nxt_pieces[1:])
            for g in gap:
                moved.append(Unit(g.kind, g.start, g.end, g.text, path, 0, True, g.kind))
            j = k + 1
            last_start, last_end = pieces[-1]
        reason = section_reason
        if reason is None and i < front_end:
            reason = "front_matter"
        for s, e in pieces:
            text = normalise_span(raw, s, e).text
            if not text:
                continue
            unit_reason = reason
            if unit_reason is None and len(text.split()) <= 40 and _IMPRINT.search(text):
                unit_reason = "imprint"
            if unit_reason is None and _TEMPLATE.search(raw[s:e]):
                unit_reason = "template"
            units.append(Unit(kind, s, e, text, path, para_index, unit_reason is not None, unit_reason or ""))
        para_index += 1
        for m in moved:
            m.para_index = para_index
            units.append(m)
            para_index += 1
        i = j
    _assign_pages(units, headings, pdf_pages)
    return Structure(units, headings, contents_pages)


def _page_by_title_suffix(key: str, title_pages: dict[str, str]) -> str | None:
    """"Tool 1: Principles Exemplar" is listed as "1. Principles Exemplar": match on the title."""
    for title, page in title_pages.items():
        if len(title.split()) >= 2 and key.endswith(" " + title):
            return page
    return None


def _assign_pages(units: list[Unit], headings: list[Heading], pdf_pages: list | None) -> None:
    """Pages: exact from a PDF's page spans; else from the contents map (section start page to
    the start page of the next section that has one)."""
    if pdf_pages:
        starts = [p.start for p in pdf_pages]
        import bisect

        def page_of(pos: int) -> str:
            return pdf_pages[max(0, bisect.bisect_right(starts, pos) - 1)].label

        for u in units:
            u.page_start, u.page_end = page_of(u.start), page_of(max(u.start, u.end - 1))
        return
    known = [(h.start, h.page) for h in headings if h.page]
    if not known:
        return
    import bisect

    positions = [k[0] for k in known]
    for u in units:
        idx = bisect.bisect_right(positions, u.start) - 1
        if idx < 0:
            continue
        u.page_start = known[idx][1]
        nxt = known[idx + 1][1] if idx + 1 < len(known) else None
        later = nxt and nxt.isdigit() and u.page_start.isdigit() and int(nxt) > int(u.page_start)
        u.page_end = nxt if later else u.page_start
