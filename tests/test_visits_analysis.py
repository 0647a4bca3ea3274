"""First-party visit analysis: unique visitors under a daily salt, referrer hosts,
daily roll-ups, the maintainer's page, ``flask privacy visits`` and the purge."""

from __future__ import annotations

import datetime as dt
import json
import re

import sqlalchemy as sa

from flask_webence_privacy import visits
from flask_webence_privacy.models import utcnow
from tests.conftest import handles
from tests.test_visit_log import CHROME, FIREFOX


def with_pages(app, db, privacy):
    @app.get("/diensten")
    def services():
        return "Onze diensten"

    @app.get("/orders/<int:number>")
    def order(number):
        return f"Order {number}"


def tables(app):
    models = app.extensions["webence_privacy"].models
    return models.VisitLog, models.VisitDaily, models.VisitSalt


def rows(app, query):
    visits.flush(app)  # this process's waiting page views first
    db, _ = handles(app)
    with app.app_context():
        found = db.session.execute(query).all()
        db.session.remove()
    return found


def seed(app, when, path="/diensten", ip="192.0.2.0", agent=FIREFOX, referrer=None):
    VisitLog, _, VisitSalt = tables(app)
    db, _ = handles(app)
    settings = app.extensions["webence_privacy"].settings
    with app.app_context():
        # The writer's own path, as if a page had been served at ``when``.
        visits.record_visits(db.engine, VisitLog.__table__, VisitSalt.__table__, settings, [
            visits.Visit(path=path, ip=ip, user_agent=agent, when=when,
                         referrer=f"https://{referrer}/" if referrer else None,
                         own_host="webence.test")])


def test_unique_visitors_are_counted_per_day_and_not_linked_across_days(make_app):
    app = make_app(PRIVACY_VISIT_LOG=True)
    VisitLog, _, VisitSalt = tables(app)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    for days_ago in (2, 1, 0):
        day = today - dt.timedelta(days=days_ago)
        seed(app, day + dt.timedelta(hours=9))
        seed(app, day + dt.timedelta(hours=10))                 # the same visitor again
        seed(app, day + dt.timedelta(hours=11), agent=CHROME)    # another browser
    hashes = rows(app, sa.select(VisitLog.created_at, VisitLog.visitor).order_by(VisitLog.id))
    per_day = [{h for w, h in hashes if w.date() == (today - dt.timedelta(days=n)).date()}
               for n in (2, 1, 0)]
    assert [len(h) for h in per_day] == [2, 2, 2]
    # The same browser and address on two days gets two unrelated hashes.
    assert not per_day[0] & per_day[1] and not per_day[1] & per_day[2]
    # No salt is kept past the day after its own.
    assert sorted(d for (d,) in rows(app, sa.select(VisitSalt.day))) == [
        (today - dt.timedelta(days=1)).date(), today.date()]
    with app.app_context():
        summary = visits.summary(app.extensions["webence_privacy"], days=3)
    assert [(d.views, d.visitors) for d in summary.days] == [(3, 2), (3, 2), (3, 2)]
    assert summary.browsers == [("Firefox", 6), ("Chrome", 3)]


def test_the_log_keeps_the_route_and_only_another_sites_host(make_app):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    VisitLog, _, _ = tables(app)
    client = app.test_client()
    client.get("/orders/42?q=secret", headers={
        "Referer": "https://search.example/results?q=webence+amsterdam", "User-Agent": CHROME})
    client.get("/diensten", headers={"Referer": "https://webence.test/orders/1"})
    client.get("/diensten", headers={"Referer": "javascript:alert(1)"})
    logged = rows(app, sa.select(VisitLog.path, VisitLog.referrer, VisitLog.visitor)
                  .order_by(VisitLog.id))
    assert [(p, r) for p, r, _ in logged] == [
        ("/orders/<int:number>", "search.example"), ("/diensten", None), ("/diensten", None)]
    assert all(re.fullmatch("[0-9a-f]{32}", v) for _, _, v in logged)


def test_the_page_reads_daily_roll_ups_and_draws_an_svg_chart(make_app):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True, PRIVACY_ADMIN_CHECK=lambda: True)
    VisitLog, VisitDaily, _ = tables(app)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    for n in range(5):
        seed(app, today - dt.timedelta(days=3, hours=-n), referrer="news.example")
    seed(app, today - dt.timedelta(days=1, hours=-8), path="/orders/<int:number>", agent=CHROME)
    client = app.test_client()
    page = client.get("/privacy/admin/visits")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "<svg" in html and "<title id=\"chart-title\">" in html and "<desc" in html
    assert "<script" not in html
    assert "news.example" in html and "/orders/&lt;int:number&gt;" in html
    assert re.search(r"\b36[56]\b", html)  # days the retention period (a year) keeps
    day3 = (today - dt.timedelta(days=3)).date().isoformat()
    assert re.search(rf'"{day3}">[^<]*</time></th><td>5</td><td>1</td><td>0</td>', html)
    # Only days with views are rows; the quiet ones are one sentence.
    assert html.count("<tr><th scope=\"row\">") == 2 and ": 28 " in html
    # The finished days are rolled up once (the previous period's too, for the
    # comparison); the log of those days is no longer read.
    rolled = rows(app, sa.select(VisitDaily.day).where(VisitDaily.kind == "total"))
    assert len(rolled) == 59
    db, _ = handles(app)
    with app.app_context():
        db.session.execute(sa.delete(VisitLog))
        db.session.commit()
    html = client.get("/privacy/admin/visits").get_data(as_text=True)
    assert re.search(rf'"{day3}">[^<]*</time></th><td>5</td><td>1</td><td>0</td>', html)


