"""The ``Privacy`` extension: registration and wiring, nothing else.

The rules live in the domain modules (consent, contact, newsletter, requests,
retention, mail); this class binds them to an app and offers the Python API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from . import config as config_module
from .config import ConfigurationError, Settings, Text
from .i18n import select_locale
from .models import Models, get_models
from .registry import Source, check_categories, make_source

EXTENSION_KEY = "webence_privacy"


@dataclass
class State:
    """What one app holds in ``app.extensions["webence_privacy"]``."""

    privacy: Privacy
    db: Any
    models: Models
    settings: Settings
    limiter: Any
    csrf: Any
    builtin_sources: list[Source] = field(default_factory=list)

    @property
    def sources(self) -> list[Source]:
        """The package's own sources, then the host's, in registration order."""
        return [*self.builtin_sources, *self.privacy._host_sources]


def get_state(app: Flask | None = None) -> State:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        return app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            "flask-webence-privacy is not set up on this app: call "
            "privacy.init_app(app, db=db) in your app factory."
        ) from None


class Privacy:
    """The extension. ``Privacy(app, db=db)`` or ``privacy.init_app(app, db=db)``."""

    def __init__(self, app: Flask | None = None, db: Any = None) -> None:
        self._db = db
        self._host_sources: list[Source] = []
        if app is not None:
            self.init_app(app, db=db)

    # -- set-up -----------------------------------------------------------------

    def init_app(self, app: Flask, db: Any = None) -> None:
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
        config_module.apply_defaults(app.config)
        settings = config_module.load(app.config)
        models = get_models(db)
        builtin = _builtin_sources(models)
        check_categories([*builtin, *self._host_sources], settings.retention)

        from .setup import setup_babel, setup_csrf, setup_limiter, setup_mail

        setup_mail(app)
        setup_babel(app, select_locale)
        csrf = setup_csrf(app)
        limiter = setup_limiter(app, settings)
        state = State(self, db, models, settings, limiter, csrf, builtin)
        from .retention import init_app as init_retention

        init_retention(app, state)  # checks the retention keys; the optional visit log
        app.extensions[EXTENSION_KEY] = state

        from .cli import privacy_cli
        from .views import register_views

        register_views(app, state)
        app.cli.add_command(privacy_cli)

    def _state(self) -> State:
        state = get_state()
        if state.privacy is not self:
            raise RuntimeError("this Privacy instance is not the one registered on the app")
        return state

    # -- registry ---------------------------------------------------------------

    def register(
        self,
        model: Any,
        *,
        category: str = "default",
        email: str = "email",
        timestamp: str = "created_at",
        erase: str | Callable[..., int] = "delete",
        fields: Iterable[str] | None = None,
        editable: Iterable[str] = (),
        purpose: Text | None = None,
        label: Text | None = None,
    ) -> Any:
        """Make a host model a source of personal data: it joins export, erasure,
        retention and the record of processing. Returns the model, so it also
        works as a class decorator via ``functools.partial``."""
        source = make_source(
            model,
            category=category,
            email=email,
            timestamp=timestamp,
            erase=erase,
            fields=fields,
            editable=editable,
            purpose=purpose,
            label=label,
        )
        if any(s.model is model for s in self._host_sources):
            raise ConfigurationError(f"privacy.register({source.name}): registered twice")
        try:
            state = get_state()
        except RuntimeError:
            state = None  # before init_app: checked there
        if state is not None and state.privacy is self:
            check_categories([source], state.settings.retention)
        self._host_sources.append(source)
        return model

    @property
    def sources(self) -> list[Source]:
        return self._state().sources

    # -- policy -----------------------------------------------------------------

    def current_policy_version(self, today: dt.date | None = None) -> str:
        from .policy import current_version

        return current_version(self._state().settings, today).version

    def sync_policy(self) -> int:
        """Record the configured policy versions; snapshot the current one."""
        from .policy import sync_versions

        state = self._state()
        return sync_versions(state.db, state.models, state.settings, state.sources)

    # -- the Python API of the features: thin, the rules live in their modules --

    def export_subject(self, email: str) -> dict[str, Any]:
        """Every record of ``email`` from every registered source, grouped by source."""
        from . import requests

        return requests.export_subject(self._state(), email)

    def erase_subject(self, email: str) -> Any:
        """Erase ``email`` everywhere but statutory holds; one transaction. A report."""
        from . import requests

        return requests.erase_subject(self._state(), email)

    def is_restricted(self, email: str) -> bool:
        """True while the subject has restricted processing (GDPR art. 18)."""
        from . import requests

        return requests.is_restricted(self._state(), email)

    def purge(self, now: dt.datetime | dt.date | None = None, dry_run: bool = False) -> Any:
        """Delete (or anonymise) what is past its retention period. A report."""
        from . import retention

        return retention.purge(self._state(), now=now, dry_run=dry_run)

    def hold(self, email: str, reason: str) -> Any:
        """Keep the subject's records through the purge until released."""
        from . import retention

        return retention.hold(self._state(), email, reason)

    def release(self, email: str) -> int:
        from . import retention

        return retention.release(self._state(), email)

    def newsletter_recipients(self, require_current_consent: bool = False) -> list[str]:
        """Confirmed, not unsubscribed (nor objecting) addresses, for the host's mailings."""
        from . import newsletter

        return newsletter.recipients(self._state(), require_current_consent=require_current_consent)

    def unsubscribe_headers(self, email: str) -> dict[str, str]:
        """List-Unsubscribe and List-Unsubscribe-Post (RFC 8058) for one recipient."""
        from . import newsletter

        return newsletter.unsubscribe_headers(self._state(), email)


