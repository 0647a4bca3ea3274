"""The package's own tables, defined on the host's Flask-SQLAlchemy instance.

The package never owns the database (Flask-Security's rule): its models are
built once per ``SQLAlchemy`` instance the host passes to ``init_app``, so the
host's ``db.create_all()`` and migrations see them like any other model. Every
table is prefixed ``privacy_``. All times are naive UTC.
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column


def utcnow() -> dt.datetime:
    """Naive UTC: SQLite keeps no zone, so every stored time is UTC without one."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class AppendOnlyError(RuntimeError):
    """A consent record was about to be changed or deleted outside erasure/purge."""


@dataclass(frozen=True)
class Models:
    """The model classes bound to one host ``db``."""

    PolicyVersion: Any
    ConsentRecord: Any
    Outbox: Any
    ContactMessage: Any
    Subscriber: Any
    DataRequest: Any
    ErasureLedger: Any
    Hold: Any
    SubjectMark: Any
    VisitLog: Any

    def all(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__dataclass_fields__)


_cache: weakref.WeakKeyDictionary[Any, Models] = weakref.WeakKeyDictionary()


def get_models(db: Any) -> Models:
    """Return the models for ``db``, defining them on first use."""
    models = _cache.get(db)
    if models is None:
        models = _cache[db] = _define(db)
    return models


