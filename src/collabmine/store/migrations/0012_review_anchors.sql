-- A review follows its sentence into a new version of the report. Reviews stay append-only;
-- when a report changes (a new sha256 under the same path) the store records where each review's
-- sentence now is: the sentence of the new version with the same text, nearest the old offsets.
-- Every view of the decisions reads the anchored location (the original when there is none).
CREATE TABLE review_anchors (
    review_id INTEGER PRIMARY KEY REFERENCES reviews(review_id),
    doc_sha TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL
);
CREATE VIEW anchored_reviews AS
    SELECT r.review_id, COALESCE(a.doc_sha, r.doc_sha) AS doc_sha, COALESCE(a.start, r.start) AS start,
        COALESCE(a."end", r."end") AS "end", r.text_hash, r.span_id, r.file, r.action, r.category, r.theme_id,
        r.comment, r.reviewer, r.created, r.queue
    FROM reviews r LEFT JOIN review_anchors a USING (review_id);
-- The latest decision per sentence and category (grouped, not a correlated subquery: the
-- anchored location is computed, so no index can serve one).
DROP VIEW label_decisions;
CREATE VIEW label_decisions AS
    WITH latest AS (SELECT MAX(review_id) AS review_id FROM anchored_reviews WHERE action IN ('accept', 'reject')
                    GROUP BY doc_sha, start, "end", text_hash, category)
    SELECT s.span_id, r.category, r.action, r.reviewer, r.created, r.review_id
    FROM latest JOIN anchored_reviews r USING (review_id)
        JOIN spans s ON s.doc_id = r.doc_sha AND s.start = r.start AND s."end" = r."end" AND s.text_hash = r.text_hash;
DROP VIEW theme_moves;
CREATE VIEW theme_moves AS
    WITH latest AS (SELECT MAX(review_id) AS review_id FROM anchored_reviews WHERE action = 'move'
                    GROUP BY doc_sha, start, "end", text_hash, category)
    SELECT s.span_id, r.category, r.theme_id, r.reviewer, r.created
    FROM latest JOIN anchored_reviews r USING (review_id)
        JOIN spans s ON s.doc_id = r.doc_sha AND s.start = r.start AND s."end" = r."end" AND s.text_hash = r.text_hash;
