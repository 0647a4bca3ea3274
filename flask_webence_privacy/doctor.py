"""``flask privacy check``: what stands between this configuration and a safe
production site, in the manner of Django's ``check --deploy``.

Each finding has a stable ID (``privacy.E...`` errors, ``privacy.W...``
warnings), says what is wrong and how to fix it. The README lists them all.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask

from . import lookup_index
from .mail import claim_lease, recent_notifications
from .models import utcnow
from .retention import rules
from .state import State

#: Data past its period by more than this means the purge is not running.
STALE = dt.timedelta(days=2)
#: Mail due this long ago and not sent (or claimed this long past its lease)
#: means no sender runs: cron's is every few minutes, a watching one's seconds.
MAIL_LATE = dt.timedelta(minutes=15)
#: Maintainer notifications in an hour past which someone is flooding the forms:
#: each is still sent (the owner sees every message), the check says so.
NOTIFY_FLOOD = 60


@dataclass(frozen=True)
class Finding:
    id: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.id}: {self.message}\n    Fix: {self.fix}"


def _configuration(app: Flask, state: State) -> Iterator[Finding]:
    config = app.config
    site = state.settings.site_url
    if site is None and not config.get("SERVER_NAME"):
        yield Finding("privacy.E001", "The site's address is not declared: mailed links would "
                      "take their host from the request's Host header.",
                      "Set PRIVACY_SITE_URL = 'https://www.example.nl'.")
    if _storage_uri(app, state).startswith("memory://"):
        yield Finding("privacy.W002", "Rate limits are kept in each process's memory: with "
                      "several workers a limit lets through several times what it says.",
                      "Set PRIVACY_RATELIMIT_STORAGE_URI = 'redis://127.0.0.1:6379/0'.")
    secret = config.get("SECRET_KEY") or ""
    if state.settings.hash_key == (secret.encode() if isinstance(secret, str) else secret):
        yield Finding("privacy.E003", "PRIVACY_HASH_KEY is not set apart from SECRET_KEY: "
                      "rotating the secret would orphan every stored hash.",
                      "Set PRIVACY_HASH_KEY to its own random value and never change it.")
    scheme = site.scheme if site is not None else config.get("PREFERRED_URL_SCHEME")
    if scheme != "https":
        yield Finding("privacy.W004", "The site's address is not https: mailed links and "
                      "cookies would go over plain http.",
                      "Serve the site over https and set PRIVACY_SITE_URL = 'https://...' "
                      "(and PREFERRED_URL_SCHEME = 'https').")
    engine = state.db.engine
    if engine.dialect.name != "sqlite" and not getattr(engine.pool, "_pre_ping", False):
        yield Finding("privacy.W006", "pool_pre_ping is off: after a database restart the first "
                      "requests meet dead connections.",
                      "SQLALCHEMY_ENGINE_OPTIONS = {'pool_pre_ping': True}.")


def tables(state: State) -> list[Finding]:
    """Package tables that are missing or lack a column (E007, E008)."""
    return list(_database(state))


def _database(state: State) -> Iterator[Finding]:
    inspector = sa.inspect(state.db.engine)
    for model in state.models.all():
        table = model.__table__
        if not inspector.has_table(table.name):
            yield Finding("privacy.E007", f"Table {table.name} is missing.",
                          "Run your migrations (flask db upgrade) or flask privacy init-db.")
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c.name for c in table.columns if c.name not in present]
        if missing:
            yield Finding("privacy.E008", f"Table {table.name} is out of date: no column "
                          f"{', '.join(missing)}.",
                          "Run your migrations (flask db migrate && flask db upgrade).")


def _indexes(state: State) -> Iterator[Finding]:
    """W005: a registered address column the database has no index for."""
    for source in state.host_sources:
        if not lookup_index.checked(source):
            continue
        engine = lookup_index.engine_for(state.db, source.table)
        with engine.connect() as connection:
            gap = lookup_index.database_gap(source, connection)
        if gap is not None:
            yield _index_finding(gap)


def _index_finding(gap: lookup_index.Gap) -> Finding:
    """W005, worded from the gap: the statement to run, and the model's line."""
    source = gap.source
    message = (f"{source.name}.{source.email} has no index on {gap.expression} in the "
               "database: every export and erasure reads the whole table.")
    if gap.declared:
        message += " The model declares one: the migration that creates it has not run."
    why = (" (the database compares addresses by its case-insensitive collation, so a plain "
           "index serves)" if gap.collating else "")
    return Finding("privacy.W005", message,
                   f"{gap.ddl};{why} and declare it on the model so migrations keep it: "
                   f"{gap.model_index}.")


