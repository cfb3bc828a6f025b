"""The Python API for notebooks: ``collabmine.open(out_dir)`` gives the store's tables as pandas
DataFrames and the same queries and reviews as the CLI and the web app.

    >>> import collabmine
    >>> cm = collabmine.open("out")
    >>> cm.themes.query("category == 'condition'")[["label", "kind", "n_sentences", "confidence"]]
    >>> cm.query("what makes collaboration sustainable", category="condition", top=5)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import query as _query
from . import review as _review
from .. import store
from ..evidence import claims, evidence_rows
from ..evidence.outputs import read_table


class Collabmine:
    """A read-mostly view of one output folder (its ``collabmine.sqlite``). Every property reads
    the store afresh, so a notebook sees a finished re-run without reopening."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self._con = store.connect(self.out_dir / "collabmine.sqlite", create=False)

    # -- tables --
    @property
    def documents(self) -> pd.DataFrame:
        return read_table(self._con, "documents")

    @property
    def spans(self) -> pd.DataFrame:
        return read_table(self._con, "spans")

    @property
    def tags(self) -> pd.DataFrame:
        """The model's tags (score, method, explanation), before any review."""
        return read_table(self._con, "tags")

    @property
    def labels(self) -> pd.DataFrame:
        """Tags with analysts' decisions applied (``review``: accepted, added or empty) — what
        themes and evidence are built from."""
        return read_table(self._con, "labels")

    @property
    def themes(self) -> pd.DataFrame:
        return read_table(self._con, "themes")

    @property
    def claims(self) -> pd.DataFrame:
        """One row per theme: name, kind, claim, confidence with its reasons, supporting reports,
        first key quote and its citation, counts."""
        return claims(self._con)

    @property
    def evidence(self) -> pd.DataFrame:
        """Every cited sentence: theme, rank, the clean sentence, the verbatim quote, citation, file
        and offsets."""
        return evidence_rows(self._con)

    @property
    def reviews(self) -> pd.DataFrame:
        """The audit log: every review ever made, oldest first."""
        return _review.review_log(self._con)

    @property
    def decisions(self) -> pd.DataFrame:
        """The current decision per (sentence, category)."""
        return _review.decisions(self._con)

    # -- questions --
    def query(self, question: str, *, category: str | None = None, report: str | None = None, top: int = 10,
              mode: str = "hybrid", rerank: bool = True) -> pd.DataFrame:
        """Sentences answering ``question`` (hybrid BM25 + embedding retrieval, its top reordered by
        the cross-encoder unless ``rerank`` is False), with categories, themes, score and citation."""
        return _query.search(self._con, question, category=category, report=report, top=top, mode=mode,
                             reranker="default" if rerank else None)

    def theme(self, theme_id: str) -> tuple[pd.Series, pd.DataFrame]:
        """A theme's row and its evidence (verbatim quotes with citations), best first."""
        themes = self.themes
        match = themes[themes["theme_id"] == theme_id]
        if match.empty:
            from .browse import theme_gone

            raise theme_gone(self._con, theme_id)  # E105 where a run merged or retired it, else E089
        rows = self.evidence
        return match.iloc[0], rows[rows["theme_id"] == theme_id].reset_index(drop=True)

    def progress(self) -> pd.DataFrame:
        """Review progress and the model's measured precision per category."""
        return pd.DataFrame([{"category": p.category, "model_tags": p.model_tags, "reviewed": p.reviewed,
                              "accepted": p.accepted, "rejected": p.rejected, "added": p.added,
                              "precision": p.precision, "interval": p.interval}
                             for p in _review.progress(self._con)])

    # -- decisions --
    def review(self, span_id: str, action: str, *, reviewer: str, category: str | None = None,
               theme_id: str | None = None, comment: str | None = None) -> int:
        """Record a decision (accept, reject, move, comment); applied on the next run."""
        return _review.record_review(self._con, span_id=span_id, action=action, reviewer=reviewer,
                                     category=category, theme_id=theme_id, comment=comment)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "Collabmine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"collabmine.open({str(self.out_dir)!r})"


def open(out_dir: str | Path = "out") -> Collabmine:  # noqa: A001 - the name researchers expect
    """Open an output folder written by ``collabmine run``."""
    return Collabmine(out_dir)
