CREATE TABLE documents (
    path TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    file_name TEXT NOT NULL,
    format TEXT,
    encoding TEXT,
    n_chars INTEGER,
    title TEXT,
    authors TEXT,           -- JSON list
    year INTEGER,
    publisher TEXT,
    isbn TEXT,
    url TEXT,
    series TEXT,
    citation TEXT,          -- author-year form, e.g. "Rudd et al. (2004)"
    metadata_source TEXT,   -- "sources.yaml" or "inferred"
    text_path TEXT,         -- the text that offsets index (the file itself for .txt/.md)
    status TEXT NOT NULL,   -- ok | error | duplicate
    error TEXT,
    warnings TEXT,          -- JSON list
    n_spans INTEGER DEFAULT 0,
    updated_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX documents_doc_id ON documents(doc_id);
CREATE TABLE spans (
    span_id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    kind TEXT NOT NULL,
    section TEXT,
    section_path TEXT,      -- JSON list
    para_index INTEGER,
    sent_index INTEGER,
    page TEXT,
    page_start TEXT,
    page_end TEXT,
    excluded INTEGER NOT NULL,
    exclude_reason TEXT
);
CREATE INDEX spans_doc ON spans(doc_id, start);
