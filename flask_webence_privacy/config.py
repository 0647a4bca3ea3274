"""Every ``PRIVACY_*`` setting in one place: declarations, validation, retention categories.

Each key is declared once, in :data:`KEYS`: its default, the parser that checks it
(naming the key and the value at fault), the one line the README's configuration
reference shows, and the :class:`Settings` attribute it fills. ``apply_defaults``,
``load``, the warning about unknown keys and the README's table (checked by
``tests/test_settings_reference.py``) all come from that list.

Configuration is read once, in ``init_app``, and turned into a frozen
:class:`Settings`. A mistake in it is an error at start-up that names the key,
so a site never runs with a policy page that says something the software does
not do.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from dateutil.relativedelta import relativedelta
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from werkzeug.utils import import_string

log = logging.getLogger("flask_webence_privacy")

PREFIX = "PRIVACY_"

#: Localised text: a plain string, or a mapping of language code to string.
Text = str | Mapping[str, str]

#: The databases the package is tested on (SQLAlchemy backend names).
SUPPORTED_DATABASES = ("sqlite", "postgresql", "mysql", "mariadb")
PERIOD_UNITS = ("years", "months", "days")
RETENTION_KEYS = frozenset(PERIOD_UNITS) | {"erasable", "label", "description"}
#: Cookie types: functional is always on; the others wait for the visitor's yes.
COOKIE_TYPES = ("functional", "analytic", "marketing")
#: The CSP Level 3 directives a site may add sources to: fetch directives and the
#: document and navigation ones that take a source list (not ``sandbox``,
#: ``report-to`` or ``upgrade-insecure-requests``, which take none).
CSP_DIRECTIVES = frozenset({
    "default-src", "script-src", "script-src-elem", "script-src-attr", "style-src",
    "style-src-elem", "style-src-attr", "img-src", "font-src", "connect-src", "frame-src",
    "child-src", "media-src", "object-src", "manifest-src", "worker-src", "form-action",
    "frame-ancestors", "base-uri",
})
#: Directives that decide which scripts (or plugins) run; ``default-src`` stands in
#: for them where they are not sent.
CSP_SCRIPT_DIRECTIVES = frozenset({
    "default-src", "script-src", "script-src-elem", "script-src-attr", "worker-src",
    "object-src",
})
#: Sources that would let an injected inline script, or a script from anywhere, run.
CSP_UNSAFE_FOR_SCRIPTS = frozenset({
    "'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'", "*",
})
#: A host part that is only ``*`` (``https://*``, ``*:443``): any site at all.
_ANY_HOST = re.compile(r"(?:[a-z][a-z0-9+.-]*://)?\*(?::(?:\d+|\*))?(?:/.*)?")
#: A scheme alone (``data:``, ``https:``, ``blob:``): anything under that scheme.
_SCHEME_ONLY = re.compile(r"[a-z][a-z0-9+.-]*:")
#: A host name in ASCII (an internationalised one in its ``xn--`` form).
_HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


class ConfigurationError(RuntimeError):
    """Raised at start-up when a ``PRIVACY_*`` setting is missing or malformed."""


# -- the typed values ----------------------------------------------------------


@dataclass(frozen=True)
class RetentionCategory:
    """A named retention period in calendar arithmetic.

    ``erasable=False`` marks a statutory hold (e.g. the 7-year bookkeeping duty):
    such rows are purged when their time is up but kept on an erasure request.
    """

    name: str
    years: int = 0
    months: int = 0
    days: int = 0
    erasable: bool = True
    label: Text | None = None
    description: Text | None = None

    @property
    def delta(self) -> relativedelta:
        return relativedelta(years=self.years, months=self.months, days=self.days)

    def cutoff(self, now: dt.datetime) -> dt.datetime:
        """Rows stamped before this moment are past their period at ``now``.

        relativedelta clamps 29 February to 28 February in a non-leap year,
        which is the calendar reading a person would give "one year later".
        """
        return now - self.delta

    def expires(self, stamped: dt.datetime) -> dt.datetime:
        return stamped + self.delta


@dataclass(frozen=True)
class PolicyVersionSpec:
    """One published version of the policy, from ``PRIVACY_POLICY_VERSIONS``."""

    version: str
    effective: dt.date
    changes: Text | None = None


@dataclass(frozen=True)
class Purpose:
    """One entry of ``PRIVACY_PURPOSES``: why data is processed, and for how long.

    ``source`` names a registered source whose period the policy states instead
    of the category's (checked when the policy is recorded, once sources exist).
    """

    label: Text
    description: Text | None = None
    category: str = "default"
    source: str | None = None


@dataclass(frozen=True)
class Processor:
    """One entry of ``PRIVACY_PROCESSORS``: who processes data on the site's behalf."""

    name: str
    purpose: Text
    location: Text | None = None
    agreement_date: dt.date | None = None


@dataclass(frozen=True)
class CookieSpec:
    """One entry of ``PRIVACY_COOKIES``: a cookie the site sets, and its type."""

    name: str
    type: str
    purpose: Text
    duration: Text | None = None


