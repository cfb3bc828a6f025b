"""The themes stage over the store: for each category, the assignment model puts every tagged
sentence in the frame theme it is evidence of (``assign``); the sentences it puts in none (the
pool) are clustered, and a cluster earns a name and a claim or stays an unnamed cluster
(``gate``). Theme ids are kept across runs; analysts' moves and theme edits are applied
(``curation``). Writes ``themes`` and ``theme_members`` and saves the fitted models under
``OUT/themes/``. Claims and their confidence are the evidence stage's (they depend on analysts'
reviews too)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import store
from ..categories import CATEGORIES
from ..embed import DIM, Embedder, default_embedder, embed_cached, embed_missing, model_name, seed_cache
from ..settings import Settings
from ..versions import digest, stage_code
from . import assigners, curation, gate
from .assign import Assignment, Inputs
from .fit import (CategoryThemes, Theme, ThemeParams, _theme, _top_words, citation_names, fit_category, place_nearest,
                  save_model, stop_words)
from .frame import Frame, default_frame, query_text
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
                      frame: Frame | None = None, *, assigner_key: str = "", edits: list[tuple] = ()) -> str:
    return digest({"tags": [(r["span_id"], r["category"]) for r in rows], "params": asdict(params),
                   "code": stage_code("themes"), "embedder": embedder_name, "moves": [list(m) for m in moves],
                   "frame": (frame or default_frame()).sha256, "assigner": assigner_key,
                   "edits": [list(e) for e in edits]})


def fit_key(params: ThemeParams, embedder_name: str, frame: Frame | None = None, assigner_key: str = "") -> str:
    """What a fit depends on besides its sentences: a change here refits every category (the
    assignment model decides which sentences are in the pool)."""
    return digest({"params": asdict(params), "code": stage_code("themes"), "embedder": embedder_name,
                   "frame": (frame or default_frame()).sha256, "assigner": assigner_key})


def reuse_fit(con, category: str, cat_rows, pool: list[int], vectors: np.ndarray, key: str,
              params: ThemeParams) -> CategoryThemes | None:
    """The stored clustering of ``category``'s pool (rows ``pool`` of ``cat_rows``) with its new
    sentences placed by nearest centroid — or None when the last fit no longer stands: another
    fit key, or more than ``params.refit_fraction`` of the fit's size outside it (new since the
    fit, or gone from it). Under one fit key the assignment model is the same, so a sentence in
    the pool now was in the pool then. The result's themes are the stored emergent themes and
    clusters (a stored member of a frame theme is a restatement's sentence: it stays there), and
    its ``fit_set`` the pool sentences that were clustered."""
    if store.get_state(con, f"themes_fit:{category}") != key:
        return None
    previous = con.execute("SELECT span_id, theme_id, similarity, probability, fitted FROM theme_members"
                           " WHERE category=?", (category,)).fetchall()
    fitted = {r["span_id"] for r in previous if r["fitted"]}
    in_pool = {cat_rows[i]["span_id"]: i for i in pool}
    kept = sorted(in_pool[span] for span in fitted if span in in_pool)
    drift = (len(pool) - len(kept)) + (len(fitted) - len(kept))
    if not fitted or drift > params.refit_fraction * len(fitted):
        return None
    members: dict[str, list[tuple[int, float]]] = {}
    outliers, placed = [], set()
    for r in previous:
        i = in_pool.get(r["span_id"])
        if i is None:
            continue  # assigned to a frame theme, or no longer in this category
        placed.add(i)
        if r["theme_id"] is None:
            outliers.append(i)
        else:
            members.setdefault(r["theme_id"], []).append((i, r["similarity"]))
    themes, restated = [], {}
    for t in con.execute("SELECT theme_id, topic, label, keywords, centroid, kind FROM themes WHERE category=? "
                         "ORDER BY topic, theme_id", (category,)):
        pairs = sorted(members.pop(t["theme_id"], []))
        if t["kind"] == "frame":
            restated[t["theme_id"]] = pairs   # a restating cluster's sentences, joined to the frame theme
            continue
        themes.append(Theme(category, t["topic"], t["label"], json.loads(t["keywords"]), [i for i, _ in pairs],
                            [s for _, s in pairs], np.frombuffer(t["centroid"], dtype=np.float32).copy()))
    new = [i for i in pool if i not in placed]
    result = CategoryThemes(category, themes, sorted(outliers), len(cat_rows), {"placed": len(new), "restated": restated},
                            fit_set=kept)
    place_nearest(result, new, vectors, threshold=params.outlier_threshold)
    return result


def previous_themes(con) -> dict[str, list[PreviousTheme]]:
    """The stored emergent themes and unnamed clusters per category (frame themes need no
    matching: their id is fixed)."""
    members: dict[str, set[str]] = {}
    for span_id, theme_id in con.execute("SELECT span_id, theme_id FROM theme_members WHERE theme_id IS NOT NULL"):
        members.setdefault(theme_id, set()).add(span_id)
    out: dict[str, list[PreviousTheme]] = {}
    for r in con.execute("SELECT theme_id, category, label, centroid FROM themes WHERE kind IN ('emergent', 'cluster')"
                         " ORDER BY theme_id"):
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
                  kept: list[str | None] | None = None, reserved: list[str] = ()) -> None:
    """Name each emergent theme by a noun phrase of its own sentences (``naming``), unique in the
    category. Frame names are taken first, then the names continuing themes keep (``kept``, per
    theme: a researcher's theme does not change its name because a report was added — unless the
    name is an old keyword list). A theme with no candidate is named by its most distinctive
    keyword."""
    kept = kept or [None] * len(themes)
    taken = {t.label.lower() for t in themes if t.frame is not None} | {r.lower() for r in reserved}
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
    """Assign each category's tagged sentences to frame themes with the assignment model,
    cluster the rest (the pool) into emergent themes and unnamed clusters, apply analysts' moves
    and theme edits, and write the results to the store. Frame themes have fixed ids; emergent
    themes keep the ids of the previous run's themes they continue. Nothing is computed (and no
    model is loaded) when the tagged sentences, decisions and models are those the stored themes
    were built from; a category whose pool clustering still stands (``reuse_fit``) only has its
    new pool sentences placed."""
    frame = frame or curation.project_frame(settings)
    con = store.connect(settings.store_path, create=False)
    try:
        moves = store.theme_moves(con)
        edits = curation.edits(con)
        analyst = curation.analyst_examples(con, frame, moves, edits)
        merged = curation.merged_into_frame(frame, edits)
        assigner_key = assigners.key_for(settings, frame, analyst)
        # The inputs' identity from (category, span id) alone: sentences and vectors are read one
        # category at a time below, so memory holds one category's, not the corpus's.
        input_hash = themes_input_hash(store.tagged_keys(con), params, model_name(), moves, frame,
                                       assigner_key=assigner_key, edits=[e.key() for e in edits])
        if not force and store.get_state(con, "themes_input") == input_hash:
            counts = dict(con.execute("SELECT category, COUNT(*) FROM themes GROUP BY category").fetchall())
            return ThemesOutcome({}, [], True, {c: counts.get(c, 0) for c in CATEGORIES})
        embedder = embedder or default_embedder()

        def representation():
            """The model BERTopic's labels and naming embed words with (only a fit needs it)."""
            return getattr(embedder, "model", None)

        def encode(texts: list[str]) -> np.ndarray:
            return embed_cached(texts, embedder=embedder, con=con)

        assigner = assigners.assigner_for(settings, frame, analyst, encode=encode, model_name=embedder.name)
        key = fit_key(params, embedder.name, frame, assigner_key)
        names = None  # the corpus's names are only needed when a category is refitted
        before = previous_themes(con)
        frame_before = {r["theme_id"]: r["n_sentences"] for r in con.execute(
            "SELECT theme_id, n_sentences FROM themes WHERE kind='frame'")}
        results: dict[str, CategoryThemes] = {}
        theme_rows, member_rows, events, refitted, placed_new = [], [], [], [], 0
        for category in CATEGORIES:
            cat_rows = store.tagged_spans(con, category=category)  # reviewed labels over model labels
            texts = [r["text"] for r in cat_rows]
            vectors = encode(texts) if cat_rows else np.zeros((0, DIM), dtype=np.float32)
            inputs = Inputs(texts, vectors, encode([r["previous"] or " " for r in cat_rows]) if cat_rows else vectors,
                            encode([_heading(r) or " " for r in cat_rows]) if cat_rows else vectors)
            assignment = assigner.assign(category, inputs)
            pool = [i for i, k in enumerate(assignment.keys) if k is None]
            result = None if force else reuse_fit(con, category, cat_rows, pool, vectors, key, params)
            if result is None:
                names = names if names is not None else corpus_names(con)
                fitted = fit_category(category, [texts[i] for i in pool], vectors[pool], stop=stop_words(names),
                                      embedding_model=representation(), params=params)
                save_model(fitted, themes_dir(settings) / category, embedder_name=embedder.name)
                fitted.model = None  # saved under OUT/themes/; four fitted models need not stay in memory
                result = _in_category(fitted, pool, len(cat_rows))
                refitted.append(category)
            else:
                placed_new += result.params["placed"]
            frame_themes = _frame_themes(category, frame, assignment, vectors, texts,
                                         restated=result.params.get("restated", {}))
            # fitted=1: in the pool when the category's pool was last clustered (or assigned above
            # the sample cap in that fit); 0: assigned to a frame theme, or placed by a later run.
            in_fit = set(pool) if category in refitted else set(result.fit_set)
            results[category] = result
            emergent = sorted(result.themes, key=lambda t: (-len(t.members), t.topic))
            identity = theme_ids(category, emergent, before.get(category, []), [r["span_id"] for r in cat_rows])
            events += identity.events
            if category in refitted:
                name_emergent(emergent, texts, embedding_model=representation(), banned=names, kept=identity.kept_labels,
                              reserved=[t.name for t in frame.of(category)])
            verdicts = _judge(emergent, frame_themes, assignment, vectors, texts)
            ordered, ids, kinds = _settle(category, frame_themes, emergent, identity.ids, verdicts, vectors)
            ordered, ids, kinds = curation.apply_edits(category, ordered, ids, kinds,
                                                       [r["span_id"] for r in cat_rows], vectors, edits)
            category_moves = {span: theme for (span, cat), theme in merged.items() if cat == category}
            category_moves.update({span: theme for span, cat, theme in moves if cat == category})
            placed = _apply_moves(ordered, ids, [r["span_id"] for r in cat_rows], vectors, category_moves,
                                  result.outliers)
            probability = dict(enumerate(assignment.probability.tolist()))
            moved = set(category_moves)
            for theme, theme_id, kind, (member_index, similarities) in zip(ordered, ids, kinds, placed.themes):
                theme.members, theme.similarities = member_index, similarities
                if not member_index:
                    continue  # every sentence moved elsewhere by analysts
                members = [cat_rows[i] for i in member_index]
                n_reports = len({m["doc_id"] for m in members})
                scores = [_member_probability(theme, i, assignment, probability, cat_rows[i]["span_id"] in moved)
                          for i in member_index]
                best = max(zip(scores, similarities, members), key=lambda p: (p[0] or 0.0, p[1], -_order(p[2])))[2]
                theme_rows.append({
                    "theme_id": theme_id, "category": category, "topic": theme.topic, "label": theme.label,
                    "kind": kind.kind, "description": theme.frame.description if theme.frame else None,
                    # The claim, its confidence and key quotes are the evidence stage's.
                    "keywords": theme.keywords, "claim": "",
                    "n_sentences": len(members), "n_reports": n_reports, "single_report": int(n_reports == 1),
                    "representative_span_id": best["span_id"], "centroid": theme.centroid.tobytes(),
                    "why_unnamed": kind.why_unnamed, "coherence": kind.coherence,
                })
                member_rows += [(cat_rows[i]["span_id"], category, theme_id, s, int(i in in_fit), p)
                                for i, s, p in zip(member_index, similarities, scores)]
            member_rows += [(cat_rows[i]["span_id"], category, None, None, int(i in in_fit), probability[i])
                            for i in placed.outliers]
        events += frame_events(frame_before, {t["theme_id"]: t["n_sentences"] for t in theme_rows if t["kind"] == "frame"})
        store.write_themes(con, theme_rows, member_rows, input_hash=input_hash,
                           fit_keys={c: key for c in refitted})
        # Search matches a question to a theme by these texts: cached now (the frame's from the
        # vectors shipped with the model), a query never encodes them.
        seed_cache(con, assigners.shipped_frame_vectors(settings, model=embedder.name), model=embedder.name)
        embed_missing([t for _, _, texts in named_theme_texts(con).values() for t in texts], con=con, embedder=embedder)
        counts = {c: sum(t["category"] == c for t in theme_rows) for c in CATEGORIES}
        return ThemesOutcome(results, events, False, counts, refitted, placed_new)
    finally:
        con.close()


