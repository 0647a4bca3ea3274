"""Webence: the example small-business site that uses flask-webence-privacy.

Run it with the README's command. Configuration comes from ``config`` (a
mapping), then environment variables prefixed ``WEBENCE_``; the database and a
generated secret key live in the instance folder.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import Flask, Response, current_app, render_template, request
from flask_sqlalchemy import SQLAlchemy

from flask_webence_privacy import Privacy
from flask_webence_privacy.language import current_language

from . import demo
from .local import from_this_machine
from .mailview import mail_viewer_on

db = SQLAlchemy()
privacy = Privacy()

#: The site's own first-party analytic cookie: how many pages this browser has
#: seen. Set only after the visitor said yes to analytic cookies.
VISIT_COOKIE = "webence_visits"


def _secret_key(instance: Path) -> str:
    """A random key kept in the instance folder, so sessions survive restarts."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _local_debug_admin() -> bool:
    """The demo has no logins: the maintainer's pages open only in debug mode and
    only from this machine. A real site returns its own "is a maintainer" check."""
    return current_app.debug and from_this_machine()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance / 'site.db'}",
        MAIL_SERVER=os.environ.get("WEBENCE_MAIL_SERVER", "localhost"),
        MAIL_PORT=int(os.environ.get("WEBENCE_MAIL_PORT", "25")),
        MAIL_DEFAULT_SENDER=("Webence", "noreply@webence.nl"),
        # Without a mail server configured, mail is shown at /_mail instead of sent.
        MAIL_SUPPRESS_SEND="WEBENCE_MAIL_SERVER" not in os.environ,
        SESSION_COOKIE_SAMESITE="Lax",
        **demo.PRIVACY_CONFIG,
    )
    # WEBENCE_PRIVACY_SITE_URL='https://www.webence.nl' declares the site's address,
    # as the package requires outside debug mode; also
    # WEBENCE_PRIVACY_HASH_KEY, WEBENCE_SECRET_KEY, WEBENCE_SQLALCHEMY_DATABASE_URI ...
    app.config.from_prefixed_env("WEBENCE")
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance)

    app.config.setdefault("PRIVACY_ADMIN_CHECK", _local_debug_admin)
    if mail_viewer_on(app) and app.config.get("MAIL_SUPPRESS_SEND"):
        # No mail server: /_mail/ is the mailbox. Mail stays queued in the outbox
        # with its working links (a delivered mail loses them), where the viewer
        # reads it; `flask privacy send-mail` would deliver it.
        app.config.setdefault("PRIVACY_MAIL_DISPATCH", "sender")

    db.init_app(app)
    from . import models

    privacy.init_app(app, db=db)
    models.register(privacy)

    @app.context_processor
    def site_text() -> dict[str, Any]:
        return {"site": demo.text(current_language())}

    @app.after_request
    def count_visit(response: Response) -> Response:
        """The analytic cookie, only with the visitor's yes (withdrawing deletes it:
        the package removes every listed cookie of a type the visitor said no to)."""
        if (request.method == "GET" and response.status_code == 200
                and response.mimetype == "text/html" and privacy.consented("analytic")):
            seen = request.cookies.get(VISIT_COOKIE, "0")
            count = int(seen) + 1 if seen.isdigit() and len(seen) < 9 else 1
            response.set_cookie(VISIT_COOKIE, str(count), max_age=365 * 24 * 3600,
                                httponly=True, samesite="Lax", secure=request.is_secure)
        return response

    @app.get("/")
    def home() -> str:
        return render_template("home.html")

    @app.get("/diensten")
    def services() -> str:
        return render_template("services.html")

    # The site's own error pages, in its layout and the visitor's language (the
    # privacy pages under /privacy have the package's own 404).
    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[str, int]:
        text = demo.text(current_language())
        return render_template("error.html", title=text["not_found_title"],
                               text=text["not_found_text"]), 404

    @app.errorhandler(500)
    def server_error(error: Exception) -> tuple[str, int]:
        text = demo.text(current_language())
        return render_template("error.html", title=text["error_title"],
                               text=text["error_text"]), 500

    @app.cli.command("init-db")
    def init_db() -> None:
        """Create the site's tables and the package's, and record the policy. The
        example site has no migrations; a site on Flask-Migrate runs `flask db
        upgrade`, then `flask privacy sync-policy`."""
        db.create_all()
        click.echo(f"Tables ready; {privacy.sync_policy()} policy version(s) recorded.")

    from .mailview import init_mail_viewer

    init_mail_viewer(app)
    return app