@dataclass(frozen=True)
class ContactPurpose:
    """One purpose of the contact form (``PRIVACY_CONTACT_PURPOSES``)."""

    name: str
    label: Text
    category: str = "default"


@dataclass(frozen=True)
class SiteURL:
    """The site's declared address (``PRIVACY_SITE_URL``): mailed links start here."""

    scheme: str
    netloc: str
    #: Without a trailing slash; ``""`` for a site at the root.
    path: str = ""

    @property
    def base(self) -> str:
        """``https://www.example.com/shop``: a link is this plus the page's path."""
        return f"{self.scheme}://{self.netloc}{self.path}"


@dataclass(frozen=True)
class NewsletterSettings:
    """The ``PRIVACY_NEWSLETTER_*`` settings."""

    confirm_hours: int
    pending_days: int
    max_confirm_mails: int
    rate_limit: str
    unsubscribe_mailto: str | None
    wording: Text | None


@dataclass(frozen=True)
class Settings:
    """The validated ``PRIVACY_*`` configuration of one app (one attribute per key
    of :data:`KEYS`, the ``NEWSLETTER_*`` ones in :attr:`newsletter`)."""

    controller_name: str
    contact_email: str
    controller_address: str | None
    controller_phone: str | None
    notify_email: str
    mail_sender: str | tuple[str, str] | None
    url_prefix: str
    site_url: SiteURL | None
    base_template: str
    languages: tuple[str, ...]
    default_language: str
    min_consent_age: int
    request_deadline_days: int
    token_max_age: int
    admin_check: Callable[[], bool] | None
    retention: Mapping[str, RetentionCategory]
    data_categories: tuple[Text, ...]
    purposes: tuple[Purpose, ...]
    processors: tuple[Processor, ...]
    cookies: tuple[CookieSpec, ...]
    security_measures: tuple[Text, ...]
    policy_versions: tuple[PolicyVersionSpec, ...]
    policy_intro: Text | None
    visit_log: bool
    ip_truncate: bool
    trusted_proxies: int
    ratelimit_storage_uri: str | None
    security_headers: bool
    csp: Mapping[str, tuple[str, ...]]
    page_cache_control: str
    hash_key: bytes = field(repr=False)
    contact_purposes: Mapping[str, ContactPurpose]
    contact_rate_limit: str
    request_rate_limit: str
    request_address_rate_limit: str
    request_max_link_mails: int
    mailbox_daily_limit: int
    mail_max_attempts: int
    mail_timeout: float
    mail_dispatch: Callable[[list[int]], None] | str
    purge_batch_size: int | None
    outbox_days: int
    proof_retention: RetentionCategory
    newsletter: NewsletterSettings

    def category(self, name: str) -> RetentionCategory:
        try:
            return self.retention[name]
        except KeyError:
            raise ConfigurationError(
                f"PRIVACY_RETENTION has no category {name!r} "
                f"(known: {', '.join(sorted(self.retention))})"
            ) from None


# -- declarations ---------------------------------------------------------------


class Reading:
    """One app's configuration while it is read: parsers of later keys see the
    values of earlier ones (a purpose's category must be in ``RETENTION``)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.values: dict[str, Any] = {}
        self.production = not (config.get("DEBUG") or config.get("TESTING"))

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


#: ``parse(value, key, reading)``: the checked value, or a ConfigurationError
#: naming ``key`` (the full ``PRIVACY_`` name) and the value.
Parser = Callable[[Any, str, Reading], Any]


@dataclass(frozen=True)
class Key:
    """The one declaration of a ``PRIVACY_*`` key."""

    name: str
    default: Any
    parse: Parser
    #: The README's "meaning" column: one line.
    doc: str
    #: The README's "default" column when the default itself does not say it.
    shown_default: str | None = None
    #: The Settings attribute; ``newsletter.x`` is ``Settings.newsletter.x``.
    attribute: str = ""

    @property
    def key(self) -> str:
        return PREFIX + self.name

    @property
    def attr(self) -> str:
        return self.attribute or self.name.lower()

    def default_text(self) -> str:
        return self.shown_default or f"`{python_literal(self.default)}`"


def python_literal(value: Any) -> str:
    """A default as a site builder would write it (double-quoted strings)."""
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, tuple):
        items = [python_literal(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{python_literal(k)}: {python_literal(v)}"
                               for k, v in value.items()) + "}"
    return repr(value)


# -- parsers: each names the key (and the entry) at fault ------------------------


def _required_text(value: Any, key: str, reading: Reading) -> str:
    if not value or not isinstance(value, str):
        raise ConfigurationError(f"{key} is required: set it in the app config before init_app()")
    return value


def _is_address(value: str) -> bool:
    return "@" in value and not any(c in value for c in "\r\n\0")


def _contact_email(value: Any, key: str, reading: Reading) -> str:
    address = _required_text(value, key, reading)
    if not _is_address(address):
        raise ConfigurationError(f"{key} is not an e-mail address: {address!r}")
    return address


def _notify_email(value: Any, key: str, reading: Reading) -> str:
    if value is None or value == "":
        return reading["CONTACT_EMAIL"]  # type: ignore[no-any-return]
    if not isinstance(value, str) or not _is_address(value):
        raise ConfigurationError(f"{key} is not an e-mail address: {value!r}")
    return value


def _mail_sender(value: Any, key: str, reading: Reading) -> str | tuple[str, str] | None:
    """An address, or Flask-Mail's ``(name, address)``; unset, ``MAIL_DEFAULT_SENDER``."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and _is_address(value):
        return value
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, str) for v in value) and _is_address(value[1])
            and not any(c in value[0] for c in "\r\n\0")):
        return (value[0], value[1])
    raise ConfigurationError(
        f"{key} must be an address or a (name, address) pair, got {value!r}")


