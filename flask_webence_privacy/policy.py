"""The privacy policy as data: versions, and the content of the page.

The page is generated from the same settings and registry that the purge,
export and erasure read, so what the page says is what the software does.
Each published version keeps a snapshot of its content, so an earlier version
can be read as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy

from .config import (
    ConfigurationError,
    PolicyVersionSpec,
    Purpose,
    RetentionCategory,
    Settings,
    localize,
)
from .i18n import gettext as _
from .i18n import ngettext
from .language import current_language, speaking
from .models import Models
from .registry import PeriodText, Source
from .rights import RIGHTS

log = logging.getLogger(__name__)

#: Shown when a site has published no version: the policy is simply "version 1".
IMPLICIT_VERSION = PolicyVersionSpec(version="1", effective=dt.date(1970, 1, 1))


def versions(settings: Settings) -> tuple[PolicyVersionSpec, ...]:
    return settings.policy_versions or (IMPLICIT_VERSION,)


def current_version(settings: Settings, today: dt.date | None = None) -> PolicyVersionSpec:
    """The newest version in effect: a new version supersedes every earlier one."""
    today = today or dt.date.today()
    in_effect = [v for v in versions(settings) if v.effective <= today]
    return in_effect[-1] if in_effect else versions(settings)[0]


def find_version(settings: Settings, version: str) -> PolicyVersionSpec | None:
    return next((v for v in versions(settings) if v.version == version), None)


def superseded_on(settings: Settings, spec: PolicyVersionSpec) -> dt.date | None:
    later = [v.effective for v in versions(settings) if v.effective > spec.effective]
    return min(later) if later else None


def format_period(category: RetentionCategory) -> str:
    """'7 years', '1 jaar en 6 maanden': in the active locale."""
    parts = []
    if category.years:
        parts.append(ngettext("%(num)d year", "%(num)d years", category.years))
    if category.months:
        parts.append(ngettext("%(num)d month", "%(num)d months", category.months))
    if category.days:
        parts.append(ngettext("%(num)d day", "%(num)d days", category.days))
    if len(parts) == 1:
        return parts[0]
    return _("%(first)s and %(last)s", first=", ".join(parts[:-1]), last=parts[-1])


def format_days(days: int) -> str:
    """A deadline: whole weeks read as weeks (the policy promises four weeks)."""
    if days % 7 == 0:
        return ngettext("%(num)d week", "%(num)d weeks", days // 7)
    return ngettext("%(num)d day", "%(num)d days", days)


def _category_label(category: RetentionCategory, language: str) -> str:
    if category.label:
        return localize(category.label, language)
    # The two categories of the default configuration read well without a label.
    if category.name == "default":
        return _("All other data")
    if category.name == "customer":
        return _("Customer and contract data")
    return category.name


def retention_info(settings: Settings, name: str, language: str) -> dict[str, Any]:
    """A retention category as pages show it: label, period, whether erasable."""
    category = settings.category(name)
    return {
        "name": category.name,
        "label": _category_label(category, language),
        "description": localize(category.description, language),
        "period": format_period(category),
        "erasable": category.erasable,
    }


def category_periods(settings: Settings, names: Iterable[str]) -> str:
    """The period of rows that may have any of these categories: one period when
    they agree, else each category's label with its period."""
    categories = [settings.category(name) for name in dict.fromkeys(names)
                  if name in settings.retention]
    if not categories:
        categories = [settings.category("default")]
    periods = list(dict.fromkeys(format_period(c) for c in categories))
    if len(periods) == 1:
        return periods[0]
    language = current_language()
    return "; ".join(f"{_category_label(c, language)}: {format_period(c)}" for c in categories)


def source_period(settings: Settings, source: Source, categories: Iterable[str] | None = None) -> str:
    """How long a source's rows are kept, worded for people: the one wording the
    privacy page, the data page, the forms and the mails show. The feature's own
    wording where it has one (read from the same settings as its purge rules),
    else its category's period; rows with a category each (``category_column``)
    read the periods of ``categories`` (the rows' own), or of every category."""
    if source.period is not None:
        return source.period(settings)
    if source.category_column is not None:
        return category_periods(settings, categories if categories is not None
                                else settings.retention)
    return format_period(settings.category(source.category))


