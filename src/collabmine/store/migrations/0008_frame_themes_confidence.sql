-- Themes from a frame (framework analysis): 'frame' themes are the codebook's named factors
-- (id "<category>-<key>" for good), 'emergent' ones were found by clustering. Claims carry a
-- GRADE-CERQual-style confidence with its reasons instead of a breadth-only "strength".
ALTER TABLE themes ADD COLUMN kind TEXT NOT NULL DEFAULT 'emergent';
ALTER TABLE themes ADD COLUMN description TEXT;
ALTER TABLE themes ADD COLUMN confidence TEXT;
ALTER TABLE themes ADD COLUMN confidence_reasons TEXT;   -- JSON list of sentences
ALTER TABLE themes ADD COLUMN supporting TEXT;           -- JSON list of the reports' citations
ALTER TABLE themes DROP COLUMN strength;
-- 1: one of the claim's key quotes (ranked first): full sentences, central and confidently tagged.
ALTER TABLE evidence ADD COLUMN key_quote INTEGER NOT NULL DEFAULT 0;
DELETE FROM state WHERE key = 'themes_input' OR key = 'evidence_input' OR key LIKE 'themes_fit:%';
