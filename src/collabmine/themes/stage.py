"""The themes stage over the store: fit each category's tagged sentences into frame and
emergent themes, name the emergent ones, keep theme ids across runs, write ``themes`` and
``theme_members`` and save the fitted models under ``OUT/themes/``. Claims and their confidence
are the evidence stage's (they depend on analysts' reviews too)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import store
from ..categories import CATEGORIES
from ..embed import DIM, MODEL_NAME, Embedder, default_embedder, embed_cached
from ..settings import Settings
from ..versions import digest, stage_code
from .fit import CategoryThemes, Theme, ThemeParams, citation_names, fit_category, place_nearest, save_model, stop_words
from .frame import Frame, default_frame
from .identity import NewTheme, PreviousTheme, kept_event, match_themes
from .naming import GENERIC_NAME_WORDS, name_themes


def corpus_names(con) -> set[str]:
    """Author and cited surnames in the corpus (never theme words)."""
    texts = [r[0] for r in con.execute("SELECT text FROM spans")]
    references = [r[0] for r in con.execute(
        "SELECT text FROM spans WHERE exclude_reason IN ('references', 'further_reading', 'endnotes', 'footnote')")]
    authors = [a for (raw,) in con.execute("SELECT authors FROM documents WHERE authors IS NOT NULL")
               for a in json.loads(raw or "[]")]
    return citation_names(texts, references, texts, authors)


def themes_dir(settings: Settings) -> Path:
    return settings.out_dir / "themes"


@dataclass
class ThemesOutcome:
    results: dict[str, CategoryThemes]   # empty when skipped
    events: list[tuple[str, str, str]]   # (kind, theme_id, detail): new, grown, shrunk, merged, split, retired
    skipped: bool                        # inputs unchanged since the themes in the store were built
    counts: dict[str, int]               # themes per category
    refitted: list[str] = field(default_factory=list)   # categories clustered afresh this time
    placed: int = 0                      # new sentences placed in the existing themes of the others


def themes_input_hash(rows, params: ThemeParams, embedder_name: str, moves: list[tuple] = (),
                      frame: Frame | None = None) -> str:
    return digest({"tags": [(r["span_id"], r["category"]) for r in rows], "params": asdict(params),
                   "code": stage_code("themes"), "embedder": embedder_name, "moves": [list(m) for m in moves],
                   "frame": (frame or default_frame()).sha256})


def fit_key(params: ThemeParams, embedder_name: str, frame: Frame | None = None) -> str:
    """What a fit depends on besides its sentences: a change here refits every category."""
    return digest({"params": asdict(params), "code": stage_code("themes"), "embedder": embedder_name,
                   "frame": (frame or default_frame()).sha256})


def reuse_fit(con, category: str, cat_rows, vectors: np.ndarray, key: str, params: ThemeParams,
              frame: Frame) -> CategoryThemes | None:
    """The stored themes of ``category`` with its new sentences placed by nearest centroid — or
    None when the last fit no longer stands: another fit key, or more than
    ``params.refit_fraction`` of the fit's size outside it (new since the fit, or gone from it).
    The result's ``fit_set`` is the sentences that were in the category when it was fitted."""
    if store.get_state(con, f"themes_fit:{category}") != key:
        return None
    previous = con.execute("SELECT span_id, theme_id, similarity, fitted FROM theme_members WHERE category=?",
                           (category,)).fetchall()
    fitted = {r["span_id"] for r in previous if r["fitted"]}
    index_of = {r["span_id"]: i for i, r in enumerate(cat_rows)}
    kept = sorted(index_of[span] for span in fitted if span in index_of)
    drift = (len(cat_rows) - len(kept)) + (len(fitted) - len(kept))
    if not fitted or drift > params.refit_fraction * len(fitted):
        return None
    members: dict[str, list[tuple[int, float]]] = {}
    outliers, placed = [], set()
    for r in previous:
        i = index_of.get(r["span_id"])
        if i is None:
            continue  # no longer in this category (report changed or removed, label rejected)
        placed.add(i)
        if r["theme_id"] is None:
            outliers.append(i)
        else:
            members.setdefault(r["theme_id"], []).append((i, r["similarity"]))
    themes = []
    frame_themes = {t.theme_id: t for t in frame.of(category)}
    for t in con.execute("SELECT theme_id, topic, label, keywords, centroid FROM themes WHERE category=? "
                         "ORDER BY topic, theme_id", (category,)):
        pairs = sorted(members.get(t["theme_id"], []))
        themes.append(Theme(category, t["topic"], t["label"], json.loads(t["keywords"]), [i for i, _ in pairs],
                            [s for _, s in pairs], np.frombuffer(t["centroid"], dtype=np.float32).copy(),
                            frame_themes.get(t["theme_id"])))
    new = [i for i in range(len(cat_rows)) if i not in placed]
    result = CategoryThemes(category, themes, sorted(outliers), len(cat_rows), {"placed": len(new)}, fit_set=kept)
    place_nearest(result, new, vectors, threshold=params.outlier_threshold)
    return result


