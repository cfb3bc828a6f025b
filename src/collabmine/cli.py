"""Command line: each command parses arguments, calls a library function, prints its data."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import CollabmineError, Errors
from .runtime import configure_environment
from .settings import load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="collabmine: evidence on school collaboration, with citations.")
console = Console()
#: Every command that reads or writes a store says where it looks by default.
OUT_HELP = "Output folder holding the store (default: out/ in the checkout, or COLLABMINE_OUT_DIR)."
CORPUS_HELP = "Folder of reports (default: corpus/ in the checkout, or COLLABMINE_CORPUS_DIR)."
err = Console(stderr=True)


@app.callback()
def _environment() -> None:
    """Offline, no-telemetry defaults before any command loads Prefect or a model."""
    configure_environment()


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error[/] {message}", highlight=False)
    raise typer.Exit(code)


@app.command()
def run(corpus: Path = typer.Option(None, "--corpus", help="Folder of reports (default: corpus/)."),
        out: Path = typer.Option(None, "--out", help="Output folder (default: out/)."),
        strict: bool = typer.Option(False, "--strict", help="Exit 1 if any report fails."),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
        wait: float = typer.Option(None, "--wait", help="Seconds to wait for another run on the same --out."),
        refit_themes: bool = typer.Option(False, "--refit-themes",
                                          help="Cluster every category afresh instead of placing new sentences "
                                               "in the existing themes.")) -> None:
    """Run the pipeline over a corpus folder: only new or changed reports are reprocessed."""
    settings = load_settings(corpus_dir=corpus, out_dir=out, refit_themes=refit_themes or None)
    if not settings.corpus_dir.is_dir():
        _fail(Errors.E023.format(path=settings.corpus_dir))
    settings = settings.with_(lock_wait=wait)
    from . import progress as stage_progress

    stage_progress.enable(progress)  # long stages say how far they are (counts and time left)
    try:
        # Nothing changed since the last run: say so without starting Prefect (saves ~10 s).
        summary = None if settings.refit_themes else _unchanged(settings)
        if summary is None:
            from flows.pipeline import run_pipeline

            summary = run_pipeline(settings, show_progress=progress and sys.stderr.isatty())
    except CollabmineError as exc:
        _fail(str(exc))
    _print_summary(summary)
    if summary["ok"] == 0:
        _fail(Errors.E020.format(corpus=settings.corpus_dir))
    if strict and (summary["errors"] or summary["duplicates"]):
        _fail("--strict: some reports failed (listed above).")


def _unchanged(settings) -> dict | None:
    from .store import run_lock, runs
    from .themes import ThemeParams

    if not settings.store_path.exists():
        return None
    with run_lock(settings.out_dir, wait=settings.lock_wait):
        return runs.repeat_if_unchanged(settings, runs.inputs_fingerprint(settings, ThemeParams()), ThemeParams())


def _print_summary(summary: dict) -> None:
    console.print(f"[bold]{summary['ok']}[/] of {summary['reports']} reports processed; "
                  f"{summary['spans']} spans ({summary['argument_spans']} argument sentences).")
    for name, message in summary["errors"]:
        console.print(f"  [red]error[/] {name}: {message}", highlight=False)
    for name, message in summary["duplicates"]:
        console.print(f"  [yellow]duplicate[/] {name}: {message}", highlight=False)
    for name, message in summary.get("warnings", []):
        console.print(f"  [yellow]warning[/] {name}: {message}", highlight=False)
    for path in summary.get("removed", []):
        console.print(f"  [dim]removed[/] {path} (no longer in the corpus)")
    for name, kept in (summary.get("outputs_edited") or {}).items():
        console.print(f"  [yellow]rewritten[/] {name} was changed since the last run; the edited file is kept as "
                      f"{kept}", highlight=False)
    if summary.get("unchanged_since"):
        console.print(f"Nothing changed since run {summary['unchanged_since']} (corpus, citations, reviews, code, "
                      "models and settings): its results and outputs stand.")
    console.print(f"Tags: {summary.get('tags', 0)}")
    if "themes" in summary:
        per_category = ", ".join(f"{c} {n}" for c, n in summary["themes"].items())
        console.print(f"Themes: {per_category}")
        if summary.get("themes_fitted"):
            refitted = summary.get("themes_refitted") or []
            console.print(f"  clustered afresh: {', '.join(refitted) or 'none'}; "
                          f"{summary.get('themes_placed', 0)} new sentences placed in existing themes")
        console.print(f"Claims: {summary['claims']} from {summary['ok']} reports, "
                      f"{summary['evidence_rows']} cited sentences; verified {summary['verified']['quotes']} quotes "
                      f"in {summary['verified']['reports']} reports")
    reviews = summary.get("reviews") or {}
    if reviews.get("reviews"):
        console.print(f"Reviews: {reviews['decisions']} label decisions and {reviews['moves']} moves applied"
                      + (f"; {reviews['orphaned']} reviews no longer match a sentence (kept)" if reviews["orphaned"] else ""))
    console.print(f"Store: {summary['store']}")
    if "html" in summary:
        console.print(f"Report: {summary['html']}")


@app.command()
def export(out: Path = typer.Option(None, "--out", help="Output folder holding the store (default: out/)."),
           fmt: str = typer.Option("csv", "--format", help="csv or parquet"),
           dest: Optional[Path] = typer.Option(None, "--dest", help="Where to write (default: OUT/export).")) -> None:
    """Write the store's tables (documents, spans, tags, themes, evidence) as CSV or Parquet."""
    from .evidence.outputs import export_tables

    settings = _store_settings(out)
    if fmt not in ("csv", "parquet"):
        _fail(f"unknown --format {fmt!r}; use csv or parquet.")
    try:
        written = export_tables(settings.out_dir, fmt=fmt, dest=dest)
    except CollabmineError as exc:
        _fail(str(exc))
    for path in written:
        console.print(str(path))


