"""Confidence in a claim, modelled on GRADE-CERQual.

CERQual starts every review finding at *high* confidence and lowers it for concerns about four
components. Here each is measured from the corpus, and the grade is shown with its reasons:

- **adequacy** — how much data supports the claim: sentences and reports;
- **coherence** — how consistently the reports say it: how close each report's own sentences of
  the theme sit to the theme as a whole (cosine of the report's centroid to the theme's);
- **relevance** — how widely it applies: the share of the corpus's reports that support it;
- **precision** (standing in for CERQual's methodological limitations: the evidence here is
  machine-extracted) — the share of the theme's quotes analysts accepted in the random-order
  review queue; until at least ``MIN_REVIEWED`` are reviewed it is unknown, a minor concern that
  is shown once as a status ("not yet reviewed", ``NOT_REVIEWED``) rather than on every claim.

Each reason is plain words first, then its measure, then the CERQual level in brackets.

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
    #: All the theme's sentences, when ``sentences`` counts only those confidently in it (a frame
    #: theme's members the assignment model is unsure of do not add to its support).
    members: int | None = None


@dataclass
class Confidence:
    grade: str
    reasons: list[str] = field(default_factory=list)


def _adequacy(e: Evidence) -> tuple[str, str]:
    level = (NONE if e.reports >= ADEQUATE_REPORTS and e.sentences >= ADEQUATE_SENTENCES
             else SERIOUS if e.reports == 1 or e.sentences < THIN_SENTENCES else MINOR)
    said = {NONE: "enough to go on", MINOR: "some, but thin", SERIOUS: "too little to be sure"}[level]
    # The theme's page shows all its sentences; say which ones the claim counts, or the two
    # numbers read as a contradiction ("32 sentences" above, "27 sentences" here).
    counted = (f"{e.sentences} of its {e.members} sentences confidently in the theme"
               if e.members is not None and e.members != e.sentences
               else f"{e.sentences} sentence{'s' if e.sentences != 1 else ''}")
    return level, (f"adequacy: {counted}, from {e.reports} report{'s' if e.reports != 1 else ''} — {said} ({level})")


def _coherence(e: Evidence) -> tuple[str, str]:
    if e.report_coherence is None:
        return MINOR, f"coherence: only one report, so whether reports agree cannot be judged ({MINOR})"
    c = e.report_coherence
    level = NONE if c >= COHERENT else MINOR if c >= INCOHERENT else SERIOUS
    said = {NONE: "the reports say much the same thing", MINOR: "the reports say it in somewhat different ways",
            SERIOUS: "the reports say rather different things under this theme"}[level]
    # The measure stays visible for those who want it, after the plain words.
    return level, f"coherence: {said} (closeness in meaning {c:.2f}; {level})"


def _relevance(e: Evidence) -> tuple[str, str]:
    share = e.reports / e.total_reports if e.total_reports else 0.0
    level = NONE if share >= WIDE else MINOR if share >= NARROW else SERIOUS
    said = {NONE: "found widely", MINOR: "found in some", SERIOUS: "found in few"}[level]
    return level, f"relevance: {said} — {e.reports} of the {e.total_reports} reports ({level})"


def _precision(e: Evidence) -> tuple[str, str | None]:
    """No reason line until analysts have checked enough quotes: "not yet reviewed" is a status the
    reader is told once (``NOT_REVIEWED``), not a concern repeated on every theme — though it still
    counts as a minor concern, so an unreviewed claim is at most moderate."""
    if e.reviewed < MIN_REVIEWED:
        return MINOR, None
    p = e.accepted / e.reviewed
    level = NONE if p >= PRECISE else MINOR if p >= IMPRECISE else SERIOUS
    return level, f"precision: analysts accepted {e.accepted} of the {e.reviewed} quotes they checked ({p:.0%}; {level})"


#: Said once wherever grades are shown, for the claims whose quotes analysts have not yet checked.
NOT_REVIEWED = (f"Until analysts check at least {MIN_REVIEWED} of a theme's quotes, whether the machine picked "
                "the right sentences is unmeasured, so its grade is at most moderate.")


def reviewed(reasons: list[str]) -> bool:
    """Whether a claim's quotes were reviewed enough to judge precision (its reasons say so)."""
    return any(r.startswith("precision:") for r in reasons)


def grade(e: Evidence) -> Confidence:
    judged = [_adequacy(e), _coherence(e), _relevance(e), _precision(e)]
    points = sum(_POINTS[level] for level, _ in judged)
    g = GRADES[0] if points == 0 else GRADES[1] if points == 1 else GRADES[2] if points <= 3 else GRADES[3]
    return Confidence(g, [reason for _, reason in judged if reason])
