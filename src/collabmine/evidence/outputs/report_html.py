"""The self-contained HTML report (no scripts, no external files): the evidence gap map and the
support chart first, then per category the themes with counts and a bar chart of evidence per
report, each theme's claim with its quotes and citations. Jinja2 autoescaping is on, so corpus text always renders as text."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from ...categories import CATEGORIES
from ..confidence import NOT_REVIEWED, reviewed
from ..gapmap import GapMap, support_chart
from ..table import CLAIMING_KINDS

QUOTES_SHOWN = 5
#: Quotes per theme in the report's "more quotes" list. A ×100 corpus put 261,416 quotes (76 MB)
#: into one HTML page, which no browser or reader handles; every quote stays in
#: evidence_rows.csv/.parquet/.xlsx and in the web app.
QUOTES_LISTED = 200
#: Quotes a gap-map cell opens in place (the theme's section lists the rest).
CELL_QUOTES = 3


def _environment() -> Environment:
    return Environment(loader=PackageLoader("collabmine.evidence.outputs", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True))


def bar_chart(counts: list[tuple[str, int]], *, width: int = 420, bar: int = 18, label_width: int = 170) -> dict:
    """Bar geometry for an inline SVG (computed here so the template stays declarative): labels in
    the first ``label_width`` pixels, bars after them, scaled to the largest count."""
    top = max((n for _, n in counts), default=0) or 1
    span = width - 30
    bars = [{"label": name, "n": n, "y": i * (bar + 6), "w": round(span * n / top, 1)}
            for i, (name, n) in enumerate(counts)]
    return {"bars": bars, "height": len(bars) * (bar + 6), "width": label_width + width, "bar": bar, "x": label_width}


def render_report(*, themes: pd.DataFrame, claims: pd.DataFrame, rows: pd.DataFrame, counts: pd.DataFrame,
                  reports: pd.DataFrame, matrix: pd.DataFrame, gap_map: GapMap | None = None,
                  to_check: dict[str, str] | None = None) -> str:
    """The report's HTML. ``rows``: each theme's first ``QUOTES_LISTED`` evidence rows (the report
    lists no more); ``counts``: evidence rows per theme, category and file (``evidence_counts``);
    ``gap_map``: drawn first when given (``build_gap_map``); ``to_check``: path -> the
    ``sources.yaml`` lines of each report cited from inferred metadata (flagged under Sources)."""
    citation_of = dict(zip(reports["path"], reports["citation"]))
    per_theme = counts.groupby("theme_id")["n"].sum()
    categories = []
    for category in CATEGORIES:
        cat_claims = claims[claims["category"] == category]
        cat_rows = rows[rows["category"] == category]
        cat_counts = counts[counts["category"] == category]
        per_report = [(citation_of.get(f, f), int(cat_counts.loc[cat_counts["file"] == f, "n"].sum()))
                      for f in reports["path"]]
        theme_list = []
        for _, claim in cat_claims.iterrows():
            quotes = cat_rows[cat_rows["theme_id"] == claim["theme_id"]].sort_values("rank")
            total = int(per_theme.get(claim["theme_id"], 0))
            theme_list.append({"claim": claim, "keywords": json.loads(claim.get("keywords") or "[]"), "quotes": quotes.head(QUOTES_SHOWN).to_dict("records"),
                               "more": quotes.iloc[QUOTES_SHOWN:QUOTES_LISTED].to_dict("records"),
                               "unlisted": max(0, total - QUOTES_LISTED), "total": total})
        categories.append({"name": category, "themes": theme_list, "chart": bar_chart(per_report),
                           "n_sentences": int(cat_claims["n_sentences"].sum()) if len(cat_claims) else 0})
    cells: dict[tuple[str, str], dict] = {(r["theme_id"], r["file"]): r for r in matrix.to_dict("records")}
    doc_of = dict(zip(reports["path"], reports["doc_id"]))
    cell_quotes: dict[tuple[str, str], list[dict]] = {}
    for q in rows.sort_values("rank").to_dict("records") if len(rows) else []:
        shown = cell_quotes.setdefault((q["theme_id"], doc_of.get(q["file"], q["file"])), [])
        if len(shown) < CELL_QUOTES:
            shown.append(q)
    return _environment().get_template("report.html.j2").render(
        gap=gap_map, chart=support_chart(gap_map) if gap_map else None, cell_quotes=cell_quotes,
        not_reviewed=not_reviewed(claims), not_reviewed_note=NOT_REVIEWED, to_check=to_check or {},
        theme_href=lambda theme_id: f"#{theme_id}",
        categories=categories, reports=_records(reports), themes=themes.to_dict("records"), cells=cells,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        totals={"themes": len(themes), "claims": len(claims), "reports": len(reports),
                "quotes": int(counts["n"].sum())})


def not_reviewed(claims: pd.DataFrame) -> int:
    """Claims whose quotes analysts have not yet checked enough to judge precision."""
    named = claims[claims["kind"].isin(CLAIMING_KINDS)] if len(claims) else claims
    return sum(1 for reasons in named.get("confidence_reasons", []) if not reviewed(list(reasons)))


def _records(frame) -> list[dict]:
    """Rows for the template with missing values as None: pandas' NaN is truthy in Jinja and
    printed "ISBN nan" for a report without one."""
    import pandas as pd

    return [{k: (None if not isinstance(v, (list, dict)) and pd.isna(v) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]