@app.command()
def verify(out: Path = typer.Option(None, "--out", help="Output folder holding the store (default: out/)."),
           corpus: Path = typer.Option(None, "--corpus", help="Folder of reports (default: corpus/).")) -> None:
    """Re-open every cited report and check every quote at its offsets; exit 1 on any mismatch."""
    from . import store
    from .evidence import recorded_corpus
    from .evidence import verify as verify_evidence

    settings = _store_settings(out, corpus_dir=corpus)
    try:
        # SQLite's own check first: a damaged page would otherwise read as "OK" or as wrong quotes.
        con = store.connect(settings.store_path, create=False)
        try:
            store.require_healthy(con, settings.store_path)
            # The reports are re-opened where the store read them, unless told otherwise.
            recorded = recorded_corpus(con)
        finally:
            con.close()
        if corpus is None and recorded is not None:
            if not recorded.is_dir():
                _fail(Errors.E056.format(store=settings.store_path, recorded=recorded))
            settings = load_settings(corpus_dir=recorded, out_dir=out)
        elif recorded is not None and settings.corpus_dir.resolve() != recorded:
            err.print(f"Checking the reports in {settings.corpus_dir} (the store was built from {recorded}).",
                      highlight=False)
        result = verify_evidence(settings)
    except CollabmineError as exc:
        _fail(str(exc))
    if result.checked == 0:
        _fail(Errors.E051)
    for line in result.summary():          # one line per report, not one per quote
        err.print(line, highlight=False)
    if not result.ok:
        _fail(f"{len(result.mismatches)} of {result.checked} quotes failed verification; {result.verified} verified "
              f"verbatim at their offsets in {settings.corpus_dir}.")
    console.print(f"OK: {result.checked} quotes verified verbatim at their offsets in {result.reports} reports "
                  f"({settings.corpus_dir}).")


@app.command()
def check(out: Path = typer.Option(None, "--out", help="Output folder holding the store (default: out/).")) -> None:
    """Check the store (SQLite's integrity_check), its reviews against the audit log, and its snapshots."""
    from . import store
    from .store import backups

    settings = load_settings(out_dir=out)
    path = settings.store_path
    try:
        con = store.connect(path, create=False)
    except CollabmineError as exc:
        if "E024" not in str(exc):
            _fail(str(exc))
        # Damaged beyond opening: say what is wrong and what `restore` would bring back.
        con, problems = None, [str(exc).split(" (", 1)[-1].split("); nothing was changed", 1)[0]]
    if con is not None:
        try:
            problems = store.health(con, full=True)
            in_store = backups.store_reviews(con) if not problems else []
        finally:
            con.close()
    logged, unreadable = backups.read_audit_log(backups.audit_log_path(path))
    snapshots = backups.list_snapshots(path)
    console.print(f"Store {path}: {path.stat().st_size / 1e6:.1f} MB, "
                  + ("integrity_check ok" if not problems else f"[red]{len(problems)} problems[/]"), highlight=False)
    for problem in problems[:10]:
        err.print(f"  {problem}", highlight=False)
    if not problems:
        console.print(f"Reviews: {len(in_store)} in the store, {len(logged)} in {backups.audit_log_path(path).name}"
                      + (f" ({unreadable} unreadable lines)" if unreadable else ""), highlight=False)
    console.print(_snapshot_table(snapshots) if snapshots else
                  f"No snapshots in {backups.backups_dir(path)} yet (one is taken before each run).")
    if problems:
        sound = next((snap for snap in snapshots if snap.sound), None)
        if sound is not None:
            console.print(f"`collabmine restore --out {path.parent}` would bring back {sound.path.name} (taken "
                          f"{sound.taken}, {sound.reviews} reviews) and replay the {len(logged)} reviews of "
                          f"{backups.audit_log_path(path).name} into it; the damaged store is kept aside.",
                          highlight=False)
        else:
            console.print(f"No sound snapshot: `collabmine restore --out {path.parent} --empty` starts a fresh store "
                          f"with the {len(logged)} reviews of {backups.audit_log_path(path).name} replayed; the next "
                          "run rebuilds the rest.", highlight=False)
        _fail(f"E024 the store {path} is damaged: {problems[0]}.")


def _snapshot_table(snapshots) -> Table:
    table = Table("snapshot", "taken", "MB", "sound", "reviews")
    for snap in snapshots:
        table.add_row(str(snap.path), snap.taken, f"{snap.size / 1e6:.1f}", "yes" if snap.sound else f"no: {snap.problem}",
                      "" if snap.reviews is None else str(snap.reviews))
    return table


