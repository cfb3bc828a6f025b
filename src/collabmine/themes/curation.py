"""Analysts curate themes: rename a theme, merge one into another, promote an emergent theme
into the frame, dismiss a cluster (moving one sentence is a review: ``explore.review``).

Each edit is appended to ``theme_edits`` (and to ``theme_edits.jsonl`` beside the store, as
reviews are) with the theme's member sentences at the time, and every later run applies it:
to the theme with the same id, or — an emergent theme's id can change when a refit or a
re-added report reshapes it — to the theme of the category sharing most of those members
(at least ``MIN_OVERLAP`` of them). A promoted theme is written to the project's frame file
(``OUT/frame.toml``, a new frame version) and its sentences train the assignment model, which
then finds its sentences in new reports too; so do sentences moved to a frame theme.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import Errors, NotFoundError, ReviewError
from ..settings import Settings
from ..store.backups import THEME_EDIT_FIELDS as _FIELDS
from ..store.backups import THEME_EDITS_LOG as EDITS_LOG
from .assign import OTHER, Example
from .frame import FRAME_FILE, Frame, load_frame

if TYPE_CHECKING:
    from .fit import Theme

ACTIONS = ("rename", "merge", "promote", "dismiss")
#: Share of an edit's recorded members a theme must hold to be the one it names (after its id changed).
MIN_OVERLAP = 0.5
MAX_NAME = 120
MAX_DESCRIPTION = 400


@dataclass(frozen=True)
class Edit:
    edit_id: int
    action: str
    category: str
    theme_id: str
    target_theme_id: str | None
    name: str | None
    description: str | None
    members: frozenset[str]
    reviewer: str

    def key(self) -> tuple:
        return (self.edit_id, self.action, self.theme_id, self.target_theme_id, self.name, self.description)


def frame_path(settings: Settings) -> Path:
    """The project's frame: the shipped one plus promoted themes, once a theme has been promoted."""
    return settings.out_dir / FRAME_FILE.name


def project_frame(settings: Settings) -> Frame:
    return frame_in(settings.out_dir)


def frame_in(out_dir: Path) -> Frame:
    """The frame of the project whose outputs are in ``out_dir`` (see ``frame_path``)."""
    path = out_dir / FRAME_FILE.name
    return load_frame(path if path.exists() else FRAME_FILE)


def edits(con: sqlite3.Connection) -> list[Edit]:
    return [Edit(r["edit_id"], r["action"], r["category"], r["theme_id"], r["target_theme_id"], r["name"],
                 r["description"], frozenset(json.loads(r["members"])), r["reviewer"])
            for r in con.execute("SELECT * FROM theme_edits ORDER BY edit_id")]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _clean(text: str | None, limit: int, what: str) -> str:
    value = " ".join((text or "").split())
    if not value or len(value) > limit:
        raise ReviewError(Errors.E098.format(what=what, limit=limit))
    return value


