"""The web app through FastAPI's test client: every endpoint, bad input, token, CSRF; and a hostile
report (script tags, a path-like name, 1 MB on one line) in headless Chromium."""

import re

import pytest
from fastapi.testclient import TestClient

from collabmine import ingest, store, tagging
from collabmine.errors import ConfigError
from collabmine.explore.web import check_binding, create_app
from collabmine.explore.web.security import url_host
from conftest import copy_store
from webkit import browser, live_server

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def site(themed, tmp_path_factory):
    settings = copy_store(themed, tmp_path_factory.mktemp("web"))
    app = create_app(settings)
    return settings, app, TestClient(app, base_url=BASE)


def _cluster(settings, category: str = "barrier") -> str:
    """The first emergent theme or unnamed cluster of ``category`` (their ids depend on the clustering)."""
    con = store.connect(settings.store_path, create=False)
    try:
        return con.execute("SELECT theme_id FROM themes WHERE category=? AND kind IN ('emergent', 'cluster')"
                           " ORDER BY theme_id LIMIT 1", (category,)).fetchone()[0]
    finally:
        con.close()


def _first_quote(client, theme_id="barrier-time-workload"):
    page = client.get(f"/themes/{theme_id}").text
    return re.search(r'data-span="([0-9a-f]{20})"', page).group(1)


def test_pages(site):
    settings, app, client = site
    home = client.get("/")
    assert home.status_code == 200 and all(f'class="tag {c}"' in home.text for c in
                                           ("structure", "impact", "condition", "barrier"))
    assert home.text.count('href="/themes/') >= 12 and "<svg" in home.text
    assert home.headers["content-security-policy"].startswith("default-src 'none'")
    # The one script is the app's own file (the review queue's keys): no inline script, no other origin.
    assert "script-src 'self';" in home.headers["content-security-policy"]
    queue_page = client.get("/review").text
    assert re.findall(r"<script[^>]*>[^<]*</script>", queue_page) == ['<script src="/review.js"></script>']
    assert "<script" not in home.text and client.get("/review.js").headers["content-type"].startswith("text/javascript")

    theme = client.get("/themes/barrier-time-workload")
    assert theme.status_code == 200 and "reported as a barrier to collaboration in" in theme.text
    assert "et al." in theme.text and "Confidence:" in theme.text and "adequacy:" in theme.text
    assert "key quote" in theme.text and "Lack of time and workload" in theme.text
    # A page researchers read links to review instead of carrying its buttons.
    assert 'data-test="reject"' not in theme.text and 'data-test="review-link"' in theme.text

    # The gap map: every named theme a row, every report a column; a cell opens that report's quotes.
    gaps = client.get("/gaps")
    con = store.connect(settings.store_path, create=False)
    named = con.execute("SELECT COUNT(*) FROM themes WHERE kind IN ('frame', 'emergent')").fetchone()[0]
    n_reports = con.execute("SELECT COUNT(*) FROM documents WHERE status='ok'").fetchone()[0]
    assert gaps.status_code == 200 and gaps.text.count("<tr data-theme=") >= named
    assert gaps.text.count('class="report"') == n_reports and "unnamed cluster" not in gaps.text.split("</table>")[0]
    assert gaps.text.count("<circle") == named     # the chart: a dot per named theme
    cell = re.search(r'<tr data-theme="barrier-time-workload">.*?<td class="cell g\d" data-n="(\d+)"><a href="'
                     r'(/themes/barrier-time-workload\?report=([0-9a-f]{64}))"', gaps.text, re.S)
    n = con.execute("SELECT COUNT(*) FROM evidence WHERE theme_id='barrier-time-workload' AND doc_id=?",
                    (cell.group(3),)).fetchone()[0]
    con.close()
    opened = client.get(cell.group(2))
    assert int(cell.group(1)) == n > 0 and opened.text.count('<div class="item') == min(n, 25)
    # Quotes can be filtered by report: only that report's quotes remain.
    doc = re.search(r'href="\?report=([0-9a-f]{64})"', theme.text).group(1)
    only = client.get(f"/themes/barrier-time-workload?report={doc}")
    assert only.status_code == 200 and set(re.findall(r'href="/reports/([0-9a-f]{64})\?span=', only.text)) == {doc}
    # Every overview bar links to its theme, its name whole.
    assert '<a href="/themes/barrier-time-workload"><title>Lack of time and workload:' in home.text
    link = re.search(r'href="(/reports/[0-9a-f]{64}\?span=([0-9a-f]{20}))#s-', theme.text)
    context = client.get(link.group(1))
    assert context.status_code == 200
    assert re.search(rf'id="s-{link.group(2)}"[^>]*><span class="s [^"]*focus', context.text)

    hits = client.get("/search", params={"q": "funding for supply cover", "category": "barrier"})
    assert hits.status_code == 200 and hits.text.count('class="item hit"') == 20
    assert 'class="tag barrier"' in hits.text and "/reports/" in hits.text
    assert client.get("/search").status_code == 200  # the empty form

    reports = client.get("/reports")
    # Each report linked twice: by citation (its id) and by file name.
    assert reports.status_code == 200 and reports.text.count('href="/reports/') == 8
    queue = client.get("/review", params={"category": "impact"})
    assert queue.status_code == 200 and queue.text.count('class="item ') == 20 and "measured precision" in queue.text
    assert client.get("/review", params={"category": "impact", "offset": 20}).status_code == 200

    assert client.get("/api/themes", params={"category": "condition"}).json()[0]["theme_id"].startswith("condition-")
    detail = client.get(f"/api/themes/{_cluster(settings)}").json()
    assert detail["theme"]["category"] == "barrier" and detail["rows"][0]["quote"]
    found = client.get("/api/search", params={"q": "trust between headteachers", "top": 5}).json()
    assert len(found) == 5 and {"citation", "categories", "span_id", "score"} <= set(found[0])
    assert [p["category"] for p in client.get("/api/progress").json()] == ["structure", "impact", "condition", "barrier"]