def previous_themes(con) -> dict[str, list[PreviousTheme]]:
    """The stored emergent themes per category (frame themes need no matching: their id is fixed)."""
    members: dict[str, set[str]] = {}
    for span_id, theme_id in con.execute("SELECT span_id, theme_id FROM theme_members WHERE theme_id IS NOT NULL"):
        members.setdefault(theme_id, set()).add(span_id)
    out: dict[str, list[PreviousTheme]] = {}
    for r in con.execute("SELECT theme_id, category, label, centroid FROM themes WHERE kind='emergent' ORDER BY theme_id"):
        out.setdefault(r["category"], []).append(PreviousTheme(
            r["theme_id"], r["label"], members.get(r["theme_id"], set()), np.frombuffer(r["centroid"], dtype=np.float32)))
    return out


def frame_events(previous: dict[str, int], current: dict[str, int]) -> list[tuple[str, str, str]]:
    """What happened to each frame theme (id -> sentences, before and now): its id never changes,
    so it is new, retired, grown, shrunk or unchanged."""
    events = []
    for theme_id in sorted(set(previous) | set(current)):
        old, new = previous.get(theme_id), current.get(theme_id)
        if old is None:
            events.append(("theme_new", theme_id, f"{new} sentences"))
        elif new is None:
            events.append(("theme_retired", theme_id, f"{old} sentences"))
        else:
            events.append(kept_event(theme_id, old, new))
    return events


@dataclass
class Identity:
    ids: list[str]                      # per theme, in order
    kept_labels: list[str | None]       # per theme: the name of the previous theme it continues
    events: list[tuple[str, str, str]]


def theme_ids(category: str, themes: list[Theme], before: list[PreviousTheme], span_ids: list[str]) -> Identity:
    """Ids for a category's themes (in order): a frame theme's is fixed; an emergent theme keeps
    the id (and name) of the previous emergent theme it continues."""
    emergent = [t for t in themes if t.frame is None]
    matching = match_themes(category, before, [NewTheme({span_ids[i] for i in t.members}, t.centroid) for t in emergent])
    ids, labels = iter(matching.ids), iter(matching.labels)
    pairs = [(t.frame.theme_id, None) if t.frame else (next(ids), next(labels)) for t in themes]
    return Identity([p[0] for p in pairs], [p[1] for p in pairs], matching.events)