@app.command()
def restore(out: Path = typer.Option(None, "--out", help="Output folder holding the store (default: out/)."),
            snapshot: Optional[Path] = typer.Option(None, "--snapshot", help="This snapshot (default: the newest sound one)."),
            empty: bool = typer.Option(False, "--empty", help="No snapshot: start a fresh store with the reviews replayed."),
            list_only: bool = typer.Option(False, "--list", help="List the snapshots and which are sound; change nothing.")) -> None:
    """Bring back the store from a snapshot and replay every review of the audit log into it."""
    from .store import backups, run_lock

    settings = load_settings(out_dir=out)
    if list_only:
        console.print(_snapshot_table(backups.list_snapshots(settings.store_path)))
        return
    try:
        with run_lock(settings.out_dir, wait=settings.lock_wait):
            done = backups.restore(settings.store_path, cache_dir=settings.cache_dir, snapshot=snapshot, empty=empty)
    except CollabmineError as exc:
        _fail(str(exc))
    console.print(f"Restored {settings.store_path} from " + (str(done.source) if done.source else "nothing (a fresh store)")
                  + f"; replayed {done.replayed} reviews from {backups.audit_log_path(settings.store_path).name}: "
                  f"{done.reviews} reviews in the store.", highlight=False)
    if done.replaced:
        console.print(f"The store that was there is kept at {done.replaced}.", highlight=False)
    if done.unreadable_log_lines:
        err.print(f"{done.unreadable_log_lines} lines of the audit log could not be read (skipped).", highlight=False)
    console.print("Run `collabmine run` to bring the results up to date with the corpus.")


@app.command()
def serve(corpus: Path = typer.Option(None, "--corpus", help="Folder of reports (default: corpus/)."),
          out: Path = typer.Option(None, "--out", help="Output folder (default: out/)."),
          cron: Optional[str] = typer.Option(None, "--cron", help="Schedule (default: settings, weekly).")) -> None:
    """Serve a scheduled deployment of the pipeline against a Prefect server (PREFECT_API_URL)."""
    from flows.pipeline import DEPLOYMENT, check_api, next_runs
    from flows.pipeline import serve as serve_deployment

    settings = load_settings(corpus_dir=corpus, out_dir=out, schedule_cron=cron)
    try:
        # Checked before saying it serves: a missing server was once reported only after "Serving …".
        api = check_api()
        upcoming = next_runs(settings)
    except CollabmineError as exc:
        _fail(str(exc))
    console.print(f"Serving collabmine/{DEPLOYMENT} on '{settings.schedule_cron}' ({settings.schedule_timezone}) "
                  f"against {api}: {settings.corpus_dir} → {settings.out_dir}. Next runs: "
                  + ", ".join(t.strftime("%a %Y-%m-%d %H:%M %Z") for t in upcoming)
                  + f". Trigger one now: prefect deployment run collabmine/{DEPLOYMENT}. Ctrl-C stops.",
                  highlight=False)
    try:
        serve_deployment(settings)
    except CollabmineError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        console.print("Stopped serving.")


@app.command()
def changes(out: Path = typer.Option(None, "--out", help="Output folder holding the store (default: out/)."),
            run_id: Optional[str] = typer.Option(None, "--run", help="A run id (default: the last finished run).")) -> None:
    """What the last run changed: reports, themes and evidence rows."""
    from .store.runs import last_changes

    try:
        run, rows = last_changes(_store_settings(out), run_id=run_id)
    except CollabmineError as exc:
        _fail(str(exc))
    console.print(f"Run {run['run_id']} ({run['status']}) started {run['started']}, finished {run['finished'] or '-'}")
    if not rows:
        console.print("No changes: the corpus, themes and evidence are as the previous run left them.")
        return
    table = Table("change", "subject", "detail")
    for row in rows:
        detail = row["detail"] or ""
        if row.get("carried_from"):
            detail += ("; " if detail else "") + f"by run {row['carried_from']}, stopped before it finished"
        table.add_row(row["kind"], row["subject"], detail)
    console.print(table)


@app.command("runs")
def runs_cmd(out: Path = typer.Option(None, "--out", help=OUT_HELP), limit: int = typer.Option(10, "--limit")) -> None:
    """Recent runs: status, counts and seconds per stage."""
    import json

    from .store.runs import list_runs

    try:
        rows = list_runs(_store_settings(out), limit=limit)
    except CollabmineError as exc:
        _fail(str(exc))
    table = Table("run", "started", "status", "stage", "counts", "seconds per stage")
    for r in rows:
        counts = json.loads(r["counts"] or "{}")
        shown = {k: counts[k] for k in ("ingested_reports", "embedded_texts", "tagged_reports", "themes_fitted",
                                        "claims") if k in counts}
        table.add_row(r["run_id"], r["started"], r["status"], r["stage"] or "", json.dumps(shown),
                      " ".join(f"{k} {v:.1f}" for k, v in json.loads(r["durations"] or "{}").items()))
    console.print(table)


@app.command()
def documents(out: Path = typer.Option(None, "--out", help=OUT_HELP)) -> None:
    """List the reports in the store with status and citation."""
    from . import store

    settings = _store_settings(out)
    try:
        con = store.connect(settings.store_path, create=False)
    except CollabmineError as exc:
        _fail(str(exc))
    from .evidence import recorded_corpus
    from .ingest.metadata import entries_to_check

    rows = [dict(r) for r in store.documents(con)]
    sources_file = (recorded_corpus(con) or settings.corpus_dir) / settings.sources_file.name
    con.close()
    table = Table("path", "status", "citation", "metadata", "spans", "error or warnings")
    for row in rows:
        warnings = json.loads(row["warnings"] or "[]")
        inferred = row["status"] == "ok" and row["metadata_source"] != "sources.yaml"
        table.add_row(row["path"], row["status"], row["citation"] or "", "inferred: check" if inferred else
                      (row["metadata_source"] or ""), str(row["n_spans"]), "\n".join([row["error"]] if row["error"] else warnings))
    console.print(table)
    flagged = entries_to_check(rows)
    if flagged:
        console.print(f"\n{len(flagged)} report(s) cited from metadata inferred from the text. Check these lines, "
                      f"then add them to {sources_file} (or run `collabmine sources --write`):\n", highlight=False)
        for lines in flagged.values():
            console.print(lines, highlight=False, markup=False)


