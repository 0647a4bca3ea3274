"""The client's IP: taken from trusted proxies only, truncated before storage."""

from __future__ import annotations

import ipaddress

from flask import Flask, Response, request

from .config import Settings
from .state import get_state
from .tokens import keyed_hash


def client_ip(settings: Settings | None = None) -> str:
    """The address of the client, trusting ``PRIVACY_TRUSTED_PROXIES`` hops only.

    With N trusted proxies the client is the Nth address from the right of
    X-Forwarded-For; anything further left was written by the client itself and
    could be forged to dodge the rate limits.
    """
    trusted = (settings or get_state().settings).trusted_proxies
    remote = request.remote_addr or "0.0.0.0"  # noqa: S104 - a placeholder, never bound
    if trusted <= 0:
        return remote
    forwarded = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",")]
    forwarded = [p for p in forwarded if p]
    if len(forwarded) < trusted:
        return remote
    candidate = forwarded[-trusted]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def limit_key_prefix(app: Flask) -> str:
    """What every key the package puts in the limiter's storage starts with: the
    site's ``RATELIMIT_KEY_PREFIX``, so sites (and test runs) that share one Redis
    keep apart."""
    return str(app.config.get("RATELIMIT_KEY_PREFIX") or "privacy")


#: The prefix one IPv6 client holds: a home or a server gets a /64 and may use
#: any of its 2**64 addresses, so counting per address would count nothing.
IPV6_CLIENT_PREFIX = 64


def limit_network(address: str) -> str:
    """What a per-IP limit counts: an IPv4 address itself, an IPv6 address's /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))


def client_key() -> str:
    """The rate limiter's key for this client: a keyed hash of its IP (an IPv6
    client's /64), so neither the limiter's storage (Redis) nor its log lines
    hold an address."""
    return "ip:" + keyed_hash(limit_network(client_ip()))[:32]


def accepted(response: Response) -> bool:
    """Only a submission that was taken counts against a form's limit: a visitor
    who mistyped five times must not be locked out and lose their text."""
    return response.status_code < 400


def truncate_ip(address: str | None) -> str | None:
    """Cut an IPv4 address to /24 and an IPv6 address to /48: enough for abuse
    analysis, not enough to single out a household."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def storable_ip(settings: Settings, address: str | None) -> str | None:
    """``address`` as it may be stored: truncated unless the site turned that off."""
    return truncate_ip(address) if settings.ip_truncate else address


def stored_ip(settings: Settings | None = None) -> str | None:
    """The request's IP as it may be stored."""
    settings = settings or get_state().settings
    return storable_ip(settings, client_ip(settings))