@pytest.mark.parametrize("url, status", [
    ("/themes/nope", 404), ("/themes/barrier-01?page=0", 422),
    ("/reports/" + "a" * 64, 404), ("/reports/..%2F..%2Fetc%2Fpasswd", 404), ("/reports/../../etc/passwd", 404),
    ("/reports/" + "a" * 64 + "?span=../x", 422),
    ("/search?q=x&category=bogus", 422), ("/search?q=x&mode=magic", 422), ("/search?q=x&report=no-such", 422),
    ("/search?q=x&top=0", 422), ("/search?q=" + "x" * 501, 422),
    ("/review?status=done", 422), ("/review?category=bogus", 422), ("/review?offset=-1", 422),
    ("/api/search", 422), ("/api/search?q=%20", 422), ("/api/themes/nope", 404),
])
def test_bad_requests_get_clear_errors(site, url, status):
    response = site[2].get(url)
    assert response.status_code == status
    if status in (404, 422) and "E0" in response.text:
        assert re.search(r"E0\d\d ", response.text)


def test_review_forms_and_audit_log(site):
    settings, app, client = site
    cluster = _cluster(settings)
    span = _first_quote(client, cluster)
    form = {"csrf": app.state.csrf, "span_id": span, "category": "barrier", "reviewer": "Ana Analyst",
            "next": f"/themes/{cluster}"}
    done = client.post("/review", data=form | {"action": "reject"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/themes/{cluster}?done=")
    assert "collabmine_reviewer" in done.headers["set-cookie"]
    page = client.get(f"/themes/{cluster}").text
    assert "rejected by Ana Analyst" in page and 'value="Ana Analyst"' in page  # name remembered
    assert span in client.get("/review", params={"status": "rejected"}).text

    client.post("/review", data=form | {"action": "comment", "comment": "<b>quoted</b> out of context"})
    client.post("/review", data=form | {"action": "categories", "categories": ["condition", "barrier"]})
    log = client.get("/reviews.csv")
    assert log.status_code == 200 and log.headers["content-type"].startswith("text/csv")
    lines = log.text.strip().splitlines()
    assert lines[0].startswith("review_id,created,reviewer,action") and len(lines) >= 4
    assert "<b>quoted</b> out of context" in log.text

    # Bad writes: each refused with a reason, nothing written.
    before = len(lines)
    assert client.post("/review", data=form | {"action": "reject", "csrf": "forged"}).status_code == 403
    assert client.post("/review", data=form | {"action": "explode"}).status_code == 422
    assert client.post("/review", data=form | {"action": "reject", "reviewer": " "}).status_code == 422
    assert client.post("/review", data=form | {"action": "reject", "span_id": "f" * 20}).status_code == 404
    assert client.post("/review", data=form | {"action": "move", "theme_id": "impact-01"}).status_code == 422
    assert client.post("/review", data=form | {"action": "reject", "category": "x'; DROP TABLE reviews;--"}
                       ).status_code == 422
    assert len(client.get("/reviews.csv").text.strip().splitlines()) == before
    # A redirect never leaves the site.
    away = client.post("/review", data=form | {"action": "accept", "next": "//evil.example/x"}, follow_redirects=False)
    assert away.headers["location"].startswith("/review?done=")

    # JSON: needs the CSRF header (a cross-site form cannot send one).
    body = {"span_id": span, "action": "accept", "category": "barrier", "reviewer": "Bo"}
    assert client.post("/api/reviews", json=body).status_code == 403
    headers = {"X-CSRF-Token": client.get("/api/csrf").json()["csrf"]}
    assert client.post("/api/reviews", json=body, headers=headers).json()["review_ids"]
    assert client.post("/api/reviews", json=body | {"span_id": "../../x"}, headers=headers).status_code == 422
    assert client.post("/api/reviews", json=body | {"category": "bogus"}, headers=headers).status_code == 422


def test_teach_mode_orders_by_uncertainty_and_codes_fully(site):
    settings, app, client = site
    page = client.get("/review/teach").text
    assert "Teach the tagger" in page and "least sure" in page
    margins = [float(m) for m in re.findall(r"\(margin ([\d.]+)\)", page)]
    assert margins and margins == sorted(margins)
    span = re.search(r'id="t-([0-9a-f]{20})"', page).group(1)
    done = client.post("/review", data={"csrf": app.state.csrf, "span_id": span, "action": "teach",
                                        "reviewer": "Ana Analyst", "categories": ["impact"], "next": "/review/teach"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/review/teach"   # teaching: no undo banner
    assert f'id="t-{span}"' not in client.get("/review/teach").text          # coded: it leaves the queue
    log = client.get("/reviews.csv").text
    assert sum(span in line and "Ana Analyst" in line for line in log.splitlines()) == 4   # all four categories
    assert "teach it" in client.get("/review").text


def test_token_and_binding(site):
    settings = site[0]
    with pytest.raises(ConfigError, match="E088"):
        check_binding("0.0.0.0", None)
    with pytest.raises(ConfigError, match="E095"):
        check_binding("0.0.0.0", "a")                     # a one-character token could be guessed
    with pytest.raises(ConfigError, match="E095"):
        check_binding("127.0.0.1", "s3cret")
    check_binding("0.0.0.0", SECRET)
    check_binding("127.0.0.1", None)
    check_binding("::1", None)
    assert url_host("::1") == "[::1]" and url_host("[::1]") == "[::1]" and url_host("127.0.0.1") == "127.0.0.1"
    client = TestClient(create_app(settings, token=SECRET), base_url=BASE)
    assert client.get("/").status_code == 401 and "token" in client.get("/").text
    assert client.get("/", params={"token": "wrong"}).status_code == 401
    assert client.get("/", headers={"Authorization": f"Bearer {SECRET}"}).status_code == 200
    first = client.get("/search", params={"token": SECRET, "q": "trust"}, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/search?q=trust"  # token leaves the URL
    assert client.get("/search", params={"q": "trust", "mode": "lexical"}).status_code == 200  # by cookie now


SECRET = "k3Jq9-vX2_pLm8sTw4Zr"


def test_writes_from_another_site_are_refused_even_with_the_csrf_token(site):
    settings, app, client = site
    span = _first_quote(client, "barrier-time-workload")
    form = {"csrf": app.state.csrf, "span_id": span, "action": "comment", "reviewer": "Bo", "comment": "x",
            "category": "barrier"}
    before = len(client.get("/reviews.csv").text.splitlines())
    for origin in ("https://evil.example", "null", f"{BASE}.evil.example"):
        refused = client.post("/review", data=form, headers={"Origin": origin}, follow_redirects=False)
        assert refused.status_code == 403 and "E096" in refused.text, origin
    assert client.post("/review", data=form, headers={"Referer": "https://evil.example/page"},
                       follow_redirects=False).status_code == 403
    assert len(client.get("/reviews.csv").text.splitlines()) == before
    ours = client.post("/review", data=form, headers={"Origin": BASE}, follow_redirects=False)
    assert ours.status_code == 303


def test_bad_parameters_get_the_apps_page_without_echoing_them(site):
    _, _, client = site
    huge = "trust " * 1_000
    response = client.get("/search", params={"q": huge})
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert "E097" in response.text and "q:" in response.text
    assert "trust trust" not in response.text
    bad = client.get("/search", params={"q": "trust", "top": "many"})
    assert bad.status_code == 422 and "E097" in bad.text and "top" in bad.text
    api = client.get("/api/search", params={"q": "trust", "top": "many"})
    assert api.status_code == 422 and api.json()["error"].startswith("E097")


def test_oversized_and_unknown_requests_get_the_apps_own_coded_answer(site):
    settings, app, client = site
    before = len(client.get("/reviews.csv").text.splitlines())
    form = {"csrf": app.state.csrf, "span_id": _first_quote(client), "action": "comment", "reviewer": "Ana",
            "comment": "y" * 2_000_000}
    big = client.post("/review", data=form)
    assert big.status_code == 413 and big.headers["content-type"].startswith("text/html") and "E099" in big.text
    api = client.post("/api/reviews", content=b"{" + b" " * 500_000 + b"}",
                      headers={"X-CSRF-Token": app.state.csrf, "content-type": "application/json"})
    assert api.status_code == 413 and api.json()["error"].startswith("E099")
    assert len(client.get("/reviews.csv").text.splitlines()) == before          # nothing was recorded
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "E102" in missing.text and "detail" not in missing.text
    assert client.put("/review").status_code == 405


def test_reviewers_comments_never_become_formulas_in_the_csv(site):
    settings, app, client = site
    span = _first_quote(client, "barrier-time-workload")
    client.post("/review", data={"csrf": app.state.csrf, "span_id": span, "action": "comment", "reviewer": "=cmd|x",
                                 "comment": '=HYPERLINK("http://evil.example","click")', "category": "barrier"})
    log = client.get("/reviews.csv").text
    assert "'=HYPERLINK(" in log and "'=cmd|x" in log
    assert not any(cell.startswith("=") for line in log.splitlines() for cell in line.split(","))


def test_missing_store_is_explained(tmp_path, themed):
    client = TestClient(create_app(themed.with_(out_dir=tmp_path)), base_url=BASE)
    response = client.get("/")
    assert response.status_code == 503 and "E021" in response.text and "collabmine run" in response.text


HOSTILE = "Schools shared staff <script>document.title='pwned'</script> and trust grew <img src=x onerror=\"document.title='pwned'\">. "
HOSTILE_NAME = "..%2F..%2Fetc%2Fpasswd <script>alert(1)<\\script>.txt"


def test_hostile_report_renders_as_text(themed, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    path = corpus / HOSTILE_NAME
    # 1 MB on one line (~8,200 sentences): a report page far larger than a page should be, at a
    # fifth of the ingest and tagging a 5 MB one cost (the size limits themselves: test_ingest_bad_input).
    path.write_text(HOSTILE * (1_000_000 // len(HOSTILE)), encoding="utf-8")
    settings = copy_store(themed, tmp_path / "out").with_(corpus_dir=corpus)
    cluster = _cluster(settings)
    result = ingest.process_report(path, settings)
    assert result.status == "ok" and len(result.record["title"] or "") <= 300
    con = store.connect(settings.store_path)
    store.write_document(con, result.record, result.spans)
    tagging.embed_report(settings, result.doc_id)
    tagging.tag_report(settings, result.doc_id)
    # A verbatim quote from it (the source text at a tagged span's offsets) in a theme's evidence.
    span = con.execute("SELECT s.span_id, s.start, s.\"end\" FROM spans s JOIN tags t USING (span_id)"
                       " WHERE s.doc_id=? ORDER BY s.start LIMIT 1", (result.doc_id,)).fetchone()
    raw = path.read_text(encoding="utf-8")
    quote = raw[span["start"]:span["end"]]
    assert "<script>" in quote
    con.execute("INSERT INTO evidence VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 1)",
                (cluster, span["span_id"], result.doc_id, HOSTILE_NAME, span["start"], span["end"], quote, "Anonymous (n.d.)"))
    con.close()

    app = create_app(settings)
    client = TestClient(app, base_url=BASE)
    doc = result.doc_id
    pages = {url: client.get(url) for url in ("/", "/reports", f"/reports/{doc}", f"/reports/{doc}?page=100000",
                                              f"/themes/{cluster}", "/search?q=schools+shared+staff+trust")}
    for url, response in pages.items():
        assert response.status_code == 200, url
        assert "<script>" not in response.text and "<img src=x" not in response.text, url
    assert "&lt;script&gt;document.title" in pages[f"/themes/{cluster}"].text  # shown, as text
    assert "passwd &lt;script&gt;alert(1)" in pages["/reports"].text
    assert len(pages[f"/reports/{doc}"].text) < 200_000  # paginated, not the whole 1 MB in one page

    with live_server(app) as base, browser() as b:
        page = b.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for url in (f"/themes/{cluster}", f"/reports/{doc}", "/reports", "/search?q=schools+shared+staff"):
            page.goto(base + url)
            assert page.title() != "pwned" and "collabmine" in page.title(), url
            assert page.locator("script").count() == 0
        page.goto(base + f"/themes/{cluster}")
        # The reader sees the verbatim markup as text (under "source text").
        page.locator("details.raw summary").first.click()
        assert "<script>document.title" in page.inner_text("main")
        assert not dialogs


def test_the_reviewer_is_asked_once_and_comments_show_where_analysts_look(themed, tmp_path):
    settings = copy_store(themed, tmp_path / "once")
    app = create_app(settings)
    client = TestClient(app, base_url=BASE)
    first = client.get("/review").text
    # One name box for the page (not one per form), and until it is filled nothing can be decided.
    assert first.count('aria-label="your name"') == 1 and "reviewing as" not in first
    assert first.count("<fieldset disabled>") == first.count('<form class="decide"') == 20
    client.post("/reviewer", data={"csrf": app.state.csrf, "name": "  Ana   Analyst ", "next": "/review"})
    after = client.get("/review").text
    assert 'aria-label="your name"' not in after and "reviewing as <b>Ana Analyst</b>" in after
    assert "<fieldset disabled>" not in after and 'name="reviewer"' not in after   # the session carries it
    span = re.search(r'<form class="decide" method="post" action="/review" data-span="([0-9a-f]{20})"', after).group(1)
    category = re.search(rf'data-span="{span}">.*?name="category" value="(\w+)"', after, re.S).group(1)
    done = client.post("/review", data={"csrf": app.state.csrf, "span_id": span, "category": category,
                                        "action": "accept", "comment": "ask the authors about this",
                                        "next": "/review"}, follow_redirects=True)
    assert f"accept</b> {category}" in done.text and "Undo" in done.text
    # The comment shows on the item, the review queue and in the reviews table, with the session's name.
    assert "ask the authors about this — Ana Analyst" in client.get("/review", params={"span": span,
                                                                                     "status": "all"}).text
    assert "ask the authors about this" in client.get("/reviews.csv").text
    # Someone else takes over: the name is forgotten and asked again.
    gone = client.post("/reviewer", data={"csrf": app.state.csrf, "next": "/review"}, follow_redirects=True)
    assert 'aria-label="your name"' in gone.text and "reviewing as" not in gone.text


def test_reports_are_listed_by_citation_and_open_by_file_name(site):
    _, _, client = site
    listing = client.get("/reports").text
    assert listing.index("Armstrong (2015)") < listing.index("Rudd et al. (2004)")
    opened = client.get("/reports/001_d1e1163017c50461.txt", follow_redirects=False)
    assert opened.status_code == 303 and re.fullmatch(r"/reports/[0-9a-f]{64}", opened.headers["location"])
    assert client.get(opened.headers["location"]).status_code == 200
    missing = client.get("/reports/no-such-report.txt")
    assert missing.status_code == 404 and "E093" in missing.text


def test_a_theme_a_run_merged_or_retired_says_where_its_sentences_went(themed, tmp_path):
    """A bookmark or an exported link to a theme a later run merged away or retired answers 404
    with what happened, when, and (merged) a link to the theme that took its sentences; an id
    that never existed keeps E089. The events are the ones identity matching records in a run."""
    import numpy as np

    from collabmine.store.runs import finish_run, record_changes, start_run
    from collabmine.themes.identity import NewTheme, PreviousTheme, match_themes

    settings = copy_store(themed, tmp_path)
    kept = _cluster(settings)
    unit = np.eye(3, dtype=np.float32)
    previous = [PreviousTheme(kept, "kept", {f"s{i}" for i in range(10)}, unit[0]),
                PreviousTheme("barrier-97", "merged away", {f"s{i}" for i in range(10, 15)}, unit[1]),
                PreviousTheme("barrier-98", "retired", {f"t{i}" for i in range(6)}, unit[2])]
    matching = match_themes("barrier", previous, [NewTheme({f"s{i}" for i in range(15)}, unit[0])])
    assert matching.ids == [kept] and {e[0] for e in matching.events} >= {"theme_merged", "theme_retired"}
    run = start_run(settings)
    record_changes(run, matching.events)
    finish_run(run, status="ok")

    client = TestClient(create_app(settings), base_url=BASE)
    merged = client.get("/themes/barrier-97")
    assert merged.status_code == 404 and "E105" in merged.text and "merged it into" in merged.text
    assert f'href="/themes/{kept}"' in merged.text
    assert client.get("/api/themes/barrier-97").json()["link"] == f"/themes/{kept}"
    retired = client.get("/themes/barrier-98")
    assert retired.status_code == 404 and "E105" in retired.text and "retired it" in retired.text
    assert "collabmine themes --category barrier" in retired.text
    never = client.get("/api/themes/barrier-96")
    assert never.status_code == 404 and "E089" in never.json()["error"] and "link" not in never.json()
    # The notebook API says the same.
    import collabmine
    from collabmine.errors import NotFoundError

    with pytest.raises(NotFoundError, match="E105"):
        collabmine.open(settings.out_dir).theme("barrier-97")
    # A later run ended the successor too (its id may be given to a new cluster): no link to it.
    later = start_run(settings)
    record_changes(later, [("theme_retired", kept, "15 sentences")])
    finish_run(later, status="ok")
    merged = client.get("/themes/barrier-97")
    assert "merged it into a theme that has since gone too" in merged.text and f'href="/themes/{kept}"' not in merged.text