def find_source(sources: Iterable[Source], name: str) -> Source | None:
    return next((s for s in sources if s.name == name), None)


def purpose_period(settings: Settings, sources: Iterable[Source], purpose: Purpose) -> str:
    """A configured purpose's period: its source's (``"source": "Subscriber"``) when
    it names one, so the purposes table says what that source's table says."""
    sources = list(sources)
    name = purpose.source
    if name:
        source = find_source(sources, name)
        if source is None:
            # Found when the policy is recorded (init-db, sync_policy), before a visitor sees it.
            raise ConfigurationError(
                f"PRIVACY_PURPOSES: a purpose names source {name!r}, which is not registered; "
                f"registered: {', '.join(s.name for s in sources)}")
        return source_period(settings, source)
    return format_period(settings.category(purpose.category))


def _sources(settings: Settings, sources: Iterable[Source], language: str) -> list[dict[str, Any]]:
    return [
        {
            "name": source.name,
            "label": localize(source.label, language) or source.name,
            "purpose": localize(source.purpose, language),
            "period": source_period(settings, source),
            "erasable": source.category_column is not None
            or settings.category(source.category).erasable,
        }
        for source in sources
    ]


def page_content(
    settings: Settings, sources: Sequence[Source], language: str,
    periods: Mapping[str, PeriodText], today: dt.date | None = None
) -> dict[str, Any]:
    """Everything the policy page shows, localised, as plain JSON-able data.
    ``periods`` words the data of the extra rules (the state's: the visit log's
    and the cookie choices', each by the feature's own function).

    Must be called inside ``speaking(language)`` (or a request in that
    language) so the periods are worded in it.
    """
    version = current_version(settings, today)
    return {
        "language": language,
        "controller": {
            "name": settings.controller_name,
            "email": settings.contact_email,
            "address": settings.controller_address,
            "phone": settings.controller_phone,
        },
        "intro": localize(settings.policy_intro, language),
        "data_categories": [localize(c, language) for c in settings.data_categories],
        "purposes": [
            {
                "label": localize(p.label, language),
                "description": localize(p.description, language),
                "retention": retention_info(settings, p.category, language),
                "period": purpose_period(settings, sources, p),
            }
            for p in settings.purposes
        ],
        "retention": [retention_info(settings, name, language) for name in settings.retention],
        "sources": _sources(settings, sources, language),
        "processors": [
            {
                "name": p.name,
                "purpose": localize(p.purpose, language),
                "location": localize(p.location, language),
                # ISO in the content (snapshots are JSON); the page formats it.
                "agreement_date": str(p.agreement_date) if p.agreement_date else "",
            }
            for p in settings.processors
        ],
        "cookies": [
            {
                "name": c.name,
                "type": c.type,
                "purpose": localize(c.purpose, language),
                "duration": localize(c.duration, language),
            }
            for c in settings.cookies
        ],
        "visit_log": settings.visit_log,
        "visit_log_period": periods["VisitLog"](settings),
        "cookie_choice_period": periods["CookieChoice"](settings),
        "min_age": settings.min_consent_age,
        "rights": [
            {"kind": r.kind, "article": r.article, "label": str(r.label),
             "description": str(r.description)}
            for r in RIGHTS
        ],
        "answer_time": format_days(settings.request_deadline_days),
        "security_measures": [localize(m, language) for m in settings.security_measures],
        "version": version.version,
        "effective": version.effective.isoformat() if version is not IMPLICIT_VERSION else None,
    }


