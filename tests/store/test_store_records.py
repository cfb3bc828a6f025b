"""What the stages read from the store: one category at a time gives exactly the rows (and order)
of the whole, and the keys alone give the same order without the text."""

from collabmine import store
from collabmine.categories import CATEGORIES


def test_tagged_spans_by_category_and_keys_match_the_whole(tagged_store):
    con = store.connect(tagged_store.store_path, create=False)
    try:
        whole = [tuple(r) for r in store.tagged_spans(con)]
        by_category = [tuple(r) for c in CATEGORIES for r in store.tagged_spans(con, category=c)]
        keys = [tuple(r) for r in store.tagged_keys(con)]
    finally:
        con.close()
    assert whole and sorted(by_category) == sorted(whole)
    assert [(r[0], r[1]) for r in whole] == keys
    assert {r[0] for r in whole} <= set(CATEGORIES)
