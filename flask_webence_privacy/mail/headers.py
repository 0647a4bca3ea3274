"""What goes into a mail's headers: nothing that starts a header line, nothing a
mail program would decode into other words, and one Message-ID per mail.

Addresses and the site's own headers are refused at queueing when they hold a
line break or a NUL (they come from validated values: a break there is a bug or
an attack). Text a visitor typed can reach the subject (the maintainer's
notification names the sender) and a display name: there a control character is
written out (:func:`~flask_webence_privacy.text.printable`), and text that reads
as an RFC 2047 encoded word (``=?utf-8?q?Urgent=3A_reset_password?=``) is put
inside an encoded word of its own, which decodes to exactly what was typed.
"""

from __future__ import annotations

import datetime as dt
from email.header import Header
from email.utils import parseaddr

from ..text import printable
from ..tokens import keyed_hash

_BREAKERS = ("\r", "\n", "\0")
#: What starts an RFC 2047 encoded word.
_ENCODED_WORD = "=?"


class HeaderInjectionError(ValueError):
    """A value meant for a mail header held CR, LF or NUL."""


def refuse_breaks(value: str | None) -> str | None:
    """``value``, or :class:`HeaderInjectionError` if it holds CR, LF or NUL."""
    if value is not None and any(c in value for c in _BREAKERS):
        raise HeaderInjectionError("mail header values may not contain line breaks")
    return value


def literal(text: str) -> str:
    """``text`` as a header's words that every mail program shows as they are.

    Flask-Mail writes a subject in ASCII as it is, so ``=?...?=`` in it would be
    decoded by the reader; here such a subject is written as encoded words of
    its own (each short enough for one line), which decode to the text itself.
    """
    text = printable(" ".join(text.split()))
    if _ENCODED_WORD not in text:
        return text
    # Header folds between encoded words; whitespace between two of them is not
    # part of the text, so one space joins them on one line.
    return " ".join(Header(text, "utf-8").encode().split())


def display_address(value: str) -> tuple[str, str]:
    """A Reply-To (``address`` or ``Name <address>``) as Flask-Mail's pair: the
    name with its control characters written out. Flask-Mail writes every
    display name as an encoded word of its own, so an ``=?`` in a name is shown
    as typed and never decoded."""
    name, address = parseaddr(value)
    return printable(" ".join(name.split())), address


def message_id(row_id: int, written: dt.datetime, domain: str, key: bytes) -> str:
    """The Message-ID of an outbox row: the same at every attempt, so a mail that
    went out twice (a sender that died after the SMTP server took it and before
    it wrote so) is one mail to the recipient's programs. The row's id and the
    second it was written, under a keyed hash: unique across databases, and
    nothing in it says who it was for."""
    stamp = keyed_hash(f"outbox:{row_id}:{written:%Y-%m-%dT%H:%M:%S}", key)[:20]
    return f"<privacy.{row_id}.{stamp}@{domain}>"
