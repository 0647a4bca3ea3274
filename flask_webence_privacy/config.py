"""Every ``PRIVACY_*`` setting in one place: defaults, validation, retention categories.

Configuration is read once, in ``init_app``, and turned into a frozen
:class:`Settings`. A mistake in it is an error at start-up that names the key,
so a site never runs with a policy page that says something the software does
not do.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from werkzeug.utils import import_string

log = logging.getLogger("flask_webence_privacy")

PREFIX = "PRIVACY_"

#: Localised text: a plain string, or a mapping of language code to string.
Text = str | Mapping[str, str]

DEFAULTS: dict[str, Any] = {
    # Required; no default. Listed so the reference below is complete.
    "CONTROLLER_NAME": None,
    "CONTACT_EMAIL": None,
    # Where the controller can be reached besides mail (shown on the policy page).
    "CONTROLLER_ADDRESS": None,
    "CONTROLLER_PHONE": None,
    "NOTIFY_EMAIL": None,
    "MAIL_SENDER": None,
    "URL_PREFIX": "/privacy",
    "BASE_TEMPLATE": "webence_privacy/base.html",
    "LANGUAGES": ("nl", "en"),
    "DEFAULT_LANGUAGE": "nl",
    "MIN_CONSENT_AGE": 16,
    "REQUEST_DEADLINE_DAYS": 28,
    "TOKEN_MAX_AGE": 48 * 3600,
    "ADMIN_CHECK": None,
    "RETENTION": {
        "default": {"years": 1},
        "customer": {"years": 7, "erasable": False},
    },
    "DATA_CATEGORIES": (),
    "PURPOSES": (),
    "PROCESSORS": (),
    "COOKIES": (),
    "SECURITY_MEASURES": (),
    "POLICY_VERSIONS": (),
    "POLICY_INTRO": None,
    "VISIT_LOG": False,
    # Retention of the package's own records (see retention.py): rows per purge
    # batch, days sent/failed mail and unverified requests are kept, and the
    # category whose period proof (withdrawn consent, completed requests) is kept.
    "PURGE_BATCH_SIZE": None,  # retention.batch_size: by database
    "OUTBOX_DAYS": 30,
    "PROOF_RETENTION": "default",
    # Addresses are stored; IPs are cut to a /24 (IPv4) or /48 (IPv6) first.
    "IP_TRUNCATE": True,
    "TRUSTED_PROXIES": 0,
    "RATELIMIT_STORAGE_URI": None,
    "SECURITY_HEADERS": True,
    "HASH_KEY": None,
    # Newsletter (validated in newsletter.settings at start-up).
    "NEWSLETTER_CONFIRM_HOURS": 48,
    "NEWSLETTER_PENDING_DAYS": 14,
    "NEWSLETTER_MAX_CONFIRM_MAILS": 3,
    "NEWSLETTER_RATE_LIMIT": "10 per hour",
    "NEWSLETTER_UNSUBSCRIBE_MAILTO": None,
    "NEWSLETTER_WORDING": None,
    # The contact form's purposes: name -> {"label": {"nl", "en"}, "category": retention}.
    "CONTACT_PURPOSES": {
        "question": {"label": {"nl": "Een vraag", "en": "A question"}, "category": "default"},
        "quote": {"label": {"nl": "Een offerteaanvraag", "en": "A quote request"},
                  "category": "default"},
    },
    # Per client IP, on POST only (Flask-Limiter notation, ";" between limits).
    "CONTACT_RATE_LIMIT": "5 per minute;20 per day",
    # The request form: per client IP, and per address typed in.
    "REQUEST_RATE_LIMIT": "10 per hour",
    "REQUEST_ADDRESS_RATE_LIMIT": "5 per hour",
    # Sending attempts before an outbox mail is marked "failed".
    "MAIL_MAX_ATTEMPTS": 6,
    # Seconds to wait for the SMTP server (Flask-Mail itself waits forever).
    "MAIL_TIMEOUT": 10,
    # How queued mail leaves: "background" (after the response, a thread of the
    # web process), "sender" (only `flask privacy send-mail --watch` or cron), or
    # a callable (or "module:function") that receives outbox ids after commit
    # and hands them to the site's task queue.
    "MAIL_DISPATCH": "background",
}

REQUIRED = ("CONTROLLER_NAME", "CONTACT_EMAIL")
#: The databases the package is tested on (SQLAlchemy backend names).
SUPPORTED_DATABASES = ("sqlite", "postgresql", "mysql", "mariadb")
PERIOD_UNITS = ("years", "months", "days")
RETENTION_KEYS = frozenset(PERIOD_UNITS) | {"erasable", "label", "description"}
#: Cookie types: functional is always on; the others wait for the visitor's yes.
COOKIE_TYPES = ("functional", "analytic", "marketing")


class ConfigurationError(RuntimeError):
    """Raised at start-up when a ``PRIVACY_*`` setting is missing or malformed."""


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
    """The validated ``PRIVACY_*`` configuration of one app."""

    controller_name: str
    contact_email: str
    controller_address: str | None
    controller_phone: str | None
    notify_email: str
    mail_sender: str | None
    url_prefix: str
    base_template: str
    languages: tuple[str, ...]
    default_language: str
    min_consent_age: int
    request_deadline_days: int
    token_max_age: int
    admin_check: Callable[[], bool] | None
    retention: Mapping[str, RetentionCategory]
    data_categories: tuple[Text, ...]
    purposes: tuple[Mapping[str, Any], ...]
    processors: tuple[Mapping[str, Any], ...]
    cookies: tuple[Mapping[str, Any], ...]
    security_measures: tuple[Text, ...]
    policy_versions: tuple[PolicyVersionSpec, ...]
    policy_intro: Text | None
    visit_log: bool
    ip_truncate: bool
    trusted_proxies: int
    ratelimit_storage_uri: str | None
    security_headers: bool
    hash_key: bytes = field(repr=False)
    contact_purposes: Mapping[str, Mapping[str, Any]]
    contact_rate_limit: str
    request_rate_limit: str
    request_address_rate_limit: str
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


@dataclass(frozen=True)
class PolicyVersionSpec:
    """One published version of the policy, from ``PRIVACY_POLICY_VERSIONS``."""

    version: str
    effective: dt.date
    changes: Text | None = None


def apply_defaults(config: MutableMapping[str, Any]) -> None:
    for key, value in DEFAULTS.items():
        config.setdefault(PREFIX + key, value)


def _int(config: Mapping[str, Any], key: str, *, minimum: int = 0) -> int:
    """An integer setting of at least ``minimum``; ``True`` is not a number here."""
    value = config[PREFIX + key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{PREFIX}{key} must be an integer >= {minimum}, got {value!r}")
    return value


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
            label=spec.get("label"),
            description=spec.get("description"),
            **units,
        )
    return categories


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigurationError(f"{where} must be a date (YYYY-MM-DD), got {value!r}") from None


def parse_policy_versions(value: Any) -> tuple[PolicyVersionSpec, ...]:
    key = PREFIX + "POLICY_VERSIONS"
    if not value:
        return ()
    versions: list[PolicyVersionSpec] = []
    for index, spec in enumerate(value):
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
                changes=spec.get("changes"),
            )
        )
    names = [v.version for v in versions]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"{key} names a version twice")
    return tuple(sorted(versions, key=lambda v: (v.effective, names.index(v.version))))


def parse_contact_purposes(value: Any, retention: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``PRIVACY_CONTACT_PURPOSES``: each purpose needs a label and a known category."""
    key = PREFIX + "CONTACT_PURPOSES"
    if not isinstance(value, Mapping) or not value:
        raise ConfigurationError(f"{key} must be a non-empty mapping of purpose to its spec")
    purposes: dict[str, dict[str, Any]] = {}
    for name, spec in value.items():
        where = f"{key}[{name!r}]"
        # The name is stored (40 characters) and posted as a form value.
        if not isinstance(name, str) or not name or len(name) > 40 or not all(
            c.isalnum() or c in "-_" for c in name
        ):
            raise ConfigurationError(f"{key}: purpose names must be 1-40 letters, digits, - _")
        if not isinstance(spec, Mapping) or not spec.get("label"):
            raise ConfigurationError(f"{where} needs a 'label' ({{'nl': ..., 'en': ...}})")
        category = spec.get("category", "default")
        if category not in retention:
            raise ConfigurationError(f"{where} names unknown retention category {category!r}")
        purposes[name] = {**spec, "category": category}
    return purposes


