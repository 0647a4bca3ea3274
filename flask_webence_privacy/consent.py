"""Proof of consent (GDPR art. 7(1)): who, what, when, how, and its withdrawal.

Records are append-only: a withdrawal is a new row with action "withdrawn".
The current state of a consent is the newest row for (address, purpose).
Functions add to the session; the caller commits with its own record, so the
proof and the act it proves are written together or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import func, orm

from . import labels
from .config import Settings
from .i18n import gettext as _
from .i18n import lazy_gettext as _l
from .models import ConsentRecordRow, Models, insert, utcnow
from .policy import current_version, format_period
from .registry import Rule, RuleContext, Source, make_source, materialized
from .state import State

GIVEN = "given"
WITHDRAWN = "withdrawn"


def wording_hash(wording: str) -> str:
    return hashlib.sha256(wording.encode("utf-8")).hexdigest()


def new_record(state: State, action: str, *, email: str, purpose: str, wording: str,
               form: str, policy_version: str | None = None, age_confirmed: bool = False,
               language: str | None = None, ip: str | None = None) -> ConsentRecordRow:
    """A consent record (``action`` :data:`GIVEN` or :data:`WITHDRAWN`) not yet
    written, for a caller that writes it with the rows it proves
    (:func:`~flask_webence_privacy.models.insert_all`); :func:`give` and
    :func:`withdraw` write their own."""
    return state.models.ConsentRecord(
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


def _write(state: State, record: ConsentRecordRow) -> ConsentRecordRow:
    # Written at once (Core): a proof is never changed afterwards.
    insert(state.db.session, record)
    return record


def give(state: State, *, email: str, purpose: str, wording: str, form: str,
         policy_version: str | None = None, age_confirmed: bool = False,
         language: str | None = None, ip: str | None = None) -> ConsentRecordRow:
    """Record consent: ``email`` canonical, ``wording`` exactly as shown, the form
    it was given on; the policy version defaults to the current one."""
    return _write(state, new_record(
        state, GIVEN, email=email, purpose=purpose, wording=wording, form=form,
        policy_version=policy_version, age_confirmed=age_confirmed, language=language, ip=ip))


def withdraw(state: State, *, email: str, purpose: str, wording: str, form: str,
             policy_version: str | None = None, language: str | None = None,
             ip: str | None = None) -> ConsentRecordRow:
    """Record a withdrawal (a new row; the proof of the consent stays)."""
    return _write(state, new_record(
        state, WITHDRAWN, email=email, purpose=purpose, wording=wording, form=form,
        policy_version=policy_version, language=language, ip=ip))


def latest(state: State, email: str) -> dict[str, ConsentRecordRow]:
    """The newest record per purpose for one (canonical) address: {purpose: record}."""
    Consent = state.models.ConsentRecord
    newest = (
        sa.select(Consent.purpose, func.max(Consent.id).label("id"))
        .where(Consent.email == email)
        .group_by(Consent.purpose)
        .subquery()
    )
    rows = state.db.session.scalars(sa.select(Consent).join(newest, Consent.id == newest.c.id))
    return {row.purpose: row for row in rows}


def active(state: State, email: str) -> list[ConsentRecordRow]:
    """Consents given and not withdrawn since, newest first."""
    return sorted(
        (r for r in latest(state, email).values() if r.action == GIVEN),
        key=lambda r: r.id,
        reverse=True,
    )


def has_consent(state: State, email: str, purpose: str, *, policy_version: str | None = None) -> bool:
    record = latest(state, email).get(purpose)
    if record is None or record.action != GIVEN:
        return False
    return policy_version is None or record.policy_version == policy_version


# -- as a source of personal data, with its retention ------------------------------------


def _rules(source: Source, context: RuleContext) -> Iterable[Rule]:
    """A consent and its withdrawal go a proof period after the withdrawal; a
    consent given again later is untouched. The consents go first: were the run
    to stop in between, a withdrawal without its consent is harmless, a consent
    without its withdrawal would look in force."""
    Consent = context.models.ConsentRecord
    cutoff = context.settings.proof_retention.cutoff(context.now)
    earlier, later = orm.aliased(Consent), orm.aliased(Consent)
    # The consents with a withdrawal after them, as a derived table (a DELETE on
    # MySQL may not read its own table otherwise).
    withdrawn = Consent.id.in_(materialized(
        sa.select(earlier.id).join(later, sa.and_(
            later.email == earlier.email, later.purpose == earlier.purpose,
            later.action == WITHDRAWN, later.created_at < cutoff,
            later.created_at >= earlier.created_at)), "withdrawn"))
    table, subject = source.table, source.subject_key()
    yield Rule(table, source.name, "withdrawn consent", cutoff,
               sa.and_(Consent.action != WITHDRAWN, withdrawn), subject)
    yield Rule(table, source.name, "withdrawal", cutoff,
               sa.and_(Consent.action == WITHDRAWN, Consent.created_at < cutoff), subject)


def _period(settings: Settings) -> str:
    return _("while the consent is in force, and %(proof)s after you withdraw it",
             proof=format_period(settings.proof_retention))


def source(models: Models) -> Source:
    return make_source(
        models.ConsentRecord,
        label={"en": "Consents you gave or withdrew", "nl": "Gegeven en ingetrokken toestemmingen"},
        purpose={"en": "Proof of consent (GDPR art. 7)", "nl": "Bewijs van toestemming (AVG art. 7)"},
        fields=("purpose", "action", "wording", "policy_version", "form",
                "age_confirmed", "language", "created_at"),
        builtin=True,
        canonical_email=True,
        rules=_rules,
        period=_period,
        field_labels={"purpose": _l("Consent for"), "action": _l("Consent"),
                      "wording": _l("Text you agreed to"), "form": _l("Given or withdrawn through"),
                      "age_confirmed": _l("Age confirmed")},
        value_labels={"purpose": labels.CONSENT_PURPOSES, "action": labels.CONSENT_ACTIONS,
                      "form": labels.CONSENT_FORMS},
    )


def age_statement(settings: Settings) -> str:
    """The age box's label, in the active locale: part of the wording a consent proves."""
    return _("I am %(age)d or older, or have permission from a parent or guardian",
             age=settings.min_consent_age)
