"""Absolute links for mail, never from the request's Host header.

A mailed link must point at the site, whatever Host header the request that
caused the mail carried: a forged Host would otherwise send a victim a genuine
link to the attacker's server, token included. With ``SERVER_NAME`` set, links
are built from it and ``PREFERRED_URL_SCHEME`` alone; with only Flask's
``TRUSTED_HOSTS``, from the request's host, which Flask has checked against
that list (a request for any other host gets a 400 before a view runs).
Outside debug and testing one of the two must be set (``init_app`` says so).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` as a mail should carry it."""
    config = current_app.config
    server_name = config.get("SERVER_NAME")
    if server_name:
        adapter = current_app.url_map.bind(
            server_name,
            script_name=config.get("APPLICATION_ROOT") or "/",
            url_scheme=config.get("PREFERRED_URL_SCHEME") or "http",
        )
        return adapter.build(endpoint, values, force_external=True)
    if not has_request_context():
        raise RuntimeError("set SERVER_NAME to build links outside a request")
    return url_for(endpoint, _external=True, **values)
