"""Requests that arrive by mail, phone or letter: the maintainer files them from
the admin or the command line, they go on the clock from the day they were
received, the person confirms with the same mailed link, and ``flask privacy
remind`` warns the maintainer once before the deadline and once after it.

Mail goes to the real SMTP server of the ``inbox`` fixture; each story runs on
SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from flask_webence_privacy.models import utcnow

from .conftest import Inbox, csrf_token, handles

PERSON = "Piet@Example.NL"
CANONICAL = "piet@example.nl"
MAINTAINER = "info@webence.nl"
NEW = "/privacy/admin/requests/new"


@pytest.fixture
def site(make_app):
    return make_app(PRIVACY_ADMIN_CHECK=lambda: True)


def requests(app) -> list:
    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        rows = db.session.scalars(sa.select(models.DataRequest).order_by(models.DataRequest.id))
        found = list(rows)
        for row in found:
            db.session.expunge(row)
        return found


def outbox_count(app) -> int:
    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(models.Outbox))


def today() -> dt.date:
    return utcnow().date()


def admin_post(client, **fields):
    data = {"csrf_token": csrf_token(client, NEW), "email": PERSON, "kind": "erasure",
            "channel": "mail", "received": (today() - dt.timedelta(days=10)).isoformat(),
            "language": "nl", "details": "Brief van 3 november"}
    data.update(fields)
    return client.post(NEW, data={k: v for k, v in data.items() if v is not None})


def test_a_mailed_in_request_from_the_admin_form_to_its_verification(site, inbox):
    client = site.test_client()
    form = client.get(NEW)
    assert form.status_code == 200 and form.headers["Cache-Control"] == "no-store"
    assert 'name="channel"' in form.get_data(as_text=True)

    response = admin_post(client)
    assert response.status_code == 303
    (req,) = requests(site)
    assert urlsplit(response.headers["Location"]).path == f"/privacy/admin/requests/{req.id}"
    received = dt.datetime.combine(today() - dt.timedelta(days=10), dt.time.min)
    assert (req.email, req.kind, req.channel, req.status) == (CANONICAL, "erasure", "mail",
                                                              "unverified")
    # On the clock from the day the letter arrived: due four weeks after it.
    assert req.received_at == received
    assert req.due_at == received + dt.timedelta(days=28)
    due = req.due_at.date().isoformat()

    # The list shows it, with how it arrived, before the person has confirmed.
    listing = client.get("/privacy/admin/").get_data(as_text=True)
    assert f'data-request="{req.id}"' in listing and due in listing
    assert ">e-mail</td>" in listing
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Brief van 3 november" in detail and received.date().isoformat() in detail

    # The person gets the same verification link as from the website.
    mail = inbox.wait_to(CANONICAL)[0]
    link = [u for u in Inbox.links(mail) if "/privacy/request/" in u][0]
    path = urlsplit(link).path + "?" + urlsplit(link).query
    page = client.get(path)
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      page.get_data(as_text=True)).group(1)
    confirmed = client.post(path, data={"csrf_token": token, "action": "verify"})
    assert confirmed.status_code == 303
    (req,) = requests(site)
    assert req.status == "verified" and req.verified_at is not None
    # Confirming does not restart the clock: it still counts from receipt.
    assert req.due_at == received + dt.timedelta(days=28)
    notice = inbox.wait_to(MAINTAINER)[0]
    assert f"/privacy/admin/requests/{req.id}" in Inbox.text(notice)


@pytest.mark.parametrize("fields, field, named", [
    ({"kind": "teleport"}, "kind", "teleport"),
    ({"received": "2999-01-01"}, "received", "2999-01-01"),
    ({"received": "gisteren"}, "received", "gisteren"),
    ({"email": "piet at example"}, "email", "piet at example"),
    ({"email": ""}, "email", None),
    ({"channel": "pigeon"}, "channel", "pigeon"),
    ({"csrf_token": "forged"}, None, None),
])
def test_bad_input_on_the_admin_form_is_refused_naming_it(site, inbox, fields, field, named):
    client = site.test_client()
    response = admin_post(client, **fields)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    if field:
        error = re.search(rf'<p class="wp-error" id="{field}-error">(.*?)</p>', body, re.S)
        assert error, body
        if named:
            assert named in error.group(1)
        assert f'aria-describedby="{field}-error"' in body or f'href="#{field}"' in body
    assert 'role="alert"' in body
    assert requests(site) == [] and outbox_count(site) == 0


def test_request_add_files_a_phoned_in_request_and_mails_the_link(site, inbox):
    runner = site.test_cli_runner()
    received = today() - dt.timedelta(days=3)
    result = runner.invoke(args=["privacy", "request-add", PERSON, "access",
                                 "--received", received.isoformat(), "--channel", "phone"])
    assert result.exit_code == 0, result.output
    (req,) = requests(site)
    due = dt.datetime.combine(received, dt.time.min) + dt.timedelta(days=28)
    assert (req.channel, req.kind, req.due_at) == ("phone", "access", due)
    assert f"Request #{req.id} filed" in result.output and due.date().isoformat() in result.output
    mail = inbox.wait_to(CANONICAL)[0]
    assert [u for u in Inbox.links(mail) if "/privacy/request/" in u]

    listed = runner.invoke(args=["privacy", "requests"])
    assert (f"#{req.id}\tSee your data\tWaiting for confirmation\tdue {due.date().isoformat()}"
            "\tby phone") in listed.output


@pytest.mark.parametrize("args, named", [
    (["request-add", PERSON, "teleport"], "teleport"),
    (["request-add", PERSON, "access", "--received", "2999-01-01"], "2999-01-01"),
    (["request-add", PERSON, "access", "--received", "yesterday"], "yesterday"),
    (["request-add", PERSON, "access", "--channel", "pigeon"], "pigeon"),
    (["request-add", "piet at example", "access"], "piet at example"),
    (["remind", "--now", "soon"], "soon"),
])
def test_bad_input_on_the_command_line_exits_2_naming_it(site, inbox, args, named):
    result = site.test_cli_runner().invoke(args=["privacy", *args])
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert requests(site) == [] and outbox_count(site) == 0


def reminders(inbox) -> list:
    """The reminders the maintainer received (in the site's language, Dutch)."""
    return [m for m in inbox.to(MAINTAINER)
            if "Privacyverzoeken te beantwoorden" in str(m["Subject"])]


def test_remind_mails_once_a_week_before_and_once_when_overdue(site, inbox):
    runner = site.test_cli_runner()
    received = today() - dt.timedelta(days=1)
    assert runner.invoke(args=["privacy", "request-add", PERSON, "restriction", "--received",
                               received.isoformat()]).exit_code == 0
    (req,) = requests(site)
    due = req.due_at.date()
    inbox.wait_to(CANONICAL)

    def remind(day: dt.date) -> str:
        result = runner.invoke(args=["privacy", "remind", "--now", day.isoformat()])
        assert result.exit_code == 0, result.output
        return result.output

    # Eight days before: nothing yet.
    assert "Nothing to remind of" in remind(due - dt.timedelta(days=8))
    # Seven days before: one reminder, with the admin's link; twice still one.
    assert "1 due within a week" in remind(due - dt.timedelta(days=7))
    assert "Nothing to remind of" in remind(due - dt.timedelta(days=7))
    assert "Nothing to remind of" in remind(due - dt.timedelta(days=2))
    (first,) = inbox.wait_to(MAINTAINER, 1)
    assert f"https://webence.test/privacy/admin/requests/{req.id}" in Inbox.text(first)
    assert CANONICAL not in Inbox.text(first)
    # Past the deadline: one more, overdue; then nothing, however often cron runs.
    assert "1 overdue" in remind(due + dt.timedelta(days=1))
    assert "Nothing to remind of" in remind(due + dt.timedelta(days=1))
    assert "Nothing to remind of" in remind(due + dt.timedelta(days=5))
    inbox.wait_to(MAINTAINER, 2)
    mails = reminders(inbox)
    assert len(mails) == 2
    assert "0 te laat, 1 binnen een week" in str(mails[0]["Subject"]) and "uiterlijk" in Inbox.text(mails[0])
    assert "1 te laat" in str(mails[1]["Subject"])
    assert f"https://webence.test/privacy/admin/requests/{req.id}" in Inbox.text(mails[1])
    (req,) = requests(site)
    assert req.soon_reminded_for == req.due_at and req.overdue_reminded_for == req.due_at


def test_a_closed_request_is_not_reminded_of(site, inbox):
    runner = site.test_cli_runner()
    received = today() - dt.timedelta(days=40)
    assert runner.invoke(args=["privacy", "request-add", PERSON, "access", "--received",
                               received.isoformat()]).exit_code == 0
    (req,) = requests(site)
    client = site.test_client()
    url = f"/privacy/admin/requests/{req.id}"
    token = re.search(r'name="reject-csrf_token" type="hidden" value="([^"]+)"',
                      client.get(url).get_data(as_text=True)).group(1)
    rejected = client.post(url + "/reject", data={"reject-csrf_token": token,
                                                  "reject-reason": "Niet te identificeren"})
    assert rejected.status_code == 303
    result = runner.invoke(args=["privacy", "remind"])
    assert "Nothing to remind of" in result.output
    assert reminders(inbox) == []


@pytest.mark.parametrize("check, status", [(None, 404), (lambda: False, 403)])
def test_the_new_request_form_is_closed_unless_the_admin_check_says_otherwise(
        make_app, inbox, check, status):
    app = make_app(PRIVACY_ADMIN_CHECK=check)
    client = app.test_client()
    assert client.get(NEW).status_code == status
    assert client.post(NEW, data={"email": PERSON, "kind": "access", "channel": "mail"}
                       ).status_code == status
    assert requests(app) == [] and outbox_count(app) == 0
