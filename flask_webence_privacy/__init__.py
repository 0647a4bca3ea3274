"""flask-webence-privacy: a small business's privacy policy as working software."""

from __future__ import annotations

from . import signals
from .address import InvalidAddress, canonical
from .config import ConfigurationError, RetentionCategory
from .extension import Privacy
from .models import AppendOnlyError
from .requests.erasure import ErasureFailed, ErasureReport, SourceResult
from .requests.export import SourceExport, SubjectExport
from .retention import PurgeReport, PurgeRow

__version__ = "0.1.0"

__all__ = [
    "AppendOnlyError",
    "ConfigurationError",
    "ErasureFailed",
    "ErasureReport",
    "InvalidAddress",
    "Privacy",
    "PurgeReport",
    "PurgeRow",
    "RetentionCategory",
    "SourceExport",
    "SourceResult",
    "SubjectExport",
    "canonical",
    "signals",
]
