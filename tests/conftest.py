"""Fixtures: an app built as a site builder builds one, a host's own model, a real
SMTP inbox, the database on SQLite and PostgreSQL, the example site, and a real
Chromium.

Outside CI a test whose server is missing skips with the reason; with CI=true it
fails instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_webence_privacy import Privacy, mail, visits
from flask_webence_privacy.models import utcnow

from . import host_app

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
MYSQL_URL = os.environ.get("TEST_MYSQL_URL", "")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def missing(reason: str) -> None:
    """A server the suite needs is not there: the test fails and says which (a
    skipped test would check nothing). `bash .ci/run` installs and starts it."""
    pytest.fail(f"this test needs {reason}; `bash .ci/run` (as root) installs and starts it")


def pytest_configure(config: pytest.Config) -> None:
    # Also declared in pyproject.toml; registered here too so `-m "not fuzz"` is
    # warning-free whichever of the two is read.
    config.addinivalue_line("markers", "fuzz: a hypothesis test that throws many inputs at a form")


# -- SMTP ---------------------------------------------------------------------------


class Inbox:
    """Messages received by the loopback SMTP server, as parsed e-mails."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.envelopes.append(envelope)
            self.messages.append(message)
        return "250 OK"

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} mail(s), got {len(self.messages)}")

    def wait_to(self, address: str, count: int = 1,
                timeout: float = 10.0) -> list[email.message.EmailMessage]:
        """Wait until ``count`` mails to ``address`` have arrived; those mails."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [m for m in self.messages if address in str(m["To"])]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} mail(s) to {address}, got {len(found)}")

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    @staticmethod
    def text(message: email.message.EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    @staticmethod
    def html(message: email.message.EmailMessage) -> str:
        part = message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""

    @classmethod
    def links(cls, message: email.message.EmailMessage) -> list[str]:
        return re.findall(r"https?://[^\s<>\"']+", cls.text(message))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Any, Inbox]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def inbox(smtp_server: tuple[Any, Inbox]) -> Inbox:
    smtp_server[1].clear()
    return smtp_server[1]


@pytest.fixture
def smtp_port(smtp_server: tuple[Any, Inbox]) -> int:
    return smtp_server[0].port


def wait_for_outbox(app: Flask, count: int = 1, status: str | None = "sent",
                    kind: str | None = None, timeout: float = 10.0,
                    attempts: int | None = None) -> list[Any]:
    """Poll the database until the outbox holds exactly ``count`` mails (of
    ``kind``, if given), every one with ``status`` (any status if ``None``) and,
    if given, that many sending ``attempts``.

    Every mail the package sends goes through the outbox, so once this holds no
    further mail of that kind is on its way. Returns the rows, oldest first.
    """
    state = app.extensions["webence_privacy"]
    db, Outbox = state.db, state.models.Outbox
    query = sa.select(Outbox).order_by(Outbox.id)
    if kind is not None:
        query = query.where(Outbox.kind == kind)
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            rows = db.session.scalars(query).all()
        if len(rows) == count and all(
                (status is None or r.status == status)
                and (attempts is None or r.attempts == attempts) for r in rows):
            return rows
        if time.monotonic() >= deadline:
            seen = [(r.kind, r.status) for r in rows]
            raise AssertionError(
                f"expected {count} {kind or 'outbox'} mail(s) with status {status!r} "
                f"within {timeout}s; the outbox holds {seen}")
        time.sleep(0.02)


def wait_for_delivery(app: Flask, timeout: float = 10.0) -> None:
    """Poll until every mail the app queued has had its first try (none is
    waiting for the sender after a response, none is being sent)."""
    state = app.extensions["webence_privacy"]
    db, Outbox = state.db, state.models.Outbox
    busy = sa.select(sa.func.count()).select_from(Outbox).where(sa.or_(
        Outbox.status == "sending", sa.and_(Outbox.status == "queued", Outbox.attempts == 0)))
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            left = db.session.scalar(busy)
        if not left:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{left} mail(s) still waiting for delivery after {timeout}s")
        time.sleep(0.02)


# -- database -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str | None]:
    """One schema per test run, so parallel runs on one server never meet."""
    if not POSTGRES_URL:
        yield None
        return
    import sqlalchemy as sa

    schema = f"wp_test_{uuid.uuid4().hex[:12]}"
    try:
        engine = sa.create_engine(POSTGRES_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server"
        yield f"unreachable: {type(exc).__name__}"
        return
    yield schema
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[str | None]:
    """One MariaDB/MySQL database per test run, created and dropped here."""
    if not MYSQL_URL:
        yield None
        return
    name = f"wp_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(MYSQL_URL)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server"
        yield f"unreachable: {type(exc).__name__}"
        return
    yield sa.engine.make_url(MYSQL_URL).set(database=name).render_as_string(hide_password=False)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE `{name}`"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database(request: pytest.FixtureRequest, tmp_path: Path,
             postgres_schema: str | None) -> dict[str, Any]:
    """Config for the app's database: SQLite in a temp file, the PostgreSQL server,
    or the MariaDB server."""
    if request.param == "sqlite":
        return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'site.db'}"}
    if request.param == "mariadb":
        if not MYSQL_URL:
            missing("MariaDB: set TEST_MYSQL_URL (the Makefile does)")
        url = request.getfixturevalue("mysql_database")
        if url is None or url.startswith("unreachable"):
            missing(f"MariaDB at {MYSQL_URL} is {url}")
        return {"SQLALCHEMY_DATABASE_URI": url}
    if not POSTGRES_URL:
        missing("PostgreSQL: set TEST_POSTGRES_URL (the Makefile does)")
    if postgres_schema is None or postgres_schema.startswith("unreachable"):
        missing(f"PostgreSQL at {POSTGRES_URL} is {postgres_schema}")
    return {
        "SQLALCHEMY_DATABASE_URI": POSTGRES_URL,
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "connect_args": {"options": f"-csearch_path={postgres_schema}"}
        },
    }


@pytest.fixture
def sqlite_database(tmp_path: Path) -> dict[str, Any]:
    return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'site.db'}"}


BASE_CONFIG: dict[str, Any] = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "PRIVACY_HASH_KEY": "test-hash-key",
    "PRIVACY_CONTROLLER_NAME": "Webence",
    "PRIVACY_CONTACT_EMAIL": "info@webence.nl",
    "MAIL_DEFAULT_SENDER": ("Webence", "noreply@webence.nl"),
    "SERVER_NAME": "webence.test",
    "PREFERRED_URL_SCHEME": "https",
}


class ClosingClient(FlaskClient):
    """A test client that reads the whole response and closes it, as a WSGI
    server does once the last byte has gone: the package starts mail delivery
    only then (a visitor never waits for SMTP), so an unclosed response would
    leave the mail queued."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


