"""Visit analysis people can trust: crawlers, monitors, scripts, headless
browsers, HEAD and prefetch requests are counted as automated requests, never as
page views; browsers by the maintained parser's families; entries and steps
between routes from the Referer, routes only; all as ``flask privacy visits
--json`` and the maintainer's page show them, on every database."""

from __future__ import annotations

import json

import sqlalchemy as sa

from flask_webence_privacy import visits
from tests.conftest import handles
from tests.test_visit_log import CHROME, FIREFOX, SAFARI

MACHINES = {
    "Googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "bingbot": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "UptimeRobot": "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "HeadlessChrome": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "HeadlessChrome/124.0.0.0 Safari/537.36",
    "curl": "curl/8.5.0",
    "python-requests": "python-requests/2.31.0",
    "Go-http-client": "Go-http-client/1.1",
    "empty": "",
    "too long": "Mozilla/5.0 " + "x" * 5000,
}


def with_pages(app, db, privacy):
    @app.get("/diensten")
    def services():
        return "Onze diensten"

    @app.get("/orders/<int:number>")
    def order(number):
        return f"Order {number}"


def cli_json(app) -> dict:
    result = app.test_cli_runner().invoke(args=["privacy", "visits", "--json", "--days", "7"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def logged(app):
    visits.flush(app)
    db, _ = handles(app)
    VisitLog = app.extensions["webence_privacy"].models.VisitLog
    with app.app_context():
        found = db.session.execute(sa.select(VisitLog).order_by(VisitLog.id)).scalars().all()
        rows = [(r.path, r.browser, r.referrer, r.came_from) for r in found]
        db.session.remove()
    return rows


def test_only_browsers_make_page_views_and_the_rest_is_one_number(make_app):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True, PRIVACY_ADMIN_CHECK=lambda: True)
    client = app.test_client()
    for agent in (FIREFOX, CHROME, SAFARI):
        assert client.get("/diensten", headers={"User-Agent": agent}).status_code == 200
    for agent in MACHINES.values():
        assert client.get("/diensten", headers={"User-Agent": agent}).status_code == 200
    client.head("/diensten", headers={"User-Agent": FIREFOX})
    client.get("/diensten", headers={"User-Agent": CHROME, "Sec-Purpose": "prefetch;prerender"})
    client.get("/diensten", headers={"User-Agent": FIREFOX, "Purpose": "prefetch"})
    assert [(p, b) for p, b, _, _ in logged(app)] == [
        ("/diensten", "Firefox"), ("/diensten", "Chrome"), ("/diensten", "Safari")]
    found = cli_json(app)
    assert found["views"] == 3 and found["days"][-1]["views"] == 3
    assert found["days"][-1]["visitors"] == 3
    assert sorted((b["browser"], b["views"]) for b in found["browsers"]) == [
        ("Chrome", 1), ("Firefox", 1), ("Safari", 1)]
    assert found["automated"][-1]["requests"] == len(MACHINES) + 3
    assert sum(day["requests"] for day in found["automated"]) == len(MACHINES) + 3
    assert found["previous"] == {"start": found["previous"]["start"],
                                 "end": found["previous"]["end"],
                                 "views": 0, "visitors": 0, "automated": 0}
    html = client.get("/privacy/admin/visits?days=7").get_data(as_text=True)
    assert "<strong>12</strong>" in html  # the automated requests, shown


def test_a_bot_costs_no_database_write(make_app):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    db, _ = handles(app)
    client = app.test_client()
    client.get("/diensten", headers={"User-Agent": FIREFOX})
    visits.flush(app)
    writes: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(50):
            client.get("/diensten", headers={"User-Agent": MACHINES["Googlebot"]})
        visits.flush(app)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    # Fifty requests, one day's count added (twice at most, if the writer's
    # second ran in between): never a write per request.
    assert 1 <= len(writes) <= 2
    assert all("privacy_visit_automated" in w for w in writes)
    assert cli_json(app)["automated"][-1]["requests"] == 50


def test_entries_and_steps_are_routes_from_the_referer(make_app):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True, PRIVACY_ADMIN_CHECK=lambda: True)
    client = app.test_client()
    host = app.config.get("SERVER_NAME") or "localhost"
    own = f"http://{host}"

    def view(path, referrer=None):
        headers = {"User-Agent": FIREFOX}
        if referrer is not None:
            headers["Referer"] = referrer
        assert client.get(path, headers=headers).status_code == 200

    view("/diensten")                                                   # typed: an entry
    view("/diensten", "https://search.example/results?q=webence+amsterdam")  # another site
    view("/orders/42", f"{own}/diensten?email=jan@example.nl")          # a step, no query
    view("/diensten", f"{own}/orders/42")                               # a step, no number
    view("/diensten", f"{own}/orders/42")
    view("/orders/7", f"{own}/privacy/request/s3cr3t-t0ken")            # a token: the route
    # Bad Referers: not a URL, a look-alike host, a page of this site that is
    # no page: never stored beyond a host (another site) or route (this one).
    view("/diensten", "not a url \x00\xff")
    view("/diensten", f"https://{host}.evil.example/orders/1?token=abc")
    view("/diensten", f"{own}/no/such/page?token=abc")
    view("/diensten", "http://[::1")
    rows = logged(app)
    stored = " ".join(str(value) for row in rows for value in row)
    for secret in ("jan@example.nl", "s3cr3t", "abc", "42", "q=", "amsterdam", "no/such"):
        assert secret not in stored
    assert [came for _, _, _, came in rows] == [
        None, None, "/diensten", "/orders/<int:number>", "/orders/<int:number>",
        "/privacy/request/<token>", None, None, "", None]
    assert [other for _, _, other, _ in rows][7] == f"{host}.evil.example"
    found = cli_json(app)
    assert {(e["path"], e["views"]) for e in found["entries"]} == {("/diensten", 5)}
    assert {(f["from"], f["to"], f["views"]) for f in found["flows"]} == {
        ("/orders/<int:number>", "/diensten", 2), ("/diensten", "/orders/<int:number>", 1),
        ("/privacy/request/<token>", "/orders/<int:number>", 1)}
    html = client.get("/privacy/admin/visits").get_data(as_text=True)
    assert "<code>/privacy/request/&lt;token&gt;</code>" in html


def test_the_chart_has_axes_totals_and_a_period_choice(make_app):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True, PRIVACY_ADMIN_CHECK=lambda: True)
    client = app.test_client()
    for agent in (FIREFOX, CHROME):
        client.get("/diensten", headers={"User-Agent": agent})
    # The maintainer's own looks, through a script, are no page views either.
    script = {"User-Agent": MACHINES["curl"]}
    for days in ("7", "30", "90", "x", "-1", "99999"):
        page = client.get(f"/privacy/admin/visits?days={days}", headers=script)
        assert page.status_code == 200
    html = client.get("/privacy/admin/visits?days=7", headers=script).get_data(as_text=True)
    assert 'href="?days=7" aria-current="page"' in html and 'href="?days=90"' in html
    assert "<polyline" in html and 'text-anchor="end">0</text>' in html
    assert html.count('text-anchor="middle"') >= 2  # the first and last day, at least
    assert "<strong>2</strong>" in html
    assert "<script" not in html
