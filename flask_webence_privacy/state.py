"""What one app holds in ``app.extensions["webence_privacy"]``, and how to get it.

The floor every domain module may import: it knows the settings, the models and
the registry, and nothing of views, the CLI or the extension class, so the
extension can import everything else and nothing imports it back.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_sqlalchemy import SQLAlchemy

from .caches import Caches
from .config import Settings
from .local_counts import LocalCounts
from .models import Models
from .registry import ExtraRules, PeriodText, Source
from .timing import AnswerFloor
from .worker import Worker

EXTENSION_KEY = "webence_privacy"


@dataclass
class State:
    """One app's privacy state: its settings, models, and sources of personal data."""

    #: The ``Privacy`` object that registered this state (its methods are the API).
    privacy: object
    db: SQLAlchemy
    models: Models
    settings: Settings
    limiter: Limiter
    #: Whether the package set up Flask-Babel (with its own selector) for the app.
    own_babel: bool = True
    builtin_sources: list[Source] = field(default_factory=list)
    #: The host's registrations: the same list the ``Privacy`` object appends to,
    #: so a model registered after ``init_app`` is seen at once.
    host_sources: list[Source] = field(default_factory=list)
    #: Retention rules of tables that hold no subject's data of their own
    #: (released holds, lifted marks, the visit log).
    extra_rules: list[ExtraRules] = field(default_factory=list)
    #: How long the data of extra rules is kept, worded for the pages, by rule
    #: name ("VisitLog", "CookieChoice"): each the feature's own function.
    periods: dict[str, PeriodText] = field(default_factory=dict)
    #: The host's CSRFProtect instances told to leave the package's views alone.
    host_csrf_exempted: set[int] = field(default_factory=set)
    #: Per enumeration-sensitive form: the time its full answers take.
    floors: defaultdict[str, AnswerFloor] = field(default_factory=lambda: defaultdict(AnswerFloor))
    #: The package's own counters while the limiter's storage is down (:mod:`.local_counts`).
    local_counts: LocalCounts = field(default_factory=LocalCounts)
    #: What is kept for speed, each store bounded (:mod:`.caches`).
    caches: Caches = field(default_factory=Caches)
    #: What the first request found wrong with the package's tables (None: not
    #: looked yet; empty: all is well).
    schema_problems: list[str] | None = None
    #: This process's background workers by job ("mail", "visits"), each made by
    #: its feature's ``init_app`` (:mod:`.worker`).
    workers: dict[str, Worker[Any]] = field(default_factory=dict)

    @property
    def sources(self) -> list[Source]:
        """The package's own sources, then the host's, in registration order."""
        return [*self.builtin_sources, *self.host_sources]


def get_state(app: Flask | None = None) -> State:
    """The state of ``app`` (default: the current app); a clear error without init_app."""
    target = app if app is not None else current_app
    state = target.extensions.get(EXTENSION_KEY)
    if not isinstance(state, State):
        raise RuntimeError(
            "flask-webence-privacy is not set up on this app: call "
            "privacy.init_app(app, db=db) in your app factory."
        )
    return state