@app.command()
def sources(out: Path = typer.Option(None, "--out", help=OUT_HELP), corpus: Path = typer.Option(None, "--corpus", help=CORPUS_HELP),
            write: bool = typer.Option(False, "--write", help="Add an entry to the corpus folder's sources.yaml for "
                                       "every report whose metadata was inferred (check it, then re-run).")) -> None:
    """Every report's citation metadata: the citation, where the fields came from, what is missing."""
    from . import store
    from .ingest.metadata import METADATA_FIELDS, source_statuses, write_entries

    settings = _store_settings(out, corpus_dir=corpus)
    try:
        con = store.connect(settings.store_path, create=False)
    except CollabmineError as exc:
        _fail(str(exc))
    statuses = source_statuses([dict(r) for r in store.documents(con)])
    con.close()
    table = Table("report", "citation", "from", "fields: value — origin (confidence)", "missing")
    for s in statuses:
        fields = "\n".join(f"{k}: {_field_value(s.fields[k])} — {s.provenance[k]}" if k in s.provenance
                           else f"{k}: {_field_value(s.fields[k])}" for k in METADATA_FIELDS if s.fields.get(k))
        table.add_row(s.path, s.citation, s.origin, fields, ", ".join(s.missing) or "—")
    console.print(table)
    if write:
        added = write_entries(settings.sources_file, statuses)
        console.print(f"Added {len(added)} entries to {settings.sources_file}" + (f": {', '.join(added)}" if added else
                      " (every report already has one)") + ". Check them, then run again.", highlight=False)


def _field_value(value) -> str:
    return "; ".join(value) if isinstance(value, list) else str(value)


LABELS_HELP = ("Coded sentences: JSONL (source, start, end, labels — as ../shared/gold/train.jsonl) or CSV "
               "(source,start,end,labels with labels separated by ';'). Repeat for several files.")


def _progress(message: str) -> None:
    err.print(f"[dim]{message}[/]", highlight=False)


@app.command("train-tagger")
def train_tagger(labels: list[Path] = typer.Option(..., "--labels", help=LABELS_HELP),
                 out: Path = typer.Option(None, "--out", help="Output folder holding the ingested corpus."),
                 gold: Optional[Path] = typer.Option(None, "--gold", help="Gold JSONL to measure on (never trained "
                                                     "or tuned on): its figures go into the model card."),
                 reviews: bool = typer.Option(True, "--reviews/--no-reviews",
                                              help="Train on analysts' decisions in the store too (they override "
                                                   "a coded label for the same sentence).")) -> None:
    """Fine-tune the tagger on coded sentences (and analysts' reviews); write models/tagger/ with its card."""
    from .tagging import tagger_dir, train_tagger as train

    settings = load_settings(out_dir=out)
    try:
        outcome = train(settings, labels, gold_path=gold, use_reviews=reviews, progress=_progress)
    except CollabmineError as exc:
        _fail(str(exc))
    card = outcome.tagger.manifest
    trained = card["training_data"]
    if not outcome.changed:
        console.print(f"{tagger_dir(settings)} already holds this model (the same weights and figures up to float "
                      "noise): nothing was rewritten, so no report will be re-tagged.")
    console.print(f"{'Wrote' if outcome.changed else 'Trained'} {tagger_dir(settings)} in {outcome.seconds / 60:.1f} min: "
                  f"{trained['sentences']} sentences "
                  f"({trained['from_reviews']} with analysts' decisions); positives "
                  + ", ".join(f"{c} {v['positive']}" for c, v in trained["per_category"].items()))
    _print_unmatched(outcome.unmatched)
    for name, figures in card["measured"].items():
        console.print(f"{name}: macro-F1 {figures['macro_f1']:.3f} ("
                      + ", ".join(f"{c} {f:.3f}" for c, f in figures["f1"].items())
                      + (f"); ECE {figures['ece']:.3f}" if "ece" in figures else ")"))


@app.command("train-themes")
def train_themes_cmd(out: Path = typer.Option(None, "--out", help="Output folder whose store caches the vectors "
                                               "(and holds the reports --gold names)."),
                     gold: Optional[Path] = typer.Option(None, "--gold", help="Theme-coded JSONL to measure on (never "
                                                         "trained or tuned on): its figures go into the model card.")) -> None:
    """Train the theme-assignment model on models/themes/coded/ and write models/themes/ with its card."""
    from .themes.train import train_themes

    settings = load_settings(out_dir=out)
    try:
        card = train_themes(settings, gold_path=gold)
    except CollabmineError as exc:
        _fail(str(exc))
    console.print(f"Wrote {settings.models_dir / 'themes'}: {card['trained_on']['pairs']} coded pairs from "
                  f"{card['trained_on']['reports']} reports.")
    for name, figures in card["measured"].items():
        if isinstance(figures, dict):
            console.print(f"{name}: accuracy {figures['accuracy']:.3f}, macro-F1 {figures['macro_f1']:.3f} ("
                          + ", ".join(f"{c} {d['macro_f1']:.3f}" for c, d in figures["per_category"].items()) + ")")
    console.print("Themes coded in one report only (a new report's model cannot learn them without it): "
                  + ", ".join(card["measured"]["single_report_themes"]))


