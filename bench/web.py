"""The form and page benchmarks, as a user measures them: the Flask test client,
interleaved rounds against the bare stack in the same process.

- ``contact_post``: a valid contact POST (message, consent, two mails queued)
  against bare Flask + Flask-WTF + one insert; mail goes to a loopback SMTP sink
  through ``flask privacy send-mail --watch`` in its own process
  (``PRIVACY_MAIL_DISPATCH="sender"``), and, as ``contact_post_background``,
  through the default background sender of the web process itself.
- ``newsletter_post``, ``request_post``: the same for the sign-up and the
  request form (a new address each time).
- ``enumeration_timing``: median answer time for a known (confirmed, or already
  filed) address over that for an unknown one; goal between 0.8 and 1.25.

Between benchmarks the sender first delivers what the last one queued, so each
measures its own work and not another's mail.

The pages (``pages``, SQLite):

- ``policy_get``: the privacy page for a first visitor (the banner shows)
  against a bare ``render_template`` of 10 KB; ``policy_get_answered`` the same
  for a visitor who has answered the banner; ``policy_get_304`` the answer to a
  browser or cache that revalidates its copy (``If-None-Match``).
- ``host_page_banner``: a host's page of 10 KB with ``privacy_cookie_banner()``
  in it, on a site with the package (its hooks, the visit log), against the same
  page on the same site without the package.
- ``bare_page_limiter``, ``bare_page_limiter_filtered``: the bare page with
  Flask-Limiter set up on its app (as the package does where the site has no
  limiter of its own), plainly and with the package's request filter: what
  Flask-Limiter's hooks alone cost every page.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import FlaskForm
from jinja2 import DictLoader
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from flask_webence_privacy import Privacy

from .common import Result, interleaved

ROOT = Path(__file__).resolve().parent.parent
BASE = {
    "SECRET_KEY": "bench", "PRIVACY_HASH_KEY": "bench-hash", "SERVER_NAME": "webence.test",
    "PRIVACY_CONTROLLER_NAME": "Webence", "PRIVACY_CONTACT_EMAIL": "info@webence.nl",
    "MAIL_DEFAULT_SENDER": ("Webence", "noreply@webence.nl"), "MAIL_SERVER": "127.0.0.1",
    "PRIVACY_CONTACT_RATE_LIMIT": "1000000 per minute",
    "PRIVACY_NEWSLETTER_RATE_LIMIT": "1000000 per minute",
    "PRIVACY_REQUEST_RATE_LIMIT": "1000000 per minute",
    "PRIVACY_REQUEST_ADDRESS_RATE_LIMIT": "1000000 per minute",
    "WTF_CSRF_SSL_STRICT": False,
}
_counter = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink:
    """An SMTP server in its own process that accepts and drops every mail."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
             "-c", "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the SMTP sink did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)


class Database:
    """SQLite in a temp file, or a fresh schema on PostgreSQL."""

    def __init__(self, kind: str, postgres_url: str | None) -> None:
        self.kind = kind
        self.dir = tempfile.TemporaryDirectory()
        self.schema = None
        self.postgres_url = postgres_url
        if kind == "postgresql":
            assert postgres_url
            self.schema = f"bench_{uuid.uuid4().hex[:10]}"
            self.admin = sa.create_engine(postgres_url)
            with self.admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))

    def config(self, name: str) -> dict[str, Any]:
        if self.kind == "sqlite":
            return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{self.dir.name}/{name}.db"}
        return {"SQLALCHEMY_DATABASE_URI": self.postgres_url,
                "SQLALCHEMY_ENGINE_OPTIONS": {
                    "connect_args": {"options": f"-csearch_path={self.schema}"}}}

    def url_for_subprocess(self, name: str) -> dict[str, str]:
        config = self.config(name)
        url = sa.engine.make_url(config["SQLALCHEMY_DATABASE_URI"])
        if self.kind == "postgresql":
            url = url.update_query_dict({"options": f"-csearch_path={self.schema}"})
        return {"url": url.render_as_string(hide_password=False)}

    def close(self) -> None:
        if self.schema:
            with self.admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            self.admin.dispose()
        self.dir.cleanup()


# -- the two apps ----------------------------------------------------------------------------