def snapshot(settings: Settings, sources: Sequence[Source], periods: Mapping[str, PeriodText],
             today: dt.date | None = None) -> str:
    """The page content in every language, as stored with a published version."""
    content = {}
    for language in settings.languages:
        with speaking(language):
            content[language] = page_content(settings, sources, language, periods, today)
    return json.dumps(content, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Recorded:
    """What recording the policy stored: versions added, and whether the current
    version's snapshot was stored now (False: it was there already)."""

    version: str
    added: int
    snapshot: bool
    #: The stored snapshot differs from what the page says today.
    changed: bool = False

    @property
    def anything(self) -> bool:
        return bool(self.added or self.snapshot)


def record(db: SQLAlchemy, models: Models, settings: Settings, sources: Sequence[Source],
           periods: Mapping[str, PeriodText]) -> Recorded:
    """Record the configured versions in the database and snapshot the current one:
    the step a deploy runs after its migrations (``flask privacy sync-policy``).

    Idempotent: what is recorded stays as it is. Earlier versions added now get no
    snapshot: today's configuration is not what they said. Several processes may
    run it at once (workers on their first request, a deploy): the unique version
    column lets one insert win, and the others read its row and add nothing.
    """
    try:
        return _record(db, models, settings, sources, periods)
    except sa.exc.IntegrityError:
        db.session.rollback()
        return _record(db, models, settings, sources, periods)


def _record(db: SQLAlchemy, models: Models, settings: Settings, sources: Sequence[Source],
            periods: Mapping[str, PeriodText]) -> Recorded:
    PolicyVersion = models.PolicyVersion
    current = current_version(settings)
    known = {row.version: row for row in db.session.scalars(db.select(PolicyVersion))}
    added, stored, changed = 0, False, False
    for spec in versions(settings):
        row = known.get(spec.version)
        if row is None:
            row = PolicyVersion(version=spec.version, effective_date=spec.effective)
            db.session.add(row)
            added += 1
        if spec.version == current.version:
            fresh = snapshot(settings, sources, periods)
            if row.snapshot is None:
                row.snapshot, stored = fresh, True
            elif row.snapshot != fresh:
                changed = True
                log.warning(
                    "The privacy configuration changed since policy version %s was "
                    "published; publish a new version in PRIVACY_POLICY_VERSIONS.",
                    spec.version,
                )
    db.session.commit()
    return Recorded(current.version, added, stored, changed)


def sync_versions(db: SQLAlchemy, models: Models, settings: Settings, sources: Sequence[Source],
                  periods: Mapping[str, PeriodText]) -> int:
    """:func:`record`, answering the number of versions added."""
    return record(db, models, settings, sources, periods).added


def record_if_missing(db: SQLAlchemy, models: Models, settings: Settings,
                      sources: Sequence[Source], periods: Mapping[str, PeriodText]) -> None:
    """On a process's first request: record the policy when its current version is
    not recorded yet (a site on migrations that forgot ``sync-policy`` still keeps
    what its page says). One indexed read when it is; never fails the request."""
    PolicyVersion = models.PolicyVersion
    current = current_version(settings).version
    try:
        snapshot_stored = db.session.scalar(
            db.select(PolicyVersion.snapshot.is_not(None)).where(PolicyVersion.version == current))
        if not snapshot_stored:
            done = record(db, models, settings, sources, periods)
            log.info("Recorded privacy policy version %s on the first request (run flask "
                     "privacy sync-policy after each deploy to record it then).", done.version)
    except sa.exc.SQLAlchemyError as exc:
        # A read-only database user, a lock that timed out: the page still
        # answers; sync-policy (or the next process) records it.
        db.session.rollback()
        log.warning("Could not record privacy policy version %s (%s); run flask privacy "
                    "sync-policy.", current, exc)


def stored_snapshot(db: SQLAlchemy, models: Models, version: str,
                    language: str) -> dict[str, Any] | None:
    row = db.session.scalar(
        db.select(models.PolicyVersion).where(models.PolicyVersion.version == version)
    )
    if row is None or not row.snapshot:
        return None
    content = json.loads(row.snapshot)
    return content.get(language) or next(iter(content.values()), None)
