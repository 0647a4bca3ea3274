"""The canonical address: the one form of an e-mail address every lookup uses.

Addresses that differ only in case, in surrounding spaces, or in how their
internationalised domain is written (``exämple.org`` or ``xn--exmple-cua.org``)
belong to one person. :func:`canonical` turns any of them into one string, which
is what the package stores and what every export, erasure, hold, request,
newsletter and CLI lookup compares against. :func:`matches` is the comparison
in SQL, for the package's columns (canonical already) and for a host's columns
(any case: compared on ``lower(column)``).

The canonical form is all ASCII: the local part lower-cased, the domain in its
IDNA (punycode) form. That keeps ``lower()`` exact on every database (SQLite's
only folds ASCII) and every address deliverable without SMTPUTF8.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from .i18n import gettext as _
from .text import has_control

#: RFC 5321's limit for a path; longer input is refused before it is parsed.
MAX_LENGTH = 254


class InvalidAddress(ValueError):
    """Not an address the package can store and mail; the text is for the visitor."""


def canonical(value: str | None) -> str:
    """The canonical form of an address, or :class:`InvalidAddress`.

    Validated by email-validator (syntax only: a DNS lookup per form post would
    make answer times depend on the address). A local part with non-ASCII
    letters is refused: many mail servers cannot deliver it (no SMTPUTF8).
    """
    value = (value or "").strip()
    if not value:
        raise InvalidAddress(_("Enter your e-mail address."))
    if len(value) > MAX_LENGTH or has_control(value):
        raise InvalidAddress(_("Enter a valid e-mail address, like name@example.nl."))
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        if "SMTPUTF8" in str(exc) or any(ord(c) > 127 for c in value.rpartition("@")[0]):
            raise InvalidAddress(_(
                "Use an address with only unaccented letters, digits and . _ - + before "
                "the @: mail to this address may not arrive.")) from None
        raise InvalidAddress(_("Enter a valid e-mail address, like name@example.nl.")) from None
    address = f"{result.local_part.lower()}@{result.ascii_domain.lower()}"
    if len(address) > MAX_LENGTH:
        raise InvalidAddress(_("Enter a valid e-mail address, like name@example.nl."))
    return address


def lookup_key(value: str | None) -> str:
    """The canonical form for a lookup of something already stored (a hold being
    released, a ledger replay): never raises; what cannot be parsed is only
    stripped and lower-cased, so it still finds a row stored the same way."""
    try:
        return canonical(value)
    except InvalidAddress:
        return (value or "").strip().lower()


def mailbox(value: str | None) -> str:
    """The inbox an address delivers to: its canonical form without a ``+tag``
    (``victim+1@example.org`` and ``Victim+x@EXAMPLE.org`` are both
    ``victim@example.org``). What a per-mailbox mail ceiling counts: a tag costs
    nothing to vary, the mailbox behind it stays one person's."""
    key = lookup_key(value)
    local, at, domain = key.rpartition("@")
    if not at:
        return key
    return f"{local.partition('+')[0] or local}@{domain}"


class folded(FunctionElement[str]):  # noqa: N801 - an SQL function, named like one
    """``lower(column)``, except on MariaDB/MySQL: their default collations already
    compare case-insensitively, and there a plain index on the column serves
    (neither has an index on an expression that ``lower()`` would use)."""

    type = sa.String()
    inherit_cache = True
    name = "folded"


@compiles(folded)
def _folded(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(folded, "mysql")
@compiles(folded, "mariadb")
def _folded_by_collation(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


def column_key(column: ColumnElement[str], is_canonical: bool) -> ColumnElement[str]:
    """A column's addresses in canonical case: as they are where the package wrote
    them, folded (``lower(column)``) where a host may have stored any case."""
    return column if is_canonical else folded(column)


def matches(column: ColumnElement[str], address: str, is_canonical: bool) -> ColumnElement[bool]:
    """SQL: the column holds ``address`` (already canonical), whatever its case.

    On a host column this compares ``lower(column)``: an index serves it only if
    it is an index on that expression (the README shows one per database).
    """
    return column_key(column, is_canonical) == address
