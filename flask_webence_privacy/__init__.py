"""flask-webence-privacy: a small business's privacy policy as working software."""

from __future__ import annotations

from . import signals
from .config import ConfigurationError, RetentionCategory
from .extension import Privacy
from .models import AppendOnlyError

__version__ = "0.1.0"

__all__ = [
    "AppendOnlyError",
    "ConfigurationError",
    "Privacy",
    "RetentionCategory",
    "signals",
]
