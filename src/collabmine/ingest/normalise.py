"""Normalisation as small pure steps that never lose track of raw offsets.

A :class:`MappedText` is a cleaned string plus, for each of its characters, the index of the
raw character it came from. Each step is ``MappedText -> MappedText`` built on one mechanism,
:func:`rewrite`, so every step keeps the map for free; each step also has a plain ``str -> str``
form (``step.text``: the same regular expressions through ``re.sub``, no map) for when only the
cleaned text is wanted. The same steps, applied to a raw slice with :func:`normalise_text`, give
the cleaned text of that slice: this is the documented normalisation that every span's ``text``
satisfies (``normalise_text(raw[start:end]) == text``).

What is deliberately *not* done: hyphens at line ends are kept (they are real hyphens in
these reports), and the raw text is never NFKC-normalised (it would move offsets and change
quotes).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import reduce
from typing import Callable, Iterable

SUPERSCRIPT_DIGITS = "¹²³⁴⁵⁶⁷⁸⁹⁰"
BULLET_CHARS = "-–•▪●◦·→*"


@dataclass(frozen=True)
class MappedText:
    """Cleaned text with ``offsets[i]`` = raw index of ``text[i]``."""

    text: str
    offsets: tuple[int, ...]

    @classmethod
    def from_raw(cls, raw: str, start: int = 0, end: int | None = None) -> "MappedText":
        end = len(raw) if end is None else end
        return cls(raw[start:end], tuple(range(start, end)))

    def raw_span(self, i: int, j: int) -> tuple[int, int]:
        """Raw ``(start, end)`` covering cleaned characters ``i..j-1``."""
        return self.offsets[i], self.offsets[j - 1] + 1

    def __len__(self) -> int:
        return len(self.text)

    def __add__(self, other: "MappedText") -> "MappedText":
        return MappedText(self.text + other.text, self.offsets + other.offsets)

    def slice(self, i: int, j: int) -> "MappedText":
        return MappedText(self.text[i:j], self.offsets[i:j])


Replacement = str | Callable[[re.Match], str]


class Step:
    """One normalisation step in its two forms: ``step(mapped)`` keeps the offset map;
    ``step.text(s)`` rewrites a plain string the same way, ~5× faster (quote checks and block
    texts need no map). ``rewrite`` is ``re.sub`` with a map, so the two always agree (tested on
    every span of the bundled corpus)."""

    def __init__(self, mapped: Callable[[MappedText], MappedText], text: Callable[[str], str], name: str) -> None:
        self.mapped, self.text, self.__name__ = mapped, text, name

    def __call__(self, mt: MappedText) -> MappedText:
        return self.mapped(mt)

    def __repr__(self) -> str:
        return self.__name__


def _align(source: str, target: str) -> list[int] | None:
    """Positions in ``source`` of each character of ``target`` if it is a subsequence."""
    positions, k = [], 0
    for ch in target:
        k = source.find(ch, k)
        if k < 0:
            return None
        positions.append(k)
        k += 1
    return positions


def rewrite(mt: MappedText, pattern: re.Pattern, repl: Replacement) -> MappedText:
    """``re.sub`` that keeps the offset map.

    Characters kept from the match map to where they were; inserted characters map to the
    raw offset of the first character of the match (e.g. a newline turned into a space).
    """
    pieces: list[str] = []
    offsets: list[int] = []
    last = 0
    text = mt.text
    for match in pattern.finditer(text):
        s, e = match.span()
        pieces.append(text[last:s])
        offsets.extend(mt.offsets[last:s])
        replacement = repl(match) if callable(repl) else match.expand(repl)
        if replacement:
            aligned = _align(match.group(0), replacement)
            if aligned is not None:
                offsets.extend(mt.offsets[s + k] for k in aligned)
            else:
                anchor = mt.offsets[s] if s < len(mt.offsets) else (mt.offsets[-1] + 1 if mt.offsets else 0)
                offsets.extend([anchor] * len(replacement))
            pieces.append(replacement)
        last = e
    if last == 0 and not pieces:
        return mt
    pieces.append(text[last:])
    offsets.extend(mt.offsets[last:])
    return MappedText("".join(pieces), tuple(offsets))


def regex_step(pattern: str, repl: Replacement, flags: int = 0) -> Step:
    compiled = re.compile(pattern, flags)
    if isinstance(repl, str) and "\\" not in repl:
        # A literal replacement: Python 3.11's Match.expand re-parses its template on every call,
        # which was 20 of the 67 s spent verifying 261,675 quotes at ×100.
        literal = repl
        repl = lambda match: literal  # noqa: E731
    elif isinstance(repl, str) and re.fullmatch(r"\\[1-9]", repl):
        group = int(repl[1])  # r"\1": the same, for a single group reference
        repl = lambda match: match.group(group) or ""  # noqa: E731
    return Step(lambda mt: rewrite(mt, compiled, repl), lambda text: compiled.sub(repl, text),
                f"regex_step({pattern!r})")


def compose(*steps: Step) -> Step:
    def mapped(mt: MappedText) -> MappedText:
        for step in steps:
            mt = step(mt)
        return mt

    return Step(mapped, lambda text: reduce(lambda t, step: step.text(t), steps, text),
                "compose(" + ", ".join(step.__name__ for step in steps) + ")")


# --- the steps, in the order they run ------------------------------------------------------

#: C0 control characters but tab, newline, vertical tab, form feed and carriage return (which are
#: whitespace, unwrapped below), and DEL: NUL bytes and the like from a damaged or mis-exported
#: file. They are never part of a sentence; the offset map keeps the raw positions around them.
CONTROL_CHARACTERS = r"[\x00-\x08\x0e-\x1f\x7f]"
remove_control_characters = regex_step(CONTROL_CHARACTERS, "")

#: Control pictures (U+2400…) that show a control character where raw text is displayed
#: ("␀" for NUL): the quote stays readable and says exactly what its offsets hold.
_CONTROL_PICTURES = {i: 0x2400 + i for i in range(0x20)} | {0x7F: 0x2421}


def visible_controls(text: str) -> str:
    """Raw text for display: each control character but tab/newline/CR as its control picture."""
    return re.sub(CONTROL_CHARACTERS + "|[\x0b\x0c]", lambda m: chr(_CONTROL_PICTURES[ord(m.group())]), text)


# (\r in the blank-space classes: a CRLF file's blank line is "\r\n\r\n")
_FOOTNOTE_LINE = rf"[ \t]*(?:- )?[{SUPERSCRIPT_DIGITS}]+[^\n]*"
_PAGE_NUMBER_LINE = r"[ \t]*\d{1,3}[ \t\r]*"
#: A paragraph gap inside one span can only be a page break that split a paragraph; a footnote
#: or page number that landed in the gap is moved out (it becomes its own excluded unit).
join_page_break_gaps = regex_step(
    rf"[ \t\r]*\n[ \t\r]*\n(?:\s*(?:{_FOOTNOTE_LINE}|{_PAGE_NUMBER_LINE})\n[ \t\r]*\n)*\s*", " ")

#: PDF-to-markdown artefacts: curly quote glyphs extracted as bold "66"/"99", emoji.
drop_junk_tokens = compose(
    regex_step(r"\*\*(?:66|99)\*\*[ \t]?", ""),
    regex_step(r"[\U00010000-\U0010FFFF]", lambda m: "" if unicodedata.category(m.group()) == "So" else m.group()),
)

strip_html = compose(
    regex_step(r"<sup>\s*\d{1,3}\s*</sup>", ""),  # footnote marker
    regex_step(r"<a\b[^>]*>(.*?)</a>", r"\1", re.S),
    regex_step(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>", ""),
    regex_step(r"&(?:[a-zA-Z]{2,8}|#\d{1,6}|#x[0-9a-fA-F]{1,6});", lambda m: html.unescape(m.group())),
)

strip_markdown = compose(
    regex_step(r"^[ \t]*#{1,6}[ \t]+", "", re.M),           # heading hashes
    regex_step(r"^[ \t]*>[ \t]?", "", re.M),                 # block quotes
    regex_step(r"!?\[([^\]\n]*)\]\([^)\n]*\)", r"\1"),      # links and images keep their text
    regex_step(r"\\\*(?=\w)", ""),                            # "\*SLE": glossary marker
    regex_step(r"\\([\\`*_{}\[\]()#+\-.!>|$])", r"\1"),      # other escapes
    regex_step(r"\*\*|__", ""),                               # bold
    # Italic asterisks go, but a grade such as "A*–C" or "A*" keeps its star: a star right
    # after a lone capital letter is part of the text.
    regex_step(r"(?<![A-Za-z])([A-Z])\*|\*", lambda m: m.group(1) + "*" if m.group(1) else ""),
)

remove_footnote_markers = regex_step(rf"(?<=\S)[{SUPERSCRIPT_DIGITS}]+", "")

#: List markers at the start of a unit: "- →", "•", "→", "i.", "a)", "(iv)", "1." ...
_ENUMERATOR = r"\(?(?:[ivx]{1,4}|[a-z]|\d{1,2})[.)][ \t]+(?=\S)"
normalise_bullets = regex_step(
    rf"\A[ \t]*(?:(?:[-–•▪●◦·→][ \t]*)+(?:{_ENUMERATOR})?|{_ENUMERATOR})", "")

#: Unwraps hard-wrapped lines and turns tabs and runs of spaces into one space.
collapse_whitespace = compose(regex_step(r"\s+", " "), regex_step(r"\A | \Z", ""))

STEPS: tuple[Step, ...] = (
    remove_control_characters,
    join_page_break_gaps,
    drop_junk_tokens,
    strip_html,
    strip_markdown,
    remove_footnote_markers,
    normalise_bullets,
    collapse_whitespace,
)
normalise: Step = compose(*STEPS)


def normalise_text(raw: str) -> str:
    """The documented normalisation of a raw slice (see module docstring)."""
    return normalise.text(raw)


def normalise_span(raw: str, start: int, end: int) -> MappedText:
    return normalise(MappedText.from_raw(raw, start, end))


def concat(parts: Iterable[MappedText], *, sep: str = " ") -> MappedText:
    """Join mapped texts; each separator maps to the raw position just after the part before."""
    out = MappedText("", ())
    for part in parts:
        if not part.text:
            continue
        if out.text:
            anchor = out.offsets[-1] + 1
            out = out + MappedText(sep, (anchor,) * len(sep))
        out = out + part
    return out