@app.command("train-reranker")
def train_reranker_cmd(judgments: list[Path] = typer.Option([], "--judgments", exists=True, dir_okay=False, help="Judged search results (as "
                                                             "bench/search_judgments_fresh.json): the graded hits of "
                                                             "questions not marked held_out join the training pairs.")) -> None:
    """Fine-tune search's cross-encoder reranker on pairs made from the coded theme data (and judged
    hits); write models/reranker/ with its card."""
    from .explore.reranker_train import reranker_dir, train_reranker

    settings = load_settings()
    try:
        card = train_reranker(settings, judgments=judgments, progress=_progress)
    except CollabmineError as exc:
        _fail(str(exc))
    trained = card["trained_on"]
    console.print(f"Wrote {reranker_dir(settings)} in {card['seconds'] / 60:.1f} min: {trained['pairs']} pairs "
                  f"({trained['from_coded']} from coded sentences, {trained['from_judged']} from judged hits).")


@app.command("theme-edit")
def theme_edit(action: str = typer.Argument(..., help="rename, merge, promote or dismiss."),
               theme_id: str = typer.Argument(..., help="The theme, from `collabmine themes`."),
               reviewer: str = typer.Option(..., "--reviewer", "-r", help="Your name (kept in the audit log)."),
               name: Optional[str] = typer.Option(None, "--name", help="rename/promote: the theme's name."),
               description: Optional[str] = typer.Option(None, "--description",
                                                         help="promote: one line saying what the theme is."),
               into: Optional[str] = typer.Option(None, "--into", help="merge: the theme it joins."),
               comment: Optional[str] = typer.Option(None, "--comment"),
               out: Path = typer.Option(None, "--out", help=OUT_HELP)) -> None:
    """Curate a theme: rename it, merge it into another, promote it into the frame, or dismiss a
    cluster. Kept in the audit log and applied by every later run (`collabmine run` applies it now)."""
    from . import store
    from .themes.curation import record_edit

    settings = load_settings(out_dir=out)
    if not settings.store_path.exists():
        _fail(Errors.E021.format(path=settings.store_path, out=settings.out_dir))
    con = store.connect(settings.store_path, create=False)
    try:
        edit_id = record_edit(con, settings, action=action, theme_id=theme_id, reviewer=reviewer, name=name,
                              description=description, target_theme_id=into, comment=comment)
    except CollabmineError as exc:
        _fail(str(exc))
    finally:
        con.close()
    console.print(f"Recorded theme edit {edit_id} ({action} {theme_id}). `collabmine run` applies it"
                  + (" and retrains the theme model with the promoted theme." if action == "promote" else "."))


def _print_unmatched(unmatched: list) -> None:
    from .tagging import SHOW_UNMATCHED

    if unmatched:
        err.print(f"[yellow]{len(unmatched)} coded rows match no taggable sentence in the store[/] (not trained on); "
                  "first ones:", highlight=False)
        for row in unmatched[:SHOW_UNMATCHED]:
            err.print(f"  {row.origin}: {row.source} {row.start}–{row.end} {row.text[:80]!r}", highlight=False)


@app.command("tag")
def tag_cmd(text: str = typer.Argument(..., help="A sentence to tag."),
            heading: Optional[str] = typer.Option(None, "--heading", help="Its section heading (context)."),
            previous: Optional[str] = typer.Option(None, "--previous", help="The sentence before it (context).")) -> None:
    """Tag one sentence: categories, calibrated probabilities and the coded sentences it resembles."""
    from .tagging import tag_text

    try:
        tags = tag_text(text, heading=heading, previous=previous, settings=load_settings())
    except CollabmineError as exc:
        _fail(str(exc))
    if not tags:
        console.print("none (no category reaches its threshold)")
    for category, score, explanation in tags:
        console.print(f"[bold]{category}[/] {score:.2f}  {explanation}", highlight=False)


@app.command("eval")
def eval_cmd(gold: Optional[Path] = typer.Option(None, "--gold", help="Gold JSONL (source, start, end, labels)."),
             out: Path = typer.Option(None, "--out", help=OUT_HELP),
             show_errors: bool = typer.Option(True, "--errors/--no-errors"),
             held_out: bool = typer.Option(False, "--held-out",
                                           help="Leave one report out: fine-tune on the other reports' coded "
                                                "sentences and score each report's coded (and gold) sentences — "
                                                "the estimate for a report the tagger has not seen (~20 min)."),
             labels: list[Path] = typer.Option([], "--labels", help="With --held-out: " + LABELS_HELP + " Default: "
                                               "the files the committed tagger was trained on.")) -> None:
    """Per-category precision, recall and F1 with bootstrap intervals, and the calibration table."""
    from .tagging import evaluate_held_out, evaluate_store

    settings = load_settings(out_dir=out)
    try:
        if held_out:
            coded, on_gold = evaluate_held_out(settings, labels, gold_path=gold, progress=_progress)
            _print_report("coded sentences, each report held out", coded, show_errors=False)
            if on_gold is not None:
                _print_report(f"{gold.name}, each report held out", on_gold, show_errors=show_errors)
            return
        if gold is None:
            _fail("pass --gold FILE (or --held-out --labels FILE).")
        _print_report(f"{gold.name}, stored tags", evaluate_store(settings, gold), show_errors=show_errors)
    except CollabmineError as exc:
        _fail(str(exc))