def _optional_str(value: Any, key: str, reading: Reading) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{key} must be text, got {value!r}")
    return value


def _nonempty_str(value: Any, key: str, reading: Reading) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{key} must be a non-empty string, got {value!r}")
    return value


def _url_prefix(value: Any, key: str, reading: Reading) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ConfigurationError(f"{key} must start with '/', got {value!r}")
    return value.rstrip("/") or "/"


def parse_site_url(value: Any, key: str = PREFIX + "SITE_URL") -> SiteURL | None:
    """``scheme://host[:port][/path]``: http or https, a host, no user, query or
    fragment; the trailing slash goes, so a link is ``base + path``."""
    if value is None or value == "":
        return None
    example = "an address like 'https://www.example.nl' or 'https://www.example.nl/shop'"
    if not isinstance(value, str):
        raise ConfigurationError(f"{key} must be {example}, got {value!r}")
    if not value.isascii() or any(c.isspace() or not c.isprintable() or c == "\\" for c in value):
        raise ConfigurationError(
            f"{key} must be {example} in ASCII (a domain in its xn-- form), without spaces, "
            f"got {value!r}")
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not value[len(scheme):].startswith("://"):
        raise ConfigurationError(f"{key} must start with https:// (or http://), got {value!r}")
    if "?" in value or "#" in value:
        raise ConfigurationError(f"{key} must not have a query or a fragment, got {value!r}")
    if "@" in parts.netloc:
        raise ConfigurationError(f"{key} must not hold a user name or password, got {value!r}")
    try:  # urlsplit checks the port only when asked for it
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ConfigurationError(f"{key} has an invalid port, got {value!r}")
    host = (parts.hostname or "").lower()
    bracketed = parts.netloc.startswith("[")
    if not host or not (bracketed or _HOST_NAME.fullmatch(host)):
        raise ConfigurationError(f"{key} must name a host, got {value!r}")
    return SiteURL(scheme=scheme, netloc=parts.netloc.lower(), path=parts.path.rstrip("/"))


def _site_url(value: Any, key: str, reading: Reading) -> SiteURL | None:
    site = parse_site_url(value, key)
    if site is None and reading.production and not reading.config.get("SERVER_NAME"):
        raise ConfigurationError(
            f"{key} is required outside debug and testing: the site's address, e.g. "
            f"'https://www.example.nl' (or set Flask's SERVER_NAME). Every mailed link is "
            "built from it; without it a forged Host header would send visitors links to "
            "another site. TRUSTED_HOSTS alone does not do: Flask 3.0 does not enforce it."
        )
    return site


def _languages(value: Any, key: str, reading: Reading) -> tuple[str, ...]:
    languages = tuple(value)
    if not languages:
        raise ConfigurationError(f"{key} must name at least one language")
    return languages


def _default_language(value: Any, key: str, reading: Reading) -> str:
    if value not in reading["LANGUAGES"]:
        raise ConfigurationError(f"{key} must be one of {PREFIX}LANGUAGES, got {value!r}")
    return value  # type: ignore[no-any-return]


def integer(minimum: int = 0) -> Parser:
    """An integer of at least ``minimum``; ``True`` is not a number here."""
    def parse(value: Any, key: str, reading: Reading) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigurationError(f"{key} must be an integer >= {minimum}, got {value!r}")
        return value
    return parse


def _optional_integer(minimum: int) -> Parser:
    checked = integer(minimum)

    def parse(value: Any, key: str, reading: Reading) -> int | None:
        return None if value is None else checked(value, key, reading)
    return parse


def _flag(value: Any, key: str, reading: Reading) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{key} must be True or False, got {value!r}")
    return value


def _admin_check(value: Any, key: str, reading: Reading) -> Callable[[], bool] | None:
    if value is not None and not callable(value):
        raise ConfigurationError(f"{key} must be a callable returning a bool, got {value!r}")
    return value  # type: ignore[no-any-return]


