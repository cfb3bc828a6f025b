"""The analytic frame: the codebook's named factors per category, as themes with a name and a
one-line description (``frame.toml``, versioned). Framework analysis starts from it; clustering
then finds what it lacks."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..categories import CATEGORIES
from ..errors import DataError, Errors

FRAME_FILE = Path(__file__).with_name("frame.toml")
_KEY = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class FrameTheme:
    category: str
    key: str             # stable: the theme id is "<category>-<key>" for good
    name: str
    description: str
    since: str = "1"     # the frame version that added it (a later key is `other` in earlier terms)
    #: Sentences of the kind reports write that are evidence of the theme, written from its
    #: definition (never from the coded or measured data): the assignment model learns from them
    #: as from coded sentences, so a report it has never seen is met with more than one line.
    examples: tuple[str, ...] = ()

    @property
    def theme_id(self) -> str:
        return f"{self.category}-{self.key}"

    @property
    def query(self) -> str:
        """What sentences are compared with: name and description together (measured on the
        bundled corpus, the description alone or with its name matches sentences far better than a
        two-word name: median best cosine 0.45 against 0.37)."""
        return query_text(self.name, self.description)


def query_text(name: str, description: str) -> str:
    """A theme's name and description as one text. One format for the model, for the vectors
    shipped with it and for search: a text written differently would miss the shipped vectors."""
    return f"{name}: {description}"


@dataclass(frozen=True)
class Frame:
    version: str
    themes: tuple[FrameTheme, ...]
    sha256: str

    def of(self, category: str) -> list[FrameTheme]:
        return [t for t in self.themes if t.category == category]

    def as_of(self, version: int) -> "Frame":
        """The frame as it stood at ``version`` (the themes added by then)."""
        return Frame(str(version), tuple(t for t in self.themes if int(t.since) <= version), f"{self.sha256}@{version}")


def load_frame(path: Path = FRAME_FILE) -> Frame:
    """The frame in ``path``; a coded error names the file and what is wrong."""
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError as exc:
        raise DataError(Errors.E053.format(path=path, problem="the file does not exist")) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(Errors.E053.format(path=path, problem=f"not valid TOML ({exc})")) from exc
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise DataError(Errors.E053.format(path=path, problem='no `version = "..."` line'))
    unknown = sorted(set(data) - set(CATEGORIES) - {"version"})
    if unknown:
        raise DataError(Errors.E053.format(path=path, problem=f"unknown category {unknown[0]!r}; "
                                           f"use {', '.join(CATEGORIES)}"))
    themes, seen = [], set()
    for category in CATEGORIES:
        for n, entry in enumerate(data.get(category, []), start=1):
            where = f"[[{category}]] entry {n}"
            if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry.get(k).strip()
                                                      for k in ("key", "name", "description")):
                raise DataError(Errors.E053.format(path=path, problem=f"{where} needs key, name and description"))
            if not _KEY.match(entry["key"]):
                raise DataError(Errors.E053.format(path=path, problem=f"{where}: key {entry['key']!r} must be "
                                                   "lower-case words joined by '-'"))
            since = str(entry.get("since", "1"))
            if not since.isdigit():
                raise DataError(Errors.E053.format(path=path, problem=f"{where}: since = {since!r} must be a version number"))
            examples = entry.get("examples", [])
            if not isinstance(examples, list) or not all(isinstance(x, str) and x.strip() for x in examples):
                raise DataError(Errors.E053.format(path=path, problem=f"{where}: examples must be a list of sentences"))
            theme = FrameTheme(category, entry["key"], entry["name"].strip(), entry["description"].strip(), since,
                               tuple(x.strip() for x in examples))
            if theme.theme_id in seen or any(t.category == category and t.name.lower() == theme.name.lower()
                                             for t in themes):
                raise DataError(Errors.E053.format(path=path, problem=f"{where} repeats a key or name of {category}"))
            seen.add(theme.theme_id)
            themes.append(theme)
    return Frame(version, tuple(themes), hashlib.sha256(raw).hexdigest()[:16])


@lru_cache(maxsize=1)
def default_frame() -> Frame:
    return load_frame(FRAME_FILE)