def named_theme_texts(con: sqlite3.Connection) -> dict[str, tuple[str, str, list[str]]]:
    """What a researcher would recognise a named theme by: theme id -> (category, name, [name and
    description, the frame's example sentences...]). Unnamed clusters have no name to match."""
    examples = {t.theme_id: list(t.examples) for t in default_frame().themes}
    out = {}
    for theme_id, category, label, description in con.execute(
            "SELECT theme_id, category, label, description FROM themes WHERE kind IN ('frame', 'emergent')"
            " ORDER BY theme_id"):
        out[theme_id] = (category, label, [query_text(label, description) if description else label,
                                           *examples.get(theme_id, [])])
    return out


def _heading(row) -> str:
    path = json.loads(row["section_path"] or "[]")
    return path[-1] if path else ""


def _in_category(fitted: CategoryThemes, pool: list[int], n: int) -> CategoryThemes:
    """A fit over the pool, with member indices into the whole category."""
    for theme in fitted.themes:
        theme.members = [pool[i] for i in theme.members]
    fitted.outliers = [pool[i] for i in fitted.outliers]
    fitted.fit_set = [pool[i] for i in fitted.fit_set] if fitted.fit_set is not None else list(pool)
    fitted.n_sentences = n
    return fitted


def _frame_themes(category: str, frame: Frame, assignment: Assignment, vectors: np.ndarray, texts: list[str], *,
                  restated: dict[str, list[tuple[int, float]]]) -> list[Theme]:
    """One theme per frame key the model assigned sentences to (plus sentences of a restating
    cluster that joined it in the stored fit), in frame order."""
    themes = []
    for topic, frame_theme in enumerate(frame.of(category)):
        members = sorted({i for i, k in enumerate(assignment.keys) if k == frame_theme.key}
                         | {i for i, _ in restated.get(frame_theme.theme_id, [])})
        if not members:
            continue
        themes.append(_theme(category, -1 - topic, np.array(members, dtype=int), vectors,
                             _top_words([texts[i] for i in members], stop_words(()), 10), ThemeParams(), frame_theme))
    return themes


