"""A report of misuse opens a breach file on the 72-hour clock; the registry
scopes a breach in counts; the people affected are told once.

The maintainer's mails arrive at the real SMTP inbox; the scope runs on SQLite,
PostgreSQL and MariaDB over the package's tables and a host app's own models
(User <- Post <- Comment, the posts and comments reaching their person through
their owner).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from flask_webence_privacy import record
from flask_webence_privacy.models import utcnow

from . import host_app
from .conftest import Inbox, csrf_token

MAINTAINER = "info@webence.nl"
IN = dt.datetime(2026, 3, 10, 12, 0)
OUT = dt.datetime(2025, 1, 1, 9, 0)


def breach_files(app: Any) -> list[Any]:
    state = app.extensions["webence_privacy"]
    with app.app_context():
        return list(state.db.session.scalars(sa.select(state.models.BreachFile)))


def outbox_kinds(app: Any) -> list[str]:
    state = app.extensions["webence_privacy"]
    with app.app_context():
        return list(state.db.session.scalars(sa.select(state.models.Outbox.kind)))


def file_report(client: Any, **fields: str) -> Any:
    token = csrf_token(client, "/privacy/report?lang=en")
    return client.post("/privacy/report", data={"csrf_token": token, **fields})


# -- the report form, the maintainer's mail, the admin and the CLI ---------------------------


def test_a_report_reaches_the_maintainer_the_admin_and_the_cli_with_its_72_hour_due_time(
        make_app: Any, inbox: Inbox) -> None:
    app = make_app(PRIVACY_ADMIN_CHECK=lambda: True)
    client = app.test_client()
    form = client.get("/privacy/report").get_data(as_text=True)
    assert 'name="details"' in form and 'name="email"' in form and "age_ok" not in form

    answer = file_report(client, email="Ana@Example.NL",
                         details="Your order page shows another customer's address.")
    assert answer.status_code == 303 and answer.location.endswith("/privacy/report/sent")

    [file] = breach_files(app)
    assert file.email == "ana@example.nl"
    assert file.details == "Your order page shows another customer's address."
    due = (file.created_at + dt.timedelta(hours=72)).strftime("%Y-%m-%d %H:%M")

    [mail] = inbox.wait_to(MAINTAINER)
    assert due in str(mail["Subject"])
    text = Inbox.text(mail)
    # The maintainer's mail speaks the site's language (Dutch here).
    assert "termijn van 72 uur" in text and due in text
    assert "another customer's address" in text
    assert str(mail["Reply-To"]) == "ana@example.nl"
    assert "https://webence.test/privacy/admin/breaches" in text

    page = client.get("/privacy/admin/breaches").get_data(as_text=True)
    assert f'data-breach="{file.id}"' in page and due in page

    listed = app.test_cli_runner().invoke(args=["privacy", "breaches"])
    assert listed.exit_code == 0
    assert f"#{file.id}" in listed.output and f"notify by {due}" in listed.output
    assert "not notified" in listed.output


def test_the_maintainer_records_the_breach_on_its_file(make_app: Any) -> None:
    app = make_app(PRIVACY_ADMIN_CHECK=lambda: True)
    client = app.test_client()
    file_report(client, details="Login page over plain http.")
    [file] = breach_files(app)
    url = f"/privacy/admin/breaches/{file.id}"
    token = csrf_token(client, url)
    saved = client.post(url, data={
        "csrf_token": token, "facts": "The login form posted over http for two days.",
        "effects": "Passwords of up to 40 customers readable on the network.",
        "measures": "https only; passwords reset.", "window_start": "2026-03-01",
        "window_end": "2026-03-02", "authority_notified_at": "2026-03-03T10:30",
        "people_told_at": "", "notice": "Please choose a new password."})
    assert saved.status_code == 303
    [file] = breach_files(app)
    assert file.facts == "The login form posted over http for two days."
    assert file.authority_notified_at == dt.datetime(2026, 3, 3, 10, 30)
    assert file.window_start == dt.datetime(2026, 3, 1)
    assert file.window_end.date() == dt.date(2026, 3, 2)  # the last day included whole
    assert file.people_told_at is None
    listed = app.test_cli_runner().invoke(args=["privacy", "breaches"]).output
    assert "notified 2026-03-03 10:30" in listed

    # Without a token: refused, nothing changed.
    refused = client.post(url, data={"facts": "changed"})
    assert refused.status_code == 400
    assert breach_files(app)[0].facts == "The login form posted over http for two days."


def test_a_report_without_details_is_refused_beside_the_field_and_nothing_is_stored(
        make_app: Any) -> None:
    app = make_app()
    client = app.test_client()
    answer = file_report(client, email="ana@example.nl", details="   ")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert '<p class="wp-error" id="details-error">Describe what you noticed.</p>' in page
    assert 'value="ana@example.nl"' in page  # the input is kept
    assert breach_files(app) == [] and outbox_kinds(app) == []

    no_token = app.test_client().post("/privacy/report", data={"details": "x"})
    assert no_token.status_code == 400 and breach_files(app) == []


def test_remind_names_files_past_48_hours_not_notified_once(make_app: Any, inbox: Inbox) -> None:
    app = make_app()
    state = app.extensions["webence_privacy"]
    now = utcnow()
    with app.app_context():
        Breach = state.models.BreachFile
        state.db.session.add_all([
            Breach(details="old, not notified", created_at=now - dt.timedelta(hours=50)),
            Breach(details="old, notified", created_at=now - dt.timedelta(hours=60),
                   authority_notified_at=now - dt.timedelta(hours=20)),
            Breach(details="fresh", created_at=now - dt.timedelta(hours=10))])
        state.db.session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["privacy", "remind"])
    assert first.exit_code == 0 and "Breach reminder mailed: 1 file(s)" in first.output
    [mail] = inbox.wait_to(MAINTAINER)
    text = Inbox.text(mail)
    assert "#1," in text and "#2," not in text and "#3," not in text
    second = runner.invoke(args=["privacy", "remind"])
    assert "Nothing to remind of." in second.output
    assert outbox_kinds(app).count("breach-reminder") == 1


# -- scope and notice, across the package's tables and a host app's -----------------------------


def seed_blog(app: Any) -> None:
    """In the window: Ana's account, posts by Ana and Bob, a comment on Bob's post,
    and Carol's contact message. Outside it: Bob's account, a comment on Ana's
    post, Dan's contact message."""
    db = host_app.db
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        ana = host_app.User(username="ana", email="Ana@Example.nl", created_at=IN)
        bob = host_app.User(username="bob", email="bob@example.nl", created_at=OUT)
        ana_post = host_app.Post(body="hello", author=ana, timestamp=IN)
        bob_post = host_app.Post(body="hi", author=bob, timestamp=IN + dt.timedelta(days=1))
        db.session.add_all([
            ana, bob, ana_post, bob_post,
            host_app.Comment(text="nice", post=bob_post, created_at=IN),
            host_app.Comment(text="old", post=ana_post, created_at=OUT)])
        for who, when in (("carol@example.nl", IN), ("dan@example.nl", OUT)):
            db.session.add(models.ContactMessage(
                name=who, email=who, purpose="question", message="?", policy_version="1",
                created_at=when))
        db.session.commit()