def parse_retention(value: Any) -> dict[str, RetentionCategory]:
    """Turn ``PRIVACY_RETENTION`` into categories, naming the key at fault."""
    key = PREFIX + "RETENTION"
    if not isinstance(value, Mapping) or not value:
        raise ConfigurationError(f"{key} must be a non-empty mapping of category to period")
    if "default" not in value:
        raise ConfigurationError(f"{key} needs a 'default' category for everything else")
    categories: dict[str, RetentionCategory] = {}
    for name, spec in value.items():
        where = f"{key}[{name!r}]"
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"{key}: category names must be non-empty strings")
        if not isinstance(spec, Mapping):
            raise ConfigurationError(f"{where} must be a mapping like {{'years': 1}}")
        unknown = set(spec) - RETENTION_KEYS
        if unknown:
            raise ConfigurationError(
                f"{where} has unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                f"a period is given in {', '.join(PERIOD_UNITS)}"
            )
        units = {}
        for unit in PERIOD_UNITS:
            amount = spec.get(unit, 0)
            if isinstance(amount, bool) or not isinstance(amount, int):
                raise ConfigurationError(f"{where}[{unit!r}] must be an integer, got {amount!r}")
            if amount < 0:
                raise ConfigurationError(f"{where}[{unit!r}] must not be negative, got {amount}")
            units[unit] = amount
        if not any(units.values()):
            raise ConfigurationError(f"{where} needs a period longer than zero")
        erasable = spec.get("erasable", True)
        if not isinstance(erasable, bool):
            raise ConfigurationError(f"{where}['erasable'] must be True or False")
        categories[name] = RetentionCategory(
            name=name,
            erasable=erasable,
            label=_text(spec.get("label"), f"{where}['label']", optional=True),
            description=_text(spec.get("description"), f"{where}['description']", optional=True),
            **units,
        )
    return categories


def _required(value: Any, where: str) -> Text:
    """Text as the pages localise it: a string, or a mapping of language to string."""
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, Mapping) and value and all(
            isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    raise ConfigurationError(
        f"{where} must be text or a mapping of language to text "
        f"({{'nl': ..., 'en': ...}}), got {value!r}")


def _text(value: Any, where: str, *, optional: bool = False) -> Text | None:
    if optional and (value is None or value == ""):
        return None
    return _required(value, where)


def _texts(value: Any, key: str, reading: Reading) -> tuple[Text, ...]:
    return tuple(_required(item, f"{key}[{index}]") for index, item in enumerate(_items(value, key)))


def _optional_text(value: Any, key: str, reading: Reading) -> Text | None:
    return _text(value, key, optional=True)


def _items(value: Any, key: str) -> tuple[Any, ...]:
    value = value or ()
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ConfigurationError(f"{key} must be a list, got {value!r}")
    return tuple(value)


def _entry(item: Any, where: str, required: tuple[str, ...],
           optional: tuple[str, ...] = ()) -> Mapping[str, Any]:
    """A nested entry: a mapping with the ``required`` keys, and no key it does not know
    (a misspelt ``"descripton"`` would otherwise vanish from the page without a word)."""
    if not isinstance(item, Mapping):
        raise ConfigurationError(
            f"{where} must be a mapping with {', '.join(map(repr, required))}, got {item!r}")
    for name in required:
        if name not in item:
            raise ConfigurationError(f"{where} needs a {name!r} entry")
    unknown = set(item) - set(required) - set(optional)
    if unknown:
        raise ConfigurationError(
            f"{where} has unknown key(s) {', '.join(sorted(map(repr, unknown)))}; "
            f"known: {', '.join(map(repr, (*required, *optional)))}")
    return item


def _category(value: Any, where: str, reading: Reading) -> str:
    if value not in reading["RETENTION"]:
        raise ConfigurationError(f"{where} names unknown retention category {value!r}")
    return value  # type: ignore[no-any-return]


def _purposes(value: Any, key: str, reading: Reading) -> tuple[Purpose, ...]:
    purposes = []
    for index, item in enumerate(_items(value, key)):
        where = f"{key}[{index}]"
        spec = _entry(item, where, ("label",), ("description", "category", "source"))
        source = spec.get("source")
        if source is not None and (not isinstance(source, str) or not source):
            raise ConfigurationError(f"{where}['source'] must name a registered source, "
                                     f"got {source!r}")
        purposes.append(Purpose(
            label=_required(spec["label"], f"{where}['label']"),
            description=_text(spec.get("description"), f"{where}['description']", optional=True),
            category=_category(spec.get("category", "default"), where, reading),
            source=source,
        ))
    return tuple(purposes)


def _processors(value: Any, key: str, reading: Reading) -> tuple[Processor, ...]:
    processors = []
    for index, item in enumerate(_items(value, key)):
        where = f"{key}[{index}]"
        spec = _entry(item, where, ("name", "purpose"), ("location", "agreement_date"))
        agreed = spec.get("agreement_date")
        processors.append(Processor(
            name=_nonempty_str(spec["name"], f"{where}['name']", reading),
            purpose=_required(spec["purpose"], f"{where}['purpose']"),
            location=_text(spec.get("location"), f"{where}['location']", optional=True),
            agreement_date=None if agreed in (None, "")
            else _date(agreed, f"{where}['agreement_date']"),
        ))
    return tuple(processors)


def _cookies(value: Any, key: str, reading: Reading) -> tuple[CookieSpec, ...]:
    """Each cookie of a known type, so none is set before a yes because of a typo
    in its type."""
    cookies = []
    for index, item in enumerate(_items(value, key)):
        where = f"{key}[{index}]"
        spec = _entry(item, where, ("name", "type", "purpose"), ("duration",))
        name = _nonempty_str(spec["name"], f"{where}['name']", reading)
        if spec["type"] not in COOKIE_TYPES:
            raise ConfigurationError(
                f"{where} ({name!r}) has unknown type {spec['type']!r}; "
                f"use one of {', '.join(COOKIE_TYPES)}")
        cookies.append(CookieSpec(
            name=name,
            type=spec["type"],
            purpose=_required(spec["purpose"], f"{where}['purpose']"),
            duration=_text(spec.get("duration"), f"{where}['duration']", optional=True),
        ))
    return tuple(cookies)


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigurationError(f"{where} must be a date (YYYY-MM-DD), got {value!r}") from None


def _policy_versions(value: Any, key: str, reading: Reading) -> tuple[PolicyVersionSpec, ...]:
    if not value:
        return ()
    versions: list[PolicyVersionSpec] = []
    for index, spec in enumerate(_items(value, key)):
        where = f"{key}[{index}]"
        if not isinstance(spec, Mapping) or "version" not in spec or "effective" not in spec:
            raise ConfigurationError(f"{where} must be a mapping with 'version' and 'effective'")
        version = str(spec["version"]).strip()
        if not version or len(version) > 40 or not all(c.isalnum() or c in ".-_" for c in version):
            raise ConfigurationError(f"{where}['version'] must be 1-40 letters, digits, . - _")
        versions.append(
            PolicyVersionSpec(
                version=version,
                effective=_date(spec["effective"], f"{where}['effective']"),
                changes=_text(spec.get("changes"), f"{where}['changes']", optional=True),
            )
        )
    names = [v.version for v in versions]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"{key} names a version twice")
    return tuple(sorted(versions, key=lambda v: (v.effective, names.index(v.version))))


