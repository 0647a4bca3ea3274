"""The ``Privacy`` extension: registration and wiring, nothing else.

The rules live in the domain modules (address, keeping, consent, contact,
newsletter, requests, retention, mail, visits); this class binds them to an app
and offers the Python API. It is the top floor: it imports the others, and
nothing in the package imports it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import TypeVar

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from . import (
    address,
    breaches,
    config,
    consent,
    contact,
    cookies,
    i18n,
    keeping,
    lookup_index,
    mail,
    newsletter,
    policy,
    retention,
    visits,
)
from .cli import privacy_cli
from .config import ConfigurationError, Text
from .labels import Label, ValueLabels
from .language import locale_selector
from .models import HoldRow, get_models
from .registry import EraseMode, Source, check_categories, make_source, resolve_owners
from .requests import erasure, export, lifecycle
from .requests.erasure import ErasureReport
from .requests.export import SubjectExport
from .retention import PurgeReport
from .setup import setup_babel, setup_limiter, setup_mail, setup_session_cookie
from .state import EXTENSION_KEY, State, get_state
from .views import register_views
from .views.cookies import banner as cookie_banner

M = TypeVar("M", bound=type)
log = logging.getLogger("flask_webence_privacy")


def _warn_without_index(source: Source, db: SQLAlchemy, app: Flask | None = None) -> None:
    """Every export and erasure looks the address up: without an index on what it
    compares, each one reads the whole table (12-31x slower at a million rows).
    Read from the model's declaration (``app``: the one being set up, else the
    current one); ``flask privacy check`` reads the database's own indexes."""
    dialect = lookup_index.engine_for(db, source.table, app).dialect
    gap = lookup_index.declared_gap(source, dialect)
    if gap is not None:
        log.warning(
            "privacy.register(%s): no index on %s of %s; every export and erasure will read "
            "the whole table. Declare one on the model (%s) or create it (%s), or pass "
            "canonical_email=True if the column only holds canonical addresses.",
            source.name, gap.expression, source.table.name, gap.model_index, gap.ddl)


def _comparable(options: Mapping[str, object]) -> dict[str, object]:
    """Registration options in a form two calls can be compared in: iterables
    the caller may pass as a list or a tuple become tuples."""
    return {key: tuple(value) if isinstance(value, (list, tuple, set, frozenset)) else value
            for key, value in options.items()}


