"""Absolute links for mail, from one declared site address, never from a Host header.

A mailed link must point at the site, whatever Host header the request that
caused the mail carried: a forged Host would otherwise send a victim a genuine
link to the attacker's server, token included. Every link the package mails
(requests, newsletter, List-Unsubscribe, the maintainer's and the reminder
mails) is built here from ``PRIVACY_SITE_URL`` (scheme, host and an optional
path the site is mounted under), else from ``SERVER_NAME`` and
``PREFERRED_URL_SCHEME``. The host's routing is untouched: the package needs no
``SERVER_NAME``, which in Flask 3 makes every other host name a 404 for the
whole site, and relies on no ``TRUSTED_HOSTS``, which Flask 3.0 does not
enforce. Outside debug and testing one of the two must be declared
(``init_app`` says so); in debug and testing, without either, a link is built
from the request as Flask would.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, url_for

from .state import get_state


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` as a mail should carry it."""
    app = current_app
    site = get_state().settings.site_url
    if site is not None:
        adapter = app.url_map.bind(site.netloc, script_name=site.path or "/",
                                   url_scheme=site.scheme)
        return adapter.build(endpoint, values, force_external=True)
    server_name = app.config.get("SERVER_NAME")
    if server_name:
        adapter = app.url_map.bind(
            server_name,
            script_name=app.config.get("APPLICATION_ROOT") or "/",
            url_scheme=app.config.get("PREFERRED_URL_SCHEME") or "http",
        )
        return adapter.build(endpoint, values, force_external=True)
    if not has_request_context():
        raise RuntimeError("set PRIVACY_SITE_URL to build the package's links outside a request")
    return url_for(endpoint, _external=True, **values)
