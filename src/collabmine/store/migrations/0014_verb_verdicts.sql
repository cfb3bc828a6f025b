-- Whether a text has a verb (spaCy's part-of-speech tagger, per pipeline version), by text hash:
-- the evidence stage asks it of every theme member whenever themes change, and tagging them
-- again was most of that stage (bundled corpus: 13.6 of 15.9 s; a 50 MB report: ~13 min).
CREATE TABLE verb_verdicts (
    text_hash TEXT NOT NULL,
    model TEXT NOT NULL,
    has_verb INTEGER NOT NULL,
    PRIMARY KEY (text_hash, model)
) WITHOUT ROWID;