def _print_report(title: str, report, *, show_errors: bool) -> None:
    console.rule(title)
    table = Table("category", "precision", "recall", "F1", "F1 95% interval", "support")
    interval = {k: f"{lo:.2f}–{hi:.2f}" for k, (lo, hi) in report.intervals.items()}
    for c, v in report.per_category.items():
        table.add_row(c, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", interval.get(c, ""),
                      str(v["support"]))
    console.print(table)
    console.print(f"macro-F1 {report.macro_f1:.3f} (95% bootstrap interval {interval.get('macro', '?')}) "
                  f"over {report.n} sentences"
                  + (f" ({len(report.unmatched)} not matched to any span)" if report.unmatched else ""))
    if report.calibration is not None:
        calibration = Table("probability", "pairs", "mean probability", "observed share")
        for b in report.calibration.bins:
            calibration.add_row(f"{b['from']:.1f}–{b['to']:.1f}", str(b["pairs"]), f"{b['mean_probability']:.3f}",
                                f"{b['observed']:.3f}")
        console.print(calibration)
        console.print(f"expected calibration error {report.calibration.ece:.3f} "
                      "(sentence × category pairs; mean |probability − observed share| over bins)")
    if show_errors:
        for e in report.errors:
            console.print(f"  {e['id']} missed={e['missed']} false={e['false']}: {e['text'][:120]}", highlight=False)


def _store_settings(out: Path | None, **options):
    """Settings for a command that reads a store, saying which store (on stderr, so output piped
    elsewhere stays clean): run outside the checkout without --out, a command would otherwise read
    whatever store sits in ./out without a word."""
    settings = load_settings(out_dir=out, **options)
    err.print(f"[dim]store: {settings.store_path.resolve()}[/]", highlight=False)
    return settings


# --- researchers: themes and questions --------------------------------------------------------

def _open(out: Path | None):
    from .explore import Collabmine

    try:
        return Collabmine(_store_settings(out).out_dir)
    except CollabmineError as exc:
        _fail(str(exc))


def _category_option(category: Optional[str]) -> Optional[str]:
    from .categories import CATEGORIES

    if category is not None and category not in CATEGORIES:
        _fail(Errors.E082.format(category=category, categories=", ".join(CATEGORIES)))
    return category


@app.command()
def themes(out: Path = typer.Option(None, "--out", help="Output folder holding the store (default: out/)."),
           category: Optional[str] = typer.Option(None, "--category", "-c",
                                                  help="structure, impact, condition or barrier.")) -> None:
    """Themes per category: id, name, kind (frame or emergent), sentences, reports and confidence."""
    category = _category_option(category)
    with _open(out) as cm:
        frame = cm.themes
    if category:
        frame = frame[frame["category"] == category]
    if frame.empty:
        console.print("No themes yet: run `collabmine run` first.")
        return
    table = Table("category", "name", "kind", "sentences", "reports", "confidence")
    # The id is what `collabmine theme ID` takes: never wrapped, even in a narrow terminal.
    table.add_column("theme", no_wrap=True)
    for r in frame.sort_values(["category", "n_sentences"], ascending=[True, False]).itertuples():
        claiming = r.kind in ("frame", "emergent")   # an unnamed or dismissed cluster makes no claim
        table.add_row(r.category, r.label if claiming else f"(unnamed cluster: {r.label})", r.kind, str(r.n_sentences),
                      str(r.n_reports), ((r.confidence or "") + (" (single report)" if r.single_report else ""))
                      if claiming else "no claim", r.theme_id)
    console.print(table)


@app.command()
def theme(theme_id: str = typer.Argument(..., help="A theme id from `collabmine themes`."),
          out: Path = typer.Option(None, "--out", help=OUT_HELP),
          quotes: int = typer.Option(10, "--quotes", "-n", help="How many quotes to show (best first).")) -> None:
    """One theme: its claim and evidence quotes with citations and span ids (for review)."""
    from .evidence.confidence import NOT_REVIEWED, reviewed

    with _open(out) as cm:
        try:
            row, rows = cm.theme(theme_id)
        except CollabmineError as exc:
            _fail(str(exc))
    if row["kind"] in ("frame", "emergent"):
        console.print(f"[bold]{row['theme_id']}[/] {row['category']}: {row['label']}", highlight=False)
        console.print(str(row["claim"]), highlight=False)
        console.print(f"{row['n_sentences']} sentences in {row['n_reports']} reports ({row['kind']} theme). "
                      f"Confidence: [bold]{row['confidence']}[/]", highlight=False)
        reasons = json.loads(row["confidence_reasons"] or "[]")
        for reason in reasons:
            console.print(f"  - {reason}", highlight=False)
        if not reviewed(reasons):
            console.print(f"  Not yet reviewed. {NOT_REVIEWED}", highlight=False)
    else:
        state = "dismissed" if row["kind"] == "dismissed" else "awaiting an analyst"
        console.print(f"[bold]{row['theme_id']}[/] {row['category']}: unnamed cluster ({state}"
                      + (f": {row['why_unnamed']}" if row["why_unnamed"] else "") + "). No claim is made; "
                      f"keywords: {', '.join(json.loads(row['keywords'] or '[]'))}. Name it with "
                      f"`collabmine theme-edit rename {row['theme_id']} --name ...`.", highlight=False)
    for q in rows.head(quotes).itertuples():
        console.print(f"\n{q.rank}.{' [bold]key quote[/]' if q.key_quote else ''} “{q.sentence or q.quote.strip()}”",
                      highlight=False)
        console.print(f"   [dim]{q.citation} — {q.file} [{q.start}:{q.end}] span {q.span_id}[/]", highlight=False)
    if len(rows) > quotes:
        console.print(f"\n… and {len(rows) - quotes} more (--quotes N).")


