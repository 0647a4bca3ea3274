"""The optional visit log: time, path, a truncated IP and the browser family; no more."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
import sqlalchemy as sa

from flask_webence_privacy import visits as visit_log
from flask_webence_privacy.visits import browser_family
from tests.conftest import handles

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")
EDGE = CHROME + " Edg/126.0.0.0"
SAFARI = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Safari/605.1.15")


def with_pages(app, db, privacy):
    @app.get("/diensten")
    def services():
        return "Onze diensten"

    @app.post("/diensten")
    def services_post():
        return "ok"


def get(client, url, **kwargs):
    """A GET as a server sends it: the response is closed once it is out."""
    response = client.get(url, **kwargs)
    response.close()
    return response


def visits(app):
    """What the log holds, once this process's waiting page views are written."""
    visit_log.flush(app)
    db, _ = handles(app)
    VisitLog = app.extensions["webence_privacy"].models.VisitLog
    with app.app_context():
        rows = db.session.execute(sa.select(VisitLog.path, VisitLog.ip, VisitLog.browser,
                                            VisitLog.created_at)).all()
        db.session.remove()
    return rows


@pytest.mark.parametrize(("agent", "family"), [
    (FIREFOX, "Firefox"), (CHROME, "Chrome"), (EDGE, "Edge"), (SAFARI, "Safari"),
    ("curl/8.5.0", "other"), (None, "other"), ("", "other"),
    # The maintained parser's own family names, never a version.
    (CHROME + " OPR/110.0.0.0", "Opera"), ("x\x00\xff" * 10, "other"),
])
def test_only_the_browser_family_is_kept(agent, family):
    assert browser_family(agent) == family


def test_a_visit_is_logged_with_a_truncated_ip_and_no_query_string(make_app):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    client = app.test_client()
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(seconds=5)
    response = get(client, "/diensten?email=jan@example.nl", headers={"User-Agent": FIREFOX},
                          environ_base={"REMOTE_ADDR": "203.0.113.77"})
    assert response.status_code == 200
    ((path, ip, browser, when),) = visits(app)
    assert (path, ip, browser) == ("/diensten", "203.0.113.0", "Firefox")
    assert when >= before


def test_static_files_posts_and_errors_are_not_logged(make_app):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    client = app.test_client()
    assert get(client, "/privacy/static/privacy.css").status_code == 200
    client.post("/diensten").close()
    assert get(client, "/nergens").status_code == 404
    assert visits(app) == []
    get(client, "/privacy/", headers={"User-Agent": CHROME},
               environ_base={"REMOTE_ADDR": "2001:db8:1234:5678::1"})
    assert [(p, ip, b) for p, ip, b, _ in visits(app)] == [("/privacy/", "2001:db8:1234::", "Chrome")]


def test_no_log_unless_the_site_asks_for_it(make_app):
    app = make_app(setup=with_pages)
    get(app.test_client(), "/diensten")
    assert visits(app) == []


def test_the_privacy_page_summarises_the_visit_log(make_app):
    on = make_app(PRIVACY_VISIT_LOG=True).test_client().get("/privacy/?lang=en")
    text = on.get_data(as_text=True)
    assert "your IP address with its last part removed" in text
    assert "never share it, and delete it after 1 year" in text
    off = make_app().test_client().get("/privacy/?lang=en").get_data(as_text=True)
    assert "keeps no log of your visits" in off


def test_the_visit_log_is_purged_but_never_exported(make_app):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    get(app.test_client(), "/diensten")
    assert [p for p, *_ in visits(app)] == ["/diensten"]
    db, privacy = handles(app)
    with app.app_context():
        assert "VisitLog" not in [s.name for s in privacy.sources]
        later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=367)
        report = privacy.purge(now=later)
        assert report.count("VisitLog") == 1
        db.session.remove()
    assert visits(app) == []


def test_a_broken_visit_log_never_breaks_the_page_nor_logs_the_visitor(make_app, caplog):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    db, _ = handles(app)
    with app.app_context():
        db.session.execute(sa.text("DROP TABLE privacy_visit_log"))
        db.session.commit()
        db.session.remove()
    response = get(app.test_client(), "/diensten?email=jan@example.nl",
                   environ_base={"REMOTE_ADDR": "203.0.113.77"})
    assert response.status_code == 200 and response.get_data(as_text=True) == "Onze diensten"
    assert visit_log.flush(app) == 0
    assert "could not record 1 page view" in caplog.text
    assert "203.0.113" not in caplog.text and "jan@example.nl" not in caplog.text
    with app.app_context():
        db.create_all()


def test_page_views_reach_the_log_without_a_flush(make_app):
    """The writer's own thread writes them within seconds, after the pages."""
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    client = app.test_client()
    for _ in range(3):
        get(client, "/diensten")
    db, _ = handles(app)
    VisitLog = app.extensions["webence_privacy"].models.VisitLog
    deadline = time.monotonic() + 10
    count = 0
    while count < 3 and time.monotonic() < deadline:
        with app.app_context():
            count = db.session.scalar(sa.select(sa.func.count()).select_from(VisitLog))
            db.session.remove()
        time.sleep(0.05)
    assert count == 3


def test_a_log_that_cannot_keep_up_keeps_a_bounded_number_and_says_so(
        make_app, monkeypatch, caplog):
    monkeypatch.setattr(visit_log, "MAX_WAITING", 2)
    monkeypatch.setattr(visit_log, "FLUSH_SECONDS", 60)  # the thread waits: memory fills
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    client = app.test_client()
    for _ in range(5):
        assert get(client, "/diensten").status_code == 200
    assert visit_log.flush(app) == 2
    assert "3 page views not counted" in caplog.text
    assert len(visits(app)) == 2


def test_a_forked_worker_never_writes_its_parents_page_views(make_app, monkeypatch):
    """gunicorn forks its workers: views the parent holds are the parent's, so a
    worker's flush (or its exit) writes none of them twice."""
    monkeypatch.setattr(visit_log, "FLUSH_SECONDS", 60)
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    get(app.test_client(), "/diensten")
    pid = os.fork()
    if pid == 0:  # the child: what it writes is what it counted itself (nothing)
        os._exit(visit_log.flush(app))
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [p for p, *_ in visits(app)] == ["/diensten"]
