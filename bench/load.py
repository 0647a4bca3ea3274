"""Load test (bounded, loopback only): the example site under gunicorn with
several workers on PostgreSQL, Redis for the limits, mail to a counting SMTP
server; clients mix GET /privacy/ with whole contact flows (form, fresh CSRF
token, POST). Prints requests/s, p50/p95/p99, errors, and checks that stored
messages equal accepted POSTs, that twice as many mails arrive within 10 s of
the last request, and that the visit log holds every page view served by then
(written in batches: it says in how many transactions).

    python -m bench.load [--workers 4] [--clients 8] [--requests 400]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.web import free_port  # noqa: E402


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        with self.lock:
            self.count += 1
        return "250 OK"


def main() -> None:
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="total, bounded")
    parser.add_argument("--seconds", type=float, default=60, help="stop after this long")
    args = parser.parse_args()
    postgres = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    engine = sa.create_engine(postgres)
    schema = f"load_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    counter = Counter()
    smtp = Controller(counter, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    url = sa.engine.make_url(postgres).update_query_dict(
        {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    env = {**os.environ, "FLASK_APP": "example_site",
           "WEBENCE_SQLALCHEMY_DATABASE_URI": url,
           "WEBENCE_SQLALCHEMY_ENGINE_OPTIONS": '{"pool_pre_ping": true}',
           "WEBENCE_SERVER_NAME": "webence.test", "WEBENCE_SECRET_KEY": "load",
           "WEBENCE_PRIVACY_HASH_KEY": "load-hash",
           "WEBENCE_PRIVACY_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
           "WEBENCE_RATELIMIT_KEY_PREFIX": f"load-{uuid.uuid4().hex}",
           "WEBENCE_PRIVACY_CONTACT_RATE_LIMIT": "100000 per hour",
           "WEBENCE_MAIL_SERVER": "127.0.0.1", "WEBENCE_MAIL_PORT": str(smtp.port)}
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "flask"), "init-db"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    server = subprocess.Popen([str(bin_dir / "gunicorn"), "-w", str(args.workers), "-b",
                               f"127.0.0.1:{port}", "example_site:create_app()"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                # A static file: not a page view, so the log holds the clients' only.
                urllib.request.urlopen(base + "/privacy/static/privacy.css", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.1)
        latencies: list[float] = []
        errors: list[str] = []
        accepted = served = 0
        lock = threading.Lock()
        budget = iter(range(args.requests))
        stop_at = time.monotonic() + args.seconds

        def client(index: int) -> None:
            nonlocal accepted, served
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            for n in budget:
                if time.monotonic() > stop_at:
                    return
                started = time.perf_counter()
                try:
                    if n % 2:
                        opener.open(base + "/privacy/", timeout=10).read()
                        with lock:
                            served += 1
                    else:
                        page = opener.open(base + "/privacy/contact", timeout=10).read().decode()
                        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                                          page).group(1)
                        body = urllib.parse.urlencode({
                            "csrf_token": token, "purpose": "quote", "name": f"Load {n}",
                            "email": f"load{n}@example.nl", "message": "Een offerte, graag.",
                            "age_ok": "y"}).encode()
                        # The form, and the thanks page the POST's 303 leads to.
                        opener.open(base + "/privacy/contact", data=body, timeout=10).read()
                        with lock:
                            accepted += 1
                            served += 2
                except (urllib.error.URLError, OSError, AttributeError) as exc:
                    with lock:
                        errors.append(type(exc).__name__)
                    continue
                with lock:
                    latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        last = time.monotonic()
        while counter.count < 2 * accepted and time.monotonic() < last + 10:
            time.sleep(0.05)
        delivered_in = time.monotonic() - last

        def logged() -> tuple[int, int]:
            with engine.connect() as conn:
                # Rows written by one transaction share its xmin.
                views, transactions = conn.execute(sa.text(
                    f'SELECT count(*), count(DISTINCT xmin::text) FROM "{schema}".privacy_visit_log'
                )).one()
            return int(views), int(transactions)

        while logged()[0] < served and time.monotonic() < last + 10:
            time.sleep(0.05)
        views, transactions = logged()
        logged_in = time.monotonic() - last
        with engine.connect() as conn:
            stored = conn.execute(sa.text(
                f'SELECT count(*) FROM "{schema}".privacy_contact_message')).scalar()
        q = statistics.quantiles(latencies, n=100) if len(latencies) > 2 else [0.0] * 99
        print(f"workers {args.workers}, clients {args.clients}, requests {len(latencies)} "
              f"in {elapsed:.1f} s: {len(latencies) / elapsed:.1f} req/s")
        print(f"latency p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, "
              f"p99 {q[98] * 1000:.0f} ms; errors {len(errors)} {sorted(set(errors))}")
        print(f"contact POSTs accepted {accepted}, messages stored {stored}; mails delivered "
              f"{counter.count} of {2 * accepted} within {delivered_in:.1f} s of the last request")
        print(f"page views served {served}, logged {views} within {logged_in:.1f} s of the last "
              f"request, in {transactions} transactions")
        ok = (stored == accepted and counter.count == 2 * accepted and not errors
              and views == served)
        print("OK" if ok else "MISMATCH")
        if not ok:
            raise SystemExit(1)
    finally:
        server.terminate()
        server.wait(10)
        smtp.stop()
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


if __name__ == "__main__":
    main()
