-- The evidence stage reads one theme's members at a time (a 50 MB report has 380,000 of them;
-- reading them all at once held ~1 GB): this index finds a theme's members without a scan.
CREATE INDEX theme_members_theme ON theme_members(theme_id);
