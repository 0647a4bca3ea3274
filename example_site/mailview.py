"""In debug mode, outgoing mail is shown at /_mail so every flow works without SMTP."""

from __future__ import annotations

from collections import deque

from flask import Flask, abort, render_template
from flask_mail import email_dispatched

from .local import from_this_machine


def init_mail_viewer(app: Flask) -> None:
    outbox: deque = deque(maxlen=50)
    app.extensions["example_mail_viewer"] = outbox

    # Flask-Mail sends email_dispatched with the app as sender and message=...
    def record(sender, message, **extra) -> None:  # noqa: ANN001 - blinker receiver
        outbox.appendleft(message)

    email_dispatched.connect(record, app, weak=False)

    @app.get("/_mail/")
    def mail_index() -> str:
        # Every mail holds working links: only debug mode, only this machine.
        if not (app.debug or app.config.get("EXAMPLE_MAIL_VIEWER")) or not from_this_machine():
            abort(404)
        return render_template("mail.html", messages=list(outbox))
