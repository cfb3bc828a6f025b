"""The codebook's four evidence categories, in the order every table and matrix uses."""

CATEGORIES: tuple[str, ...] = ("structure", "impact", "condition", "barrier")
