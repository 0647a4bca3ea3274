"""A site that already runs a task queue hands mail delivery to it: the web
process commits and answers; a real RQ worker on the machine's Redis delivers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .conftest import BASE_CONFIG, csrf_token, missing, wait_for_outbox
from .test_deployment import REDIS, answers

ROOT = Path(__file__).resolve().parent.parent


def test_mail_goes_through_the_sites_rq_worker(make_app, database, smtp_port, inbox):
    if not answers(*REDIS):
        missing("Redis on 127.0.0.1:6379")
    queue = f"privacy-test-{uuid.uuid4().hex[:8]}"
    os.environ["RQ_TEST_QUEUE"] = queue  # read by tests.rq_jobs in this process ...
    try:
        from . import rq_jobs

        rq_jobs.QUEUE = queue
        app = make_app(PRIVACY_MAIL_DISPATCH="tests.rq_jobs:dispatch")
        client = app.test_client()
        response = client.post("/privacy/contact", data={
            "csrf_token": csrf_token(client, "/privacy/contact"), "purpose": "question",
            "name": "Rik", "email": "rik@example.nl", "message": "Via de wachtrij?",
            "age_ok": "y"}, follow_redirects=True)
        assert response.status_code == 200
        # The web process sent nothing: both mails wait in the outbox for the worker.
        assert [r.status for r in wait_for_outbox(app, 2, status="queued")] == ["queued"] * 2
        assert inbox.messages == []
        config = {**BASE_CONFIG, **database, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port,
                  "MAIL_SUPPRESS_SEND": False}
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RQ_TEST_QUEUE": queue,
               "RQ_TEST_CONFIG": json.dumps(config, default=str)}
        worker = subprocess.run(
            [str(Path(sys.executable).parent / "rq"), "worker", "--burst",
             "--url", "redis://127.0.0.1:6379/0", queue],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert worker.returncode == 0, worker.stdout + worker.stderr
        inbox.wait(2)
        assert {str(m["To"]) for m in inbox.messages} == {"info@webence.nl", "rik@example.nl"}
        assert [r.status for r in wait_for_outbox(app, 2)] == ["sent", "sent"]
    finally:
        os.environ.pop("RQ_TEST_QUEUE", None)


def test_an_unknown_dispatch_is_a_start_up_error(make_app):
    from flask_webence_privacy import ConfigurationError

    with pytest.raises(ConfigurationError, match="PRIVACY_MAIL_DISPATCH"):
        make_app(create=False, PRIVACY_MAIL_DISPATCH="later")