def _ratelimit_storage(value: Any, key: str, reading: Reading) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or "://" not in value:
        raise ConfigurationError(
            f"{key} must be a storage URI like 'redis://127.0.0.1:6379/0', got {value!r}")
    return value


def _csp_source_unsafe_for_scripts(source: str) -> bool:
    lowered = source.lower()
    # A fixed nonce in the configuration is 'unsafe-inline' by another name.
    return (lowered in CSP_UNSAFE_FOR_SCRIPTS or lowered.startswith("'nonce-")
            or bool(_SCHEME_ONLY.fullmatch(lowered)) or bool(_ANY_HOST.fullmatch(lowered)))


def _csp(value: Any, key: str, reading: Reading) -> dict[str, tuple[str, ...]]:
    """Extra sources per directive for the package's own pages (a host's CDN, its
    fonts). Scripts stay what the package allows: nothing that lets an injected
    inline script, or a script from any host, run."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"{key} must be a mapping of directive to a list of sources, e.g. "
            f"{{'style-src': ['https://cdn.example.com']}}, got {value!r}")
    csp: dict[str, tuple[str, ...]] = {}
    for directive, sources in value.items():
        name = directive.strip().lower() if isinstance(directive, str) else directive
        if name not in CSP_DIRECTIVES:
            raise ConfigurationError(
                f"{key} names unknown directive {directive!r}; "
                f"one of {', '.join(sorted(CSP_DIRECTIVES))}")
        where = f"{key}[{directive!r}]"
        if isinstance(sources, (str, bytes)) or not isinstance(sources, (list, tuple)):
            raise ConfigurationError(f"{where} must be a list of sources, got {sources!r}")
        kept = list(csp.get(name, ()))
        for source in sources:
            if not isinstance(source, str) or not source or not source.isascii() or any(
                    c.isspace() or c in ";," or not c.isprintable() for c in source):
                raise ConfigurationError(
                    f"{where}: {source!r} is not a source (one word in ASCII, without "
                    "spaces, ';' or ',')")
            if name in CSP_SCRIPT_DIRECTIVES and _csp_source_unsafe_for_scripts(source):
                raise ConfigurationError(
                    f"{where}: {source!r} would let injected or foreign scripts run on the "
                    "privacy pages; name the script's host (e.g. 'https://cdn.example.com') "
                    "or its hash ('sha256-...')")
            if source not in kept:
                kept.append(source)
        csp[name] = tuple(kept)
    return csp


def _cache_control(value: Any, key: str, reading: Reading) -> str:
    """A ``Cache-Control`` header value: printable ASCII on one line."""
    if not isinstance(value, str) or not value.strip() or not value.isascii() or any(
            not c.isprintable() for c in value):
        raise ConfigurationError(
            f"{key} must be a Cache-Control value on one line, e.g. 'no-cache' or "
            f"'public, max-age=300', got {value!r}")
    return value.strip()


def _hash_key(value: Any, key: str, reading: Reading) -> bytes:
    # The value is a secret: no message below repeats it.
    if reading.production and not value:
        raise ConfigurationError(
            f"{key} is required outside debug and testing: a random secret apart "
            "from SECRET_KEY (e.g. python -c 'import secrets; print(secrets.token_hex(32))'). "
            "It keys the hashes of erased addresses and of tokens, so it must never change."
        )
    # In debug and testing SECRET_KEY stands in, so a first run needs no extra step.
    value = value or reading.config.get("SECRET_KEY")
    if not value:
        raise ConfigurationError(
            f"{key} (or, in debug and testing, SECRET_KEY) is required: it keys "
            "the hashes of erased addresses and of tokens"
        )
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    raise ConfigurationError(f"{key} must be a string or bytes, got a {type(value).__name__}")


def _unsubscribe_mailto(value: Any, key: str, reading: Reading) -> str | None:
    if value is None:
        return None
    mailto = str(value).removeprefix("mailto:")
    if "@" not in mailto or any(c in mailto for c in "\r\n\0<>, "):
        raise ConfigurationError(f"{key} is not an address: {mailto!r}")
    return mailto


def _contact_purposes(value: Any, key: str, reading: Reading) -> dict[str, ContactPurpose]:
    """Each purpose needs a label and a known category."""
    if not isinstance(value, Mapping) or not value:
        raise ConfigurationError(f"{key} must be a non-empty mapping of purpose to its spec")
    purposes: dict[str, ContactPurpose] = {}
    for name, item in value.items():
        where = f"{key}[{name!r}]"
        # The name is stored (40 characters) and posted as a form value.
        if not isinstance(name, str) or not name or len(name) > 40 or not all(
            c.isalnum() or c in "-_" for c in name
        ):
            raise ConfigurationError(
                f"{key}: purpose names must be 1-40 letters, digits, - _, got {name!r}")
        if not isinstance(item, Mapping) or not item.get("label"):
            raise ConfigurationError(f"{where} needs a 'label' ({{'nl': ..., 'en': ...}})")
        spec = _entry(item, where, ("label",), ("category",))
        purposes[name] = ContactPurpose(
            name=name,
            label=_required(spec["label"], f"{where}['label']"),
            category=_category(spec.get("category", "default"), where, reading),
        )
    return purposes


def _limit(value: Any, key: str, reading: Reading) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{key} must be a limit like '10 per hour', got {value!r}")
    return value


def _seconds(value: Any, key: str, reading: Reading) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(f"{key} must be a number of seconds > 0, got {value!r}")
    return float(value)


def _dispatch(value: Any, key: str, reading: Reading) -> Callable[[list[int]], None] | str:
    if callable(value) or value in ("background", "sender"):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str) and ":" in value:
        try:
            found = import_string(value.replace(":", "."))
        except ImportError as exc:
            raise ConfigurationError(f"{key}: cannot import {value!r} ({exc})") from None
        if callable(found):
            return found  # type: ignore[no-any-return]
    raise ConfigurationError(
        f"{key} must be 'background', 'sender', a callable or 'module:function', got {value!r}"
    )


def _named_category(value: Any, key: str, reading: Reading) -> RetentionCategory:
    retention: Mapping[str, RetentionCategory] = reading["RETENTION"]
    if value not in retention:
        raise ConfigurationError(
            f"{key} names unknown retention category {value!r}; "
            f"{PREFIX}RETENTION has {', '.join(sorted(retention))}"
        )
    return retention[value]


def _retention(value: Any, key: str, reading: Reading) -> dict[str, RetentionCategory]:
    return parse_retention(value)


#: Every ``PRIVACY_*`` key, in the order of the README's table; a key's parser may
#: read the keys above it (``reading["RETENTION"]``).
KEYS: tuple[Key, ...] = (
    Key("CONTROLLER_NAME", None, _required_text,
        "who is responsible (shown on the page, in mail)", "required"),
    Key("CONTACT_EMAIL", None, _contact_email,
        "where visitors and the page point; receives notifications", "required"),
    Key("CONTROLLER_ADDRESS", None, _optional_str, "the controller's postal address, shown on the page"),
    Key("CONTROLLER_PHONE", None, _optional_str, "the controller's phone number, shown on the page"),
    Key("NOTIFY_EMAIL", None, _notify_email,
        "where the maintainer's notifications go", "contact e-mail"),
    Key("MAIL_SENDER", None, _mail_sender,
        "the From of the package's mail (never a visitor's address): an address or "
        "`(name, address)`", "`MAIL_DEFAULT_SENDER`"),
    Key("URL_PREFIX", "/privacy", _url_prefix, "where the pages live"),
    Key("SITE_URL", None, _site_url,
        "the site's address, `scheme://host[:port][/path]` (http or https; no query, "
        "fragment or user), e.g. `\"https://www.example.com/shop\"`: every mailed link is "
        "built from it, never from a request's Host",
        "required outside debug/testing unless `SERVER_NAME` is set"),
    Key("BASE_TEMPLATE", "webence_privacy/base.html", _nonempty_str,
        "the layout the pages extend"),
    Key("LANGUAGES", ("nl", "en"), _languages, "languages offered"),
    Key("DEFAULT_LANGUAGE", "nl", _default_language,
        "the language when nothing else chooses one; one of `PRIVACY_LANGUAGES`"),
    Key("MIN_CONSENT_AGE", 16, integer(1),
        "the age in the consent notice (GDPR art. 8, UAVG art. 5)"),
    Key("REQUEST_DEADLINE_DAYS", 28, integer(1), "answer time for requests (four weeks)"),
    Key("TOKEN_MAX_AGE", 48 * 3600, integer(60), "seconds a mailed link works"),
    Key("ADMIN_CHECK", None, _admin_check,
        "callable returning True for maintainers; unset: nobody"),
    Key("RETENTION", {"default": {"years": 1}, "customer": {"years": 7, "erasable": False}},
        _retention,
        "retention categories: `years`/`months`/`days` (calendar arithmetic), `erasable`, "
        "optional `label`/`description`"),
    Key("DATA_CATEGORIES", (), _texts,
        "the kinds of data you process (text or `{\"nl\":..., \"en\":...}`)"),
    Key("PURPOSES", (), _purposes,
        "`{\"label\": ..., \"description\": ..., \"category\": ...}` per purpose; "
        "`\"source\": \"<registered source>\"` (e.g. `\"Subscriber\"`, `\"ContactMessage\"`) "
        "states that source's period instead of the category's, so the purposes table says "
        "what the sources table and the purge say (a name that is not registered stops "
        "`init-db` with a message naming it)"),
    Key("PROCESSORS", (), _processors,
        "`{\"name\", \"purpose\", \"location\", \"agreement_date\": \"YYYY-MM-DD\"}` per processor"),
    Key("COOKIES", (), _cookies,
        "`{\"name\", \"type\": \"functional\", \"analytic\" or \"marketing\", \"purpose\", "
        "\"duration\"}`; another type stops the start"),
    Key("SECURITY_MEASURES", (), _texts,
        "shown on the page and in the record of processing"),
    Key("POLICY_VERSIONS", (), _policy_versions,
        "`{\"version\", \"effective\": \"YYYY-MM-DD\", \"changes\"}`; a new version supersedes "
        "all earlier ones"),
    Key("POLICY_INTRO", None, _optional_text, "an opening paragraph"),
    Key("VISIT_LOG", False, _flag,
        "keep a visit log (time, route, truncated IP, browser family, referrer host, "
        "daily-salted visitor hash) and its analysis"),
    Key("PURGE_BATCH_SIZE", None, _optional_integer(1),
        "rows per purge batch, each its own transaction; unset, 100,000, and 250,000 on "
        "SQLite (where a form posted during the purge waits for one batch)"),
    Key("OUTBOX_DAYS", 30, integer(1),
        "days sent mail, mail given up on and unverified requests are kept"),
    Key("PROOF_RETENTION", "default", _named_category,
        "the retention category that keeps proof: a withdrawn consent, a completed request, "
        "an unsubscription, a released hold"),
    Key("IP_TRUNCATE", True, _flag, "store IPv4 as /24 and IPv6 as /48"),
    Key("TRUSTED_PROXIES", 0, integer(0),
        "how many proxies in front of the app may set X-Forwarded-For"),
    Key("RATELIMIT_STORAGE_URI", None, _ratelimit_storage,
        "limiter storage; use `redis://...` with several workers (a warning at start-up "
        "otherwise)", "`RATELIMIT_STORAGE_URI` or `memory://`"),
    Key("SECURITY_HEADERS", True, _flag,
        "CSP without inline script, nosniff, frame denial on the package's pages"),
    Key("CSP", {}, _csp,
        "extra sources merged into the package's Content-Security-Policy on its pages, "
        "per directive: `{\"style-src\": [\"https://cdn.jsdelivr.net\"], \"font-src\": [...]}`; "
        "`'unsafe-inline'`, `'unsafe-eval'`, `'unsafe-hashes'`, `'strict-dynamic'`, a nonce, "
        "`*` or a bare scheme (`https:`, `data:`) for scripts stops the start"),
    Key("PAGE_CACHE_CONTROL", "no-cache", _cache_control,
        "the privacy page's `Cache-Control`; the default lets a browser or a shared cache keep "
        "it but ask each time (a 304 when unchanged), so the visit log sees every visit; "
        "e.g. `\"public, max-age=300\"` behind a CDN (see \"Behind a CDN or a caching proxy\")"),
    Key("HASH_KEY", None, _hash_key,
        "key of the hashes kept for tokens, erased addresses and rate-limit keys; its own "
        "random value, never changed",
        "required outside debug/testing (there `SECRET_KEY` stands in)"),
    Key("NEWSLETTER_CONFIRM_HOURS", 48, integer(1),
        "hours a newsletter confirmation link works",
        attribute="newsletter.confirm_hours"),
    Key("NEWSLETTER_PENDING_DAYS", 14, integer(1),
        "days an unconfirmed subscription is kept before the purge deletes it",
        attribute="newsletter.pending_days"),
    Key("NEWSLETTER_MAX_CONFIRM_MAILS", 3, integer(1),
        "confirmation mails to one address per 24 hours; beyond it none is sent (the page "
        "is the same)", attribute="newsletter.max_confirm_mails"),
    Key("NEWSLETTER_RATE_LIMIT", "10 per hour", _limit,
        "per client IP, on the sign-up and new-link forms (Flask-Limiter notation)",
        attribute="newsletter.rate_limit"),
    Key("NEWSLETTER_UNSUBSCRIBE_MAILTO", None, _unsubscribe_mailto,
        "an address added to `List-Unsubscribe` as a `mailto:`",
        attribute="newsletter.unsubscribe_mailto"),
    Key("NEWSLETTER_WORDING", None, _optional_text,
        "the consent box's text (stored as the consent's wording); text or "
        "`{\"nl\": ..., \"en\": ...}`", "built-in", attribute="newsletter.wording"),
    Key("CONTACT_PURPOSES",
        {"question": {"label": {"nl": "Een vraag", "en": "A question"}, "category": "default"},
         "quote": {"label": {"nl": "Een offerteaanvraag", "en": "A quote request"},
                   "category": "default"}},
        _contact_purposes,
        "the contact form's purposes: `{\"name\": {\"label\": {\"nl\": ..., \"en\": ...}, "
        "\"category\": \"<retention category>\"}}`; the message is kept as long as its "
        "purpose's category says", "`question` and `quote`, both in `default`"),
    Key("REQUEST_RATE_LIMIT", "10 per hour", _limit, "filed requests per client IP"),
    Key("REQUEST_ADDRESS_RATE_LIMIT", "5 per hour", _limit,
        "filed requests per address typed in"),
    Key("CONTACT_RATE_LIMIT", "5 per minute;20 per day", _limit,
        "posts of the contact form per client IP (Flask-Limiter notation, `;` between limits)"),
    Key("REQUEST_MAX_LINK_MAILS", 3, integer(1),
        "request links mailed to one address per 24 hours; beyond it none is sent (the page "
        "is the same)"),
    Key("MAILBOX_DAILY_LIMIT", 10, integer(1),
        "mails a day that visitors' posts may send to one mailbox, all kinds together "
        "(confirmations, request links, acknowledgements); the mailbox is the address "
        "without its `+tag`; the site's own `PRIVACY_CONTACT_EMAIL` and "
        "`PRIVACY_NOTIFY_EMAIL` are never capped"),
    Key("MAIL_MAX_ATTEMPTS", 6, integer(1),
        "sending attempts before an outbox mail is marked `failed`; `flask privacy send-mail` "
        "retries with back-off"),
    Key("MAIL_TIMEOUT", 10, _seconds,
        "seconds to wait for the SMTP server before the mail is left in the outbox for "
        "`send-mail` (Flask-Mail itself waits forever)"),
    Key("MAIL_DISPATCH", "background", _dispatch,
        "how queued mail leaves: `\"background\"` (after the response, a thread), "
        "`\"sender\"` (`send-mail --watch` only), or a callable / `\"module:function\"` "
        "receiving outbox ids (a task queue)"),
)
#: The declarations by name (without the prefix).
BY_NAME: Mapping[str, Key] = {k.name: k for k in KEYS}


def apply_defaults(config: MutableMapping[str, Any]) -> None:
    # A copy each: a host that edits its app's PURPOSES in place must not edit the
    # next app's default.
    for key in KEYS:
        config.setdefault(key.key, copy.deepcopy(key.default))


def load(config: Mapping[str, Any]) -> Settings:
    """Validate an app's configuration (defaults already applied)."""
    warn_unknown_keys(config)
    check_database(config)
    reading = Reading(config)
    for key in KEYS:
        value = config.get(key.key, key.default)
        reading.values[key.name] = key.parse(value, key.key, reading)
    values: dict[str, Any] = {}
    newsletter: dict[str, Any] = {}
    for key in KEYS:
        group, _, attr = key.attr.rpartition(".")
        (newsletter if group == "newsletter" else values)[attr] = reading[key.name]
    return Settings(**values, newsletter=NewsletterSettings(**newsletter))


