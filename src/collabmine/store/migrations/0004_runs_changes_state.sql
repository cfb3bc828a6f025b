CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL,       -- running | ok | failed | abandoned (killed: found running by a later run)
    stage TEXT,                 -- the stage in progress (or the last one reached)
    code_version TEXT NOT NULL,
    model_versions TEXT NOT NULL,   -- JSON
    config_hash TEXT NOT NULL,
    corpus_hash TEXT,
    counts TEXT,                -- JSON: reports processed/cached, texts embedded, themes fitted, ...
    durations TEXT,             -- JSON: seconds per stage
    error TEXT
);
CREATE TABLE changes (
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,         -- report_added | report_changed | report_removed | theme_new | theme_grown | ...
    subject TEXT NOT NULL,      -- a report path or a theme id
    detail TEXT
);
CREATE INDEX changes_run ON changes (run_id);
-- What a corpus-wide stage was last computed from (a hash of its inputs), written in the same
-- transaction as its results, so an interrupted run can never make stale results look fresh.
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Vectors are now encoded in canonical batches (embed.py); older ones differ by ~1e-7 and
-- would make themes depend on the order reports were embedded in.
DELETE FROM embeddings;
