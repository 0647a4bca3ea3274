"""Set up Mail, Babel and the limiter, each only where the host has not; keep a
host's CSRFProtect off the package's own views."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

from babel import Locale
from flask import Blueprint, Flask, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_mail import Mail
from flask_wtf.csrf import CSRFProtect

from .config import Settings
from .net import client_key, limit_key_prefix

log = logging.getLogger("flask_webence_privacy")


def setup_mail(app: Flask) -> None:
    if "mail" not in app.extensions:
        Mail(app)


def setup_babel(app: Flask, locale_selector: Callable[[], str | Locale]) -> bool:
    """Flask-Babel with the package's selector where the host has none; True then.
    A host's own Babel and selector stay as they are, for the host's pages."""
    if "babel" in app.extensions:
        return False
    Babel(app, locale_selector=locale_selector)
    return True


def setup_session_cookie(app: Flask) -> None:
    """The session cookie carries the CSRF token: SameSite=Lax keeps it off
    cross-site POSTs, Secure keeps it off plain http where the site is https.
    Only where the host has not chosen."""
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config.get("PREFERRED_URL_SCHEME") == "https" and not app.config.get(
            "SESSION_COOKIE_SECURE"):
        app.config["SESSION_COOKIE_SECURE"] = True


def exempt_from_host_csrf(app: Flask, blueprint: Blueprint, done: set[int]) -> None:
    """Keep the host's own ``CSRFProtect`` (if it has one) off the package's views.

    The package never switches on CSRF for the whole app: a host's JSON API or
    fetch() endpoint must answer as before ``init_app``. Its own forms check their
    own Flask-WTF tokens (a missing one gives the form back with a message), and
    two of its POSTs must pass a site-wide check that would refuse them: the RFC
    8058 one-click unsubscribe carries no token, and the pages of a mailed link
    are sent with ``no-referrer``, which CSRFProtect's HTTPS Referer check refuses.
    A host may create its CSRFProtect before or after ``init_app``, so this runs
    on the package's own requests, before any ``before_request`` hook, and tells
    each instance once, through its public ``exempt``.
    """
    csrf: CSRFProtect | None = app.extensions.get("csrf")
    if csrf is not None and id(csrf) not in done:
        csrf.exempt(blueprint)
        done.add(id(csrf))


#: Flask-Limiter settings that put limits on every request of the site; with one
#: of them set, every request is checked in full.
_SITE_WIDE_LIMITS = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")


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
    if storage.startswith("memory://") and not (app.debug or app.testing):
        log.warning(
            "PRIVACY_RATELIMIT_STORAGE_URI is not set: rate limits are kept in this process's "
            "memory, so with several workers each one counts on its own and a limit lets "
            "through several times what it says. Set it to your Redis, e.g. "
            "'redis://127.0.0.1:6379/0'."
        )
    with warnings.catch_warnings():
        # Flask-Limiter's own warning about memory:// is the one above, in words
        # that name the setting to change.
        warnings.simplefilter("ignore")
        # When the storage (Redis) cannot be reached, each process counts in its
        # own memory until it answers again (Flask-Limiter logs the switch once
        # each way), and an error of the storage after the view has run (the
        # count of an accepted post) is logged, never a 500 over a post that was
        # stored and mailed.
        limiter = Limiter(key_func=client_key, app=app, storage_uri=storage, default_limits=[],
                          key_prefix=limit_key_prefix(app), in_memory_fallback_enabled=True,
                          swallow_errors=True, storage_options=_storage_options(app, storage))
    if not any(app.config.get(key) for key in _SITE_WIDE_LIMITS):
        # Every limit of this limiter sits on one of the package's form views and
        # counts POSTs only: any other request has nothing to count. Flask-Limiter's
        # documented request filter says so, which spares its check before every
        # page of the site part of its work (bench/README.md has the cost).
        limiter.request_filter(_not_a_post)
    return limiter


#: Seconds a Redis of the limiter may take before it counts as down: a storage
#: that hangs must not hold every form post for the client's default (forever).
REDIS_TIMEOUT = 1


def _storage_options(app: Flask, storage: str) -> dict[str, str | int]:
    """The host's ``RATELIMIT_STORAGE_OPTIONS``, else short timeouts for Redis."""
    options = app.config.get("RATELIMIT_STORAGE_OPTIONS")
    if options:
        return dict(options)
    if storage.startswith(("redis://", "rediss://", "redis+unix://")):
        return {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}
    return {}


def _not_a_post() -> bool:
    """The package's request filter: True (nothing to limit) unless a POST."""
    return request.method != "POST"