def _builtin_sources(models: Models) -> list[Source]:
    return [
        make_source(
            models.ContactMessage,
            category_column="retention_category",
            label={"en": "Contact and quote messages", "nl": "Contact- en offerteberichten"},
            purpose={"en": "Answering your question or quote request",
                     "nl": "Uw vraag of offerteaanvraag beantwoorden"},
            editable=("name", "phone", "company"),
            builtin=True,
        ),
        make_source(
            models.Subscriber,
            label={"en": "Newsletter subscription", "nl": "Nieuwsbriefinschrijving"},
            purpose={"en": "Sending the newsletter you asked for",
                     "nl": "De nieuwsbrief sturen waarvoor u zich aanmeldde"},
            fields=("list_name", "email", "status", "language", "policy_version",
                    "created_at", "confirmed_at", "unsubscribed_at"),
            builtin=True,
        ),
        make_source(
            models.ConsentRecord,
            label={"en": "Consents you gave or withdrew", "nl": "Gegeven en ingetrokken toestemmingen"},
            purpose={"en": "Proof of consent (GDPR art. 7)", "nl": "Bewijs van toestemming (AVG art. 7)"},
            fields=("purpose", "action", "wording", "policy_version", "form",
                    "age_confirmed", "language", "created_at"),
            builtin=True,
        ),
        make_source(
            models.DataRequest,
            label={"en": "Your privacy requests", "nl": "Uw privacyverzoeken"},
            purpose={"en": "Answering your requests under the GDPR",
                     "nl": "Uw verzoeken onder de AVG beantwoorden"},
            fields=("kind", "details", "status", "created_at", "verified_at", "due_at",
                    "completed_at", "resolution"),
            builtin=True,
        ),
        make_source(
            models.Outbox,
            email="subject_email",
            label={"en": "Mail we sent you", "nl": "E-mail die wij u stuurden"},
            purpose={"en": "Delivering mail about your messages and requests",
                     "nl": "E-mail over uw berichten en verzoeken bezorgen"},
            fields=("kind", "recipient", "subject", "status", "created_at", "sent_at"),
            builtin=True,
        ),
    ]