def bare_app(config: dict[str, Any]) -> Flask:
    """The bare stack a site would have without the package: a form with CSRF,
    validation, one insert and a thank-you page."""
    app = Flask("bare")
    app.config.update(BASE, **config)
    db = SQLAlchemy(app)

    class Message(db.Model):
        __tablename__ = "bare_message"
        id = sa.Column(sa.Integer, primary_key=True)
        name = sa.Column(sa.String(200))
        email = sa.Column(sa.String(254), index=True)
        message = sa.Column(sa.Text)
        created_at = sa.Column(sa.DateTime, default=sa.func.now())

    class Form(FlaskForm):
        name = StringField(validators=[DataRequired(), Length(max=200)])
        email = StringField(validators=[DataRequired(), Email()])
        message = TextAreaField(validators=[DataRequired(), Length(max=5000)])
        age_ok = BooleanField(validators=[DataRequired()])

    # Templates from a loader, as a site keeps them in files: compiled once and
    # cached, like the package's (render_template_string compiles on every call,
    # which would slow the baseline and flatter the ratio).
    big = "<p>" + "Wij bewaren uw gegevens niet langer dan nodig. " * 200 + "</p>"
    app.jinja_loader = DictLoader({
        "contact.html": "<!doctype html><title>{{ t }}</title>"
                        "<form method=post>{{ form.csrf_token }}</form>",
        "page.html": "<!doctype html><html lang=nl><title>Privacy</title>"
                     "<main>{{ body|safe }}</main>",
    })

    @app.route("/contact", methods=["GET", "POST"])
    def contact() -> str:
        form = Form()
        if form.validate_on_submit():
            db.session.add(Message(name=form.name.data, email=form.email.data,
                                   message=form.message.data))
            db.session.commit()
            return render_template("contact.html", t="Thanks", form=form)
        return render_template("contact.html", t="Contact", form=form)

    @app.get("/page")
    def policy_like() -> str:
        return render_template("page.html", body=big[:10240])

    with app.app_context():
        db.create_all()
    return app


def package_app(config: dict[str, Any]) -> Flask:
    from example_site import demo

    app = Flask("site")
    app.config.update(BASE, **{k: v for k, v in demo.PRIVACY_CONFIG.items()
                               if k != "PRIVACY_BASE_TEMPLATE"})
    app.config.update(config)
    db = SQLAlchemy(app)
    privacy = Privacy(app, db=db)
    with app.app_context():
        db.create_all()
        privacy.sync_policy()
    return app