class Privacy:
    """The extension. ``Privacy(app, db=db)`` or ``privacy.init_app(app, db=db)``."""

    def __init__(self, app: Flask | None = None, db: SQLAlchemy | None = None) -> None:
        self._db = db
        self._host_sources: list[Source] = []
        #: Each registered model's options, as compared when it is registered again.
        self._registered: dict[type, dict[str, object]] = {}
        if app is not None:
            self.init_app(app, db=db)

    # -- set-up -----------------------------------------------------------------

    def init_app(self, app: Flask, db: SQLAlchemy | None = None) -> None:
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "flask-webence-privacy is already registered on this app; "
                "call init_app() once per app."
            )
        db = db or self._db or app.extensions.get("sqlalchemy")
        if db is None:
            raise RuntimeError(
                "Privacy needs the app's Flask-SQLAlchemy instance: "
                "privacy.init_app(app, db=db) after db.init_app(app)."
            )
        config.apply_defaults(app.config)
        settings = config.load(app.config)
        models = get_models(db)
        # Each feature brings its own source, with its own retention rules.
        builtin = [contact.source(models), newsletter.source(models), consent.source(models),
                   lifecycle.source(models), mail.source(models), breaches.source(models)]
        check_categories([*builtin, *self._host_sources], settings.retention)
        resolve_owners([*builtin, *self._host_sources], settings.retention)

        setup_mail(app)
        setup_session_cookie(app)
        own_babel = setup_babel(app, locale_selector)
        i18n.init_app(app, settings.languages, settings.default_language)
        state = State(
            privacy=self, db=db, models=models, settings=settings,
            limiter=setup_limiter(app, settings), own_babel=own_babel,
            builtin_sources=builtin, host_sources=self._host_sources,
            extra_rules=[keeping.rules, visits.rules, cookies.rules],
            periods={"VisitLog": visits.period, "CookieChoice": cookies.period},
        )
        for source in self._host_sources:
            _warn_without_index(source, db, app)
        app.extensions[EXTENSION_KEY] = state
        mail.init_app(app)
        visits.init_app(app, state)
        register_views(app, state)
        # The host's layout shows the banner and asks before an optional cookie.
        app.jinja_env.globals.update(privacy_cookie_banner=cookie_banner,
                                     privacy_consented=cookies.consented)
        app.cli.add_command(privacy_cli)

    def _state(self) -> State:
        state = get_state()
        if state.privacy is not self:
            raise RuntimeError("this Privacy instance is not the one registered on the app")
        return state

    # -- registry ---------------------------------------------------------------

    def register(
        self,
        model: M,
        *,
        category: str = "default",
        email: str = "email",
        timestamp: str = "created_at",
        erase: EraseMode = "delete",
        fields: Iterable[str] | None = None,
        editable: Iterable[str] = (),
        purpose: Text | None = None,
        label: Text | None = None,
        canonical_email: bool = False,
        field_labels: Mapping[str, Label] | None = None,
        value_labels: Mapping[str, ValueLabels] | None = None,
        owner: str | None = None,
        anonymize: Iterable[str] | None = None,
    ) -> M:
        """Make a host model a source of personal data: it joins export, erasure,
        retention and the record of processing. Returns the model, so it also
        works as a class decorator via ``functools.partial``.

        Addresses in ``email`` are matched whatever their case (on
        ``lower(column)``); pass ``canonical_email=True`` when the column only
        ever holds what :func:`flask_webence_privacy.address.canonical` returns,
        so a plain index serves the lookups.

        ``label`` names the source on the data page; ``field_labels`` maps a
        column to its label there (``{"total": {"nl": "Bedrag", "en": "Amount"}}``)
        and ``value_labels`` a column to ``{value: label}`` or to a function of
        ``(value, language)`` returning the label (or None for the value itself).
        Unlabelled columns get the package's labels for common names
        (``created_at``: "Date") or their name; dates read in the page's locale.

        ``owner`` is for rows that belong to a person through another registered
        model: it names a many-to-one relationship (``owner="author"``) or a
        foreign-key column (``owner="author_id"``) leading to a registered
        source, which may itself have an owner (Comment -> Post -> User). Such a
        model needs no address column. Its rows are exported, shown, held and
        erased with the person's; an erasure removes them before the rows they
        belong to, and the purge removes them with those rows.

        ``fields`` is what the data page shows and the export holds;
        ``anonymize`` the columns ``erase="anonymize"`` writes over (default:
        ``fields`` plus the address column, less keys, foreign keys and the
        timestamp). Each becomes NULL where the column allows it, else
        ``"[erased]"``; a unique text column gets ``"[erased]-<primary key>"``,
        so two anonymised rows never collide. A column that allows neither (NOT
        NULL and not text) is an error at registration.

        ``erase`` may be a callable ``erase(rows) -> int``: ``rows`` is a
        SQLAlchemy ``Select`` of the model's rows to remove; it returns how many
        it removed. It runs inside the erasure's transaction (or the purge
        batch's): it must not commit, and if it raises, everything the erasure
        did is rolled back. For example::

            def erase_orders(rows: sa.Select) -> int:
                orders = db.session.scalars(rows).all()
                for order in orders:
                    order.name, order.address = None, "[erased]"
                    invoices.forget(order.number)  # the site's own clean-up
                return len(orders)

            privacy.register(Order, erase=erase_orders)
        """
        options: dict[str, object] = dict(
            category=category,
            email=email,
            timestamp=timestamp,
            erase=erase,
            fields=fields,
            editable=editable,
            purpose=purpose,
            label=label,
            canonical_email=canonical_email,
            field_labels=field_labels,
            value_labels=value_labels,
            owner=owner,
            anonymize=anonymize,
        )
        if self._same_registration(model, options):
            return model
        source = make_source(model, **options)  # type: ignore[arg-type]
        self._registered[model] = _comparable(options)
        try:
            state: State | None = get_state()
        except RuntimeError:
            state = None  # before init_app (or outside an app): checked there
        if state is not None and state.privacy is self:
            check_categories([source], state.settings.retention)
            _warn_without_index(source, state.db)
        self._host_sources.append(source)
        return model

    def _same_registration(self, model: type, options: Mapping[str, object]) -> bool:
        """An app factory calls ``register`` for every app it builds (a test suite
        builds one per test): the same model with the same options is the same
        registration. Other options for a registered model are a mistake that
        would make one app export what another erases, so they stop the start."""
        earlier = self._registered.get(model)
        if earlier is None:
            return False
        now = _comparable(options)
        differ = sorted(key for key in now if now[key] != earlier.get(key))
        if differ:
            raise ConfigurationError(
                f"privacy.register({model.__name__}) was called before with other options: "
                + "; ".join(f"{key}={earlier.get(key)!r} then {now[key]!r}" for key in differ))
        return True

    @property
    def sources(self) -> list[Source]:
        return self._state().sources

    # -- policy -----------------------------------------------------------------

    def current_policy_version(self, today: dt.date | None = None) -> str:
        return policy.current_version(self._state().settings, today).version

    def sync_policy(self) -> int:
        """Record the configured policy versions; snapshot the current one."""
        state = self._state()
        return policy.sync_versions(state.db, state.models, state.settings, state.sources,
                                    state.periods)

    # -- cookie choices -----------------------------------------------------------

    def consented(self, kind: str) -> bool:
        """In a request: has this visitor said yes to cookies of ``kind``
        ("analytic", "marketing") under the current policy? "functional" is
        always true. Set an optional cookie (or include its script) only then."""
        return cookies.consented(kind, self._state())

    # -- the Python API of the features: thin, the rules live in their modules --
    # Every address goes through address.canonical first: the one form every
    # lookup uses, so "Ann@Example.com" and "ann@example.com" are one person.

    def export_subject(self, email: str) -> SubjectExport:
        """Every record of ``email`` from every registered source, grouped by source."""
        return export.export_subject(self._state(), address.canonical(email))

    def erase_subject(self, email: str) -> ErasureReport:
        """Erase ``email`` everywhere but what the law or a hold keeps; one transaction."""
        return erasure.erase_subject(self._state(), address.canonical(email))

    def erasure_plan(self, email: str) -> ErasureReport:
        """What :meth:`erase_subject` would erase and keep, changing nothing."""
        return erasure.plan(self._state(), address.canonical(email))

    def is_restricted(self, email: str) -> bool:
        """True while the subject has restricted processing (GDPR art. 18)."""
        state = self._state()
        return keeping.is_restricted(state.db, state.models, address.canonical(email))

    def purge(self, now: dt.datetime | dt.date | None = None, dry_run: bool = False) -> PurgeReport:
        """Delete (or anonymise) what is past its retention period."""
        return retention.purge(self._state(), now=now, dry_run=dry_run)

    def hold(self, email: str, reason: str) -> HoldRow:
        """Keep the subject's records through the purge and erasure until released."""
        state = self._state()
        return keeping.place_hold(state.db, state.models, address.canonical(email), reason)

    def release(self, email: str) -> int:
        """End the subject's holds; their records expire as usual again."""
        state = self._state()
        return keeping.release_holds(state.db, state.models, address.lookup_key(email))

    def send_mail(self, ids: Iterable[int] | None = None) -> dict[str, int]:
        """Deliver outbox mail now: the given ids (what ``PRIVACY_MAIL_DISPATCH``
        received, in the site's task-queue worker), or everything that is due."""
        state = self._state()
        if ids is None:
            return mail.deliver_due(state)
        return mail.send(state, list(ids))

    def newsletter_recipients(self, require_current_consent: bool = False) -> list[str]:
        """Confirmed, not unsubscribed (nor objecting) addresses, for the host's mailings."""
        return newsletter.recipients(self._state(), require_current_consent=require_current_consent)

    def unsubscribe_headers(self, email: str) -> dict[str, str]:
        """List-Unsubscribe and List-Unsubscribe-Post (RFC 8058) for one recipient."""
        return newsletter.unsubscribe_headers(self._state(), address.canonical(email))


__all__ = ["Privacy"]