def test_the_page_is_closed_without_the_admin_check(make_app):
    app = make_app(PRIVACY_VISIT_LOG=True)
    assert app.test_client().get("/privacy/admin/visits").status_code == 404
    app = make_app(PRIVACY_VISIT_LOG=True, PRIVACY_ADMIN_CHECK=lambda: False)
    assert app.test_client().get("/privacy/admin/visits").status_code == 403
    app = make_app(PRIVACY_ADMIN_CHECK=lambda: True)
    html = app.test_client().get("/privacy/admin/visits").get_data(as_text=True)
    assert "PRIVACY_VISIT_LOG" in html


def test_the_cli_prints_the_same(make_app):
    app = make_app(PRIVACY_VISIT_LOG=True)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    seed(app, today - dt.timedelta(days=2, hours=-12), referrer="news.example")
    seed(app, today + dt.timedelta(minutes=1), ip="198.51.100.0")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["privacy", "visits", "--days", "7", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["days"]) == 7 and data["views"] == 2 and data["retention_days"] in (365, 366)
    assert data["referrers"] == [{"host": "news.example", "views": 1}]
    text = runner.invoke(args=["privacy", "visits"]).output
    assert "2 page views" in text and "news.example" in text
    bad = runner.invoke(args=["privacy", "visits", "--days", "0"])
    assert bad.exit_code == 2 and "--days" in bad.output
    off = make_app().test_cli_runner().invoke(args=["privacy", "visits"])
    assert off.exit_code == 1 and "PRIVACY_VISIT_LOG" in off.output


def test_the_purge_takes_old_roll_ups_and_salts(make_app):
    app = make_app(PRIVACY_VISIT_LOG=True, PRIVACY_ADMIN_CHECK=lambda: True)
    VisitLog, VisitDaily, VisitSalt = tables(app)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    seed(app, today - dt.timedelta(days=2, hours=-9))
    app.test_client().get("/privacy/admin/visits")
    visits.flush(app)  # the page's own view, written as the writer does within a second
    _, privacy = handles(app)
    with app.app_context():
        privacy.purge(now=today + dt.timedelta(days=3))
    assert rows(app, sa.select(VisitSalt.day)) == []
    assert rows(app, sa.select(VisitLog.id)) != []
    with app.app_context():
        privacy.purge(now=today + dt.timedelta(days=400))
    assert rows(app, sa.select(VisitLog.id)) == []
    assert rows(app, sa.select(VisitDaily.id)) == []


def test_the_privacy_page_says_the_analysis_needs_no_cookie(make_app):
    client = make_app(PRIVACY_VISIT_LOG=True).test_client()
    dutch = client.get("/privacy/").get_data(as_text=True)
    assert "Voor deze analyse zijn geen cookie en geen derde partij nodig" in dutch
    english = client.get("/privacy/?lang=en").get_data(as_text=True)
    assert "This analysis needs no cookie and no third party" in english
    assert "needs no cookie" not in make_app().test_client().get(
        "/privacy/?lang=en").get_data(as_text=True)


def test_todays_finished_hours_are_rolled_up_and_the_day_replaces_them(make_app):
    app = make_app(PRIVACY_VISIT_LOG=True)
    state = app.extensions["webence_privacy"]
    VisitLog, VisitDaily, _ = tables(app)
    # Mid-afternoon today, whatever the hour this runs: the night's hours are done.
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    now = midnight + dt.timedelta(hours=15, minutes=30)
    seed(app, midnight + dt.timedelta(minutes=10), referrer="early.example")
    seed(app, midnight + dt.timedelta(minutes=20), referrer="early.example", agent=CHROME)
    seed(app, now, path="/nu")
    with app.app_context():
        first = visits.summary(state, days=2, now=now)
    # The first and last visit are one browser on one address: one visitor.
    assert first.days[-1].views == 3 and first.days[-1].visitors == 2
    assert ("early.example", 2) in first.referrers and ("/nu", 1) in first.paths
    hourly = rows(app, sa.select(VisitDaily.kind, VisitDaily.views).where(
        VisitDaily.day == midnight.date(), VisitDaily.kind == "referrer@00"))
    assert hourly == [("referrer@00", 2)]
    # The finished hour is read from its roll-up, no longer from the log.
    db, _ = handles(app)
    with app.app_context():
        db.session.execute(sa.delete(VisitLog).where(VisitLog.path != "/nu"))
        db.session.commit()
        again = visits.summary(state, days=2, now=now)
    assert ("early.example", 2) in again.referrers and again.days[-1].views == 3
    # Once the day is over its own roll-up replaces the hourly rows.
    with app.app_context():
        visits.roll_up(state, today=midnight.date() + dt.timedelta(days=1), days=2)
    kinds = [k for (k,) in rows(app, sa.select(VisitDaily.kind).where(
        VisitDaily.day == midnight.date()))]
    assert "total" in kinds and not [k for k in kinds if "@" in k]
