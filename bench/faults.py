"""``make faults``: the example site under gunicorn (3 workers, debug off,
PostgreSQL, Redis) takes a burst of contact posts while its dependencies fail,
and not one accepted message or its mail is lost.

During the burst: the rate limiter's Redis (a redis-server of this script's own,
on a free port) is stopped for a few seconds and started again; every database
connection is cut (the app reaches PostgreSQL through a TCP proxy of this
script's own, which drops what it carries and refuses new connections for a
moment); a worker is killed with SIGKILL. Then the site is stopped and
``flask privacy send-mail`` delivers what is left (once more after a dead
worker's claims have run out). Prints accepted / stored / mails delivered /
duplicates, and exits 1 if an accepted post is not stored, a mail of a stored
post is never delivered, or a post was answered 500.

    python -m bench.faults [--posts 300] [--workers 3]
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import email
import email.message
import email.policy
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOTIFY = "info@webence.nl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not answers(port):
        if time.monotonic() > deadline:
            sys.exit(f"faults: {what} did not start on port {port}")
        time.sleep(0.05)


class Proxy:
    """A TCP proxy to PostgreSQL that can cut every connection it carries."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.refusing = False
        self.accepted = self.accepted_before_cut = 0
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)  # an idle pooled connection stays open
            with self.lock:
                self.sockets |= {client, upstream}
                self.accepted += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            with self.lock:
                self.sockets -= {source, sink}

    def cut(self, seconds: float) -> int:
        """Drop every connection, refuse new ones for ``seconds``; how many dropped."""
        self.refusing = True
        with self.lock:
            carried = list(self.sockets)
        self.accepted_before_cut = self.accepted
        for s in carried:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        time.sleep(seconds)
        self.refusing = False
        return len(carried) // 2

    def close(self) -> None:
        self.server.close()


