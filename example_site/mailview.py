"""In debug mode without a mail server, outgoing mail is shown at /_mail/ so every
flow works without SMTP.

The viewer reads the package's outbox table, so it shows the same mail after a
restart. The site then leaves its mail queued (``PRIVACY_MAIL_DISPATCH =
"sender"``, see ``create_app``): a queued mail still holds its working links,
which the viewer lists to click; a delivered mail has had them taken out (no
working token at rest), so the viewer shows it without.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Flask, abort, current_app, render_template

from flask_webence_privacy import mail

from .local import from_this_machine


def mail_viewer_on(app: Flask) -> bool:
    return bool(app.debug or app.config.get("DEBUG") or app.config.get("EXAMPLE_MAIL_VIEWER"))


def init_mail_viewer(app: Flask) -> None:
    @app.get("/_mail/")
    def mail_index() -> str:
        # Every queued mail holds working links: only debug mode, only this machine.
        if not mail_viewer_on(app) or not from_this_machine():
            abort(404)
        state = current_app.extensions["webence_privacy"]
        outbox = state.models.Outbox
        rows = state.db.session.scalars(sa.select(outbox).order_by(outbox.id.desc()).limit(50))
        # A queued mail's body is rendered when it is sent: the viewer renders it
        # the same way (mail.content) without storing anything.
        messages = []
        for row in rows:
            subject, text, _ = mail.content(row)
            messages.append({"row": row, "subject": subject, "text": text,
                             "links": json.loads(row.live_links or "[]")})
        return render_template("mail.html", messages=messages)
