"""The evidence gap map: named themes × reports, each cell shaded by how many of the report's
sentences are evidence of the theme, with the theme's confidence beside it; frame themes no
report gives evidence of are rows of empty cells (the gaps). And the chart a researcher reads at
a glance: per category, every named theme as a dot placed by how many reports support it and
coloured by its confidence. Pure reads of the store; the HTML report and the web app draw them."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..categories import CATEGORIES
from .confidence import GRADES
from .table import CLAIMING_KINDS

if TYPE_CHECKING:   # the themes package imports evidence; only the type is needed here
    from ..themes.frame import Frame

#: Cell shading: the lowest sentence count of each level (level 0 is no evidence). Fixed bands,
#: not quantiles, so a legend can say what a shade means and two runs' maps compare.
SHADE_BANDS = (1, 3, 6, 16)
SHADE_LABELS = ("none", "1–2", "3–5", "6–15", "16+")
#: Grade colours (ColorBrewer RdYlGn, colour-blind safer than red/green alone; every grade is
#: also written out in words wherever its colour is shown).
GRADE_COLOURS = {"high": "#1a9850", "moderate": "#a6d96a", "low": "#fdae61", "very low": "#d73027"}
UNGRADED_COLOUR = "#bdbdbd"


def shade(n: int) -> int:
    """The shading level (0–4) of a cell with ``n`` sentences."""
    return sum(n >= band for band in SHADE_BANDS)


@dataclass(frozen=True)
class Cell:
    doc_id: str
    n: int                  # evidence sentences of the theme from this report
    supporting: bool        # the report counts towards the claim (a confident assignment)
    level: int


@dataclass
class GapRow:
    theme_id: str
    category: str
    kind: str
    label: str
    confidence: str | None   # None: no claim (no evidence)
    n_sentences: int
    n_reports: int
    cells: list[Cell] = field(default_factory=list)

    @property
    def colour(self) -> str:
        return GRADE_COLOURS.get(self.confidence or "", UNGRADED_COLOUR)


@dataclass
class GapMap:
    reports: list[dict]                 # doc_id, path, citation — the columns
    rows: list[GapRow]                  # named themes, by category, then most-supported first
    unnamed: int                        # clusters left out: no name, no claim
    legend: list[tuple[int, str]] = field(default_factory=lambda: list(enumerate(SHADE_LABELS)))

    def by_category(self) -> list[tuple[str, list[GapRow]]]:
        return [(c, [r for r in self.rows if r.category == c]) for c in CATEGORIES]

    @property
    def gaps(self) -> int:
        """Frame themes no report gives evidence of."""
        return sum(1 for r in self.rows if not r.n_sentences)


def build_gap_map(con: sqlite3.Connection, *, frame: "Frame | None" = None) -> GapMap:
    """The gap map of the store's current themes and evidence. With ``frame``, its themes that
    have no evidence (and were not merged into another theme by an analyst) are rows too."""
    reports = [dict(r) for r in con.execute(
        "SELECT doc_id, path, COALESCE(citation, file_name) AS citation FROM documents WHERE status = 'ok'"
        " ORDER BY citation, path")]
    themes = con.execute("SELECT theme_id, category, kind, label, confidence, n_sentences, n_reports, supporting"
                         " FROM themes").fetchall()
    counts: dict[tuple[str, str], int] = {}
    for theme_id, doc_id, n in con.execute("SELECT theme_id, doc_id, COUNT(*) FROM evidence GROUP BY theme_id, doc_id"):
        counts[(theme_id, doc_id)] = n
    rows, unnamed = [], 0
    for t in themes:
        if t["kind"] not in CLAIMING_KINDS:
            unnamed += 1
            continue
        supporting = set(json.loads(t["supporting"] or "[]"))
        cells = [Cell(r["doc_id"], counts.get((t["theme_id"], r["doc_id"]), 0), r["citation"] in supporting,
                      shade(counts.get((t["theme_id"], r["doc_id"]), 0))) for r in reports]
        rows.append(GapRow(t["theme_id"], t["category"], t["kind"], t["label"], t["confidence"], t["n_sentences"],
                           t["n_reports"] or 0, cells))
    if frame is not None:
        present = {t["theme_id"] for t in themes}
        merged_away = {r[0] for r in con.execute("SELECT theme_id FROM theme_edits WHERE action = 'merge'")}
        rows += [GapRow(f.theme_id, f.category, "frame", f.name, None, 0, 0,
                        [Cell(r["doc_id"], 0, False, 0) for r in reports])
                 for f in frame.themes if f.theme_id not in present | merged_away]
    rows.sort(key=lambda r: (CATEGORIES.index(r.category), -r.n_reports, -r.n_sentences, r.label.lower()))
    return GapMap(reports, rows, unnamed)


@dataclass(frozen=True)
class Dot:
    theme_id: str
    label: str
    confidence: str
    colour: str
    x: float
    y: float


def support_chart(gap_map: GapMap, *, column: int = 150, dot: int = 13, per_line: int = 10,
                  label_width: int = 90) -> dict:
    """Geometry of an inline SVG: one row per category, one column per number of supporting
    reports (1 … all), a dot per named theme coloured by its confidence. Computed here so the
    templates stay declarative."""
    total = max(1, len(gap_map.reports))
    bands, y, dots = [], 30, []
    for category, rows in gap_map.by_category():
        claimed = [r for r in rows if r.n_sentences and r.confidence]
        lines = 1
        for k in range(1, total + 1):
            here = [r for r in claimed if min(r.n_reports, total) == k]
            here.sort(key=lambda r: GRADES.index(r.confidence) if r.confidence in GRADES else len(GRADES))
            for i, r in enumerate(here):
                dots.append(Dot(r.theme_id, r.label, r.confidence or "not graded", r.colour,
                                label_width + (k - 1) * column + 8 + (i % per_line) * dot,
                                y + 4 + (i // per_line) * dot))
            lines = max(lines, -(-len(here) // per_line))
        height = lines * dot + 10
        bands.append({"category": category, "y": y, "height": height, "n": len(claimed)})
        y += height
    columns = [{"k": k, "x": label_width + (k - 1) * column} for k in range(1, total + 1)]
    return {"width": label_width + total * column + 10, "height": y + 4, "bands": bands, "columns": columns,
            "dots": dots, "dot": dot - 3, "column": column, "total": total,
            "grades": [(g, GRADE_COLOURS[g]) for g in GRADES]}


__all__ = ["Cell", "GapMap", "GapRow", "GRADE_COLOURS", "SHADE_BANDS", "SHADE_LABELS", "build_gap_map", "shade",
           "support_chart"]
