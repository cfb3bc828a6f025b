"""Stable theme identities across runs.

After re-clustering, each new theme is matched to the previous run's themes of its category by
member overlap (Jaccard on span ids) and centroid similarity, so a theme keeps its id and label
when the corpus grows. What happened to every theme is recorded: kept (grown / shrunk /
unchanged), new, merged (two old themes now one), split (one old theme now several), retired.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: A new theme continues an old one when they share at least this share of members (Jaccard) …
MIN_JACCARD = 0.3
#: … or, when members changed wholesale (e.g. a report was replaced), their centroids are this close.
MIN_CENTROID = 0.92
#: Share of an old theme's members that must land in one new theme to call it merged/split there.
MOSTLY = 0.5


@dataclass
class PreviousTheme:
    theme_id: str
    label: str
    members: set[str]
    centroid: np.ndarray


@dataclass
class NewTheme:
    members: set[str]
    centroid: np.ndarray


@dataclass
class Matching:
    ids: list[str]                      # theme id per new theme (kept or freshly numbered)
    labels: list[str | None]            # the kept label per new theme (None: a new theme names itself)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, theme_id, detail)


def match_themes(category: str, previous: list[PreviousTheme], current: list[NewTheme]) -> Matching:
    """Give each current theme an id: its predecessor's if it has one, else the next free number."""
    pairs = []
    for i, new in enumerate(current):
        for j, old in enumerate(previous):
            jaccard = len(new.members & old.members) / (len(new.members | old.members) or 1)
            cosine = float(np.dot(new.centroid, old.centroid))
            if jaccard >= MIN_JACCARD or cosine >= MIN_CENTROID:
                # Overlap first; centroid similarity decides between equal overlaps.
                pairs.append((round(jaccard, 6), round(cosine, 6), -i, -j))
    pairs.sort(reverse=True)
    taken_new: dict[int, int] = {}
    taken_old: set[int] = set()
    for _, _, mi, mj in pairs:
        i, j = -mi, -mj
        if i not in taken_new and j not in taken_old:
            taken_new[i] = j
            taken_old.add(j)

    used = {t.theme_id for t in previous}
    next_number = 1 + max((_number(t) for t in used), default=0)
    ids: list[str] = []
    labels: list[str | None] = []
    events: list[tuple[str, str, str]] = []
    for i, new in enumerate(current):
        if i in taken_new:
            old = previous[taken_new[i]]
            ids.append(old.theme_id)
            labels.append(old.label)
            events.append(kept_event(old.theme_id, len(old.members), len(new.members)))
        else:
            theme_id = f"{category}-{next_number:02d}"
            next_number += 1
            ids.append(theme_id)
            labels.append(None)
            source = _mostly_from(new, previous)
            if source is not None and previous.index(source) in taken_old:
                events.append(("theme_split", theme_id, f"split from {source.theme_id}"))
            else:
                events.append(("theme_new", theme_id, f"{len(new.members)} sentences"))
    for j, old in enumerate(previous):
        if j in taken_old:
            continue
        target = _mostly_into(old, current)
        if target is not None and target in taken_new:
            events.append(("theme_merged", old.theme_id, f"merged into {ids[target]}"))
        else:
            events.append(("theme_retired", old.theme_id, f"{len(old.members)} sentences"))
    return Matching(ids, labels, events)


def kept_event(theme_id: str, before: int, after: int) -> tuple[str, str, str]:
    """A continuing theme's event: grown, shrunk or unchanged, with its sizes."""
    kind = "theme_grown" if after > before else "theme_shrunk" if after < before else "theme_unchanged"
    return kind, theme_id, f"{before} → {after} sentences"


def _number(theme_id: str) -> int:
    try:
        return int(theme_id.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def _mostly_from(new: NewTheme, previous: list[PreviousTheme]) -> PreviousTheme | None:
    best = max(previous, key=lambda old: len(new.members & old.members), default=None)
    if best is not None and len(new.members & best.members) >= MOSTLY * len(new.members):
        return best
    return None


def _mostly_into(old: PreviousTheme, current: list[NewTheme]) -> int | None:
    if not current:
        return None
    best = max(range(len(current)), key=lambda i: len(old.members & current[i].members))
    return best if len(old.members & current[best].members) >= MOSTLY * len(old.members) else None
