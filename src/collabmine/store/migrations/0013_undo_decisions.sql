-- An analyst can undo a decision. Reviews stay append-only: an undo appends the decision that
-- stood before (the same action again) or, when none did, 'clear' (no decision on the category)
-- or 'unmove' (no theme move): the latest row still wins, and these two mean "no decision".
-- SQLite cannot widen a CHECK constraint in place, so the log is copied into a table that
-- allows the two actions (same rows, same ids), with its index, triggers and views rebuilt.
DROP VIEW theme_moves;
DROP VIEW effective_tags;
DROP VIEW label_decisions;
DROP VIEW anchored_reviews;
CREATE TABLE reviews_v13 (
    review_id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_sha TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text_hash TEXT NOT NULL,
    span_id TEXT NOT NULL,      -- the span id when the review was made (informational)
    file TEXT NOT NULL,         -- the report's path when the review was made
    action TEXT NOT NULL CHECK (action IN ('accept', 'reject', 'move', 'comment', 'clear', 'unmove')),
    category TEXT,
    theme_id TEXT,              -- move: the theme the sentence belongs in
    comment TEXT,
    reviewer TEXT NOT NULL,
    created TEXT NOT NULL,
    queue TEXT NOT NULL DEFAULT 'random'
);
INSERT INTO reviews_v13 (review_id, doc_sha, start, "end", text_hash, span_id, file, action, category, theme_id,
                         comment, reviewer, created, queue)
    SELECT review_id, doc_sha, start, "end", text_hash, span_id, file, action, category, theme_id, comment,
           reviewer, created, queue FROM reviews ORDER BY review_id;
CREATE TABLE review_anchors_v13 AS SELECT * FROM review_anchors;
DROP TABLE review_anchors;
DROP TABLE reviews;
ALTER TABLE reviews_v13 RENAME TO reviews;
CREATE TABLE review_anchors (
    review_id INTEGER PRIMARY KEY REFERENCES reviews(review_id),
    doc_sha TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL
);
INSERT INTO review_anchors SELECT review_id, doc_sha, start, "end" FROM review_anchors_v13;
DROP TABLE review_anchors_v13;
CREATE INDEX reviews_identity ON reviews(doc_sha, start, "end", category);
CREATE TRIGGER reviews_never_updated BEFORE UPDATE ON reviews
    BEGIN SELECT RAISE(ABORT, 'reviews are an append-only log: add a new review instead'); END;
CREATE TRIGGER reviews_never_deleted BEFORE DELETE ON reviews
    BEGIN SELECT RAISE(ABORT, 'reviews are an append-only log: add a new review instead'); END;
CREATE VIEW anchored_reviews AS
    SELECT r.review_id, COALESCE(a.doc_sha, r.doc_sha) AS doc_sha, COALESCE(a.start, r.start) AS start,
        COALESCE(a."end", r."end") AS "end", r.text_hash, r.span_id, r.file, r.action, r.category, r.theme_id,
        r.comment, r.reviewer, r.created, r.queue
    FROM reviews r LEFT JOIN review_anchors a USING (review_id);
CREATE VIEW label_decisions AS
    WITH latest AS (SELECT MAX(review_id) AS review_id FROM anchored_reviews WHERE action IN ('accept', 'reject', 'clear')
                    GROUP BY doc_sha, start, "end", text_hash, category)
    SELECT s.span_id, r.category, r.action, r.reviewer, r.created, r.review_id
    FROM latest JOIN anchored_reviews r USING (review_id)
        JOIN spans s ON s.doc_id = r.doc_sha AND s.start = r.start AND s."end" = r."end" AND s.text_hash = r.text_hash
    WHERE r.action <> 'clear';
CREATE VIEW theme_moves AS
    WITH latest AS (SELECT MAX(review_id) AS review_id FROM anchored_reviews WHERE action IN ('move', 'unmove')
                    GROUP BY doc_sha, start, "end", text_hash, category)
    SELECT s.span_id, r.category, r.theme_id, r.reviewer, r.created
    FROM latest JOIN anchored_reviews r USING (review_id)
        JOIN spans s ON s.doc_id = r.doc_sha AND s.start = r.start AND s."end" = r."end" AND s.text_hash = r.text_hash
    WHERE r.action <> 'unmove';
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