@dataclass
class Kind:
    kind: str                       # frame | emergent | cluster | dismissed
    why_unnamed: str | None = None
    coherence: float | None = None


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _judge(emergent: list[Theme], frame_themes: list[Theme], assignment: Assignment,
           vectors: np.ndarray, texts: list[str]) -> list[gate.Verdict]:
    """The gate's verdict on each emergent theme (its restatement index is into ``frame_themes``)."""
    columns = [assignment.classes.index(t.frame.key) for t in frame_themes if t.frame.key in assignment.classes]
    keyed = [t for t in frame_themes if t.frame.key in assignment.classes]
    centroids = np.stack([t.centroid for t in keyed]) if keyed else np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else DIM))
    verdicts = []
    for theme in emergent:
        rows = np.array(theme.members, dtype=int)
        name = theme.label if ", " not in theme.label else None
        if not len(rows):
            verdicts.append(gate.Verdict(False, "no sentences", None, 0.0))
            continue
        verdict = gate.judge(_unit_rows(vectors[rows]), assignment.distribution[np.ix_(rows, columns)] if columns
                             else np.zeros((len(rows), 0)), centroids, name, [texts[i] for i in rows])
        if verdict.restates is not None:
            verdict = gate.Verdict(False, verdict.why_unnamed, frame_themes.index(keyed[verdict.restates]),
                                   verdict.coherence)
        verdicts.append(verdict)
    return verdicts


