"""flask-webence-privacy: a small business's privacy policy as working software."""

from __future__ import annotations

from . import signals
from .address import InvalidAddress, canonical
from .config import ConfigurationError, RetentionCategory
from .contact import ContactError, submit
from .extension import Privacy
from .forms import PrivacyForm, age_field, email_field
from .language import locale_selector, select_locale
from .models import AppendOnlyError
from .requests.erasure import ErasureFailed, ErasureReport, SourceResult
from .requests.export import SourceExport, SubjectExport
from .retention import PurgeReport, PurgeRow

__version__ = "0.1.0"

__all__ = [
    "AppendOnlyError",
    "ConfigurationError",
    "ContactError",
    "ErasureFailed",
    "ErasureReport",
    "InvalidAddress",
    "Privacy",
    "PrivacyForm",
    "PurgeReport",
    "PurgeRow",
    "RetentionCategory",
    "SourceExport",
    "SourceResult",
    "SubjectExport",
    "age_field",
    "canonical",
    "email_field",
    "locale_selector",
    "select_locale",
    "signals",
    "submit",
]
