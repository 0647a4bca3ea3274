"""Set up Mail, Babel, CSRF and the limiter, each only where the host has not."""

from __future__ import annotations

import warnings
from collections.abc import Callable

from flask import Flask
from flask_babel import Babel
from flask_limiter import Limiter
from flask_mail import Mail
from flask_wtf.csrf import CSRFProtect

from .config import Settings
from .net import client_ip


def setup_mail(app: Flask) -> None:
    if "mail" not in app.extensions:
        Mail(app)


def setup_babel(app: Flask, locale_selector: Callable[[], str]) -> None:
    if "babel" not in app.extensions:
        Babel(app, locale_selector=locale_selector)


def setup_csrf(app: Flask) -> CSRFProtect:
    if "csrf" not in app.extensions:
        CSRFProtect(app)
    csrf: CSRFProtect = app.extensions["csrf"]
    return csrf


def setup_limiter(app: Flask, settings: Settings) -> Limiter:
    """The host's limiter if it has one, else one keyed on the trusted client IP.

    Storage: ``PRIVACY_RATELIMIT_STORAGE_URI`` or ``RATELIMIT_STORAGE_URI``; the
    in-memory default only suits one process (use Redis behind several workers).
    """
    existing: set[Limiter] | None = app.extensions.get("limiter")
    if existing:
        return next(iter(existing))
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