@app.command()
def query(question: str = typer.Argument(..., help="A question or keywords."),
          out: Path = typer.Option(None, "--out", help=OUT_HELP),
          category: Optional[str] = typer.Option(None, "--category", "-c"),
          report: Optional[str] = typer.Option(None, "--report", "-r",
                                               help="Part of a report's file name, citation or title."),
          top: int = typer.Option(10, "--top", "-n"),
          mode: str = typer.Option("hybrid", "--mode", help="hybrid (default), lexical (BM25) or semantic."),
          rerank: bool = typer.Option(True, "--rerank/--no-rerank", help="Reorder the top of the hybrid ranking "
                                      "by the cross-encoder (models/reranker; ~0.2 s a query).")) -> None:
    """Sentences answering a question: BM25 and embedding similarity fused, the top reordered by a
    cross-encoder, with categories, themes, score and citation."""
    category = _category_option(category)
    with _open(out) as cm:
        try:
            hits = cm.query(question, category=category, report=report, top=top, mode=mode, rerank=rerank)
        except CollabmineError as exc:
            _fail(str(exc))
    if hits.empty:
        console.print("No good match: no sentence in the corpus is close enough to this question. "
                      "Try other words, or a broader question.")
        return
    theme = hits.attrs.get("theme")
    if theme:
        console.print(f"Answering from the theme [magenta]{theme['name']}[/] ({theme['category']}, {theme['theme_id']})"
                      " first, then the rest of the corpus.", highlight=False)
    for h in hits.itertuples():
        labels = ", ".join(h.categories) or "untagged"
        themes_ = "; ".join(h.themes)
        console.print(f"[bold]{h.rank}.[/] " + ("[magenta]from the theme[/] " if h.from_theme else f"[dim]{h.score:.4f}[/] ")
                      + f"[cyan]{labels}[/]"
                      + (f" [magenta]{themes_}[/]" if themes_ else ""), highlight=False)
        console.print(f"   {h.text}", highlight=False)
        console.print(f"   [dim]{h.citation} — {h.file} [{h.start}:{h.end}] span {h.span_id}[/]", highlight=False)


# --- analysts: review ---------------------------------------------------------------------------

REVIEW_KEYS = "[a]ccept [r]eject [c]ategories [m]ove [n]ote [s]kip [q]uit"


@app.command()
def review(out: Path = typer.Option(None, "--out", help=OUT_HELP),
           reviewer: str = typer.Option(..., "--reviewer", envvar="COLLABMINE_REVIEWER", prompt="Reviewer name",
                                        help="Your name, recorded with every decision."),
           category: Optional[str] = typer.Option(None, "--category", "-c"),
           theme_id: Optional[str] = typer.Option(None, "--theme", help="Only sentences of this theme."),
           limit: int = typer.Option(20, "--limit", help="Items in this session."),
           learn: bool = typer.Option(False, "--learn", help="Teach the tagger: sentences it is least sure "
                                      "about first; code each one fully (kept out of the precision estimate).")) -> None:
    """Review queue in the terminal: accept or reject each tag, change categories, move to another
    theme or comment. Decisions are kept for good and applied on every later run."""
    from .explore import review as rv
    from .categories import CATEGORIES

    category = _category_option(category)
    if learn:
        return _teach(out, reviewer, category, limit)
    with _open(out) as cm:
        con = cm._con
        try:
            items = rv.queue(con, category=category, theme_id=theme_id, status="unreviewed", limit=limit)
        except CollabmineError as exc:
            _fail(str(exc))
        if not items:
            console.print("Nothing left to review here.")
        done = 0
        for n, item in enumerate(items, start=1):
            console.rule(f"{n}/{len(items)}  {item.category}  score {item.score if item.score is not None else '-'}")
            console.print(item.text, highlight=False)
            console.print(f"[dim]{item.citation} — theme: {item.theme_label or 'none'} — {item.explanation}[/]",
                          highlight=False)
            while True:
                key = typer.prompt(REVIEW_KEYS, default="s").strip().lower()[:1]
                try:
                    if key == "a":
                        rv.record_review(con, span_id=item.span_id, action="accept", category=item.category,
                                         reviewer=reviewer)
                    elif key == "r":
                        rv.record_review(con, span_id=item.span_id, action="reject", category=item.category,
                                         reviewer=reviewer)
                    elif key == "c":
                        chosen = typer.prompt(f"categories (comma-separated from {', '.join(CATEGORIES)}; "
                                              "empty for none)", default="", show_default=False)
                        rv.set_categories(con, span_id=item.span_id, reviewer=reviewer,
                                          categories={c.strip() for c in chosen.split(",") if c.strip()})
                    elif key == "m":
                        options = cm.themes.query("category == @item.category")
                        for t in options.itertuples():
                            console.print(f"  {t.theme_id}  {t.label}")
                        target = typer.prompt("move to theme id")
                        rv.record_review(con, span_id=item.span_id, action="move", category=item.category,
                                         theme_id=target.strip(), reviewer=reviewer)
                    elif key == "n":
                        rv.record_review(con, span_id=item.span_id, action="comment", category=item.category,
                                         comment=typer.prompt("comment"), reviewer=reviewer)
                        continue  # a note is not a decision: still accept, reject or skip
                    elif key == "q":
                        console.print(f"{done} decisions recorded.")
                        return
                    elif key != "s":
                        console.print(REVIEW_KEYS, markup=False)   # "[a]ccept" is not rich markup
                        continue
                except CollabmineError as exc:
                    err.print(str(exc), highlight=False)
                    continue
                done += key != "s"
                break
        console.print(f"{done} decisions recorded; they apply from the next `collabmine run`.")
        _print_progress(rv.progress(con))