def check_database(config: Mapping[str, Any]) -> None:
    uri = config.get("SQLALCHEMY_DATABASE_URI")
    if isinstance(uri, str) and uri:
        try:
            backend = make_url(uri).get_backend_name()
        except ArgumentError:
            backend = None
        if backend not in SUPPORTED_DATABASES:
            raise ConfigurationError(
                f"SQLALCHEMY_DATABASE_URI names a database flask-webence-privacy does not "
                f"support ({backend or uri.split(':', 1)[0]!r}); use one of "
                f"{', '.join(SUPPORTED_DATABASES)}"
            )


def warn_unknown_keys(config: Mapping[str, Any]) -> list[str]:
    """Log a warning for each ``PRIVACY_*`` key the package does not know: a typo
    would otherwise leave a setting at its default without a word."""
    unknown = sorted(k for k in config if k.startswith(PREFIX) and k[len(PREFIX):] not in BY_NAME)
    for key in unknown:
        log.warning("%s is not a setting of flask-webence-privacy and is ignored "
                    "(see the README's configuration reference)", key)
    return unknown


def reference_table() -> str:
    """The README's configuration reference, one row per key of :data:`KEYS`."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    rows += [f"| `{k.key}` | {k.default_text()} | {k.doc} |" for k in KEYS]
    return "\n".join(rows) + "\n"


def localize(value: Text | None, language: str, fallback: str = "en") -> str:
    """Pick the text for ``language`` from a str or a mapping of language to str."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    for code in (language, fallback, *value.keys()):
        if code in value:
            return value[code]
    return ""