def _sequence(config: Mapping[str, Any], key: str,
              required: tuple[str, ...] = ()) -> tuple[Any, ...]:
    value = config[PREFIX + key] or ()
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ConfigurationError(f"{PREFIX}{key} must be a list")
    for index, item in enumerate(value):
        for name in required:
            if not isinstance(item, Mapping) or name not in item:
                raise ConfigurationError(f"{PREFIX}{key}[{index}] needs a {name!r} entry")
    return tuple(value)


def load(config: Mapping[str, Any]) -> Settings:
    """Validate an app's configuration (defaults already applied)."""
    warn_unknown_keys(config)
    for name in REQUIRED:
        value = config.get(PREFIX + name)
        if not value or not isinstance(value, str):
            raise ConfigurationError(
                f"{PREFIX}{name} is required: set it in the app config before init_app()"
            )
    contact = config[PREFIX + "CONTACT_EMAIL"]
    if "@" not in contact or "\n" in contact or "\r" in contact:
        raise ConfigurationError(f"{PREFIX}CONTACT_EMAIL is not an e-mail address: {contact!r}")
    prefix = config[PREFIX + "URL_PREFIX"]
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ConfigurationError(f"{PREFIX}URL_PREFIX must start with '/', got {prefix!r}")
    languages = tuple(config[PREFIX + "LANGUAGES"])
    if not languages:
        raise ConfigurationError(f"{PREFIX}LANGUAGES must name at least one language")
    default_language = config[PREFIX + "DEFAULT_LANGUAGE"]
    if default_language not in languages:
        raise ConfigurationError(f"{PREFIX}DEFAULT_LANGUAGE must be one of {PREFIX}LANGUAGES")
    admin_check = config[PREFIX + "ADMIN_CHECK"]
    if admin_check is not None and not callable(admin_check):
        raise ConfigurationError(f"{PREFIX}ADMIN_CHECK must be a callable returning a bool")
    retention = parse_retention(config[PREFIX + "RETENTION"])
    purposes = _sequence(config, "PURPOSES", ("label",))
    for index, purpose in enumerate(purposes):
        category = purpose.get("category", "default")
        if category not in retention:
            raise ConfigurationError(
                f"{PREFIX}PURPOSES[{index}] names unknown retention category {category!r}"
            )
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
    production = not (config.get("DEBUG") or config.get("TESTING"))
    if production and not (config.get("SERVER_NAME") or config.get("TRUSTED_HOSTS")):
        raise ConfigurationError(
            "Declare the site's address: set SERVER_NAME (e.g. 'www.example.nl') or Flask's "
            "TRUSTED_HOSTS (e.g. ['www.example.nl']). Mailed links are built from it; without "
            "it a forged Host header would send visitors links to another site."
        )
    hash_key = config.get(PREFIX + "HASH_KEY")
    if production and not hash_key:
        raise ConfigurationError(
            f"{PREFIX}HASH_KEY is required outside debug and testing: a random secret apart "
            "from SECRET_KEY (e.g. python -c 'import secrets; print(secrets.token_hex(32))'). "
            "It keys the hashes of erased addresses and of tokens, so it must never change."
        )
    # In debug and testing SECRET_KEY stands in, so a first run needs no extra step.
    hash_key = hash_key or config.get("SECRET_KEY")
    if not hash_key:
        raise ConfigurationError(
            f"{PREFIX}HASH_KEY (or, in debug and testing, SECRET_KEY) is required: it keys "
            "the hashes of erased addresses and of tokens"
        )
    if isinstance(hash_key, str):
        hash_key = hash_key.encode()
    return Settings(
        controller_name=config[PREFIX + "CONTROLLER_NAME"],
        contact_email=contact,
        controller_address=config[PREFIX + "CONTROLLER_ADDRESS"],
        controller_phone=config[PREFIX + "CONTROLLER_PHONE"],
        notify_email=config[PREFIX + "NOTIFY_EMAIL"] or contact,
        mail_sender=config[PREFIX + "MAIL_SENDER"],
        url_prefix=prefix.rstrip("/") or "/",
        base_template=config[PREFIX + "BASE_TEMPLATE"],
        languages=languages,
        default_language=default_language,
        min_consent_age=_int(config, "MIN_CONSENT_AGE", minimum=1),
        request_deadline_days=_int(config, "REQUEST_DEADLINE_DAYS", minimum=1),
        token_max_age=_int(config, "TOKEN_MAX_AGE", minimum=60),
        admin_check=admin_check,
        retention=retention,
        data_categories=_sequence(config, "DATA_CATEGORIES"),
        purposes=purposes,
        processors=_sequence(config, "PROCESSORS", ("name", "purpose")),
        cookies=_cookies(config),
        security_measures=_sequence(config, "SECURITY_MEASURES"),
        policy_versions=parse_policy_versions(config[PREFIX + "POLICY_VERSIONS"]),
        policy_intro=config[PREFIX + "POLICY_INTRO"],
        visit_log=bool(config[PREFIX + "VISIT_LOG"]),
        ip_truncate=bool(config[PREFIX + "IP_TRUNCATE"]),
        trusted_proxies=_int(config, "TRUSTED_PROXIES"),
        ratelimit_storage_uri=config[PREFIX + "RATELIMIT_STORAGE_URI"],
        security_headers=bool(config[PREFIX + "SECURITY_HEADERS"]),
        hash_key=hash_key,
        contact_purposes=parse_contact_purposes(config[PREFIX + "CONTACT_PURPOSES"], retention),
        contact_rate_limit=_limit(config, "CONTACT_RATE_LIMIT"),
        request_rate_limit=_limit(config, "REQUEST_RATE_LIMIT"),
        request_address_rate_limit=_limit(config, "REQUEST_ADDRESS_RATE_LIMIT"),
        mail_max_attempts=_int(config, "MAIL_MAX_ATTEMPTS", minimum=1),
        mail_timeout=_seconds(config, "MAIL_TIMEOUT"),
        mail_dispatch=_dispatch(config),
        purge_batch_size=(None if config[PREFIX + "PURGE_BATCH_SIZE"] is None
                          else _int(config, "PURGE_BATCH_SIZE", minimum=1)),
        outbox_days=_int(config, "OUTBOX_DAYS", minimum=1),
        proof_retention=_named_category(config, "PROOF_RETENTION", retention),
        newsletter=_newsletter(config),
    )