def name_emergent(themes: list[Theme], texts: list[str], *, embedding_model, banned: set[str],
                  kept: list[str | None] | None = None) -> None:
    """Name each emergent theme by a noun phrase of its own sentences (``naming``), unique in the
    category. Frame names are taken first, then the names continuing themes keep (``kept``, per
    theme: a researcher's theme does not change its name because a report was added — unless the
    name is an old keyword list). A theme with no candidate is named by its most distinctive
    keyword."""
    kept = kept or [None] * len(themes)
    taken = {t.label.lower() for t in themes if t.frame is not None}
    for theme, label in zip(themes, kept):
        if theme.frame is None and label and ", " not in label and label.lower() not in taken:
            theme.label = label
            taken.add(label.lower())
    emergent = [t for t, label in zip(themes, kept) if t.frame is None and t.label.lower() not in taken]
    if not emergent or embedding_model is None:
        return
    ordered = [[texts[i] for _, i in sorted(zip(t.similarities, t.members), key=lambda p: (-p[0], p[1]))]
               for t in emergent]
    names = name_themes(ordered, np.stack([t.centroid for t in emergent]), embedding_model=embedding_model,
                        taken=sorted(taken), banned=banned)
    used = taken | {n.lower() for n in names if n}
    for theme, name in zip(emergent, names):
        if not name:
            # No noun phrase qualified: its most distinctive keyword, as a name (never a list).
            name = next((k[0].upper() + k[1:] for k in theme.keywords
                         if k.lower() not in used and k.lower() not in GENERIC_NAME_WORDS), None)
            used.add((name or "").lower())
        if name:
            theme.label = name


def build_themes(settings: Settings, *, embedder: Embedder | None = None, params: ThemeParams = ThemeParams(),
                 force: bool = False, frame: Frame | None = None) -> ThemesOutcome:
    """Fit one theme model per category (the frame's themes first, then clustering) and write
    the results to the store. Frame themes have fixed ids; emergent themes keep the ids of the
    previous run's themes they continue. Nothing is fitted (and no model is loaded) when the
    tagged sentences are those the stored themes were built from; a category whose last fit
    still stands (``reuse_fit``) only has its new sentences placed."""
    frame = frame or default_frame()
    con = store.connect(settings.store_path, create=False)
    try:
        moves = store.theme_moves(con)
        # The inputs' identity from (category, span id) alone: sentences and vectors are read one
        # category at a time below, so memory holds one category's, not the corpus's.
        input_hash = themes_input_hash(store.tagged_keys(con), params, MODEL_NAME, moves, frame)
        if not force and store.get_state(con, "themes_input") == input_hash:
            counts = dict(con.execute("SELECT category, COUNT(*) FROM themes GROUP BY category").fetchall())
            return ThemesOutcome({}, [], True, {c: counts.get(c, 0) for c in CATEGORIES})
        embedder = embedder or default_embedder()
        model = getattr(embedder, "model", None)   # zero-shot and naming embed with it
        key = fit_key(params, embedder.name, frame)
        names = None  # the corpus's names are only needed when a category is refitted
        before = previous_themes(con)
        frame_before = {r["theme_id"]: r["n_sentences"] for r in con.execute(
            "SELECT theme_id, n_sentences FROM themes WHERE kind='frame'")}
        results: dict[str, CategoryThemes] = {}
        theme_rows, member_rows, events, refitted, placed_new = [], [], [], [], 0
        for category in CATEGORIES:
            cat_rows = store.tagged_spans(con, category=category)  # reviewed labels over model labels
            texts = [r["text"] for r in cat_rows]
            vectors = (embed_cached(texts, embedder=embedder, con=con) if cat_rows
                       else np.zeros((0, DIM), dtype=np.float32))
            result = None if force else reuse_fit(con, category, cat_rows, vectors, key, params, frame)
            if result is None:
                names = names if names is not None else corpus_names(con)
                result = fit_category(category, texts, vectors, stop=stop_words(names), embedding_model=model,
                                      params=params, frame=frame.of(category))
                save_model(result, themes_dir(settings) / category, embedder_name=embedder.name)
                result.model = None  # saved under OUT/themes/; four fitted models need not stay in memory
                refitted.append(category)
            else:
                placed_new += result.params["placed"]
            # fitted=1: in the category when it was last fitted (clustered, or assigned above the
            # sample cap in that fit); 0: placed by a later run. The drift check counts the 0s.
            in_fit = None if category in refitted else set(result.fit_set)
            results[category] = result
            ordered = sorted(result.themes, key=lambda t: (t.frame is None, -len(t.members), t.topic))
            identity = theme_ids(category, ordered, before.get(category, []), [r["span_id"] for r in cat_rows])
            ids = identity.ids
            events += identity.events
            if category in refitted:
                name_emergent(ordered, texts, embedding_model=model, banned=names,
                              kept=identity.kept_labels)
            placed = _apply_moves(ordered, ids, [r["span_id"] for r in cat_rows], vectors,
                                  {span: theme for span, cat, theme in moves if cat == category}, result.outliers)
            for theme, theme_id, (member_index, similarities) in zip(ordered, ids, placed.themes):
                theme.members, theme.similarities = member_index, similarities
                if not member_index:
                    continue  # every sentence moved elsewhere by analysts
                members = [cat_rows[i] for i in member_index]
                n_reports = len({m["doc_id"] for m in members})
                best = max(zip(similarities, members), key=lambda p: (p[0], -_order(p[1])))[1]
                theme_rows.append({
                    "theme_id": theme_id, "category": category, "topic": theme.topic, "label": theme.label,
                    "kind": theme.kind, "description": theme.frame.description if theme.frame else None,
                    # The claim, its confidence and key quotes are the evidence stage's.
                    "keywords": theme.keywords, "claim": "",
                    "n_sentences": len(members), "n_reports": n_reports, "single_report": int(n_reports == 1),
                    "representative_span_id": best["span_id"], "centroid": theme.centroid.tobytes(),
                })
                member_rows += [(cat_rows[i]["span_id"], category, theme_id, s, int(in_fit is None or i in in_fit))
                                for i, s in zip(member_index, similarities)]
            member_rows += [(cat_rows[i]["span_id"], category, None, None, int(in_fit is None or i in in_fit))
                            for i in placed.outliers]
        events += frame_events(frame_before, {t["theme_id"]: t["n_sentences"] for t in theme_rows if t["kind"] == "frame"})
        store.write_themes(con, theme_rows, member_rows, input_hash=input_hash,
                           fit_keys={c: key for c in refitted})
        counts = {c: sum(t["category"] == c for t in theme_rows) for c in CATEGORIES}
        return ThemesOutcome(results, events, False, counts, refitted, placed_new)
    finally:
        con.close()


