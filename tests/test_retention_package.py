"""The package's own records follow the periods the privacy page states."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from tests.conftest import handles

NOW = dt.datetime(2026, 11, 25, 12, 0)
DAY = dt.timedelta(days=1)


@pytest.fixture
def site(make_app):
    app = make_app()
    with app.app_context():
        yield app


def models(app):
    return app.extensions["webence_privacy"].models


def add(app, *rows):
    db, _ = handles(app)
    db.session.add_all(rows)
    db.session.commit()
    return rows


def remaining(app, model, column="id"):
    db, _ = handles(app)
    return sorted(db.session.scalars(sa.select(getattr(model, column))))


def mail(m, status, created, sent=None, to="a@example.nl"):
    return m.Outbox(subject_email=to, kind="contact-ack", recipient=to, subject="Bedankt",
                    body_text="...", status=status, created_at=created, sent_at=sent)


def test_sent_failed_and_undelivered_mail_goes_after_30_days(site):
    m = models(site)
    add(site,
        mail(m, "sent", NOW - 40 * DAY, sent=NOW - 29 * DAY),   # kept: sent 29 days ago
        mail(m, "sent", NOW - 40 * DAY, sent=NOW - 31 * DAY),   # removed
        mail(m, "failed", NOW - 31 * DAY),                      # given up on, removed
        mail(m, "failed", NOW - 29 * DAY),                      # kept
        mail(m, "queued", NOW - 400 * DAY),                     # never delivered: removed
        mail(m, "sending", NOW - 31 * DAY),                     # its sender died: removed
        mail(m, "queued", NOW - 29 * DAY))                      # still to deliver: kept
    report = handles(site)[1].purge(now=NOW)
    assert remaining(site, m.Outbox, "status") == ["failed", "queued", "sent"]
    assert report.count("Outbox", "sent") == 1 and report.count("Outbox", "failed") == 1
    assert report.count("Outbox", "unsent") == 2


def consent(m, email, action, when, purpose="newsletter"):
    return m.ConsentRecord(email=email, purpose=purpose, action=action, wording="Ja",
                           wording_hash="x" * 64, policy_version="1", form="newsletter",
                           age_confirmed=True, created_at=when)


def test_consent_proof_is_kept_while_in_force_and_a_year_after_withdrawal(site):
    m = models(site)
    add(site,
        # In force for years: the proof stays.
        consent(m, "loyal@example.nl", "given", NOW - 5 * 365 * DAY),
        # Withdrawn a year and a day ago: the consent and its withdrawal go.
        consent(m, "gone@example.nl", "given", NOW - 3 * 365 * DAY),
        consent(m, "gone@example.nl", "withdrawn", NOW - 366 * DAY),
        # Withdrawn 364 days ago: still proof.
        consent(m, "recent@example.nl", "given", NOW - 3 * 365 * DAY),
        consent(m, "recent@example.nl", "withdrawn", NOW - 364 * DAY),
        # Withdrawn long ago, then given again: the new consent stays.
        consent(m, "back@example.nl", "given", NOW - 4 * 365 * DAY),
        consent(m, "back@example.nl", "withdrawn", NOW - 3 * 365 * DAY),
        consent(m, "back@example.nl", "given", NOW - 2 * 365 * DAY))
    report = handles(site)[1].purge(now=NOW)
    db, _ = handles(site)
    left = sorted(db.session.execute(sa.select(m.ConsentRecord.email, m.ConsentRecord.action)).all())
    assert left == [("back@example.nl", "given"), ("loyal@example.nl", "given"),
                    ("recent@example.nl", "given"), ("recent@example.nl", "withdrawn")]
    assert report.count("ConsentRecord") == 4


def request_row(m, email, status, created, completed=None, kind="access"):
    return m.DataRequest(email=email, email_hash="h" * 64, kind=kind, status=status,
                         created_at=created, verified_at=None if status == "unverified" else created,
                         completed_at=completed)


def test_requests_are_kept_a_year_after_completion_unverified_ones_30_days(site):
    m = models(site)
    add(site,
        request_row(m, "old@example.nl", "completed", NOW - 800 * DAY, NOW - 366 * DAY),
        request_row(m, "new@example.nl", "completed", NOW - 800 * DAY, NOW - 364 * DAY),
        request_row(m, "open@example.nl", "verified", NOW - 800 * DAY),
        request_row(m, "spam@example.nl", "unverified", NOW - 31 * DAY),
        request_row(m, "fresh@example.nl", "unverified", NOW - 29 * DAY))
    handles(site)[1].purge(now=NOW)
    assert remaining(site, m.DataRequest, "email") == [
        "fresh@example.nl", "new@example.nl", "open@example.nl"]


def subscriber(m, email, status, created, unsubscribed=None):
    return m.Subscriber(email=email, status=status, created_at=created,
                        confirmed_at=created if status == "confirmed" else None,
                        unsubscribed_at=unsubscribed)


def test_subscriptions_run_until_unsubscribed_unconfirmed_ones_expire(site):
    m = models(site)
    add(site,
        subscriber(m, "reader@example.nl", "confirmed", NOW - 6 * 365 * DAY),
        subscriber(m, "left@example.nl", "unsubscribed", NOW - 900 * DAY, NOW - 366 * DAY),
        subscriber(m, "justleft@example.nl", "unsubscribed", NOW - 900 * DAY, NOW - 364 * DAY),
        subscriber(m, "never@example.nl", "pending", NOW - 60 * DAY),
        subscriber(m, "today@example.nl", "pending", NOW - DAY / 2))
    report = handles(site)[1].purge(now=NOW)
    assert remaining(site, m.Subscriber, "email") == [
        "justleft@example.nl", "reader@example.nl", "today@example.nl"]
    assert report.count("Subscriber", "pending") == 1
    assert report.count("Subscriber", "unsubscribed") == 1


def test_visit_log_and_released_holds_are_on_the_one_year_clock(site):
    m = models(site)
    add(site,
        m.VisitLog(path="/", ip="192.0.2.0", browser="Firefox", created_at=NOW - 366 * DAY),
        m.VisitLog(path="/diensten", ip="192.0.2.0", browser="Chrome", created_at=NOW - 364 * DAY),
        m.Hold(email="x@example.nl", reason="claim", created_at=NOW - 900 * DAY,
               released_at=NOW - 366 * DAY),
        m.Hold(email="y@example.nl", reason="claim", created_at=NOW - 900 * DAY))
    handles(site)[1].purge(now=NOW)
    assert remaining(site, m.VisitLog, "path") == ["/diensten"]
    assert remaining(site, m.Hold, "email") == ["y@example.nl"]


def test_the_privacy_page_states_these_periods(make_app):
    client = make_app().test_client()
    page = client.get("/privacy/?lang=en").get_data(as_text=True)
    assert "30 days after sending; mail that could not be delivered, 30 days after it was written" in page
    assert "while the consent is in force, and 1 year after you withdraw it" in page
    assert "1 year after the request is completed" in page
    nl = client.get("/privacy/?lang=nl").get_data(as_text=True)
    assert "30 dagen na verzending" in nl
    assert "zolang de toestemming geldt" in nl
