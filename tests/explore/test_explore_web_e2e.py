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
        # The theme page is for reading: it links to the review queue instead of carrying buttons.
        assert page.locator("[data-test=reject]").count() == 0
        item.locator("[data-test=review-link]").click()
        assert "/review?span=" + span_id in page.url
        # The reviewer's name is asked once, before any decision.
        page.fill("input[name=name]", "Ana Analyst")
        with page.expect_navigation():
            page.click("text=Start reviewing")
        assert "Ana Analyst" in page.locator("[data-test=reviewer]").inner_text()
        with page.expect_navigation():
            page.locator(f".item[data-span='{span_id}'] [data-test=reject]").click()
        assert "reject barrier" in page.locator("[data-test=confirmation]").inner_text()
        page.goto(base + "/review?status=rejected&category=barrier")
        assert "rejected by Ana Analyst" in page.locator(f".item[data-span='{span_id}']").inner_text()
        # A second decision, by keyboard, on the next barrier item of the queue.
        page.goto(base + "/review?category=barrier")
        assert page.locator("input[name=name]").count() == 0            # not asked again
        second_span = page.locator(".item.current").get_attribute("data-span")
        with page.expect_navigation():
            page.keyboard.press("a")
        assert "accept barrier" in page.locator("[data-test=confirmation]").inner_text()
        page.goto(base + "/review?status=accepted&category=barrier")
        assert "accepted by Ana Analyst" in page.locator(f".item[data-span='{second_span}']").inner_text()

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


def test_keyboard_review_with_confirmation_undo_and_set_categories(themed, tmp_path):
    """A working day's loop by keyboard: decide, see it confirmed with the next item up, undo;
    set categories; comment; `?` lists the keys. Every decision is what the store then holds."""
    settings = copy_store(themed, tmp_path / "out")
    with live_server(create_app(settings)) as base, browser() as b:
        page = b.new_page()
        page.goto(base + "/review?category=impact")
        assert page.locator("fieldset[disabled]").count() == 20       # no name yet: nothing can be decided
        page.fill("input[name=name]", "Ana")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        first = page.locator(".item.current").get_attribute("data-span")
        page.keyboard.press("?")
        assert page.locator("#keys").is_visible() and "undo the last decision" in page.locator("#keys").inner_text()
        page.keyboard.press("?")
        assert not page.locator("#keys").is_visible()

        with page.expect_navigation():
            page.keyboard.press("r")
        assert "reject impact" in page.locator("[data-test=confirmation]").inner_text()
        assert page.locator(f".item[data-span='{first}']").count() == 0        # the next item is up
        assert _decisions(settings, first) == {"impact": "reject"}
        with page.expect_navigation():
            page.keyboard.press("u")
        assert "Undone" in page.locator("[data-test=confirmation]").inner_text()
        assert page.locator(".item.current").get_attribute("data-span") == first   # back, and current again
        assert _decisions(settings, first) == {}

        # Set categories: keep impact, add barrier (key 4), save (s): every category decided, item done.
        kept = [c for c in ("structure", "impact", "condition", "barrier")
                if page.locator(f".item.current input[type=checkbox][value={c}]").is_checked()]
        with page.expect_navigation():
            page.keyboard.press("4")
            page.keyboard.press("s")
        wanted = set(kept) ^ {"barrier"}
        assert _decisions(settings, first) == {c: "accept" for c in wanted} | {c: "reject" for c in set(kept) - wanted}
        assert page.locator(f".item[data-span='{first}']").count() == 0
        assert "accept impact" in page.locator("[data-test=confirmation]").inner_text()

        # j moves to the next item; c opens the comment box, Enter saves the comment with the categories.
        second = page.locator(".item").nth(1).get_attribute("data-span")
        page.keyboard.press("j")
        assert page.locator(".item.current").get_attribute("data-span") == second
        page.keyboard.press("c")
        page.keyboard.type("check the table this cites")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "comment impact" in page.locator("[data-test=confirmation]").inner_text()
        assert _decisions(settings, second)["impact"] == "accept"


def _decisions(settings, span_id) -> dict[str, str]:
    con = store.connect(settings.store_path, create=False)
    try:
        return dict(con.execute("SELECT category, action FROM label_decisions WHERE span_id = ?", (span_id,)).fetchall())
    finally:
        con.close()


def test_gap_map_in_the_browser_opens_a_cells_quotes(themed, tmp_path):
    """The web gap map: a cell leads to that report's quotes of the theme, as many as it says; a
    chart dot leads to its theme. The HTML report's gap map: a cell opens its quotes in place."""
    from collabmine.evidence.outputs import write_outputs

    settings = copy_store(themed, tmp_path / "out")
    written = write_outputs(settings.out_dir)
    with live_server(create_app(settings)) as base, browser() as b:
        page = b.new_page()
        page.goto(base + "/gaps")
        cell = page.locator("td.cell a").first
        n = int(cell.locator("xpath=..").get_attribute("data-n"))
        theme_id = cell.locator("xpath=ancestor::tr").get_attribute("data-theme")
        with page.expect_navigation():
            cell.click()
        assert f"/themes/{theme_id}?report=" in page.url
        assert page.locator(".item").count() == min(n, 25)
        page.goto(base + "/gaps")
        dot = page.locator("svg.support-chart a").first
        with page.expect_navigation():
            dot.locator("circle").click()
        assert "/themes/" in page.url and page.locator("h1").count() == 1

        page.goto(written.html.as_uri())
        first = page.locator("#gaps td.cell details").first
        assert not first.locator("blockquote").first.is_visible()
        first.locator("summary").click()
        assert first.locator("blockquote").first.is_visible() and first.locator("cite").first.inner_text()