def record_edit(con: sqlite3.Connection, settings: Settings, *, action: str, theme_id: str, reviewer: str,
                name: str | None = None, description: str | None = None, target_theme_id: str | None = None,
                comment: str | None = None) -> int:
    """Validate and append one theme edit; returns its id. Raises ``ReviewError`` (a code and
    what to do) on anything invalid, and then writes nothing. ``promote`` also writes the
    project's frame file."""
    from ..explore.review import clean_reviewer

    if action not in ACTIONS:
        raise ReviewError(Errors.E081.format(action=action, actions=", ".join(ACTIONS)))
    reviewer = clean_reviewer(reviewer)
    theme = con.execute("SELECT theme_id, category, kind, label FROM themes WHERE theme_id = ?", (theme_id,)).fetchone()
    if theme is None:
        raise NotFoundError(Errors.E089.format(theme_id=theme_id))
    if action == "rename":
        name = _clean(name, MAX_NAME, "a new name")
    elif action == "merge":
        target = con.execute("SELECT category FROM themes WHERE theme_id = ?", (target_theme_id,)).fetchone()
        if target is None or target["category"] != theme["category"] or target_theme_id == theme_id:
            raise ReviewError(Errors.E084.format(theme_id=target_theme_id, category=theme["category"]))
    elif action == "promote":
        if theme["kind"] == "frame":
            raise ReviewError(Errors.E100.format(theme_id=theme_id))
        name = _clean(name or theme["label"], MAX_NAME, "a name")
        description = _clean(description, MAX_DESCRIPTION, "a one-line description")
        target_theme_id = f"{theme['category']}-{_key(name)}"
    members = [r[0] for r in con.execute("SELECT span_id FROM theme_members WHERE theme_id = ? ORDER BY span_id",
                                         (theme_id,))]
    row = {"created": _now(), "reviewer": reviewer, "action": action, "category": theme["category"],
           "theme_id": theme_id, "target_theme_id": target_theme_id if action in ("merge", "promote") else None,
           "name": name if action in ("rename", "promote") else None,
           "description": description if action == "promote" else None,
           "members": json.dumps(members), "comment": (comment or "").strip() or None}
    if action == "promote":
        _write_promoted(settings, theme["category"], target_theme_id.split("-", 1)[1], name, description)
    from ..store import transaction

    with transaction(con):
        cursor = con.execute(f"INSERT INTO theme_edits ({','.join(_FIELDS)}) VALUES ({','.join('?' * len(_FIELDS))})",
                             [row[f] for f in _FIELDS])
    _append_log(con, row)
    return int(cursor.lastrowid)


def _key(name: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", name.lower()))[:60] or "theme"


def _append_log(con: sqlite3.Connection, row: dict) -> None:
    from ..store import backups

    path = backups.store_path_of(con)
    if not path.name:
        return
    backups.append_jsonl(path.parent / EDITS_LOG, [row], _FIELDS)


def _write_promoted(settings: Settings, category: str, key: str, name: str, description: str) -> None:
    """Add the theme to the project's frame file as a new version (written whole, then moved
    into place: a crash leaves the old file)."""
    frame = project_frame(settings)
    if any(t.category == category and (t.key == key or t.name.lower() == name.lower()) for t in frame.themes):
        raise ReviewError(Errors.E101.format(name=name, category=category))
    path = frame_path(settings)
    source = path.read_text(encoding="utf-8") if path.exists() else FRAME_FILE.read_text(encoding="utf-8")
    version = str(int(frame.version) + 1)
    source = re.sub(r'(?m)^version = "[^"]*"', f'version = "{version}"', source, count=1)
    entry = (f'\n[[{category}]]\nkey = {json.dumps(key)}\nname = {json.dumps(name)}\n'
             f'description = {json.dumps(description)}\nsince = "{version}"\n')
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".toml.new")
    staged.write_text(source + entry, encoding="utf-8")
    load_frame(staged)  # never put a frame in place that cannot be read
    staged.replace(path)


# --- applying edits in a run ---------------------------------------------------------------------

def _target(edit: Edit, ids: list[str], themes: list["Theme"], span_ids: list[str]) -> int | None:
    """The theme (index) an edit names now: the same id, else the one holding most of its members."""
    if edit.theme_id in ids:
        return ids.index(edit.theme_id)
    best, share = None, 0.0
    for k, theme in enumerate(themes):
        if theme.frame is not None or not edit.members:
            continue
        held = len(edit.members & {span_ids[i] for i in theme.members}) / len(edit.members)
        if held > share:
            best, share = k, held
    return best if share >= MIN_OVERLAP else None


