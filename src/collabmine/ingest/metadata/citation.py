"""Citation labels and bibliography entry types: pure functions of a report's metadata."""

from __future__ import annotations

import re


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


#: The label of a report with no author, body or title (told apart by a, b, … like any other).
UNTITLED = "Untitled report"


def short_citation(authors: list[str], year: int | None, *, title: str | None = None, body: str | None = None,
                   fallback: str | None = None) -> str:
    """Author–year form: "Armstrong (2015)", "West and Muijs (n.d.)", "Rudd et al. (2004)"; with
    no author, the body that published or commissioned it (APA's group author: "Department for
    Education (2015)"), else the short title (as APA cites a work without an author), else
    ``fallback``, else "Untitled report" — never a file name."""
    names = [surname(a) for a in authors if a.strip()]
    if not names:
        who = ((short_body(body) if body and body.strip() else None)
               or (short_title(title) if title and title.strip() else None) or fallback or UNTITLED)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who} ({year if year else 'n.d.'})"


def short_body(body: str) -> str:
    """An organisation as a citation names it: without a trailing abbreviation in brackets or the
    partner after a comma ("National Foundation for Educational Research (NFER), for the LGA" →
    "National Foundation for Educational Research")."""
    main = re.split(r",|\s\(", " ".join(body.split()), maxsplit=1)[0].strip(" .;:")
    return main or body.strip()


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


# --- entry types -------------------------------------------------------------------------------

ENTRY_TYPES = ("report", "book")

#: A publisher whose business is books (a press or a publishing house).
_BOOK_PUBLISHER = re.compile(r"\b(?:Press|Publish(?:ing|ers?)|Books|Routledge|Springer|Wiley|Sage|Falmer)\b", re.I)
#: A body that issues reports: a department, foundation, college, association, council, …
_REPORTING_BODY = re.compile(
    r"\b(?:Department|Ministry|Office|Foundation|College|Association|Council|Agency|Institute|Centre|Center|"
    r"Trust|Authority|Government|Commission|Unit|Network|Observatory|Board|Universit(?:y|ies)(?! Press))\b", re.I)


def entry_type(*, title: str | None, publisher: str | None, series: str | None, isbn: str | None) -> str:
    """"report" or "book", from what the metadata says: a numbered report series or "report" in
    the title → report; a press or publishing house → book; a department, foundation, college,
    … → report; otherwise an ISBN alone → book; grey literature (no ISBN) → report."""
    if series and re.search(r"\breport\b", series, re.I):
        return "report"
    if title and re.search(r"\breport\b", title, re.I):
        return "report"
    if publisher and _BOOK_PUBLISHER.search(publisher):
        return "book"
    if publisher and _REPORTING_BODY.search(publisher):
        return "report"
    return "book" if isbn else "report"


def series_number(series: str) -> tuple[str, str | None]:
    """A series split into its name and number ("LGA Research Report 54" → ("LGA Research Report",
    "54"); "Research report DFE-RR466" → ("Research report", "DFE-RR466")); no number → (series, None)."""
    m = re.match(r"^(?P<name>.*?)[\s,]+(?:No\.?\s*|Number\s+)?(?P<number>[A-Z]*-?[A-Z]*\d[\w\-/]*)$", series.strip())
    if m and m.group("name").strip():
        return m.group("name").strip(" ,"), m.group("number")
    return series.strip(), None