@dataclass
class Placement:
    themes: list[tuple[list[int], list[float]]]   # per theme: member indices, similarity to its centroid
    outliers: list[int]


def _apply_moves(themes, theme_ids: list[str], span_ids: list[str], vectors: np.ndarray, moves: dict[str, str],
                 outliers: list[int]) -> Placement:
    """Memberships after analysts' moves: a moved sentence joins the theme it was moved to (if
    that theme still exists in this fit), with its similarity to that theme's centroid."""
    target = {theme_id: k for k, theme_id in enumerate(theme_ids)}
    moved = {i: target[moves[span]] for i, span in enumerate(span_ids) if moves.get(span) in target}
    placed: list[tuple[list[int], list[float]]] = []
    for k, theme in enumerate(themes):
        kept = [(i, s) for i, s in zip(theme.members, theme.similarities) if moved.get(i, k) == k]
        placed.append(([i for i, _ in kept], [s for _, s in kept]))
    for i, k in sorted(moved.items()):
        if i not in placed[k][0]:
            centroid = themes[k].centroid
            similarity = float(vectors[i] @ centroid / ((np.linalg.norm(vectors[i]) * np.linalg.norm(centroid)) or 1.0))
            placed[k][0].append(i)
            placed[k][1].append(similarity)
    return Placement(placed, [i for i in outliers if i not in moved])


def _order(row) -> int:
    # Ties in similarity go to the earlier span id, so the choice never depends on dict order.
    return int(row["span_id"], 16)