class Redis:
    """A redis-server of this script's own, stopped and started at will."""

    def __init__(self, workdir: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            sys.exit("faults: redis-server is not installed")
        self.command = [binary, "--port", "0", "--save", "", "--appendonly", "no",
                        "--dir", workdir]
        self.port = free_port()
        self.command[2] = str(self.port)
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL)
        wait_for(self.port, "redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class Sink:
    """An SMTP server that keeps every message it is given."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


def visitor(base: str, index: int, run: str) -> tuple[str, int | str]:
    """One visitor: the form (its CSRF token and cookie), then the post; the
    address and what the visitor saw (a status, or the connection's error)."""
    address = f"faults-{run}-{index}@example.nl"
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    try:
        page = opener.open(base + "/privacy/contact", timeout=20).read().decode()
    except urllib.error.HTTPError as exc:
        return address, f"form {exc.code}"
    except OSError as exc:
        return address, f"form {type(exc).__name__}"
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if found is None:
        return address, "no form"
    try:
        body = urllib.parse.urlencode({
            "csrf_token": found.group(1), "purpose": "question", "name": f"Bezoeker {index}",
            "email": address, "message": f"Vraag {index}", "age_ok": "y"}).encode()
        response = opener.open(base + "/privacy/contact", data=body, timeout=20)
        return address, response.status if "/contact/sent" in response.url else "no thanks"
    except urllib.error.HTTPError as exc:
        return address, exc.code
    except OSError as exc:
        return address, type(exc).__name__


def workers_of(master: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                found.append(int(entry.name))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    gunicorn = shutil.which("gunicorn", path=str(BIN))
    if gunicorn is None:
        sys.exit("faults: gunicorn is not installed (pip install -e '.[test]')")
    run = uuid.uuid4().hex[:8]
    schema = f"faults_{run}"
    admin = sa.create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    target = sa.engine.make_url(POSTGRES)
    proxy = Proxy((target.host or "127.0.0.1", target.port or 5432))
    workdir = tempfile.mkdtemp(prefix="faults-")
    redis = Redis(workdir)
    sink = Sink()
    options = {"options": f"-csearch_path={schema}"}
    direct = target.update_query_dict(options).render_as_string(hide_password=False)
    proxied = target.set(host="127.0.0.1", port=proxy.port).update_query_dict(
        options).render_as_string(hide_password=False)
    port = free_port()
    env = {
        **os.environ, "FLASK_APP": "example_site", "FLASK_DEBUG": "0",
        "WEBENCE_SQLALCHEMY_DATABASE_URI": proxied,
        "WEBENCE_SQLALCHEMY_ENGINE_OPTIONS": '{"pool_pre_ping": true}',
        "WEBENCE_PRIVACY_SITE_URL": f"http://127.0.0.1:{port}",
        "WEBENCE_SECRET_KEY": f"faults-{run}", "WEBENCE_PRIVACY_HASH_KEY": f"faults-hash-{run}",
        "WEBENCE_PRIVACY_RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{redis.port}/0",
        "WEBENCE_PRIVACY_CONTACT_RATE_LIMIT": "100000 per minute",
        "WEBENCE_PRIVACY_MAIL_TIMEOUT": "5",
        "WEBENCE_MAIL_SERVER": "127.0.0.1", "WEBENCE_MAIL_PORT": str(sink.port),
    }
    flask = str(BIN / "flask")
    subprocess.run([flask, "privacy", "init-db"], cwd=ROOT, env={
        **env, "WEBENCE_SQLALCHEMY_DATABASE_URI": direct}, check=True, capture_output=True)
    log = open(Path(workdir) / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [gunicorn, "-w", str(args.workers), "-b", f"127.0.0.1:{port}", "--timeout", "30",
         "example_site:create_app()"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    events: list[str] = []
    try:
        wait_for(port, "gunicorn")
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()

        def faults() -> None:
            time.sleep(0.5)
            redis.stop()
            events.append(f"{time.monotonic() - started:4.1f}s Redis stopped")
            time.sleep(0.5)
            dropped = proxy.cut(1.5)
            events.append(f"{time.monotonic() - started:4.1f}s database cut "
                          f"({dropped} of {proxy.accepted_before_cut} connection(s) open, "
                          "new ones refused 1.5 s)")
            time.sleep(0.5)
            victims = workers_of(server.pid)
            if victims:
                os.kill(victims[0], signal.SIGKILL)
                events.append(f"{time.monotonic() - started:4.1f}s worker {victims[0]} killed")
            time.sleep(1.0)
            redis.start()
            events.append(f"{time.monotonic() - started:4.1f}s Redis started again")

        # Every worker up and holding a connection before the burst, so the cut
        # below drops connections in use, not a pool that is still empty.
        deadline = time.monotonic() + 60
        while proxy.accepted < args.workers and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(base + "/privacy/contact", timeout=20).read()
        started = time.monotonic()
        chaos = threading.Thread(target=faults)
        chaos.start()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            seen = dict(pool.map(lambda i: visitor(base, i, run), range(args.posts)))
        chaos.join()
        events.append(f"{time.monotonic() - started:4.1f}s burst over")
        time.sleep(3)  # what the workers' senders still hold
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        log.close()
    lease = 5 + 50
    send_env = {**env, "WEBENCE_SQLALCHEMY_DATABASE_URI": direct}

    def send_mail() -> None:
        subprocess.run([flask, "privacy", "send-mail"], cwd=ROOT, env=send_env,
                       capture_output=True, check=False)

    engine = sa.create_engine(direct)

    def outbox_left() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(
                "SELECT count(*) FROM privacy_outbox WHERE status IN ('queued', 'sending')"))
                .scalar() or 0)

    send_mail()
    deadline = time.monotonic() + lease + 15
    while outbox_left() and time.monotonic() < deadline:
        time.sleep(5)
        send_mail()
    time.sleep(1)
    with engine.connect() as conn:
        stored = {row[0] for row in conn.execute(sa.text(
            "SELECT email FROM privacy_contact_message"))}
        failed = conn.execute(sa.text(
            "SELECT count(*) FROM privacy_outbox WHERE status = 'failed'")).scalar()
    left = outbox_left()
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
    redis.stop()
    proxy.close()
    sink.controller.stop()

    accepted = {a for a, status in seen.items() if status == 200}
    answered = collections.Counter(str(s) for s in seen.values())
    acks = collections.Counter(str(m["To"]) for m in sink.messages if str(m["To"]) != NOTIFY)
    notes = collections.Counter(str(m["Reply-To"]) for m in sink.messages
                                if str(m["To"]) == NOTIFY)
    ids = collections.Counter(str(m["Message-ID"]) for m in sink.messages)
    duplicates = sum(n - 1 for n in ids.values() if n > 1)
    missing = sorted(accepted - stored)
    half_done = sorted(a for a, s in seen.items() if s == 500 and a in stored)
    unanswered = sorted(a for a in stored if seen.get(a) != 200)
    undelivered = sorted(a for a in stored if not acks.get(a) or not notes.get(a))
    print("faults: " + "; ".join(events))
    print(f"answers: {dict(sorted(answered.items()))}")
    print(f"accepted: {len(accepted)} of {args.posts} posts")
    print(f"stored: {len(stored)} ({len(stored & accepted)} accepted, "
          f"{len(unanswered)} stored without a thanks page: their connection died with the "
          "worker or the cut)")
    print(f"mails delivered: {len(sink.messages)} ({sum(notes.values())} notifications, "
          f"{sum(acks.values())} acknowledgements; outbox left unsent {left}, failed {failed})")
    print(f"duplicates: {duplicates}")
    problems = []
    if missing:
        problems.append(f"{len(missing)} accepted post(s) not stored: {missing[:5]}")
    if undelivered:
        problems.append(f"{len(undelivered)} stored post(s) whose mail never arrived: "
                        f"{undelivered[:5]}")
    if answered.get("500"):
        problems.append(f"{answered['500']} post(s) answered 500 ({len(half_done)} of them "
                        "stored: half done)")
    for problem in problems:
        print("FAIL: " + problem)
    if problems:
        print(f"(gunicorn's log: {workdir}/gunicorn.log)")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print("OK" if not problems else "FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
