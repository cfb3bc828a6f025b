"""Confidence in a claim, modelled on GRADE-CERQual.

CERQual starts every review finding at *high* confidence and lowers it for concerns about four
components. Here each is measured from the corpus, and the grade is shown with its reasons:

- **adequacy** — how much data supports the claim: sentences and reports;
- **coherence** — how consistently the reports say it: how close each report's own sentences of
  the theme sit to the theme as a whole (cosine of the report's centroid to the theme's);
- **relevance** — how widely it applies: the share of the corpus's reports that support it;
- **precision** (standing in for CERQual's methodological limitations: the evidence here is
  machine-extracted) — the share of the theme's quotes analysts accepted in the random-order
  review queue; until at least ``MIN_REVIEWED`` are reviewed it is unknown, a minor concern.

A minor concern counts 1 and a serious one 2; 0 → high, 1 → moderate, 2–3 → low, 4+ → very low.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GRADES = ("high", "moderate", "low", "very low")
NONE, MINOR, SERIOUS = "no or very minor concerns", "minor concerns", "serious concerns"
_POINTS = {NONE: 0, MINOR: 1, SERIOUS: 2}

#: Adequacy: no concern from this many reports and sentences; serious below the lower figures.
ADEQUATE_REPORTS, ADEQUATE_SENTENCES = 3, 10
THIN_SENTENCES = 5
#: Coherence: the lowest cosine of a supporting report's centroid to the theme's.
COHERENT, INCOHERENT = 0.8, 0.65
#: Relevance: share of the corpus's reports.
WIDE, NARROW = 0.5, 0.25
#: Precision: decisions needed before it is judged, and the accepted shares.
MIN_REVIEWED = 5
PRECISE, IMPRECISE = 0.8, 0.6


@dataclass(frozen=True)
class Evidence:
    """What a claim's confidence is judged on."""
    sentences: int
    reports: int
    total_reports: int
    report_coherence: float | None       # lowest cosine of a report's centroid to the theme's (None: one report)
    reviewed: int = 0                    # random-queue decisions on the theme's quotes
    accepted: int = 0


@dataclass
class Confidence:
    grade: str
    reasons: list[str] = field(default_factory=list)


def _adequacy(e: Evidence) -> tuple[str, str]:
    level = (NONE if e.reports >= ADEQUATE_REPORTS and e.sentences >= ADEQUATE_SENTENCES
             else SERIOUS if e.reports == 1 or e.sentences < THIN_SENTENCES else MINOR)
    return level, f"adequacy: {e.sentences} sentences from {e.reports} report{'s' if e.reports != 1 else ''} ({level})"


def _coherence(e: Evidence) -> tuple[str, str]:
    if e.report_coherence is None:
        return MINOR, f"coherence: one report only, consistency across reports cannot be judged ({MINOR})"
    c = e.report_coherence
    level = NONE if c >= COHERENT else MINOR if c >= INCOHERENT else SERIOUS
    return level, f"coherence: every report's sentences within cosine {c:.2f} of the theme ({level})"


def _relevance(e: Evidence) -> tuple[str, str]:
    share = e.reports / e.total_reports if e.total_reports else 0.0
    level = NONE if share >= WIDE else MINOR if share >= NARROW else SERIOUS
    return level, f"relevance: {e.reports} of {e.total_reports} reports ({level})"


def _precision(e: Evidence) -> tuple[str, str]:
    if e.reviewed < MIN_REVIEWED:
        return MINOR, (f"precision: {e.reviewed} of its quotes reviewed (fewer than {MIN_REVIEWED}); "
                       f"the tagger's precision on them is unmeasured ({MINOR})")
    p = e.accepted / e.reviewed
    level = NONE if p >= PRECISE else MINOR if p >= IMPRECISE else SERIOUS
    return level, f"precision: analysts accepted {e.accepted} of {e.reviewed} reviewed quotes ({p:.0%}; {level})"


def grade(e: Evidence) -> Confidence:
    judged = [_adequacy(e), _coherence(e), _relevance(e), _precision(e)]
    points = sum(_POINTS[level] for level, _ in judged)
    g = GRADES[0] if points == 0 else GRADES[1] if points == 1 else GRADES[2] if points <= 3 else GRADES[3]
    return Confidence(g, [reason for _, reason in judged])
