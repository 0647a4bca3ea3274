"""Where a form post comes from, as the browser says it: the cookie choice's
protection against cross-site forgery, without a token and without a session.

The rule of Go 1.25's ``net/http.CrossOriginProtection``: every current browser
sends ``Sec-Fetch-Site`` on its requests to a secure (or loopback) site, and an
``Origin`` with every cross-origin POST. A request whose ``Sec-Fetch-Site`` is
anything but ``same-origin`` or ``none`` (typed in, a bookmark) is refused; one
without that header is refused when its ``Origin`` is not the site's own (the
opaque ``null`` included); one with neither header did not come from a page in a
browser, so it cannot be a forgery riding on a visitor's browser, and passes.
A page of another site therefore cannot make a visitor's browser record a cookie
choice, and the banner needs nothing per visitor in the page.

The site's own origin is the declared address (``PRIVACY_SITE_URL``, else
``SERVER_NAME`` with ``PREFERRED_URL_SCHEME``), never what a Host header claims;
in debug and testing, where neither need be set, the request's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Request

from .config import Settings

#: ``Sec-Fetch-Site`` values of a request the site's own page (or the visitor,
#: typing the address) made.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: An origin as compared: scheme, host (lower case) and port (the default filled in).
Origin = tuple[str, str, int]


def parse_origin(value: str) -> Origin | None:
    """``scheme://host[:port]`` as an :data:`Origin`; None for anything else
    (``null``, a path, a user name, an unknown scheme, a bad port)."""
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or parts.path not in ("", "/") or parts.query \
            or parts.fragment or "@" in parts.netloc or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def site_origin(settings: Settings, config: Mapping[str, Any], req: Request) -> Origin | None:
    """The site's own origin: the declared address, else ``SERVER_NAME`` and
    ``PREFERRED_URL_SCHEME``, else (only possible in debug and testing: outside
    them ``init_app`` requires one of the two) the request's own host."""
    site = settings.site_url
    if site is not None:
        return parse_origin(f"{site.scheme}://{site.netloc}")
    server_name = config.get("SERVER_NAME")
    if server_name:
        scheme = config.get("PREFERRED_URL_SCHEME") or "http"
        return parse_origin(f"{scheme}://{server_name}")
    return parse_origin(f"{req.scheme}://{req.host}")


def from_elsewhere(req: Request, settings: Settings, config: Mapping[str, Any]) -> bool:
    """The rule: True when the browser says this request was sent by a page of
    another origin (or of an opaque one), so it must change nothing."""
    # An empty header counts as none, as in Go's rule.
    fetch_site = req.headers.get("Sec-Fetch-Site", "").strip().lower()
    if fetch_site:
        return fetch_site not in OWN_FETCH_SITES
    origin = req.headers.get("Origin", "").strip()
    if not origin:
        return False  # no page in a browser sent it: nothing to forge
    own = site_origin(settings, config, req)
    return own is None or parse_origin(origin) != own
