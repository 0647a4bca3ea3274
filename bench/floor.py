"""What the contract alone costs: the bare stack plus only what DESIGN requires of
a page or a form, written the plain way with each extension's public API, against
the same bare stack as ``web``. Its ratio is the best a package that keeps the
contract could reach; ``*_vs_floor`` puts the package against it directly.

- ``policy_get_floor``: the bare page with Flask-WTF's ``CSRFProtect``,
  Flask-Babel (a locale selector), Flask-Limiter (set up as its documentation
  says, its hooks on every request), and what the contract asks of the privacy
  page: the cookie banner's plain form (no token, no session: its post is
  guarded by origin), shown until the visitor's choice cookie says otherwise;
  the security headers; a validator (``add_etag`` on the page) answered with a
  304 when it matches; ``Cache-Control`` and ``Vary``.
  ``policy_get_floor_without_banner`` the same for a visitor who has answered.
- ``contact_post_floor``: the same extensions, the contact form's fields, per-IP
  and per-address limits, and in one transaction the message, its consent proof
  and two outbox rows (the ORM's ``add_all``), on tables with the indexes the
  package's lookups need (address, time, status); and, as the contract asks of
  every form that may or may not mail (SECURITY 30), an answer that takes as
  long whatever the address: the same answer floor as the package's
  (``timing.AnswerFloor``), so the floor pays for it too.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import warnings
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, redirect, render_template, request
from flask_babel import Babel, get_locale
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from jinja2 import DictLoader
from werkzeug.wrappers import Response as BaseResponse
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from flask_webence_privacy.timing import AnswerFloor

from .common import Result, interleaved
from .web import (
    BASE,
    Database,
    _getter,
    bare_app,
    contact_fields,
    package_app,
    poster,
)

BIG = "<p>" + "Wij bewaren uw gegevens niet langer dan nodig. " * 200 + "</p>"
UNLIMITED = "1000000 per minute"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _extensions(app: Flask) -> Limiter:
    """CSRFProtect, Flask-Babel and Flask-Limiter, each as its documentation sets
    it up."""
    CSRFProtect(app)
    Babel(app, locale_selector=lambda: request.accept_languages.best_match(("nl", "en")) or "nl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # memory storage: one process here
        return Limiter(key_func=get_remote_address, app=app, default_limits=[])


#: The headers the contract puts on the privacy page.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
    "Vary": "Accept-Language, Cookie",
}


def page_app() -> Flask:
    app = Flask("floor_page")
    app.config.update(BASE)
    app.jinja_loader = DictLoader({
        "page.html": "<!doctype html><html lang={{ lang }}><title>Privacy</title>"
                     "<main>{{ body|safe }}</main>"
                     "{% if banner %}<form method=post action=/privacy/cookies>"
                     "<input type=hidden name=next value=/page>"
                     "<button name=choice value=all>Alles accepteren</button>"
                     "<button name=choice value=none>Alles weigeren</button></form>{% endif %}",
    })
    _extensions(app)

    @app.get("/page")
    def page() -> BaseResponse:
        response = Response(render_template(
            "page.html", body=BIG[:10240], lang=str(get_locale()),
            banner="privacy_choice" not in request.cookies), headers=SECURITY_HEADERS)
        response.add_etag()
        return response.make_conditional(request)

    return app


def contact_app(config: dict[str, Any]) -> Flask:
    app = Flask("floor_contact")
    app.config.update(BASE, **config)
    db = SQLAlchemy(app)
    limiter = _extensions(app)

    class Message(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "floor_message"
        id = sa.Column(sa.Integer, primary_key=True)
        name = sa.Column(sa.String(200))
        email = sa.Column(sa.String(254), index=True)
        purpose = sa.Column(sa.String(40))
        message = sa.Column(sa.Text)
        language = sa.Column(sa.String(8))
        ip = sa.Column(sa.String(64))
        policy_version = sa.Column(sa.String(32))
        created_at = sa.Column(sa.DateTime, default=_now, index=True)

    class Consent(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "floor_consent"
        id = sa.Column(sa.Integer, primary_key=True)
        email = sa.Column(sa.String(254), index=True)
        purpose = sa.Column(sa.String(40), index=True)
        action = sa.Column(sa.String(16))
        wording = sa.Column(sa.Text)
        form = sa.Column(sa.String(40))
        policy_version = sa.Column(sa.String(32))
        ip = sa.Column(sa.String(64))
        created_at = sa.Column(sa.DateTime, default=_now, index=True)

    class Outbox(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "floor_outbox"
        id = sa.Column(sa.Integer, primary_key=True)
        subject_email = sa.Column(sa.String(254), index=True)
        recipient = sa.Column(sa.String(254), index=True)
        template = sa.Column(sa.String(40))
        language = sa.Column(sa.String(8))
        context = sa.Column(sa.Text)
        status = sa.Column(sa.String(16), default="queued", index=True)
        created_at = sa.Column(sa.DateTime, default=_now, index=True)

    class Form(FlaskForm):
        purpose = StringField(validators=[DataRequired()])
        name = StringField(validators=[DataRequired(), Length(max=200)])
        email = StringField(validators=[DataRequired(), Email()])
        phone = StringField(validators=[Length(max=40)])
        company = StringField(validators=[Length(max=200)])
        message = TextAreaField(validators=[DataRequired(), Length(max=5000)])
        age_ok = BooleanField(validators=[DataRequired()])
        website = StringField()  # the honeypot

    app.jinja_loader = DictLoader({
        "contact.html": "<!doctype html><title>Contact</title>"
                        "<form method=post>{{ form.csrf_token }}</form>"})
    wording = "We use these details only to answer your question. I am 16 or older."

    answer_floor = AnswerFloor()

    def contact() -> str | BaseResponse:
        started = time.perf_counter()
        get_locale()
        form = Form()
        if form.validate_on_submit() and not form.website.data:
            email = form.email.data
            values = json.dumps({"name": form.name.data, "email": email,
                                 "message": form.message.data})
            db.session.add_all([
                Message(name=form.name.data, email=email, purpose=form.purpose.data,
                        message=form.message.data, language="nl", ip="127.0.0.0",
                        policy_version="2018-05-12"),
                Consent(email=email, purpose="contact", action="given", wording=wording,
                        form="contact", policy_version="2018-05-12", ip="127.0.0.0"),
                Outbox(subject_email=email, recipient="info@webence.nl",
                       template="contact_notify", language="nl", context=values),
                Outbox(subject_email=email, recipient=email, template="contact_ack",
                       language="nl", context=values),
            ])
            db.session.commit()
            answer_floor.settle(started, full=True)
            return redirect("/contact/sent", 303)
        return render_template("contact.html", form=form)

    view: Callable[..., Any] = limiter.limit(UNLIMITED, methods=["POST"])(contact)
    view = limiter.limit(UNLIMITED, methods=["POST"],
                         key_func=lambda: "address")(view)
    app.add_url_rule("/contact", "contact", view, methods=["GET", "POST"])
    with app.app_context():
        db.create_all()
    return app


def run(kinds: list[str], postgres_url: str | None, quick: bool = False) -> list[Result]:
    count, rounds = (30, 5) if quick else (100, 7)
    out: list[Result] = []
    for kind in kinds:
        database = Database(kind, postgres_url)
        try:
            bare = bare_app(database.config("bare"))
            if kind == "sqlite":
                out += _pages(bare, database, count=count * 3, rounds=rounds)
            floor = contact_app(database.config("floor"))
            out.append(interleaved("contact_post_floor", poster(bare, "/contact", contact_fields),
                                   poster(floor, "/contact", contact_fields),
                                   count=count, rounds=rounds, db=kind))
            # Mail is left queued by both (no sender runs): each pays only its request.
            package = package_app({**database.config("package_vs_floor"),
                                   "PRIVACY_MAIL_DISPATCH": "sender"})
            out.append(interleaved("contact_post_vs_floor",
                                   poster(floor, "/contact", contact_fields),
                                   poster(package, "/privacy/contact", contact_fields),
                                   count=count, rounds=rounds, db=kind,
                                   note="baseline: the floor's POST"))
        finally:
            database.close()
    return out


def _pages(bare: Flask, database: Database, *, count: int, rounds: int) -> list[Result]:
    """The privacy page's floor (a first visitor, and one who has answered), and
    the package's page against the floor's."""
    out = [interleaved("policy_get_floor", _getter(bare, "/page"), _getter(page_app(), "/page"),
                       count=count, rounds=rounds, db=database.kind)]
    floor = page_app()
    answered = floor.test_client()
    answered.set_cookie("privacy_choice", "answered", domain="webence.test")
    out.append(interleaved("policy_get_floor_without_banner", _getter(bare, "/page"),
                           _getter(floor, "/page", answered),
                           count=count, rounds=rounds, db=database.kind))
    package = package_app({**database.config("package"), "PRIVACY_MAIL_DISPATCH": "sender"})
    out.append(interleaved("policy_get_vs_floor", _getter(page_app(), "/page"),
                           _getter(package, "/privacy/"),
                           count=count, rounds=rounds, db=database.kind,
                           note="baseline: the floor's page, with the banner"))
    return out