def token_of(client: Any, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def poster(app: Flask, url: str, fields: Callable[[], dict[str, str]],
           expect: tuple[int, ...] = (200, 303)) -> Callable[[], None]:
    """A form post; success is the bare stack's 200 or the package's 303 to its
    result page (the redirect is not followed: the post is what is measured)."""
    client = app.test_client()
    token = token_of(client, url)

    def post() -> None:
        response = client.post(url, data={"csrf_token": token, **fields()}, buffered=True)
        assert response.status_code in expect, (url, response.status_code)

    return post


def contact_fields() -> dict[str, str]:
    n = next(_counter)
    return {"purpose": "quote", "name": f"Bezoeker {n}", "email": f"visitor{n}@example.nl",
            "message": "Wat kost een nieuwe website met een webwinkel?", "age_ok": "y"}


def newsletter_fields() -> dict[str, str]:
    return {"email": f"reader{next(_counter)}@example.nl", "consent": "y", "age_ok": "y"}


def request_fields() -> dict[str, str]:
    return {"email": f"subject{next(_counter)}@example.nl", "kind": "access"}


def sender_process(database: Database, port: int) -> subprocess.Popen[bytes]:
    """``flask privacy send-mail --watch`` for the package app's database."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_DATABASE": database.url_for_subprocess(
        "package")["url"], "BENCH_SMTP_PORT": str(port)}
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "bench.web:sender_app", "privacy", "send-mail",
         "--watch", "--interval", "0.5"], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def sender_app() -> Flask:
    return package_app({"SQLALCHEMY_DATABASE_URI": os.environ["BENCH_DATABASE"],
                        "MAIL_PORT": int(os.environ["BENCH_SMTP_PORT"])})


def run(kinds: list[str], postgres_url: str | None, quick: bool = False) -> list[Result]:
    count, rounds = (30, 5) if quick else (100, 7)
    out: list[Result] = []
    sink = Sink()
    try:
        for kind in kinds:
            database = Database(kind, postgres_url)
            try:
                bare = bare_app(database.config("bare"))
                app = package_app({**database.config("package"), "MAIL_PORT": sink.port,
                                   "PRIVACY_MAIL_DISPATCH": "sender"})
                sender = sender_process(database, sink.port)
                try:
                    out.append(interleaved(
                        "contact_post", poster(bare, "/contact", contact_fields),
                        poster(app, "/privacy/contact", contact_fields),
                        count=count, rounds=rounds, db=kind,
                        note="mail through send-mail --watch in its own process"))
                    if kind == "sqlite":
                        settle(app)
                        out.append(interleaved(
                            "newsletter_post", poster(bare, "/contact", contact_fields),
                            poster(app, "/privacy/newsletter", newsletter_fields),
                            count=count, rounds=rounds, db=kind))
                        settle(app)
                        out.append(interleaved(
                            "request_post", poster(bare, "/contact", contact_fields),
                            poster(app, "/privacy/request", request_fields),
                            count=count, rounds=rounds, db=kind))
                        settle(app)
                        out += enumeration(app, count=count // 2, rounds=rounds)
                finally:
                    sender.terminate()
                    sender.wait(5)
                if kind == "sqlite":
                    background = package_app({**database.config("background"),
                                              "MAIL_PORT": sink.port})
                    out.append(interleaved(
                        "contact_post_background", poster(bare, "/contact", contact_fields),
                        poster(background, "/privacy/contact", contact_fields),
                        count=count, rounds=rounds, db=kind,
                        note="mail sent by the web process's own background thread"))
            finally:
                database.close()
    finally:
        sink.stop()
    return out


def settle(app: Flask, timeout: float = 120.0) -> None:
    """Wait until the sender has delivered what the last benchmark queued: each
    benchmark measures its own work, not the mail another one left behind (a
    POST benchmark's own mail is part of what it measures)."""
    state = app.extensions["webence_privacy"]
    Outbox = state.models.Outbox
    waiting = sa.select(sa.func.count()).select_from(Outbox).where(
        Outbox.status.in_(("queued", "sending")))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            left = state.db.session.scalar(waiting)
            state.db.session.remove()
        if not left:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the mail sender left {left} mails after {timeout:g} s")


def _getter(app: Flask, url: str, client: Any = None, headers: dict[str, str] | None = None,
            status: int = 200) -> Callable[[], None]:
    client = client or app.test_client()

    def get() -> None:
        response = client.get(url, headers=headers)
        assert response.status_code == status, (url, response.status_code)
        # A WSGI server closes every response, and what runs then (the visit
        # log) is part of what a page costs.
        response.close()

    return get


def _answered_getter(app: Flask, url: str) -> Callable[[], None]:
    """The page for a returning visitor: one who said no to the optional cookies
    (their choice cookie comes along; the form has no token and opens no session)."""
    client = app.test_client()
    response = client.post("/privacy/cookies", data={"choice": "none"},
                           headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 303, response.status_code
    assert "wp-cookie-banner" not in client.get(url).get_data(as_text=True)
    return _getter(app, url, client)


def _revalidating_getter(app: Flask, url: str) -> Callable[[], None]:
    """A browser or cache that has the page and asks whether it changed: a 304."""
    client = app.test_client()
    etag = client.get(url).headers["ETag"]
    return _getter(app, url, client, headers={"If-None-Match": etag}, status=304)


#: A host's own page with the banner in its layout, as a site builder writes it.
HOST_PAGE = ("<!doctype html><html lang=nl><title>Webence</title><body>"
             "{{ privacy_cookie_banner() }}<main>{{ body|safe }}</main></body></html>")
BIG = "<p>" + "Wij bouwen websites voor het MKB. " * 300 + "</p>"


def host_app(config: dict[str, Any], with_package: bool) -> Flask:
    """A host site (its database, its home page); with the package as the example
    site sets it up (the banner, the visit log), or without it, where the same
    template's banner call renders nothing."""
    app = Flask("host")
    app.config.update(BASE, **config)
    app.jinja_loader = DictLoader({"home.html": HOST_PAGE})
    db = SQLAlchemy(app)
    if with_package:
        from example_site import demo

        app.config.update({k: v for k, v in demo.PRIVACY_CONFIG.items()
                           if k != "PRIVACY_BASE_TEMPLATE"})
        privacy = Privacy(app, db=db)
    else:
        app.jinja_env.globals["privacy_cookie_banner"] = lambda: ""

    @app.get("/")
    def home() -> str:
        return render_template("home.html", body=BIG[:10240])

    with app.app_context():
        db.create_all()
        if with_package:
            privacy.sync_policy()
    return app


def pages(quick: bool = False) -> list[Result]:
    """The page benchmarks, on SQLite (a page reads no table)."""
    count, rounds = (90, 5) if quick else (300, 7)
    database = Database("sqlite", None)
    try:
        bare = bare_app(database.config("bare"))
        app = package_app({**database.config("package"), "PRIVACY_MAIL_DISPATCH": "sender"})
        out = [
            interleaved("policy_get", _getter(bare, "/page"), _getter(app, "/privacy/"),
                        count=count, rounds=rounds, db="sqlite",
                        note="a first visitor: the banner shows"),
            interleaved("policy_get_answered", _getter(bare, "/page"),
                        _answered_getter(app, "/privacy/"), count=count, rounds=rounds,
                        db="sqlite", note="a visitor who has answered the cookie banner"),
            interleaved("policy_get_304", _getter(bare, "/page"),
                        _revalidating_getter(app, "/privacy/"), count=count, rounds=rounds,
                        db="sqlite", note="If-None-Match with the page's ETag: a 304"),
        ]
        for name, filtered in (("bare_page_limiter", False), ("bare_page_limiter_filtered", True)):
            limited = bare_app(database.config(name))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # memory storage: one process here
                limiter = Limiter(key_func=get_remote_address, app=limited, default_limits=[])
            if filtered:
                limiter.request_filter(lambda: request.method != "POST")
            out.append(interleaved(name, _getter(bare, "/page"), _getter(limited, "/page"),
                                   count=count, rounds=rounds, db="sqlite",
                                   note="Flask-Limiter's hooks on the bare page"))
        without = host_app(database.config("host_bare"), with_package=False)
        with_package = host_app(database.config("host_package"), with_package=True)
        assert "wp-cookie-banner" in with_package.test_client().get("/").get_data(as_text=True)
        out.append(interleaved("host_page_banner", _getter(without, "/"),
                               _getter(with_package, "/"), count=count, rounds=rounds,
                               db="sqlite", note="a first visitor: the banner shows"))
        return out
    finally:
        database.close()


def enumeration(app: Flask, *, count: int, rounds: int) -> list[Result]:
    """Answer time for a known address over that for an unknown one (ratio of
    medians, interleaved): 1.0 means the answer tells nothing."""
    out = []
    known_reader = "known-reader@example.nl"
    subscribe = poster(app, "/privacy/newsletter", lambda: {
        "email": known_reader, "consent": "y", "age_ok": "y"})
    subscribe()
    with app.app_context():
        models = app.extensions["webence_privacy"].models
        db = app.extensions["webence_privacy"].db
        db.session.execute(sa.update(models.Subscriber).values(status="confirmed"))
        db.session.commit()
    # Throughputs are inverted: time(known) / time(unknown) = rate(unknown) / rate(known).
    result = interleaved("enumeration_timing", subscribe,
                         poster(app, "/privacy/newsletter", newsletter_fields),
                         count=count, rounds=rounds, unit="ratio of answer times",
                         note="newsletter: confirmed address vs new address")
    out.append(result)
    known_subject = "known-subject@example.nl"
    refile = poster(app, "/privacy/request", lambda: {"email": known_subject, "kind": "access"})
    refile()
    result = interleaved("enumeration_timing", refile,
                         poster(app, "/privacy/request", request_fields),
                         count=count, rounds=rounds, unit="ratio of answer times",
                         note="request: address with an open request vs new address")
    out.append(result)
    return out
