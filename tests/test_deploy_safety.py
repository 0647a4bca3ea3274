"""Tried as an attacker would against a production-mode site: what 0.1 let
through, and what now holds. One story per finding of the security review.

Each runs on SQLite and PostgreSQL, with the real SMTP inbox on loopback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.cookiejar
import io
import json
import logging
import re
import threading
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
import sqlalchemy as sa

from flask_webence_privacy.requests.export import neutralise

from .conftest import Inbox, csrf_token, free_port, handles, wait_for_delivery, wait_for_outbox
from .test_portal import act, file_request, mailed_link, path, verified

VICTIM = "victim@example.nl"
EVIL = "https://evil.example"
#: The site's address declared for links only: the host's routing answers every
#: Host (with SERVER_NAME, Flask 3.0 answers another host with a 404).
SITE_URL_ONLY = {"SERVER_NAME": None, "PRIVACY_SITE_URL": "https://webence.test"}


def rows(app, model_name):
    db, _ = handles(app)
    model = getattr(app.extensions["webence_privacy"].models, model_name)
    with app.app_context():
        found = db.session.scalars(sa.select(model).order_by(model.id)).all()
        db.session.expunge_all()
        return found


def links_in(inbox_mail) -> list[str]:
    return Inbox.links(inbox_mail) + re.findall(r"<(https?://[^>]+)>",
                                                str(inbox_mail.get("List-Unsubscribe", "")))


# -- 1. Host header poisoning ----------------------------------------------------------------


def test_a_forged_host_header_never_reaches_a_mailed_link(make_app, inbox):
    app = make_app(PRIVACY_ADMIN_CHECK=lambda: True, **SITE_URL_ONLY)
    client = app.test_client()
    token = csrf_token(client, "/privacy/request", base_url=EVIL)
    response = client.post("/privacy/request", base_url=EVIL,
                           headers={"Referer": EVIL + "/privacy/request"},
                           data={"csrf_token": token, "email": VICTIM, "kind": "access"},
                           follow_redirects=True)
    assert response.status_code == 200
    (mail,) = inbox.wait_to(VICTIM)
    links = [u for u in Inbox.links(mail) if "/privacy/request/" in u]
    assert links and all(u.startswith("https://webence.test/privacy/request/") for u in links)
    assert "evil.example" not in Inbox.text(mail) + Inbox.html(mail)

    # The victim confirms; the maintainer's mail links to the real admin too.
    page = client.get(path(links[0]), base_url=EVIL).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(path(links[0]), base_url=EVIL, data={"csrf_token": csrf, "action": "verify"},
                follow_redirects=True)
    (notice,) = inbox.wait_to("info@webence.nl")
    assert "https://webence.test/privacy/admin/requests/" in Inbox.text(notice)
    assert "evil.example" not in Inbox.text(notice)


def test_newsletter_links_take_the_declared_host_too(make_app, inbox):
    app = make_app(**SITE_URL_ONLY)
    client = app.test_client()
    url = "/privacy/newsletter"
    response = client.post(url, base_url=EVIL, data={
        "csrf_token": csrf_token(client, url, base_url=EVIL), "email": VICTIM, "consent": "y",
        "age_ok": "y"}, headers={"Referer": EVIL + url}, follow_redirects=True)
    assert response.status_code == 200
    (mail,) = inbox.wait_to(VICTIM)
    assert all(u.startswith("https://webence.test/") for u in Inbox.links(mail))


def test_with_the_site_url_a_forged_host_never_reaches_a_link(make_app, inbox):
    # No SERVER_NAME and no TRUSTED_HOSTS (which Flask 3.0 does not enforce): the
    # declared PRIVACY_SITE_URL alone builds the link, whatever Host the post had.
    app = make_app(SERVER_NAME=None, PRIVACY_SITE_URL="https://webence.test")
    client = app.test_client()
    token = csrf_token(client, "/privacy/request", base_url=EVIL)
    response = client.post("/privacy/request", base_url=EVIL, data={
        "csrf_token": token, "email": VICTIM, "kind": "access"}, follow_redirects=True)
    assert response.status_code == 200
    (mail,) = inbox.wait_to(VICTIM)
    links = Inbox.links(mail)
    assert links and all(u.startswith("https://webence.test/privacy/") for u in links)
    assert "evil" not in mail.as_string()


# -- 2. Mail leaves the request path ---------------------------------------------------------


class GatedHandler:
    """An SMTP server that notes when each client greets it and holds every
    message until the test opens the gate."""

    def __init__(self) -> None:
        self.greeted: list[float] = []
        self.gate = threading.Event()
        self.messages: list[bytes] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.greeted.append(time.monotonic())
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        import asyncio

        while not self.gate.is_set():
            await asyncio.sleep(0.02)
        self.messages.append(envelope.content)
        return "250 OK"


def test_no_smtp_connection_is_opened_while_a_form_is_answered(make_app, live_server):
    from aiosmtpd.controller import Controller

    handler = GatedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        app = make_app(MAIL_PORT=controller.port, PREFERRED_URL_SCHEME="http",
                       PRIVACY_MAIL_TIMEOUT=30, **SITE_URL_ONLY)
        server = live_server(app)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        form = opener.open(server.url + "/privacy/contact").read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        body = urllib.parse.urlencode({
            "csrf_token": token, "purpose": "question", "name": "Tim", "email": "tim@example.nl",
            "message": "Wanneer zijn jullie open?", "age_ok": "y"}).encode()
        answer = opener.open(server.url + "/privacy/contact", data=body, timeout=20)
        page = answer.read().decode()
        # The answer is complete while the SMTP server still holds every mail: had
        # the request waited for SMTP, it could not have finished before the gate.
        assert answer.status == 200 and "Bedankt voor uw bericht" in page
        assert handler.messages == [] and not handler.gate.is_set()
        handler.gate.set()
        # ... and the mail still arrives, both of them over one connection.
        deadline = time.monotonic() + 10
        while len(handler.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(handler.messages) == 2
        assert len(handler.greeted) == 1
        assert [r.status for r in wait_for_outbox(app, 2)] == ["sent", "sent"]
    finally:
        handler.gate.set()
        controller.stop()


# -- 3. No working token at rest -------------------------------------------------------------


def test_a_delivered_mail_keeps_no_working_link(make_app, inbox):
    app = make_app(PRIVACY_VISIT_LOG=True)
    client = app.test_client()
    file_request(client, VICTIM, "erasure")
    link = mailed_link(inbox, VICTIM)
    wait_for_outbox(app, 1)
    stored = rows(app, "Outbox")[0]
    token = link.rsplit("/", 1)[1]
    assert token not in stored.body_text + (stored.body_html or "") + (stored.headers or "")
    assert "[link removed after delivery]" in stored.body_text
    assert stored.live_links is None
    assert stored.context is None  # the values the mail was rendered from went too
    # The link in the visitor's own mailbox still works.
    assert client.get(link).status_code == 200
    # The visit log keeps the route, not the token.
    db, _ = handles(app)
    VisitLog = app.extensions["webence_privacy"].models.VisitLog
    deadline = time.monotonic() + 10
    visited: list[str] = []
    while not visited and time.monotonic() < deadline:  # written after the response closed
        with app.app_context():
            visited = db.session.scalars(sa.select(VisitLog.path)).all()
        time.sleep(0.02)
    assert "/privacy/request/<token>" in visited
    assert not any(token in p for p in visited)


def test_the_unsubscribe_link_leaves_the_stored_copy_of_the_welcome_mail(make_app, inbox):
    from .test_newsletter import subscribed

    app = make_app()
    client = app.test_client()
    subscribed(app, client, inbox, VICTIM)
    welcome = inbox.wait_to(VICTIM, 2)[-1]
    unsubscribe = [u for u in links_in(welcome) if "/unsubscribe/" in u]
    assert unsubscribe
    wait_for_outbox(app, 2)
    for row in rows(app, "Outbox"):
        stored = row.body_text + (row.body_html or "") + (row.headers or "")
        assert not any(u.rsplit("/", 1)[1] in stored for u in unsubscribe)


# -- 4. Limits -------------------------------------------------------------------------------


def contact_post(client, **fields):
    data = {"csrf_token": csrf_token(client, "/privacy/contact"), "purpose": "question",
            "name": "Lia", "email": "lia@example.nl", "message": "Hallo", "age_ok": "y"}
    data.update(fields)
    return client.post("/privacy/contact", data=data, follow_redirects=True)


def test_only_accepted_messages_count_against_the_limit(make_app, inbox):
    app = make_app(PRIVACY_CONTACT_RATE_LIMIT="2 per minute")
    client = app.test_client()
    for _ in range(5):  # five typos: each gets the form back, none counts
        assert contact_post(client, email="lia@").status_code == 400
    assert contact_post(client).status_code == 200
    assert contact_post(client).status_code == 200
    assert contact_post(client).status_code == 429
    assert len(rows(app, "ContactMessage")) == 2


def test_the_limiter_keeps_no_ip_address(make_app, inbox, caplog):
    app = make_app(PRIVACY_CONTACT_RATE_LIMIT="1 per minute")
    client = app.test_client()
    with caplog.at_level(logging.DEBUG):
        contact_post(client, environ_base={"REMOTE_ADDR": "198.51.100.23"})
        assert contact_post(client, environ_base={"REMOTE_ADDR": "198.51.100.23"}).status_code == 429
    storage = app.extensions["webence_privacy"].limiter.storage
    keys = " ".join(map(str, getattr(storage, "storage", {}).keys()))
    assert keys and "198.51.100" not in keys
    assert "198.51.100" not in caplog.text


def test_a_site_wide_limit_of_the_site_still_holds_on_its_own_pages(make_app, inbox):
    # The package's limiter leaves the site's other pages alone unless the site
    # sets a limit for every request through Flask-Limiter's own setting.
    def home_page(app, db, privacy):
        app.add_url_rule("/", "home", lambda: "Welkom")

    quiet = make_app(setup=home_page).test_client()
    assert [quiet.get("/").status_code for _ in range(4)] == [200, 200, 200, 200]
    limited = make_app(setup=home_page, RATELIMIT_DEFAULT="2 per minute").test_client()
    assert [limited.get("/").status_code for _ in range(3)] == [200, 200, 429]
    # And the package's own form limit holds either way.
    client = make_app(PRIVACY_CONTACT_RATE_LIMIT="1 per minute").test_client()
    assert [contact_post(client).status_code for _ in range(2)] == [200, 429]


def test_memory_limits_outside_debug_are_named_at_start_up(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="flask_webence_privacy"):
        make_app(create=False, TESTING=False, PRIVACY_HASH_KEY="k")
    assert "PRIVACY_RATELIMIT_STORAGE_URI is not set" in caplog.text


# -- 5. Odd input ----------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "field", "data"), [
    ("/privacy/contact", "name", {"purpose": "question", "email": "a@example.nl",
                                  "message": "Hoi", "age_ok": "y"}),
    ("/privacy/newsletter", "email", {"consent": "y", "age_ok": "y"}),
    ("/privacy/newsletter/resend", "email", {}),
    ("/privacy/request", "email", {"kind": "access"}),
])
def test_a_file_in_a_text_field_gets_the_form_back_not_a_500(app, url, field, data):
    client = app.test_client()
    data = {"csrf_token": csrf_token(client, url), **data,
            field: (io.BytesIO(b"%PDF-1.4 not a name"), "cv.pdf")}
    response = client.post(url, data=data, content_type="multipart/form-data",
                           headers={"Referer": "https://webence.test" + url,
                                    "Accept-Language": "en"}, follow_redirects=True)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'role="alert"' in page and "%PDF" not in page


def test_a_file_in_the_grounds_of_an_objection_is_no_500(make_app, inbox):
    from .test_portal import _host_model

    site = make_app(setup=_host_model)
    client, link = verified(site, inbox, "objection", email=VICTIM)
    response = act(client, link, action="mark", grounds=(io.BytesIO(b"x" * 10), "a.txt"))
    assert response.status_code in (303, 400)
    assert response.status_code != 500


def test_filing_again_keeps_the_link_of_a_verified_request(make_app, inbox):
    from .test_portal import _host_model

    site = make_app(setup=_host_model)
    client, link = verified(site, inbox, "erasure", email=VICTIM)
    db, _ = handles(site)
    Outbox = site.extensions["webence_privacy"].models.Outbox
    with site.app_context():  # eleven minutes later
        for row in db.session.scalars(sa.select(Outbox)):
            row.created_at -= dt.timedelta(minutes=11)
        db.session.commit()
    inbox.clear()
    assert file_request(site.test_client(), VICTIM, "erasure").status_code == 200
    (notice,) = inbox.wait_to(VICTIM)
    assert "being handled" in notice["Subject"] or "behandeling" in notice["Subject"]
    assert not [u for u in Inbox.links(notice) if "/privacy/request/" in u]
    page = client.get(link)
    assert page.status_code == 200  # the victim's own link still works


@pytest.mark.parametrize(("cell", "safe"), [
    ("=1+2", "'=1+2"), ("  =HYPERLINK(\"x\")", "'  =HYPERLINK(\"x\")"), ("\t@SUM(A1)", "'\t@SUM(A1)"),
    (" -3", "' -3"), ("Ana", "Ana"), ("", ""),
])
def test_the_csv_guard_looks_past_leading_whitespace(cell, safe):
    assert neutralise(cell) == safe


def test_a_page_that_echoes_an_address_is_never_cached(app):
    client = app.test_client()
    response = client.post("/privacy/request", headers={"Referer": "https://webence.test/"},
                           data={"csrf_token": csrf_token(client, "/privacy/request"),
                                 "email": VICTIM}, follow_redirects=True)  # no kind chosen
    assert response.status_code == 400
    assert VICTIM in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


# -- 6. Keys ---------------------------------------------------------------------------------


def test_rotating_the_secret_keeps_mailed_unsubscribe_links_working(make_app, inbox):
    from .test_newsletter import subscribed

    first = make_app(SECRET_KEY="old-secret")
    subscribed(first, first.test_client(), inbox, VICTIM)
    welcome = inbox.wait_to(VICTIM, 2)[-1]
    link = [u for u in Inbox.links(welcome) if "/unsubscribe/" in u][0]
    rotated = make_app(SECRET_KEY="new-secret", SECRET_KEY_FALLBACKS=["old-secret"])
    assert rotated.test_client().get(path(link)).status_code == 200
    without = make_app(SECRET_KEY="new-secret")
    assert without.test_client().get(path(link)).status_code == 404


# -- 9. Database faults ----------------------------------------------------------------------


class Proxy:
    """A TCP proxy in front of the database: drop every connection (a restart),
    or refuse new ones (the database is away)."""

    def __init__(self, target: tuple[str, int]) -> None:
        import socket

        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pairs: list[tuple[Any, Any]] = []
        self.refusing = False
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: Any, sink: Any) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.close()

    def drop(self) -> None:
        import socket

        with self.lock:
            for pair in self.pairs:
                for sock in pair:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
            self.pairs.clear()

    def close(self) -> None:
        self.drop()
        self.listener.close()


@pytest.fixture
def pg_proxy(database):
    """The proxy, set up before the app and closed after its teardown."""
    url = sa.engine.make_url(database["SQLALCHEMY_DATABASE_URI"])
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield proxy
    proxy.close()


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_database_restart_between_two_posts_loses_nothing(pg_proxy, make_app, inbox):
    proxy = pg_proxy
    app = make_app(SQLALCHEMY_DATABASE_URI=proxy.url)
    client = app.test_client()
    assert contact_post(client, message="Eerste bericht").status_code == 200
    wait_for_delivery(app)
    proxy.drop()  # the server restarts: every pooled connection is dead
    assert contact_post(client, message="Tweede bericht").status_code == 200
    assert [m.message for m in rows(app, "ContactMessage")] == [
        "Eerste bericht", "Tweede bericht"]
    wait_for_delivery(app)

    proxy.refusing = True  # the database stays away
    proxy.drop()
    response = contact_post(client, message="Derde bericht, niet verloren")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "Derde bericht, niet verloren" in page  # the visitor's text is kept
    assert "niets opgeslagen" in page  # "nothing was stored", in the visitor's Dutch
    proxy.refusing = False
    assert contact_post(client, message="Derde bericht, niet verloren").status_code == 200
    assert len(rows(app, "ContactMessage")) == 3
    wait_for_delivery(app)


# -- 7. flask privacy check ------------------------------------------------------------------


def test_the_deployment_check_names_each_finding_and_fails(make_app):
    app = make_app(PRIVACY_HASH_KEY=None, PREFERRED_URL_SCHEME="http", SERVER_NAME=None)
    result = app.test_cli_runner().invoke(args=["privacy", "check"])
    assert result.exit_code != 0
    for finding in ("privacy.E001", "privacy.W002", "privacy.E003", "privacy.W004"):
        assert finding in result.output
    assert "Fix: Set PRIVACY_SITE_URL" in result.output


def test_the_deployment_check_passes_a_site_set_up_right(make_app):
    app = make_app(PRIVACY_RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
                   SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True})
    result = app.test_cli_runner().invoke(args=["privacy", "check"])
    assert result.exit_code == 0, result.output
    assert "No findings" in result.output


def test_the_deployment_check_sees_a_host_column_without_an_index(make_app):
    def setup(app, db, privacy):
        class Lead(db.Model):
            __tablename__ = "lead"
            id = sa.Column(sa.Integer, primary_key=True)
            email = sa.Column(sa.String(254))
            created_at = sa.Column(sa.DateTime)

        privacy.register(Lead)

    app = make_app(setup=setup)
    result = app.test_cli_runner().invoke(args=["privacy", "check"])
    # MariaDB compares by its case-insensitive collation: the column itself wants the index.
    collating = app.config["SQLALCHEMY_DATABASE_URI"].startswith("mysql")
    expression = "email" if collating else "lower(email)"
    assert "privacy.W005" in result.output and f"no index on {expression} " in result.output


def test_a_host_column_without_an_index_is_named_at_start_up(make_app, caplog):
    def setup(app, db, privacy):
        class Lead(db.Model):
            __tablename__ = "lead"
            id = sa.Column(sa.Integer, primary_key=True)
            email = sa.Column(sa.String(254), index=True)  # plain: lower(email) is compared
            created_at = sa.Column(sa.DateTime)

        privacy.register(Lead)

    with caplog.at_level(logging.WARNING, logger="flask_webence_privacy"):
        app = make_app(setup=setup, create=False)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("mysql"):
        # MariaDB compares by its case-insensitive collation: the plain index serves.
        assert "privacy.register(Lead)" not in caplog.text
    else:
        assert "privacy.register(Lead): no index on lower(email) of lead" in caplog.text


def test_the_deployment_check_sees_a_purge_that_does_not_run(make_app):
    app = make_app()
    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        db.session.add(models.ContactMessage(
            name="Oud", email="oud@example.nl", purpose="question", message="x",
            policy_version="1", created_at=dt.datetime(2020, 1, 1)))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["privacy", "check"])
    assert "privacy.W010" in result.output


def test_the_findings_are_listed_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    doctor = (Path(__file__).parent.parent / "flask_webence_privacy" / "doctor.py").read_text()
    ids = sorted(set(re.findall(r'"(privacy\.[EW]\d{3})"', doctor)))
    assert ids and all(i in readme for i in ids), json.dumps(ids)


@pytest.mark.parametrize("url", ["/privacy/contact", "/privacy/newsletter",
                                 "/privacy/newsletter/resend", "/privacy/request"])
def test_thousands_of_fields_or_broken_utf8_get_a_4xx_never_a_500(app, url):
    client = app.test_client()
    token = csrf_token(client, url)
    many = "&".join(f"f{i}=x" for i in range(5000)) + f"&csrf_token={token}"
    response = client.post(url, data=many, content_type="application/x-www-form-urlencoded",
                           headers={"Referer": "https://webence.test" + url}, follow_redirects=True)
    assert 400 <= response.status_code < 500
    broken = (b"csrf_token=" + token.encode()
              + b"&email=%ff%fe%fd\xff@example.nl&name=%c3%28\xc3&kind=access")
    response = client.post(url, data=broken, content_type="application/x-www-form-urlencoded",
                           headers={"Referer": "https://webence.test" + url}, follow_redirects=True)
    # A form answer: the form back with its messages, or (resend) the one page
    # every address gets. Never a 500.
    assert response.status_code in (200, 400)
    assert "<form" in response.get_data(as_text=True) or response.status_code == 200
