"""Signed tokens for mailed links: one serializer and salt per purpose.

A token carries only a random nonce or a row id, never an address, and the
database keeps only a keyed hash of it. Single use is enforced by the caller
with a conditional UPDATE on that hash (see the features' domain modules).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .state import get_state

#: The purposes that have tokens; a token of one is refused by every other.
PURPOSES = ("newsletter-confirm", "newsletter-unsubscribe", "request", "result", "cookie-choice",
            # The organisation's link to a portability export: never a request link.
            "portability-recipient")
#: Longer than any token this package makes; anything beyond is garbage, refused early.
MAX_TOKEN_LENGTH = 400


class TokenError(Exception):
    """The token is tampered with, of another purpose, malformed or expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "invalid" | "expired"


def _secrets() -> list[bytes]:
    """Flask's ``SECRET_KEY_FALLBACKS`` then ``SECRET_KEY``: itsdangerous signs
    with the last and accepts them all, so rotating the secret keeps every link
    already mailed working (an unsubscribe link must work for years)."""
    secret: str | bytes | None = current_app.config.get("SECRET_KEY")
    if not secret:
        raise RuntimeError("SECRET_KEY must be set to sign privacy links")
    fallbacks: list[str | bytes] = list(current_app.config.get("SECRET_KEY_FALLBACKS") or ())
    return [k.encode() if isinstance(k, str) else k for k in (*fallbacks, secret)]


def serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(_secrets(), salt=f"webence-privacy/{purpose}")


def make(purpose: str, payload: Any) -> str:
    return serializer(purpose).dumps(payload)


def load(purpose: str, token: str, max_age: int | None = None,
         max_length: int = MAX_TOKEN_LENGTH) -> Any:
    """Payload of a valid token; :class:`TokenError` otherwise."""
    return load_timed(purpose, token, max_age, max_length)[0]


def load_timed(purpose: str, token: str, max_age: int | None = None,
               max_length: int = MAX_TOKEN_LENGTH) -> tuple[Any, float]:
    """Payload of a valid token and when it was signed (seconds since the epoch);
    :class:`TokenError` otherwise."""
    if not token or len(token) > max_length:
        raise TokenError("invalid")
    try:
        payload, signed = serializer(purpose).loads(token, max_age=max_age,
                                                    return_timestamp=True)
    except SignatureExpired:
        raise TokenError("expired") from None
    except (BadSignature, UnicodeError, ValueError):
        raise TokenError("invalid") from None
    return payload, signed.timestamp()


def nonce() -> str:
    return secrets.token_urlsafe(24)


def keyed_hash(value: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 under ``PRIVACY_HASH_KEY``: what is stored instead of a token or
    an erased address. Keyed, so a list of known addresses cannot be hashed and
    matched without the key."""
    key = key or get_state().settings.hash_key
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
