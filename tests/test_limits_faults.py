"""The limiter's storage (Redis) fails: the forms keep working on a per-process
count, a post is never answered 500 after it was stored and mailed, the daily
mail caps still hold, and ``flask privacy check`` names the storage.

On SQLite and PostgreSQL (the ``database`` fixture); a real Redis server of the
test's own is stopped and started again mid-way where redis-server is installed.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flask_webence_privacy import contact, doctor

from .conftest import csrf_token, free_port, handles, missing, wait_for_delivery
from .test_deployment import answers

CLOSED = "redis://127.0.0.1:1/0"  # nothing listens on port 1
LOOSE = {"PRIVACY_CONTACT_RATE_LIMIT": "1000 per minute",
         "PRIVACY_NEWSLETTER_RATE_LIMIT": "1000 per hour",
         "PRIVACY_REQUEST_RATE_LIMIT": "1000 per hour",
         "PRIVACY_REQUEST_ADDRESS_RATE_LIMIT": "1000 per hour",
         "PRIVACY_MAILBOX_DAILY_LIMIT": 1000}


def contact_post(client, email="anna@example.nl", n=0):
    return client.post("/privacy/contact", data={
        "csrf_token": csrf_token(client, "/privacy/contact"), "purpose": "question",
        "name": "Anna", "email": email, "message": f"Vraag {n}", "age_ok": "y"})


def newsletter_post(client, email):
    return client.post("/privacy/newsletter?lang=en", data={
        "csrf_token": csrf_token(client, "/privacy/newsletter?lang=en"), "email": email,
        "consent": "y", "age_ok": "y"})


def request_post(client, email, kind="access"):
    return client.post("/privacy/request", data={
        "csrf_token": csrf_token(client, "/privacy/request"), "email": email, "kind": kind})


def rows(app, name):
    db, _ = handles(app)
    model = getattr(app.extensions["webence_privacy"].models, name)
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def outbox(app):
    db, _ = handles(app)
    Outbox = app.extensions["webence_privacy"].models.Outbox
    with app.app_context():
        return db.session.execute(sa.select(Outbox.kind, Outbox.status)).all()


def test_with_the_storage_unreachable_every_form_post_is_taken_and_mailed(make_app, inbox):
    app = make_app(PRIVACY_RATELIMIT_STORAGE_URI=CLOSED, **LOOSE)
    client = app.test_client()
    answers_ = [contact_post(client, n=n).status_code for n in range(3)]
    answers_.append(newsletter_post(client, "bert@example.nl").status_code)
    answers_.append(request_post(client, "carla@example.nl").status_code)
    assert answers_ == [303] * 5
    assert rows(app, "ContactMessage") == 3
    assert rows(app, "Subscriber") == 1
    assert rows(app, "DataRequest") == 1
    wait_for_delivery(app)
    sent = outbox(app)
    assert len(sent) == 3 + 3 + 1 + 1 and {status for _, status in sent} == {"sent"}
    assert len(inbox.to("anna@example.nl")) == 3
    assert len(inbox.to("bert@example.nl")) == len(inbox.to("carla@example.nl")) == 1


def test_the_per_ip_limit_still_holds_per_process_while_the_storage_is_down(make_app, inbox):
    app = make_app(PRIVACY_RATELIMIT_STORAGE_URI=CLOSED,
                   PRIVACY_CONTACT_RATE_LIMIT="2 per minute")
    client = app.test_client()
    assert [contact_post(client, n=n).status_code for n in range(3)] == [303, 303, 429]
    assert rows(app, "ContactMessage") == 2


def test_the_daily_caps_hold_in_process_and_the_outage_is_logged_once(make_app, inbox, caplog):
    app = make_app(PRIVACY_RATELIMIT_STORAGE_URI=CLOSED, **LOOSE)
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        posts = contact.ACK_CAP_PER_DAY + 3
        assert {contact_post(client, n=n).status_code for n in range(posts)} == {303}
    wait_for_delivery(app)
    kinds = [kind for kind, _ in outbox(app)]
    assert kinds.count("contact-notify") == posts
    assert kinds.count("contact-ack") == contact.ACK_CAP_PER_DAY
    # One line for the outage (Flask-Limiter's, as it switches to memory; the
    # caps then count in that memory too), not one per post.
    outage = [r for r in caplog.records if "unreachable" in r.getMessage()
              or "cannot be reached" in r.getMessage()]
    assert len(outage) == 1


def test_a_storage_error_in_a_cap_never_fails_a_post_after_commit(make_app, inbox, monkeypatch):
    """The limiter itself answered (its storage was up when the view began), then
    the storage fails for the cap's count and for the count after the view: the
    post is 303, stored and mailed."""
    app = make_app(**LOOSE)
    limiter = app.extensions["webence_privacy"].limiter

    class Broken:
        def hit(self, *args, **kwargs):
            raise ConnectionError("storage gone")

        test = hit

    client = app.test_client()
    token = csrf_token(client, "/privacy/contact")
    monkeypatch.setattr(type(limiter), "limiter", property(lambda self: Broken()))
    response = client.post("/privacy/contact", data={
        "csrf_token": token, "purpose": "question", "name": "Anna",
        "email": "anna@example.nl", "message": "Hallo", "age_ok": "y"})
    assert response.status_code == 303
    assert rows(app, "ContactMessage") == 1
    wait_for_delivery(app)
    assert sorted(kind for kind, _ in outbox(app)) == ["contact-ack", "contact-notify"]


def test_flask_privacy_check_names_the_unreachable_storage(make_app):
    app = make_app(PRIVACY_RATELIMIT_STORAGE_URI="redis://user:secret@127.0.0.1:1/0")
    with app.app_context():
        findings = doctor.check(app, app.extensions["webence_privacy"])
    [found] = [f for f in findings if f.id == "privacy.W013"]
    assert "redis://user:***@127.0.0.1:1/0" in found.message
    assert "secret" not in str(found)
    result = app.test_cli_runner().invoke(args=["privacy", "check"])
    assert "privacy.W013" in result.output and "127.0.0.1:1/0" in result.output


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes], list]]:
    """A redis-server of this test's own, on a free port; stop/start through the list."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server is not installed")
    port = free_port()
    started: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        started.append(subprocess.Popen(
            [binary, "--port", str(port), "--save", "", "--appendonly", "no",
             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while not answers("127.0.0.1", port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop() -> None:
        started[-1].terminate()
        started[-1].wait(10)

    start()
    yield port, start, stop
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


def test_redis_stopped_and_started_mid_way(make_app, inbox, own_redis):
    port, start, stop = own_redis
    app = make_app(PRIVACY_RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0",
                   RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}", **LOOSE)
    client = app.test_client()
    statuses = [contact_post(client, n=n).status_code for n in range(2)]
    stop()
    statuses += [contact_post(client, n=n).status_code for n in range(2, 5)]
    with app.app_context():
        assert any(f.id == "privacy.W013"
                   for f in doctor.check(app, app.extensions["webence_privacy"]))
    start()
    statuses += [contact_post(client, n=n).status_code for n in range(5, 7)]
    assert statuses == [303] * 7
    assert rows(app, "ContactMessage") == 7
    wait_for_delivery(app)
    assert [kind for kind, _ in outbox(app)].count("contact-notify") == 7
    assert len(inbox.to("info@webence.nl")) == 7
