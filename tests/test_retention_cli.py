"""``flask privacy purge``, ``hold`` and ``release`` as cron and a maintainer use them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from tests.conftest import handles


@pytest.fixture
def app(make_app):
    app = make_app()
    db, _ = handles(app)
    Message = app.extensions["webence_privacy"].models.ContactMessage
    with app.app_context():
        for stamp in (dt.datetime(2024, 2, 29), dt.datetime(2025, 6, 1)):
            db.session.add(Message(name="Jan", email="jan@example.nl", purpose="question",
                                   message="Hallo", retention_category="default",
                                   policy_version="1", created_at=stamp))
        db.session.commit()
    return app


def count(app):
    db, _ = handles(app)
    Message = app.extensions["webence_privacy"].models.ContactMessage
    with app.app_context():
        n = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
        db.session.remove()
    return n


def test_dry_run_then_purge_from_the_command_line(app):
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["privacy", "purge", "--dry-run", "--now", "2025-03-01"])
    assert dry.exit_code == 0, dry.output
    assert "would remove" in dry.output and "Dry run: 1 row(s)" in dry.output
    assert count(app) == 2
    real = runner.invoke(args=["privacy", "purge", "--now", "2025-03-01"])
    assert real.exit_code == 0, real.output
    assert "1 row(s) removed" in real.output
    assert re.search(r"ContactMessage +default", real.output) and "2024-03-01" in real.output
    assert count(app) == 1


@pytest.mark.parametrize("bad", ["yesterday", "2025-02-30", "25-03-2025", ""])
def test_a_now_that_is_not_a_date_is_named_and_nothing_is_deleted(app, bad):
    result = app.test_cli_runner().invoke(args=["privacy", "purge", "--now", bad])
    assert result.exit_code == 2
    assert "--now" in result.output and repr(bad) in result.output
    assert "YYYY-MM-DD" in result.output
    assert count(app) == 2


def test_hold_and_release_from_the_command_line(app):
    runner = app.test_cli_runner()
    held = runner.invoke(args=["privacy", "hold", "jan@example.nl", "--reason", "claim 17"])
    assert held.exit_code == 0, held.output
    runner.invoke(args=["privacy", "purge", "--now", "2030-01-01"])
    assert count(app) == 2
    released = runner.invoke(args=["privacy", "release", "jan@example.nl"])
    assert "1 hold(s) released" in released.output
    runner.invoke(args=["privacy", "purge", "--now", "2030-01-01"])
    assert count(app) == 0


def test_a_hold_needs_a_reason(app):
    result = app.test_cli_runner().invoke(args=["privacy", "hold", "jan@example.nl", "--reason", " "])
    assert result.exit_code == 2
    assert "reason" in result.output