def _teach(out: Path | None, reviewer: str, category: str | None, limit: int) -> None:
    """The active-learning loop: the model's least certain sentences, each coded fully."""
    from .explore import review as rv
    from .categories import CATEGORIES
    from .tagging import tagger_thresholds

    with _open(out) as cm:
        con = cm._con
        items = rv.learning_queue(con, category=category, limit=limit,
                                  thresholds=tagger_thresholds(load_settings(out_dir=out)))
        if not items:
            console.print("Nothing left to teach here (every sentence has a decision, or no run yet).")
        done = 0
        for n, item in enumerate(items, start=1):
            console.rule(f"{n}/{len(items)}  margin {item.margin:.2f}")
            console.print(item.text, highlight=False)
            console.print("[dim]" + item.citation + " — model: " + ", ".join(
                f"{c} {p:.2f}" for c, p in item.probabilities.items()) + "[/]", highlight=False)
            answer = typer.prompt(f"categories (comma-separated from {', '.join(CATEGORIES)}; '-' for none; "
                                  f"Enter keeps {', '.join(item.categories) or 'none'}; s skips; q quits)",
                                  default="", show_default=False).strip().lower()
            if answer == "q":
                break
            if answer == "s":
                continue
            chosen = (set(item.categories) if not answer else
                      set() if answer == "-" else {c.strip() for c in answer.split(",") if c.strip()})
            try:
                rv.label_sentence(con, span_id=item.span_id, categories=chosen, reviewer=reviewer)
            except CollabmineError as exc:
                err.print(str(exc), highlight=False)
                continue
            done += 1
        console.print(f"{done} sentences coded; `collabmine train-tagger --labels ...` learns from them "
                      "(reviews are training data by default).")


def _print_progress(progress) -> None:
    table = Table("category", "model tags", "reviewed", "accepted", "rejected", "added", "precision (95% CI)")
    for p in progress:
        shown = (f"{p.precision:.2f} ({p.interval[0]:.2f}–{p.interval[1]:.2f})" if p.precision is not None else "-")
        table.add_row(p.category, str(p.model_tags), str(p.reviewed), str(p.accepted), str(p.rejected),
                      str(p.added), shown)
    console.print(table)


@app.command()
def reviews(out: Path = typer.Option(None, "--out", help=OUT_HELP),
            csv: Optional[Path] = typer.Option(None, "--csv", help="Write the audit log here as CSV.")) -> None:
    """Review progress and measured precision per category; --csv writes the full audit log."""
    from .explore import review as rv

    with _open(out) as cm:
        _print_progress(rv.progress(cm._con))
        log = cm.reviews
    console.print(f"{len(log)} reviews in the audit log ({int((log['applies'] == 0).sum()) if len(log) else 0} "
                  "no longer match a sentence: their report changed or left the corpus).")
    if csv is not None:
        from .evidence.outputs import write_csv

        write_csv(log, csv)
        console.print(f"Wrote {csv}")


@app.command()
def web(out: Path = typer.Option(None, "--out", help=OUT_HELP),
        corpus: Path = typer.Option(None, "--corpus", help=CORPUS_HELP),
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (default: this machine only)."),
        port: int = typer.Option(8000, "--port"),
        token: Optional[str] = typer.Option(None, "--token", envvar="COLLABMINE_WEB_TOKEN",
                                            help="Required when --host is not a loopback address.")) -> None:
    """The web app: themes, search, reports and the audit queue."""
    from .explore.web import check_binding, create_app, url_host

    settings = load_settings(corpus_dir=corpus, out_dir=out)
    try:
        check_binding(host, token)
        application = create_app(settings, token=token)
    except CollabmineError as exc:
        _fail(str(exc))
    import uvicorn

    from .embed import default_embedder
    from .explore.reranker import default_reranker
    from .runtime import preload_in_background

    # Load the models search uses while the server starts, so the first search does not wait ~5 s
    # (a model that cannot load says so, with its code, on the first search that needs it).
    preload_in_background(default_embedder, default_reranker)
    console.print(f"collabmine web on http://{url_host(host)}:{port}/" + (" (token required)" if token else ""))
    uvicorn.run(application, host=host, port=port, log_level="warning")


def main() -> None:
    """The `collabmine` command: a store damaged where no check had looked yet (SQLite reports it
    only when a query reaches the page) still ends with E024 and the way back, not a traceback."""
    import sqlite3

    try:
        app()
    except sqlite3.DatabaseError as exc:
        from .store import is_damage

        if not is_damage(exc):
            raise
        settings = load_settings()
        out = next((Path(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--out=")), None) or next(
            (Path(b) for a, b in zip(sys.argv, sys.argv[1:]) if a == "--out"), settings.out_dir)
        err.print(f"[bold red]error[/] {Errors.E024.format(path=out / 'collabmine.sqlite', detail=exc, out=out)}",
                  highlight=False)
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
