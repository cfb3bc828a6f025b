-- A span's identity for reviews: the report's sha256 (doc_id), its raw offsets and the hash
-- of the sentence the analyst saw. Span ids can be recomputed; this can be checked.
ALTER TABLE spans ADD COLUMN text_hash TEXT;
UPDATE spans SET text_hash = collabmine_text_hash(text);
CREATE INDEX spans_identity ON spans(doc_id, start, "end");
-- Analysts' decisions: an append-only log. The current decision on (sentence, category) is
-- the latest accept/reject; a move places the sentence in another theme of that category.
CREATE TABLE reviews (
    review_id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_sha TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text_hash TEXT NOT NULL,
    span_id TEXT NOT NULL,      -- the span id when the review was made (informational)
    file TEXT NOT NULL,         -- the report's path when the review was made
    action TEXT NOT NULL CHECK (action IN ('accept', 'reject', 'move', 'comment')),
    category TEXT,
    theme_id TEXT,              -- move: the theme the sentence belongs in
    comment TEXT,
    reviewer TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX reviews_identity ON reviews(doc_sha, start, "end", category);
CREATE TRIGGER reviews_never_updated BEFORE UPDATE ON reviews
    BEGIN SELECT RAISE(ABORT, 'reviews are an append-only log: add a new review instead'); END;
CREATE TRIGGER reviews_never_deleted BEFORE DELETE ON reviews
    BEGIN SELECT RAISE(ABORT, 'reviews are an append-only log: add a new review instead'); END;
-- The latest label decision per sentence and category, joined to the current spans.
CREATE VIEW label_decisions AS
    SELECT s.span_id, r.category, r.action, r.reviewer, r.created, r.review_id
    FROM reviews r JOIN spans s ON s.doc_id = r.doc_sha AND s.start = r.start AND s."end" = r."end"
        AND s.text_hash = r.text_hash
    WHERE r.review_id = (SELECT MAX(r2.review_id) FROM reviews r2 WHERE r2.doc_sha = r.doc_sha
        AND r2.start = r.start AND r2."end" = r."end" AND r2.text_hash = r.text_hash
        AND r2.category = r.category AND r2.action IN ('accept', 'reject'));
-- What every later stage uses: model tags minus rejected ones, plus categories analysts added.
-- ``review`` is accepted | added | NULL (not reviewed).
CREATE VIEW effective_tags AS
    SELECT t.span_id, t.category, t.score, t.method, t.explanation,
        CASE WHEN d.action = 'accept' THEN 'accepted' END AS review
    FROM tags t LEFT JOIN label_decisions d ON d.span_id = t.span_id AND d.category = t.category
    WHERE d.action IS NULL OR d.action = 'accept'
    UNION ALL
    SELECT d.span_id, d.category, 1.0, 'review', 'added by ' || d.reviewer || ' on ' || d.created, 'added'
    FROM label_decisions d
    WHERE d.action = 'accept' AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.span_id = d.span_id
        AND t.category = d.category);
-- The latest move per sentence and category.
CREATE VIEW theme_moves AS
    SELECT s.span_id, r.category, r.theme_id, r.reviewer, r.created
    FROM reviews r JOIN spans s ON s.doc_id = r.doc_sha AND s.start = r.start AND s."end" = r."end"
        AND s.text_hash = r.text_hash
    WHERE r.review_id = (SELECT MAX(r2.review_id) FROM reviews r2 WHERE r2.doc_sha = r.doc_sha
        AND r2.start = r.start AND r2."end" = r."end" AND r2.text_hash = r.text_hash
        AND r2.category = r.category AND r2.action = 'move');
-- Full-text index over sentences (BM25), kept in step with ``spans`` by triggers.
CREATE VIRTUAL TABLE spans_fts USING fts5(text, content='spans', content_rowid='rowid',
    tokenize='porter unicode61');
CREATE TRIGGER spans_fts_insert AFTER INSERT ON spans
    BEGIN INSERT INTO spans_fts(rowid, text) VALUES (new.rowid, new.text); END;
CREATE TRIGGER spans_fts_delete AFTER DELETE ON spans
    BEGIN INSERT INTO spans_fts(spans_fts, rowid, text) VALUES ('delete', old.rowid, old.text); END;
CREATE TRIGGER spans_fts_update AFTER UPDATE OF text ON spans BEGIN
    INSERT INTO spans_fts(spans_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO spans_fts(rowid, text) VALUES (new.rowid, new.text);
END;
INSERT INTO spans_fts(spans_fts) VALUES ('rebuild');
