"""What one app holds in ``app.extensions["webence_privacy"]``, and how to get it.

The floor every domain module may import: it knows the settings, the models and
the registry, and nothing of views, the CLI or the extension class, so the
extension can import everything else and nothing imports it back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_sqlalchemy import SQLAlchemy

from .config import Settings
from .local_counts import LocalCounts
from .models import Models
from .registry import ExtraRules, PeriodText, Source
from .timing import AnswerFloor
from .worker import Worker

EXTENSION_KEY = "webence_privacy"


#: Rendered parts kept at most (per language, version, day, mount, URL and banner
#: or not: a four-language site keeps about 40); then all go.
PAGE_CACHE_SIZE = 128
#: What a kept part is: rendered HTML, or a page made ready to send.
_Part = TypeVar("_Part")
_K = TypeVar("_K")
_V = TypeVar("_V")


def remember(store: dict[_K, _V], key: _K, value: _V, limit: int) -> _V:
    """Keep ``value`` under ``key``; a store at ``limit`` is emptied first, so a
    cache of what visitors send (headers, cookies, tokens) or of what is kept for
    them stays bounded in memory."""
    if len(store) >= limit:
        store.clear()
    store[key] = value
    return value


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
    #: Rendered parts of pages that do not depend on the visitor (the policy's
    #: article, the banner, whole privacy pages): see :meth:`kept`.
    page_cache: dict[tuple[str, ...], Any] = field(default_factory=dict)
    #: The host's CSRFProtect instances told to leave the package's views alone.
    host_csrf_exempted: set[int] = field(default_factory=set)
    #: Signed CSRF tokens handed out lately, by the visitor's raw token: (when, token).
    csrf_tokens: dict[str, tuple[float, str]] = field(default_factory=dict)
    #: Cookie-choice cookies whose signature held, by value: (what they hold,
    #: when they were signed), so a visitor's pages check it once (:mod:`.cookies`).
    checked_choices: dict[str, tuple[Any, float]] = field(default_factory=dict)
    #: Texts fixed by the settings and the catalogs, made once per key (the exact
    #: wording a form's consent proves, per language): see :meth:`text`.
    texts: dict[tuple[str, ...], str] = field(default_factory=dict)
    #: Per enumeration-sensitive form: the time its full answers take.
    floors: defaultdict[str, AnswerFloor] = field(default_factory=lambda: defaultdict(AnswerFloor))
    #: The package's own counters while the limiter's storage is down (:mod:`.local_counts`).
    local_counts: LocalCounts = field(default_factory=LocalCounts)
    #: Whether the templates of a kept page are all the package's own (None: not
    #: looked yet): a host's override may show per-visitor things.
    own_frame: bool | None = None
    #: What the first request found wrong with the package's tables (None: not
    #: looked yet; empty: all is well).
    schema_problems: list[str] | None = None
    #: This process's background workers by job ("mail", "visits"), each made by
    #: its feature's ``init_app`` (:mod:`.worker`).
    workers: dict[str, Worker[Any]] = field(default_factory=dict)

    def text(self, key: tuple[str, ...], make: Callable[[], str]) -> str:
        """``make()``, made once for ``key``: switching the locale to word a text
        costs more than the rest of a form's answer."""
        found = self.texts.get(key)
        if found is None:
            found = self.texts[key] = make()
        return found

    def kept(self, key: tuple[str, ...], make: Callable[[], _Part]) -> _Part:
        """``make()``, rendered once for ``key`` and kept; at
        :data:`PAGE_CACHE_SIZE` parts all go (yesterday's pages and old versions
        with them)."""
        found = self.page_cache.get(key)
        if found is None:
            found = make()
            remember(self.page_cache, key, found, PAGE_CACHE_SIZE)
        return found

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
