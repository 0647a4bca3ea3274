"""The example site deployed as production runs it: gunicorn with two workers,
debug off, a declared host, PostgreSQL, Redis for the limits, real SMTP.

A per-IP limit holds across the workers, and every accepted message is stored
and both its mails arrive. Bounded in requests and seconds; loopback only.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from .conftest import POSTGRES_URL, free_port, missing

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REDIS = ("127.0.0.1", 6379)


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def pg_schema():
    if not POSTGRES_URL:
        missing("PostgreSQL: set TEST_POSTGRES_URL (the Makefile does)")
    engine = sa.create_engine(POSTGRES_URL)
    schema = f"wp_deploy_{uuid.uuid4().hex[:10]}"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - no server
        missing(f"PostgreSQL at {POSTGRES_URL}: {type(exc).__name__}")
    yield engine, schema
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def visitor_post(base: str, index: int) -> int:
    """One visitor: open the form (fresh CSRF token and cookie), send it."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/privacy/contact", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({
        "csrf_token": token, "purpose": "quote", "name": f"Bezoeker {index}",
        "email": f"deploy-{index}@example.nl", "message": f"Offerte {index}, graag.",
        "age_ok": "y"}).encode()
    try:
        return opener.open(base + "/privacy/contact", data=body, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


@contextlib.contextmanager
def gunicorn_site(pg_schema, smtp_port: int, **settings: str):
    """The example site under gunicorn with two workers on a fresh PostgreSQL
    schema and Redis: yields its base URL; stopped with SIGTERM (gracefully)."""
    gunicorn = shutil.which("gunicorn", path=str(BIN))
    if gunicorn is None:
        missing("gunicorn is not installed (pip install -e '.[test]')")
    if not answers(*REDIS):
        missing("Redis on 127.0.0.1:6379")
    engine, schema = pg_schema
    url = sa.engine.make_url(POSTGRES_URL).update_query_dict(
        {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    port = free_port()
    env = {
        **os.environ,
        "FLASK_APP": "example_site",
        "FLASK_DEBUG": "0",
        "WEBENCE_SQLALCHEMY_DATABASE_URI": url,
        "WEBENCE_SQLALCHEMY_ENGINE_OPTIONS": '{"pool_pre_ping": true}',
        "WEBENCE_PRIVACY_SITE_URL": "https://webence.test",
        "WEBENCE_SECRET_KEY": "deploy-test-secret",
        "WEBENCE_PRIVACY_HASH_KEY": "deploy-test-hash-key",
        "WEBENCE_PRIVACY_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "WEBENCE_RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "WEBENCE_MAIL_SERVER": "127.0.0.1",
        "WEBENCE_MAIL_PORT": str(smtp_port),
        **{f"WEBENCE_{key}": value for key, value in settings.items()},
    }
    flask = str(BIN / "flask")
    subprocess.run([flask, "init-db"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=60)
    server = subprocess.Popen(
        [gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "30",
         "example_site:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not answers("127.0.0.1", port):
            assert server.poll() is None, server.stdout.read().decode()
            assert time.monotonic() < deadline, "gunicorn did not start within 30 s"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        server.stdout.close()


def test_two_gunicorn_workers_share_the_limit_and_lose_no_mail(pg_schema, inbox, smtp_port):
    engine, schema = pg_schema
    with gunicorn_site(pg_schema, smtp_port, PRIVACY_CONTACT_RATE_LIMIT="5 per hour") as (
            base, _):
        statuses = [visitor_post(base, i) for i in range(8)]
        last = time.monotonic()
        # Five per hour from this IP, whichever worker answers: 5 taken, 3 refused.
        assert sorted(statuses) == [200] * 5 + [429] * 3, statuses
        with engine.connect() as conn:
            stored = conn.execute(sa.text(
                f'SELECT count(*) FROM "{schema}".privacy_contact_message')).scalar()
        assert stored == 5
        # Every accepted message: the maintainer's mail and the acknowledgement,
        # all delivered within 10 s of the last request.
        inbox.wait(10, timeout=max(0.1, last + 10 - time.monotonic()))
        assert len(inbox.messages) == 10
        while True:  # the outbox records each delivery right after it
            with engine.connect() as conn:
                statuses = dict(conn.execute(sa.text(
                    f'SELECT status, count(*) FROM "{schema}".privacy_outbox GROUP BY status')
                ).all())
            if statuses == {"sent": 10} or time.monotonic() > last + 15:
                break
            time.sleep(0.05)
        assert statuses == {"sent": 10}


def browser(url: str) -> urllib.request.Request:
    """A request as a browser sends it: a script's user agent is not a page view."""
    return urllib.request.Request(url, headers={
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"})


def test_page_views_are_written_in_batches_and_none_is_lost_at_a_stop(pg_schema, smtp_port):
    """The visit log under gunicorn: page views reach the database within seconds,
    many to a transaction (not a commit per page); a graceful stop writes the
    ones still waiting in each worker's memory."""
    engine, schema = pg_schema

    def logged() -> tuple[int, int]:
        with engine.connect() as conn:
            # Rows written by one transaction share its xmin.
            return tuple(conn.execute(sa.text(
                f'SELECT count(*), count(DISTINCT xmin::text) FROM "{schema}".privacy_visit_log'
            )).one())

    with gunicorn_site(pg_schema, smtp_port) as (base, server):
        for _ in range(40):
            with urllib.request.urlopen(browser(base + "/privacy/"), timeout=10) as page:
                assert page.status == 200
        deadline = time.monotonic() + 10
        while logged()[0] < 40 and time.monotonic() < deadline:
            time.sleep(0.1)
        views, transactions = logged()
        assert views == 40
        assert transactions <= 10, transactions
        for _ in range(10):
            with urllib.request.urlopen(browser(base + "/privacy/cookies"), timeout=10) as page:
                assert page.status == 200
        server.terminate()  # at once: the last views are still in memory
        assert server.wait(10) == 0
    assert logged()[0] == 50
    with engine.connect() as conn:
        paths = dict(conn.execute(sa.text(
            f'SELECT path, count(*) FROM "{schema}".privacy_visit_log GROUP BY path')).all())
    assert paths == {"/privacy/": 40, "/privacy/cookies": 10}