def _define(db: Any) -> Models:  # noqa: C901 - one place that lists every table
    Text = sa.Text
    String = sa.String

    class PolicyVersion(db.Model):
        """A published version of the policy and what its page said (snapshot)."""

        __tablename__ = "privacy_policy_version"
        id: Mapped[int] = mapped_column(primary_key=True)
        version: Mapped[str] = mapped_column(String(40), unique=True)
        effective_date: Mapped[dt.date] = mapped_column(sa.Date, index=True)
        # JSON of what the policy page showed when this version was published, so
        # an earlier version can be read as it was, not as today's config says.
        snapshot: Mapped[str | None] = mapped_column(Text)
        created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    class ConsentRecord(db.Model):
        """Proof of consent (GDPR art. 7(1)); append-only: withdrawal is a new row."""

        __tablename__ = "privacy_consent_record"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(String(254), index=True)
        purpose: Mapped[str] = mapped_column(String(40), index=True)
        action: Mapped[str] = mapped_column(String(16))  # given | withdrawn
        wording: Mapped[str] = mapped_column(Text)
        wording_hash: Mapped[str] = mapped_column(String(64))
        policy_version: Mapped[str] = mapped_column(String(40))
        form: Mapped[str] = mapped_column(String(40))
        age_confirmed: Mapped[bool] = mapped_column(default=False)
        language: Mapped[str | None] = mapped_column(String(8))
        ip: Mapped[str | None] = mapped_column(String(64))
        created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    class Outbox(db.Model):
        """Mail written in the same transaction as its record, sent after commit."""

        __tablename__ = "privacy_outbox"
        id: Mapped[int] = mapped_column(primary_key=True)
        # The address the mail concerns, so export/erasure/retention find it.
        subject_email: Mapped[str | None] = mapped_column(String(254), index=True)
        kind: Mapped[str] = mapped_column(String(40))
        recipient: Mapped[str] = mapped_column(String(254))
        reply_to: Mapped[str | None] = mapped_column(String(254))
        subject: Mapped[str] = mapped_column(String(255))
        body_text: Mapped[str] = mapped_column(Text)
        body_html: Mapped[str | None] = mapped_column(Text)
        headers: Mapped[str | None] = mapped_column(Text)  # JSON object
        status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
        attempts: Mapped[int] = mapped_column(default=0)
        last_error: Mapped[str | None] = mapped_column(Text)
        next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
        created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
        sent_at: Mapped[dt.datetime | None] = mapped_column()

    class ContactMessage(db.Model):
        """A question or quote request from the contact form, with its purpose."""

        __tablename__ = "privacy_contact_message"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(200))
        email: Mapped[str] = mapped_column(String(254), index=True)
        phone: Mapped[str | None] = mapped_column(String(40))
        company: Mapped[str | None] = mapped_column(String(200))
        purpose: Mapped[str] = mapped_column(String(40))
        # The purpose's retention category, copied so the purge can select by it in SQL.
        retention_category: Mapped[str] = mapped_column(String(40), default="default")
        message: Mapped[str] = mapped_column(Text)
        language: Mapped[str | None] = mapped_column(String(8))
        ip: Mapped[str | None] = mapped_column(String(64))
        policy_version: Mapped[str] = mapped_column(String(40))
        created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    class Subscriber(db.Model):
        """A newsletter subscription: pending, confirmed or unsubscribed."""

        __tablename__ = "privacy_subscriber"
        __table_args__ = (sa.UniqueConstraint("list_name", "email"),)
        id: Mapped[int] = mapped_column(primary_key=True)
        list_name: Mapped[str] = mapped_column(String(40), default="newsletter")
        email: Mapped[str] = mapped_column(String(254), index=True)
        status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
        language: Mapped[str | None] = mapped_column(String(8))
        policy_version: Mapped[str | None] = mapped_column(String(40))
        confirm_token_hash: Mapped[str | None] = mapped_column(String(64))
        confirm_sent_at: Mapped[dt.datetime | None] = mapped_column()
        confirm_mails: Mapped[int] = mapped_column(default=0)
        confirmed_at: Mapped[dt.datetime | None] = mapped_column()
        unsubscribed_at: Mapped[dt.datetime | None] = mapped_column()
        created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    class DataRequest(db.Model):
        """A data subject's request under one of the GDPR rights, with its deadline."""

        __tablename__ = "privacy_data_request"
        id: Mapped[int] = mapped_column(primary_key=True)
        # Cleared on erasure; email_hash (keyed) stays so the request can still be audited.
        email: Mapped[str | None] = mapped_column(String(254), index=True)
        email_hash: Mapped[str] = mapped_column(String(64), index=True)
        kind: Mapped[str] = mapped_column(String(20))
        details: Mapped[str | None] = mapped_column(Text)
        status: Mapped[str] = mapped_column(String(16), default="unverified", index=True)
        language: Mapped[str | None] = mapped_column(String(8))
        token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
        token_used_at: Mapped[dt.datetime | None] = mapped_column()
        created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
        verified_at: Mapped[dt.datetime | None] = mapped_column()
        due_at: Mapped[dt.datetime | None] = mapped_column(index=True)
        extended_until: Mapped[dt.datetime | None] = mapped_column()
        extension_reason: Mapped[str | None] = mapped_column(Text)
        completed_at: Mapped[dt.datetime | None] = mapped_column()
        resolution: Mapped[str | None] = mapped_column(Text)

    class ErasureLedger(db.Model):
        """Keyed hashes of erased addresses, to erase again after a backup restore."""

        __tablename__ = "privacy_erasure_ledger"
        id: Mapped[int] = mapped_column(primary_key=True)
        email_hash: Mapped[str] = mapped_column(String(64), index=True)
        request_id: Mapped[int | None] = mapped_column()
        erased_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    class Hold(db.Model):
        """A legal hold: the subject's records survive the purge until released."""

        __tablename__ = "privacy_hold"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(String(254), index=True)
        reason: Mapped[str] = mapped_column(Text)
        created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
        released_at: Mapped[dt.datetime | None] = mapped_column()

    class SubjectMark(db.Model):
        """Restriction (art. 18) or objection (art. 21) recorded for a subject."""

        __tablename__ = "privacy_subject_mark"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(String(254), index=True)
        kind: Mapped[str] = mapped_column(String(20))  # restriction | objection
        grounds: Mapped[str | None] = mapped_column(Text)
        request_id: Mapped[int | None] = mapped_column()
        created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
        lifted_at: Mapped[dt.datetime | None] = mapped_column()

    class VisitLog(db.Model):
        """Optional visit data: time, path, truncated IP and browser family only."""

        __tablename__ = "privacy_visit_log"
        id: Mapped[int] = mapped_column(primary_key=True)
        path: Mapped[str] = mapped_column(String(255))
        ip: Mapped[str | None] = mapped_column(String(64))
        browser: Mapped[str | None] = mapped_column(String(40))
        created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    @event.listens_for(ConsentRecord, "before_update")
    def _refuse_update(mapper: Any, connection: Any, target: Any) -> None:
        raise AppendOnlyError("consent records are append-only; record a withdrawal instead")

    return Models(
        PolicyVersion=PolicyVersion,
        ConsentRecord=ConsentRecord,
        Outbox=Outbox,
        ContactMessage=ContactMessage,
        Subscriber=Subscriber,
        DataRequest=DataRequest,
        ErasureLedger=ErasureLedger,
        Hold=Hold,
        SubjectMark=SubjectMark,
        VisitLog=VisitLog,
    )
