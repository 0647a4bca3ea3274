"""In debug mode, outgoing mail is shown at /_mail/ so every flow works without SMTP.

The viewer reads the package's outbox table, so it shows the same mail after a
restart. The outbox takes a mail's working links out once it is delivered (no
live token at rest); while the viewer is on, the links of each mail are kept
beside it (``DebugMailLinks``) as a mailbox would keep them.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Flask, abort, render_template
from flask_mail import email_dispatched

from . import db
from .local import from_this_machine
from .models import DebugMailLinks


def viewer_on(app: Flask) -> bool:
    return bool(app.debug or app.config.get("EXAMPLE_MAIL_VIEWER"))


def keep_links(app: Flask, message: Any, **extra: Any) -> None:
    """As a mail leaves (Flask-Mail's email_dispatched, app as sender): copy the
    links of its outbox row, which is still being sent and still holds them."""
    if not viewer_on(app):
        return
    outbox = app.extensions["webence_privacy"].models.Outbox
    kept = sa.select(DebugMailLinks.outbox_id)
    row = db.session.execute(
        sa.select(outbox.id, outbox.live_links)
        .where(outbox.recipient == message.recipients[0], outbox.subject == message.subject,
               outbox.live_links.is_not(None), outbox.id.not_in(kept))
        .order_by(outbox.id).limit(1)).first()
    if row is not None:
        db.session.add(DebugMailLinks(outbox_id=row.id, links=row.live_links))
    # Links of mail the purge or an erasure has removed go with it.
    db.session.execute(sa.delete(DebugMailLinks).where(
        DebugMailLinks.outbox_id.not_in(sa.select(outbox.id))))
    db.session.commit()


def init_mail_viewer(app: Flask) -> None:
    email_dispatched.connect(keep_links, app, weak=False)

    @app.get("/_mail/")
    def mail_index() -> str:
        # Every mail holds working links: only debug mode, only this machine.
        if not viewer_on(app) or not from_this_machine():
            abort(404)
        outbox = app.extensions["webence_privacy"].models.Outbox
        rows = db.session.execute(
            sa.select(outbox, DebugMailLinks.links)
            .outerjoin(DebugMailLinks, DebugMailLinks.outbox_id == outbox.id)
            .order_by(outbox.id.desc()).limit(50)).all()
        messages = [{"row": row, "links": json.loads(kept or row.live_links or "[]")}
                    for row, kept in rows]
        return render_template("mail.html", messages=messages)