def scope_of(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=[
        "privacy", "breach-scope", "--since", "2026-03-01", "--until", "2026-03-31", *args])


def test_breach_scope_counts_rows_and_persons_per_source_without_addresses(
        make_host: Any) -> None:
    app = make_host()
    seed_blog(app)
    result = scope_of(app, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    found = {s["source"]: (s["rows"], s["persons"]) for s in data["sources"]}
    assert found["User"] == (1, 1)
    assert found["Post"] == (2, 2)          # Ana's and Bob's, through their author
    assert found["Comment"] == (1, 1)       # on Bob's post: Bob, through post and author
    assert found["ContactMessage"] == (1, 1)
    assert found["Subscriber"] == (0, 0) and found["BreachFile"] == (0, 0)
    assert data["persons"] == 3             # Ana, Bob, Carol: each once over every source
    user = next(s for s in data["sources"] if s["source"] == "User")
    assert user["label"] == "Your account" and user["retention"] == "default"
    assert user["categories"] == ["username", "email", "about_me"]

    text = scope_of(app).output
    assert "5 row(s) of 3 distinct person(s)" in text
    for output in (text, result.output):
        assert "@" not in output  # counts only, never an address

    only_posts = json.loads(scope_of(app, "--source", "Post", "--json").output)
    assert [(s["source"], s["rows"], s["persons"]) for s in only_posts["sources"]] == [
        ("Post", 2, 2)]
    assert only_posts["persons"] == 2


def test_breach_scope_refuses_an_unknown_source_and_a_window_that_ends_before_it_starts(
        make_app: Any) -> None:
    app = make_app()
    unknown = scope_of(app, "--source", "Invoices")
    assert unknown.exit_code == 2
    assert "'Invoices' is not a registered source" in unknown.output
    assert "ContactMessage" in unknown.output  # the names it knows
    backward = app.test_cli_runner().invoke(args=[
        "privacy", "breach-scope", "--since", "2026-03-31", "--until", "2026-03-01"])
    assert backward.exit_code == 2
    assert "--until '2026-03-01' is before --since '2026-03-31'" in backward.output
    bad_date = app.test_cli_runner().invoke(args=[
        "privacy", "breach-scope", "--since", "March", "--until", "2026-03-01"])
    assert bad_date.exit_code == 2 and "'March' is not a date" in bad_date.output


def test_breach_notify_tells_every_affected_person_once(make_host: Any, inbox: Inbox) -> None:
    app = make_host()
    seed_blog(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        file = models.BreachFile(
            details="a stolen laptop", created_at=utcnow(),
            window_start=dt.datetime(2026, 3, 1), window_end=dt.datetime(2026, 3, 31, 23, 59),
            notice="A laptop with our customer list was stolen on 1 April.")
        host_app.db.session.add(file)
        host_app.db.session.commit()
        file_id = file.id
    runner = app.test_cli_runner()
    first = runner.invoke(args=["privacy", "breach-notify", str(file_id)])
    assert first.exit_code == 0, first.output
    assert "notice mailed to 3 person(s)" in first.output
    for person in ("ana@example.nl", "bob@example.nl", "carol@example.nl"):
        [mail] = inbox.wait_to(person)
        assert "A laptop with our customer list was stolen" in Inbox.text(mail)
    assert not inbox.to("dan@example.nl")

    second = runner.invoke(args=["privacy", "breach-notify", str(file_id)])
    assert second.exit_code == 0
    assert "already mailed" in second.output and "nothing sent now" in second.output
    assert outbox_kinds(app).count("breach-notice") == 3
    with app.app_context():
        told = host_app.db.session.get(models.BreachFile, file_id)
        assert told.people_told_at is not None and told.notice_count == 3

    missing = runner.invoke(args=["privacy", "breach-notify", "999"])
    assert missing.exit_code == 2 and "FILE_ID 999" in missing.output


# -- what the site says about it ---------------------------------------------------------------


def test_the_privacy_page_and_the_record_state_the_report_form_and_breach_handling(
        make_app: Any) -> None:
    app = make_app()
    client = app.test_client()
    for language, words in (("en", "within 72 hours"), ("nl", "binnen 72 uur")):
        page = client.get(f"/privacy/?lang={language}").get_data(as_text=True)
        assert 'href="/privacy/report"' in page and words in page
    state = app.extensions["webence_privacy"]
    with app.app_context():
        english = record.build(state, "en")
        dutch = record.build(state, "nl")
        markdown = record.as_markdown(state, "en")
    assert english["breach_handling"]["report_form"] == "/privacy/report"
    assert english["breach_handling"]["notify_authority_within_hours"] == 72
    assert any("72-hour clock" in step for step in english["breach_handling"]["steps"])
    assert any("72 uur" in step for step in dutch["breach_handling"]["steps"])
    assert any(a["name"] == "BreachFile" for a in english["activities"])
    assert "## Reports of misuse and data breaches" in markdown