class AppFactory:
    """Builds apps as a site builder would: SQLAlchemy(), Privacy(), init_app()."""

    def __init__(self, database: dict[str, Any], smtp_port: int | None) -> None:
        self.database = database
        self.smtp_port = smtp_port
        self.built: list[tuple[Flask, SQLAlchemy]] = []

    def __call__(self, create: bool = True, setup: Callable[..., Any] | None = None,
                 **config: Any) -> Flask:
        app = Flask("site")
        app.test_client_class = ClosingClient
        app.config.update(BASE_CONFIG)
        app.config.update(self.database)
        if self.smtp_port:
            app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=self.smtp_port,
                              MAIL_SUPPRESS_SEND=False)
        app.config.update(config)
        db = SQLAlchemy()
        privacy = Privacy()
        db.init_app(app)
        if setup is not None:
            setup(app, db, privacy)
        privacy.init_app(app, db=db)
        app.extensions["test_handles"] = (db, privacy)
        if create:
            with app.app_context():
                db.create_all()
                privacy.sync_policy()
        self.built.append((app, db))
        return app

    def teardown(self) -> None:
        for app, db in self.built:
            # The background sender may still be rendering or sending a mail of
            # the test: let it finish before its tables go.
            mail.worker(app).drain()
            # And the visit log writes the page views it holds (as at a
            # worker's exit), not after the tables are gone.
            visits.flush(app)
            with app.app_context():
                db.session.remove()
                db.drop_all()
                db.engine.dispose()


@pytest.fixture
def make_app(database: dict[str, Any], smtp_port: int) -> Iterator[AppFactory]:
    factory = AppFactory(database, smtp_port)
    yield factory
    factory.teardown()


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def make_sqlite_app(sqlite_database: dict[str, Any], smtp_port: int) -> Iterator[AppFactory]:
    factory = AppFactory(sqlite_database, smtp_port)
    yield factory
    factory.teardown()


class HostFactory:
    """Builds the host app of ``tests/host_app`` (its own factory, module-level
    extensions, Flask-Login, Flask-Migrate, its own Babel, a JSON API) on the
    test's database, creating its tables as its own test suite would."""

    def __init__(self, database: dict[str, Any], smtp_port: int | None) -> None:
        self.database = database
        self.smtp_port = smtp_port
        self.built: list[Flask] = []

    def __call__(self, create: bool = True, **config: Any) -> Flask:
        settings: dict[str, Any] = {"TESTING": True, **self.database}
        if self.smtp_port:
            settings.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=self.smtp_port,
                            MAIL_SUPPRESS_SEND=False)
        app = host_app.create_app({**settings, **config})
        app.test_client_class = ClosingClient
        self.built.append(app)
        if create:
            with app.app_context():
                host_app.db.create_all()
                if "webence_privacy" in app.extensions:
                    host_app.privacy.sync_policy()
        return app

    def teardown(self) -> None:
        for app in self.built:
            if "webence_privacy" in app.extensions:
                mail.worker(app).drain()
                visits.flush(app)
            with app.app_context():
                host_app.db.session.remove()
                host_app.db.drop_all()
                host_app.db.engine.dispose()


