-- Themes v2: frame themes are assigned by a model trained on coded sentences (themes.assign).
-- probability: the model's calibrated probability of the member's frame theme (of `other` for a
-- sentence it left to the emergent pool); NULL for a sentence an analyst moved.
ALTER TABLE theme_members ADD COLUMN probability REAL;
-- kind: 'frame', 'emergent' (a named cluster that earned its name) or 'cluster' (unnamed,
-- awaiting an analyst: shown with keywords and quotes, never with a claim).
-- why_unnamed: for a 'cluster', what kept it from a name (incoherent, restates..., no name...).
ALTER TABLE themes ADD COLUMN why_unnamed TEXT;
-- coherence: mean cosine similarity of a theme's members to its centroid.
ALTER TABLE themes ADD COLUMN coherence REAL;
-- Analysts' curation of themes, append-only (like reviews): rename, merge, promote, dismiss.
-- members: JSON list of the theme's span ids when the edit was made, so an emergent theme the
-- edit names is found again after a refit or a removed-and-re-added report (by member overlap).
CREATE TABLE theme_edits (
    edit_id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    action TEXT NOT NULL,          -- rename | merge | promote | dismiss
    category TEXT NOT NULL,
    theme_id TEXT NOT NULL,        -- the theme edited (merge: the one merged away)
    target_theme_id TEXT,          -- merge: the theme it joins; promote: the new frame theme's id
    name TEXT,                     -- rename / promote: the new name
    description TEXT,              -- promote: the new frame theme's description
    members TEXT NOT NULL,         -- JSON list of span ids
    comment TEXT
);
DELETE FROM state WHERE key = 'themes_input' OR key = 'evidence_input' OR key LIKE 'themes_fit:%';
