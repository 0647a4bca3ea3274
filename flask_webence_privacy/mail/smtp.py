"""A stored mail as an SMTP message, and the connection that carries a batch."""

from __future__ import annotations

import email.policy
import json
import logging
import smtplib
from email.generator import BytesGenerator
from email.utils import parseaddr
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_mail import Connection, Message

from ..config import Settings
from ..models import OutboxRow
from .headers import display_address, literal, message_id

log = logging.getLogger(__name__)

#: How a mail is written: headers as Flask-Mail stored them (its subject and
#: addresses already RFC 2047 words where they are not ASCII), CRLF line ends,
#: nothing folded again. Flask-Mail's SMTP policy parsed every header once more
#: to fold it: about half of the time to send a mail, for a mail that reads the
#: same.
_WRITE_POLICY = email.policy.compat32.clone(linesep="\r\n", max_line_length=None)
#: RFC 5322's limit for any line of a message.
MAX_LINE = 998


def sender(settings: Settings) -> str | tuple[str, str]:
    """The From: ``PRIVACY_MAIL_SENDER``, Flask-Mail's default, or the controller."""
    configured: str | tuple[str, str] | None = (
        settings.mail_sender or current_app.config.get("MAIL_DEFAULT_SENDER"))
    return configured or (settings.controller_name, settings.contact_email)


def domain(settings: Settings) -> str:
    """The domain a Message-ID names: the site's host, else the sender's domain."""
    site = settings.site_url
    host = urlsplit(f"//{site.netloc}").hostname if site is not None else None
    if not host:
        host = (current_app.config.get("SERVER_NAME") or "").rsplit(":", 1)[0]
    if not host:
        configured = sender(settings)
        address = configured[1] if isinstance(configured, tuple) else parseaddr(configured)[1]
        host = address.rpartition("@")[2]
    if ":" in host:  # an IPv6 literal
        return f"[{host}]"
    return host or "localhost"


class _Message(Message):
    """Flask-Mail's message, written without folding its headers again."""

    def as_bytes(self) -> bytes:
        built = self._message()
        built.policy = email.policy.compat32  # its headers are read as stored, too
        out = BytesIO()
        BytesGenerator(out, mangle_from_=False, policy=_WRITE_POLICY).flatten(built)
        data = out.getvalue()
        head = data.split(b"\r\n\r\n", 1)[0]
        if any(len(line) > MAX_LINE for line in head.split(b"\r\n")):
            return super().as_bytes()  # a header too long for one line: folded
        return data


def message(row: OutboxRow, settings: Settings) -> Message:
    """The rendered row as a message: its subject and Reply-To shown as written
    (:mod:`.headers`), and its own Message-ID, the same at every attempt."""
    built = _Message(
        subject=literal(row.subject or ""),
        recipients=[row.recipient],
        body=row.body_text,
        html=row.body_html,
        sender=sender(settings),
        reply_to=display_address(row.reply_to) if row.reply_to else None,
        extra_headers=json.loads(row.headers) if row.headers else None,
    )
    built.msgId = message_id(row.id, row.created_at, domain(settings), settings.hash_key)
    return built


class _TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout: Flask-Mail sets none, so a
    server that accepts but never answers would hang the sender."""

    def __init__(self, mail: Any, timeout: float) -> None:
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        mail = self.mail
        smtp = smtplib.SMTP_SSL if mail.use_ssl else smtplib.SMTP
        host = smtp(mail.server, mail.port, timeout=self.timeout)
        host.set_debuglevel(int(mail.debug))
        if mail.use_tls:
            host.starttls()
        if mail.username and mail.password:
            host.login(mail.username, mail.password)
        return host


class Transport:
    """One SMTP connection for a batch of mail, opened on the first message: a
    batch of several mails costs one connect, one EHLO and one login."""

    def __init__(self, timeout: float) -> None:
        self.mail = current_app.extensions["mail"]
        self.timeout = timeout
        self.connection: _TimedConnection | None = None
        self.unreachable: Exception | None = None

    def send(self, message: Message) -> None:
        if not hasattr(self.mail, "server"):  # a host's own mail object: use it as it is
            self.mail.send(message)
            return
        if self.unreachable is not None:
            raise self.unreachable  # no second wait for a server that did not answer
        if self.connection is None:
            connection = _TimedConnection(self.mail, self.timeout)
            try:
                connection.__enter__()
            except Exception as exc:
                self.unreachable = exc
                raise
            self.connection = connection
        self.connection.send(message)

    def close(self, broken: bool = False) -> None:
        if self.connection is not None:
            host = self.connection.host
            try:
                if host is not None and not broken:
                    host.quit()
                elif host is not None:
                    host.close()
            except Exception:  # noqa: BLE001 - a connection that died is closed already
                log.debug("privacy mail: closing a broken SMTP connection")
            self.connection = None