def _jobs(state: State) -> Iterator[Finding]:
    session, Outbox = state.db.session, state.models.Outbox
    now = utcnow()
    late = now - MAIL_LATE
    waiting = session.scalar(sa.select(sa.func.count()).select_from(Outbox).where(
        Outbox.status == "queued", Outbox.next_attempt_at < late)) or 0
    stranded = session.scalar(sa.select(sa.func.count()).select_from(Outbox).where(
        Outbox.status == "sending",
        Outbox.next_attempt_at < late - claim_lease(state.settings))) or 0
    if waiting or stranded:
        yield Finding("privacy.W009", f"{waiting} mail(s) due for more than 15 minutes and "
                      f"{stranded} claimed by a sender that stopped are not sent: no mail "
                      "sender runs.",
                      "Run flask privacy send-mail --watch as a service (or send-mail from cron).")
    overdue = 0
    for rule in rules(state, now - STALE):
        if rule.table.name == state.models.VisitLog.__table__.name and not state.settings.visit_log:
            continue
        overdue += session.scalar(sa.select(sa.func.count()).select_from(rule.table)
                                  .where(rule.where)) or 0
    if overdue:
        yield Finding("privacy.W010", f"{overdue} record(s) are more than two days past their "
                      "retention period: the purge has not run.",
                      "Run flask privacy purge daily (cron or a systemd timer; see the README).")
    session.rollback()


def _smtp(app: Flask, state: State) -> Iterator[Finding]:
    config = app.config
    if config.get("MAIL_SUPPRESS_SEND"):
        return
    server, port = config.get("MAIL_SERVER", "localhost"), int(config.get("MAIL_PORT", 25))
    try:
        connect = smtplib.SMTP_SSL if config.get("MAIL_USE_SSL") else smtplib.SMTP
        with connect(server, port, timeout=state.settings.mail_timeout) as smtp:
            smtp.noop()
    except (OSError, smtplib.SMTPException) as exc:
        yield Finding("privacy.W011", f"The SMTP server {server}:{port} does not answer "
                      f"({type(exc).__name__}).",
                      "Check MAIL_SERVER and MAIL_PORT; mail waits in the outbox meanwhile.")


def _storage_uri(app: Flask, state: State) -> str:
    """The limiter's storage as the settings name it (:func:`.setup.setup_limiter`)."""
    return str(state.settings.ratelimit_storage_uri or app.config.get("RATELIMIT_STORAGE_URI")
               or "memory://")


def _limit_storage(app: Flask, state: State) -> Iterator[Finding]:
    """W013: the rate limiter's storage does not answer (the forms count in each
    process meanwhile, and so do the daily mail caps)."""
    storage = state.limiter.storage
    try:
        answers = bool(storage.check())
    except Exception:  # noqa: BLE001 - any failure of the storage's client is the finding
        answers = False
    if not answers:
        yield Finding("privacy.W013", f"The rate-limit storage {_shown_uri(app, state)} does not "
                      "answer: each worker counts limits and mail caps on its own meanwhile.",
                      "Start it, or check PRIVACY_RATELIMIT_STORAGE_URI.")


def _shown_uri(app: Flask, state: State) -> str:
    """The storage's URI without a password, for a finding."""
    uri = _storage_uri(app, state)
    try:
        return sa.engine.make_url(uri).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return uri.split("@")[-1]


def notifications(state: State) -> tuple[str, list[Finding]]:
    """The last hour's maintainer notifications, as a line, and W014 when they
    look like a flood."""
    count = recent_notifications(state)
    state.db.session.rollback()
    line = f"Maintainer notifications in the last hour: {count}."
    if count <= NOTIFY_FLOOD:
        return line, []
    return line, [Finding("privacy.W014", f"{count} maintainer notifications in the last hour: "
                          "someone may be flooding the forms (each message is still sent).",
                          "Look at the contact messages and requests of the last hour; lower "
                          "PRIVACY_CONTACT_RATE_LIMIT if they come from few addresses.")]


def check(app: Flask, state: State) -> list[Finding]:
    """Every finding, errors first."""
    findings = [*_configuration(app, state)]
    database_ok = True
    try:
        findings += _database(state)
        findings += _indexes(state)
    except sa.exc.DBAPIError as exc:
        database_ok = False
        findings.append(Finding("privacy.E012", f"The database does not answer "
                                f"({type(exc).__name__}).", "Check SQLALCHEMY_DATABASE_URI."))
    if database_ok and not any(f.id in ("privacy.E007", "privacy.E008") for f in findings):
        findings += _jobs(state)
        findings += notifications(state)[1]
    findings += _limit_storage(app, state)
    findings += _smtp(app, state)
    return sorted(findings, key=lambda f: (not f.id.startswith("privacy.E"), f.id))
