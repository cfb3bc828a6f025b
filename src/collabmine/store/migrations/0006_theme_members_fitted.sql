-- 1: the sentence was in its category when the category's themes were last fitted; 0: a later
-- run placed it by nearest centroid (see themes.stage.reuse_fit). Stores before v6 held full fits.
ALTER TABLE theme_members ADD COLUMN fitted INTEGER NOT NULL DEFAULT 1;
