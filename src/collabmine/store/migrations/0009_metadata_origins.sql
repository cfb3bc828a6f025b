-- Where each citation field came from and how far to trust it (JSON: field -> {origin,
-- confidence}), and the BibTeX entry type ('report' or 'book').
ALTER TABLE documents ADD COLUMN metadata_fields TEXT;
ALTER TABLE documents ADD COLUMN entry_type TEXT;
