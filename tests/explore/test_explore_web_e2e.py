"""End to end in headless Chromium: search, open a theme, reject a tag, re-run the real pipeline
(Prefect flow) and see the rejection kept — in the queue, the report view and the evidence."""

from collabmine import store
from collabmine.evidence import verify
from collabmine.explore.web import create_app
from conftest import copy_store
from flows.pipeline import run_pipeline
from webkit import browser, live_server


def test_search_theme_reject_rerun_rejection_kept(themed, tmp_path):
    settings = copy_store(themed, tmp_path / "out")
    with live_server(create_app(settings)) as base, browser() as b:
        page = b.new_page()
        page.goto(base + "/")
        page.fill("input[name=q]", "funding for supply cover")
        page.click("button:has-text('Search')")
        assert page.locator(".hit").count() >= 10
        # Open the theme of a hit tagged barrier.
        hit = page.locator(".hit", has=page.locator("span.tag.barrier")).first
        hit.locator("a[href^='/themes/barrier-']").first.click()
        assert "/themes/barrier-" in page.url
        theme_id = page.url.rsplit("/", 1)[1].split("?")[0]
        item = page.locator(".item").first
        span_id = item.get_attribute("data-span")
        item.locator("input[name=reviewer]").first.fill("Ana Analyst")
        item.locator("[data-test=reject]").click()
        assert "rejected by Ana Analyst" in page.locator(f"#q-{span_id}").inner_text()
        # The name was asked once: the next item's forms carry it, and the header says who reviews.
        assert page.locator("input[placeholder='your name']").count() == 0
        assert "Ana Analyst" in page.locator("[data-test=reviewer]").inner_text()
        second = page.locator(".item").nth(1)
        second_span = second.get_attribute("data-span")
        second.locator("[data-test=accept]").click()
        assert "accepted by Ana Analyst" in page.locator(f"#q-{second_span}").inner_text()

        summary = run_pipeline(settings)  # the real flow: ingest, embed, tag, themes, evidence, verify, outputs
        assert summary["themes_fitted"] and summary["verified"]["quotes"] > 2000

        page.goto(base + "/review?status=rejected&category=barrier")
        kept = page.locator(f".item[data-span='{span_id}']")
        assert kept.count() == 1 and "rejected by Ana Analyst" in kept.inner_text()
        page.locator(f".item[data-span='{span_id}'] >> text=in context").click()
        context = page.locator(f"#s-{span_id}")
        assert "focus" in context.locator("span.s").get_attribute("class")
        assert context.locator("span.tag.barrier").count() == 0  # no longer shown as a barrier
        if page.goto(base + f"/themes/{theme_id}").status == 200:  # the theme may have been renumbered
            assert page.locator(f".item[data-span='{span_id}']").count() == 0

    con = store.connect(settings.store_path, create=False)
    try:
        in_barrier = con.execute("SELECT COUNT(*) FROM evidence e JOIN themes t USING (theme_id)"
                                 " WHERE e.span_id=? AND t.category='barrier'", (span_id,)).fetchone()[0]
        member = con.execute("SELECT COUNT(*) FROM theme_members WHERE span_id=? AND category='barrier'",
                             (span_id,)).fetchone()[0]
        model_tag = con.execute("SELECT COUNT(*) FROM tags WHERE span_id=? AND category='barrier'", (span_id,)).fetchone()[0]
    finally:
        con.close()
    assert model_tag == 1           # the model still says barrier on every run ...
    assert in_barrier == 0 and member == 0   # ... and the analyst's rejection wins in themes and evidence
    assert verify(settings).ok
