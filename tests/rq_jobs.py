"""A site's task queue for mail (RQ on Redis), as the README shows it: the web
process hands outbox ids to the queue; an RQ worker process builds the app and
delivers them. The worker reads the test's database and SMTP port from its
environment."""

from __future__ import annotations

import json
import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from redis import Redis
from rq import Queue

from flask_webence_privacy import Privacy

QUEUE = os.environ.get("RQ_TEST_QUEUE", "privacy-mail")


def dispatch(ids: list[int]) -> None:
    """PRIVACY_MAIL_DISPATCH: called after commit with the outbox ids."""
    Queue(QUEUE, connection=Redis()).enqueue(send_privacy_mail, ids)


def create_app() -> Flask:
    app = Flask("site")
    app.config.update(json.loads(os.environ["RQ_TEST_CONFIG"]))
    db = SQLAlchemy(app)
    Privacy(app, db=db)
    return app


def send_privacy_mail(ids: list[int]) -> dict[str, int]:
    """The job: runs in `rq worker`, with the app's context."""
    app = create_app()
    with app.app_context():
        return app.extensions["webence_privacy"].privacy.send_mail(ids)