@pytest.fixture
def make_host(database: dict[str, Any], smtp_port: int) -> Iterator[HostFactory]:
    factory = HostFactory(database, smtp_port)
    yield factory
    factory.teardown()


@pytest.fixture
def make_sqlite_host(sqlite_database: dict[str, Any], smtp_port: int) -> Iterator[HostFactory]:
    factory = HostFactory(sqlite_database, smtp_port)
    yield factory
    factory.teardown()


def handles(app: Flask) -> tuple[SQLAlchemy, Privacy]:
    return app.extensions["test_handles"]


def host_model(db: SQLAlchemy, name: str = "Invoice", *, table: str | None = None,
               extra_columns: dict[str, Any] | None = None) -> Any:
    """A host site's own table that holds personal data, mapped on ``db``.

    Columns, in this order: ``id``, ``email`` (String 254, indexed), the
    ``extra_columns`` (name -> SQLAlchemy type, in the order given) and
    ``created_at`` (defaults to now). The table is ``table``, or ``name`` in
    snake case, as Flask-SQLAlchemy would name it.
    """
    table = table or re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    columns = [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(254), index=True),
        *(sa.Column(key, type_) for key, type_ in (extra_columns or {}).items()),
        sa.Column("created_at", sa.DateTime, default=utcnow),
    ]
    # An index on lower(email) where the database has them (MariaDB compares by
    # its case-insensitive collation and uses the plain index).
    lookup = sa.Index(f"ix_{table}_email_lower", sa.func.lower(columns[1])).ddl_if(
        dialect=("postgresql", "sqlite"))
    return type(name, (db.Model,), {"__table__": sa.Table(table, db.metadata, *columns, lookup)})


def csrf_token(client: Any, url: str, **kwargs: Any) -> str:
    """The CSRF token from the form at ``url``, as a browser would send it."""
    page = client.get(url, **kwargs).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, f"no csrf_token on {url}"
    return match.group(1)


# -- live server --------------------------------------------------------------------


class LiveServer:
    def __init__(self, app: Flask, port: int = 0) -> None:
        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server() -> Iterator[Callable[[Flask], LiveServer]]:
    servers: list[LiveServer] = []

    def start(app: Flask, port: int = 0) -> LiveServer:
        server = LiveServer(app, port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# -- the example site ---------------------------------------------------------------


@pytest.fixture
def example_site_app(request: pytest.FixtureRequest,
                     tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Builds the example site on a temp SQLite file, with its tables and policy.

    ``mail=True`` sends through the test SMTP server (the ``inbox``) instead of
    suppressing mail; ``admin=True`` opens the maintainer's pages to every
    request; ``debug=True`` runs the app in debug mode (the demo's own admin
    check then lets the local maintainer in). Other keywords are app config.
    """
    from example_site import create_app, db

    built: list[Flask] = []

    def build(*, mail: bool = False, admin: bool = False, debug: bool = False,
              **config: Any) -> Flask:
        settings: dict[str, Any] = {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / f'site{len(built)}.db'}",
            "SECRET_KEY": "example-site-test",
            # As in production: the address declared, the hash key apart.
            "PRIVACY_SITE_URL": "http://localhost",
            "TRUSTED_HOSTS": ["127.0.0.1", "localhost"],
            "PRIVACY_HASH_KEY": "example-site-hash-key",
            "MAIL_SUPPRESS_SEND": True,
        }
        if mail:
            settings.update(MAIL_SERVER="127.0.0.1",
                            MAIL_PORT=request.getfixturevalue("smtp_port"),
                            MAIL_SUPPRESS_SEND=False)
        if admin:
            settings["PRIVACY_ADMIN_CHECK"] = lambda: True
        if debug:
            settings["DEBUG"] = True  # known at init_app, as `flask run --debug` makes it
        settings.update(config)
        app = create_app(settings)
        app.test_client_class = ClosingClient
        if debug:
            app.debug = True
        with app.app_context():
            db.create_all()
            app.extensions["webence_privacy"].privacy.sync_policy()
        built.append(app)
        return app

    yield build
    for app in built:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def example_site_options() -> dict[str, Any]:
    """The keywords ``example_site`` builds the site with; a test module that needs
    mail or the maintainer's pages overrides this fixture."""
    return {}


@pytest.fixture
def example_site(example_site_app: Callable[..., Flask], example_site_options: dict[str, Any],
                 live_server: Callable[..., LiveServer]) -> LiveServer:
    """The example site, running: ``.url`` for the browser, ``.app`` for the database."""
    # Mailed links lead to where the browser finds the site: its port is chosen first.
    port = free_port()
    return live_server(example_site_app(PRIVACY_SITE_URL=f"http://127.0.0.1:{port}",
                                        **example_site_options), port)


# -- browser ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        missing(f"Chromium not found at {CHROMIUM} (Debian package 'chromium')")
    from playwright.sync_api import sync_playwright

    args = ["--disable-background-networking", "--disable-component-update", "--no-first-run",
            "--disable-sync", "--disable-gpu"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}},
    )
    return results.response["violations"]
