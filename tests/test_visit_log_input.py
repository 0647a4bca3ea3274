"""What a visitor types never reaches the visit log, nor the maintainer's terminal:
the log keeps matched routes only, a referrer "host" with control characters is
dropped, the CLI escapes what it prints, and a row the database refuses costs no
other visitor's page view."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from flask_webence_privacy import visits
from flask_webence_privacy.models import utcnow
from flask_webence_privacy.text import has_control, printable

from .conftest import csrf_token, handles

TOKEN = "IjEyMyI.aGVsbG8.c2VjcmV0LXRva2Vu"
OSC = "\x1b]0;pwned\x07"


def with_pages(app, db, privacy):
    @app.get("/diensten")
    def services():
        return "Onze diensten"


def logged(app):
    """What the log holds, once this process's waiting page views are written."""
    visits.flush(app)
    db, _ = handles(app)
    VisitLog = app.extensions["webence_privacy"].models.VisitLog
    with app.app_context():
        found = db.session.execute(
            sa.select(VisitLog.path, VisitLog.referrer).order_by(VisitLog.id)).all()
        db.session.remove()
    return [tuple(row) for row in found]


def test_a_path_no_route_matched_is_not_stored(make_app):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    client = app.test_client()
    # Werkzeug answers a doubled slash with a redirect to the route: no route
    # matched this request, and its path holds a working token.
    redirected = client.get(f"/privacy//request/{TOKEN}")
    assert redirected.status_code == 308
    assert client.get(f"/diensten/{OSC}").status_code == 404
    assert client.get("/diensten").status_code == 200
    assert logged(app) == [("/diensten", None)]


def test_a_route_with_a_token_is_stored_as_the_route(make_app):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    client = app.test_client()
    client.get(f"/privacy/request/{TOKEN}")
    client.get("/privacy/")
    stored = logged(app)
    assert all(TOKEN not in path for path, _ in stored)
    assert ("/privacy/", None) in stored


def test_a_referrer_host_with_control_characters_is_not_stored(make_app):
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    client = app.test_client()
    # ESC c resets a terminal; the name is what the visitor typed, not a host.
    client.get("/diensten", headers={"Referer": "https://evil\x1bc\x07.example/"})
    client.get("/diensten", headers={"Referer": "https://www.zoeken.nl/?q=privacy"})
    assert logged(app) == [("/diensten", None), ("/diensten", "www.zoeken.nl")]


def test_the_cli_escapes_control_characters_it_prints(make_app):
    """A path stored by an older version (or by a host's own call) reaches the
    maintainer's terminal as text, never as an escape sequence."""
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        db.session.add(models.VisitLog(path=f"/oud{OSC}", browser="other", visitor="0" * 32,
                                       created_at=utcnow()))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["privacy", "visits", "--days", "1"])
    assert result.exit_code == 0, result.output
    assert "/oud\\x1b]0;pwned\\x07" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_nul_in_a_batch_loses_only_that_row(make_app, caplog):
    """PostgreSQL refuses a NUL in text: the batch is written row by row, so the
    other visitors' views in it are kept."""
    app = make_app(setup=with_pages, PRIVACY_VISIT_LOG=True)
    state = app.extensions["webence_privacy"]
    VisitLog, VisitSalt = state.models.VisitLog, state.models.VisitSalt
    now = utcnow()
    batch = [visits.Visit(path=path, ip="192.0.2.1", user_agent="curl/8", when=now)
             for path in ("/een", "/twee\x00", "/drie")]
    with app.app_context(), caplog.at_level(logging.WARNING):
        stored = visits.record_visits(state.db.engine, VisitLog.__table__,
                                      VisitSalt.__table__, state.settings, batch)
    assert stored == 2
    assert [path for path, _ in logged(app)] == ["/een", "/drie"]
    assert "refused 1 of 3 page views (DataError)" in caplog.text
    assert "192.0.2" not in caplog.text and "twee" not in caplog.text


def test_one_rule_for_control_characters_everywhere(app):
    """C0, DEL and C1 (CSI, U+009B, starts a sequence on many terminals): the
    forms refuse them, a message body keeps its line breaks, and printing
    escapes them."""
    assert has_control("a\x9bb") and has_control("a\x7f") and has_control("a\nb")
    assert not has_control("a\r\nb\tc", multiline=True) and not has_control("Zoë")
    assert printable("a\x1b[2Jb\x9b\x00") == "a\\x1b[2Jb\\x9b\\x00"
    client = app.test_client()
    response = client.post("/privacy/contact", data={
        "csrf_token": csrf_token(client, "/privacy/contact"), "purpose": "question",
        "name": "Bram\x9b31m", "email": "bram@example.nl", "message": "Hallo",
        "age_ok": "y"})
    assert response.status_code in (200, 400)
    db, _ = handles(app)
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(
            app.extensions["webence_privacy"].models.ContactMessage))
    assert count == 0
