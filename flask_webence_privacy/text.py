"""Control characters: the one definition, how a form refuses them and how a
terminal is shown them.

C0 (NUL to US), DEL and C1 (U+0080 to U+009F), Unicode's ``Cc`` category: CR and
LF start a new mail header line, ESC and CSI start a terminal's escape sequences
(an OSC one can retitle a window or write a link), and PostgreSQL refuses a NUL
in any text column. Form fields refuse them (a message body keeps its line
breaks and tabs); what is printed from storage shows each one as an escape.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
#: The same without CR, LF and tab: a message body's line breaks.
_CONTROL_BUT_BREAKS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control(value: str | None, *, multiline: bool = False) -> bool:
    """Whether ``value`` holds a control character (``multiline``: other than
    CR, LF and tab)."""
    pattern = _CONTROL_BUT_BREAKS if multiline else _CONTROL
    return value is not None and pattern.search(value) is not None


def printable(value: str) -> str:
    """``value`` with every control character written as an escape (``\\x1b``):
    what a terminal, a log line or a header is given, so it shows the text and
    obeys none of it."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", value)