def _settle(category: str, frame_themes: list[Theme], emergent: list[Theme], emergent_ids: list[str],
            verdicts: list[gate.Verdict], vectors: np.ndarray) -> tuple[list[Theme], list[str], list[Kind]]:
    """Frame themes first (a restating cluster's sentences joined to its frame theme), then named
    emergent themes, then unnamed clusters."""
    for theme, verdict in zip(emergent, verdicts):
        if verdict.restates is not None:
            target = frame_themes[verdict.restates]
            joined = sorted(set(target.members) | set(theme.members))
            unit = target.centroid / (np.linalg.norm(target.centroid) or 1.0)
            target.members = joined
            target.similarities = [round(float(_unit_rows(vectors[[i]])[0] @ unit), 6) for i in joined]
            theme.members = []
    ordered = list(frame_themes)
    ids = [t.frame.theme_id for t in frame_themes]
    kinds = [Kind("frame", coherence=round(gate.coherence(_unit_rows(vectors[t.members]))[0], 4)) for t in frame_themes]
    rest = [(t, i, v) for t, i, v in zip(emergent, emergent_ids, verdicts) if v.restates is None and t.members]
    for named in (True, False):
        for theme, theme_id, verdict in rest:
            if verdict.named == named:
                ordered.append(theme)
                ids.append(theme_id)
                kinds.append(Kind("emergent" if named else "cluster", verdict.why_unnamed, round(verdict.coherence, 4)))
    return ordered, ids, kinds


def _member_probability(theme: Theme, i: int, assignment: Assignment, probability: dict[int, float],
                        moved: bool) -> float | None:
    """How sure the assignment is of sentence ``i`` in ``theme``: the model's probability of the
    frame theme (of ``other`` for a pool sentence in an emergent theme); None where an analyst
    moved it (a decision, not a guess)."""
    if moved:
        return None
    if theme.frame is not None:
        if theme.frame.key in assignment.classes:
            return round(float(assignment.distribution[i, assignment.classes.index(theme.frame.key)]), 6)
        return None
    return round(probability[i], 6)


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
