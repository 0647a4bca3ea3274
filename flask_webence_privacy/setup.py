"""Set up Mail, Babel, CSRF and the limiter, each only where the host has not."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from flask import Flask

from .config import Settings
from .net import client_ip


def setup_mail(app: Flask) -> Any:
    if "mail" not in app.extensions:
        from flask_mail import Mail

        Mail(app)
    return app.extensions["mail"]


def setup_babel(app: Flask, locale_selector: Callable[[], str]) -> None:
    if "babel" not in app.extensions:
        from flask_babel import Babel

        Babel(app, locale_selector=locale_selector)


def setup_csrf(app: Flask) -> Any:
    if "csrf" not in app.extensions:
        from flask_wtf.csrf import CSRFProtect

        CSRFProtect(app)
    return app.extensions["csrf"]


def setup_limiter(app: Flask, settings: Settings) -> Any:
    """The host's limiter if it has one, else one keyed on the trusted client IP.

    Storage: ``PRIVACY_RATELIMIT_STORAGE_URI`` or ``RATELIMIT_STORAGE_URI``; the
    in-memory default only suits one process (use Redis behind several workers).
    """
    existing = app.extensions.get("limiter")
    if existing:
        return next(iter(existing))
    from flask_limiter import Limiter

    storage = (
        settings.ratelimit_storage_uri
        or app.config.get("RATELIMIT_STORAGE_URI")
        or "memory://"
    )
    with warnings.catch_warnings():
        # Flask-Limiter warns about memory:// even where it is the documented
        # single-process choice; the README says when to switch.
        warnings.simplefilter("ignore")
        return Limiter(key_func=client_ip, app=app, storage_uri=storage, default_limits=[])