def apply_edits(category: str, themes: list["Theme"], ids: list[str], kinds: list, span_ids: list[str],
                vectors: np.ndarray, all_edits: list[Edit]):
    """The themes after this category's edits, in the order they were made: a renamed theme
    takes its new name (an unnamed cluster so named becomes an emergent theme); a merged theme's
    sentences join the other; a dismissed cluster is kept apart, with no claim; a promoted theme
    is a frame theme by then (its id is the new frame theme's)."""
    from .stage import Kind

    themes, ids, kinds = list(themes), list(ids), list(kinds)
    for edit in (e for e in all_edits if e.category == category):
        k = _target(edit, ids, themes, span_ids)
        if k is None:
            continue
        if edit.action == "rename":
            themes[k].label = edit.name
            if kinds[k].kind in ("cluster", "dismissed"):
                kinds[k] = Kind("emergent", None, kinds[k].coherence)
        elif edit.action == "dismiss":
            kinds[k] = Kind("dismissed", f"dismissed by {edit.reviewer}", kinds[k].coherence)
        elif edit.action == "merge" and edit.target_theme_id in ids and ids[k] != edit.target_theme_id:
            into = ids.index(edit.target_theme_id)
            unit = themes[into].centroid / (np.linalg.norm(themes[into].centroid) or 1.0)
            for i in themes[k].members:
                if i not in themes[into].members:
                    themes[into].members.append(i)
                    v = vectors[i] / (np.linalg.norm(vectors[i]) or 1.0)
                    themes[into].similarities.append(round(float(v @ unit), 6))
            order = np.argsort(themes[into].members, kind="stable")
            themes[into].members = [themes[into].members[j] for j in order]
            themes[into].similarities = [themes[into].similarities[j] for j in order]
            del themes[k], ids[k], kinds[k]
    return themes, ids, kinds


def merged_into_frame(frame: Frame, all_edits: list[Edit]) -> dict[tuple[str, str], str]:
    """(span id, category) -> frame theme id for every sentence a merge put in a frame theme.

    Merging a cluster into a frame theme says where the sentences the analyst saw belong, so
    they stay there whatever a later refit makes of the cluster (it can dissolve, or its
    sentences go to other themes): a run applies these as moves, after the theme-level merge
    (which brings along the sentences a surviving cluster has gained since). A later merge of
    the same sentence wins; an analyst's move of one sentence wins over both."""
    frame_ids = {t.theme_id: t.category for t in frame.themes}
    out: dict[tuple[str, str], str] = {}
    for edit in all_edits:
        if edit.action == "merge" and frame_ids.get(edit.target_theme_id) == edit.category:
            out.update({(span_id, edit.category): edit.target_theme_id for span_id in sorted(edit.members)})
    return out


def analyst_examples(con: sqlite3.Connection, frame: Frame, moves: list[tuple[str, str, str]],
                     all_edits: list[Edit]) -> list[Example]:
    """Training examples from curation: each sentence moved to a frame theme (one by one, or
    with the cluster an analyst merged into it), and the sentences of each promoted theme
    (under its new key), with their context as a run reads it."""
    frame_ids = {t.theme_id: t for t in frame.themes}
    wanted: dict[tuple[str, str], str] = {}
    for span_id, category, theme_id in moves:
        theme = frame_ids.get(theme_id)
        wanted[(span_id, category)] = theme.key if theme is not None and theme.category == category else OTHER
    for (span_id, category), theme_id in merged_into_frame(frame, all_edits).items():
        wanted.setdefault((span_id, category), frame_ids[theme_id].key)
    for edit in all_edits:
        if edit.action == "promote" and edit.target_theme_id in frame_ids:
            for span_id in sorted(edit.members):
                wanted.setdefault((span_id, edit.category), frame_ids[edit.target_theme_id].key)
    if not wanted:
        return []
    from ..store import PREVIOUS_TEXT_SQL, TAGGABLE_WHERE

    rows = {}
    spans = sorted({s for s, _ in wanted})
    for first in range(0, len(spans), 500):
        chunk = spans[first:first + 500]
        for r in con.execute(f"SELECT s.span_id, s.text, s.section_path, {PREVIOUS_TEXT_SQL} FROM spans s WHERE {TAGGABLE_WHERE}"
                             f" AND s.span_id IN ({','.join('?' * len(chunk))})", chunk):
            rows[r["span_id"]] = r
    out = []
    for (span_id, category), key in sorted(wanted.items()):
        r = rows.get(span_id)
        if r is None:
            continue  # the sentence's report left the corpus; the decision is kept in the log
        path = json.loads(r["section_path"] or "[]")
        out.append(Example(category, key, r["text"], r["previous"] or "", path[-1] if path else "", "", "analyst"))
    return out
