CREATE TABLE themes (
    theme_id TEXT PRIMARY KEY,
    category TEXT NOT NULL,
    topic INTEGER NOT NULL,     -- topic number inside the category's BERTopic model
    label TEXT NOT NULL,
    keywords TEXT NOT NULL,     -- JSON list
    claim TEXT NOT NULL,
    n_sentences INTEGER NOT NULL,
    n_reports INTEGER NOT NULL,
    strength TEXT NOT NULL,     -- strong | moderate | limited (dropped in v8: see confidence)
    single_report INTEGER NOT NULL,
    representative_span_id TEXT NOT NULL,
    centroid BLOB NOT NULL
);
CREATE TABLE theme_members (
    span_id TEXT NOT NULL,
    category TEXT NOT NULL,
    theme_id TEXT,              -- NULL: an outlier that joined no theme
    similarity REAL,            -- cosine similarity to the theme centroid
    PRIMARY KEY (span_id, category)
);
CREATE TABLE evidence (
    theme_id TEXT NOT NULL,
    rank INTEGER NOT NULL,      -- 1 = the most representative quote
    span_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    file TEXT NOT NULL,         -- the report's path in the corpus
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    quote TEXT NOT NULL,        -- verbatim: exactly the source text at [start, end)
    citation TEXT NOT NULL,
    section TEXT,
    page TEXT,
    PRIMARY KEY (theme_id, span_id)
);
