"""Proof of consent (GDPR art. 7(1)): who, what, when, how, and its withdrawal.

Records are append-only: a withdrawal is a new row with action "withdrawn".
The current state of a consent is the newest row for (address, purpose).
Functions add to the session; the caller commits with its own record, so the
proof and the act it proves are written together or not at all.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func

from .models import utcnow

GIVEN = "given"
WITHDRAWN = "withdrawn"


def wording_hash(wording: str) -> str:
    return hashlib.sha256(wording.encode("utf-8")).hexdigest()


def _record(state: Any, action: str, *, email: str, purpose: str, wording: str, form: str,
            policy_version: str | None = None, age_confirmed: bool = False,
            language: str | None = None, ip: str | None = None) -> Any:
    from .policy import current_version

    record = state.models.ConsentRecord(
        email=email,
        purpose=purpose,
        action=action,
        wording=wording,
        wording_hash=wording_hash(wording),
        policy_version=policy_version or current_version(state.settings).version,
        form=form,
        age_confirmed=age_confirmed,
        language=language,
        ip=ip,
        created_at=utcnow(),
    )
    state.db.session.add(record)
    return record


def give(state: Any, **kwargs: Any) -> Any:
    """Record consent. kwargs: email, purpose, wording (exactly as shown), form,
    age_confirmed, language, ip, policy_version (defaults to the current one)."""
    return _record(state, GIVEN, **kwargs)


def withdraw(state: Any, **kwargs: Any) -> Any:
    """Record a withdrawal (a new row; the proof of the consent stays)."""
    return _record(state, WITHDRAWN, **kwargs)


def latest(state: Any, email: str) -> dict[str, Any]:
    """The newest record per purpose for one address: {purpose: record}."""
    Consent = state.models.ConsentRecord
    db = state.db
    newest = (
        db.select(Consent.purpose, func.max(Consent.id).label("id"))
        .where(Consent.email == email)
        .group_by(Consent.purpose)
        .subquery()
    )
    rows = db.session.scalars(db.select(Consent).join(newest, Consent.id == newest.c.id)).all()
    return {row.purpose: row for row in rows}


def active(state: Any, email: str) -> list[Any]:
    """Consents given and not withdrawn since, newest first."""
    return sorted(
        (r for r in latest(state, email).values() if r.action == GIVEN),
        key=lambda r: r.id,
        reverse=True,
    )


def has_consent(state: Any, email: str, purpose: str, *, policy_version: str | None = None) -> bool:
    record = latest(state, email).get(purpose)
    if record is None or record.action != GIVEN:
        return False
    return policy_version is None or record.policy_version == policy_version
