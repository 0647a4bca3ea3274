"""A mail's values, kept in its outbox row until the sender renders it.

The row stores what the templates are given as JSON: rows of the package's
tables become their columns (a snapshot, as a rendered copy would be), lazy
strings are resolved in the mail's language, and dates and times keep their
type through a tag. Markup comes back as plain text (escaped in the HTML part):
what the database holds is never taken for HTML.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask_babel.speaklater import LazyString

from ..language import speaking

_TAG = "__webence_privacy__"


def freeze(context: Mapping[str, Any], language: str) -> str:
    """``context`` as JSON for :func:`thaw`; a value of another type is refused."""
    return json.dumps({key: _freeze(key, value, language) for key, value in context.items()},
                      separators=(",", ":"))


def _freeze(key: str, value: Any, language: str) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, LazyString):
        # The locale is switched only here: switching it costs more than the
        # rest of a mail's values together, and most mails hold no lazy text.
        with speaking(language):
            return str(value)
    if isinstance(value, list | tuple):
        return [_freeze(key, item, language) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _freeze(key, v, language) for k, v in value.items()}
    if hasattr(value, "__table__"):  # a row: its columns, as they are now
        return {attr.key: _freeze(key, getattr(value, attr.key), language)
                for attr in sa.inspect(value).mapper.column_attrs}
    raise TypeError(f"mail value {key!r} of type {type(value).__name__} cannot be stored")


def thaw(frozen: str | None) -> dict[str, Any]:
    """The values :func:`freeze` stored, with their types back."""
    return json.loads(frozen, object_hook=_thaw) if frozen else {}


def _thaw(data: dict[str, Any]) -> Any:
    tag = data.get(_TAG)
    if tag == "datetime":
        return dt.datetime.fromisoformat(data["v"])
    if tag == "date":
        return dt.date.fromisoformat(data["v"])
    return data
