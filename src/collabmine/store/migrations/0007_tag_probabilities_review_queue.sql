-- Tagger v6: every taggable sentence's calibrated probability for each category (tags hold
-- only those at or above a threshold) and its margin, the smallest distance of any category's
-- probability from its threshold: the active-learning queue asks about small margins first.
CREATE TABLE tag_probabilities (
    span_id TEXT PRIMARY KEY,
    structure REAL NOT NULL,
    impact REAL NOT NULL,
    condition REAL NOT NULL,
    barrier REAL NOT NULL,
    margin REAL NOT NULL
);
CREATE INDEX tag_probabilities_margin ON tag_probabilities(margin);
-- Which queue a decision came from: 'random' (the default order, whose decisions measure
-- precision without bias) or 'learn' (uncertain sentences first: training data, not a sample).
ALTER TABLE reviews ADD COLUMN queue TEXT NOT NULL DEFAULT 'random';
