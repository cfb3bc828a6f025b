CREATE TABLE tags (
    span_id TEXT NOT NULL,
    category TEXT NOT NULL,
    score REAL NOT NULL,
    method TEXT NOT NULL,       -- classifier, rule, heading, joined by +
    explanation TEXT NOT NULL,  -- matched rules/phrases, heading cue, classifier probability
    PRIMARY KEY (span_id, category)
);
CREATE TABLE IF NOT EXISTS embeddings (text_hash TEXT, model TEXT, vector BLOB, PRIMARY KEY (text_hash, model));