def _cookies(config: Mapping[str, Any]) -> tuple[Any, ...]:
    """``PRIVACY_COOKIES``: each cookie of a known type, so none is set before a
    yes because of a typo in its type."""
    cookies = _sequence(config, "COOKIES", ("name", "type", "purpose"))
    for index, cookie in enumerate(cookies):
        if cookie["type"] not in COOKIE_TYPES:
            raise ConfigurationError(
                f"{PREFIX}COOKIES[{index}] ({cookie['name']!r}) has unknown type "
                f"{cookie['type']!r}; use one of {', '.join(COOKIE_TYPES)}")
    return cookies


def warn_unknown_keys(config: Mapping[str, Any]) -> list[str]:
    """Log a warning for each ``PRIVACY_*`` key the package does not know: a typo
    would otherwise leave a setting at its default without a word."""
    unknown = sorted(k for k in config if k.startswith(PREFIX) and k[len(PREFIX):] not in DEFAULTS)
    for key in unknown:
        log.warning("%s is not a setting of flask-webence-privacy and is ignored "
                    "(see the README's configuration reference)", key)
    return unknown


def _limit(config: Mapping[str, Any], key: str) -> str:
    value = config[PREFIX + key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{PREFIX}{key} must be a limit like '10 per hour', got {value!r}")
    return value


def _seconds(config: Mapping[str, Any], key: str) -> float:
    value = config[PREFIX + key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(f"{PREFIX}{key} must be a number of seconds > 0, got {value!r}")
    return float(value)


def _dispatch(config: Mapping[str, Any]) -> Callable[[list[int]], None] | str:
    value = config[PREFIX + "MAIL_DISPATCH"]
    if callable(value) or value in ("background", "sender"):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str) and ":" in value:
        try:
            found = import_string(value.replace(":", "."))
        except ImportError as exc:
            raise ConfigurationError(f"{PREFIX}MAIL_DISPATCH: cannot import {value!r} ({exc})") from None
        if callable(found):
            return found  # type: ignore[no-any-return]
    raise ConfigurationError(
        f"{PREFIX}MAIL_DISPATCH must be 'background', 'sender', a callable or "
        f"'module:function', got {value!r}"
    )


def _named_category(config: Mapping[str, Any], key: str,
                    retention: Mapping[str, RetentionCategory]) -> RetentionCategory:
    name = config[PREFIX + key]
    if name not in retention:
        raise ConfigurationError(
            f"{PREFIX}{key} names unknown retention category {name!r}; "
            f"{PREFIX}RETENTION has {', '.join(sorted(retention))}"
        )
    return retention[name]


def _newsletter(config: Mapping[str, Any]) -> NewsletterSettings:
    mailto = config[PREFIX + "NEWSLETTER_UNSUBSCRIBE_MAILTO"]
    if mailto is not None:
        mailto = str(mailto).removeprefix("mailto:")
        if "@" not in mailto or any(c in mailto for c in "\r\n\0<>, "):
            raise ConfigurationError(
                f"{PREFIX}NEWSLETTER_UNSUBSCRIBE_MAILTO is not an address: {mailto!r}"
            )
    return NewsletterSettings(
        confirm_hours=_int(config, "NEWSLETTER_CONFIRM_HOURS", minimum=1),
        pending_days=_int(config, "NEWSLETTER_PENDING_DAYS", minimum=1),
        max_confirm_mails=_int(config, "NEWSLETTER_MAX_CONFIRM_MAILS", minimum=1),
        rate_limit=_limit(config, "NEWSLETTER_RATE_LIMIT"),
        unsubscribe_mailto=mailto,
        wording=config[PREFIX + "NEWSLETTER_WORDING"],
    )


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
