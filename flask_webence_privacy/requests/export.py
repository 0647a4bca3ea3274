"""Access and portability (GDPR arts. 15 and 20): every record of a subject, from
every registered source, with its purpose and retention period; as a page, as
JSON and as a ZIP with a readable index and one CSV per source.

The JSON keeps the stored values (machine-readable); the page and the index
show each field and value as its source's registration labels it, in the
reader's language (:meth:`~flask_webence_privacy.registry.Source.value_text`).
Rows that belong to the subject through another registered model (``owner``)
are the subject's records like any other."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import sqlalchemy as sa
from flask import render_template
from sqlalchemy.engine import RowMapping

from ..config import localize
from ..models import utcnow
from ..policy import retention_info, source_period
from ..registry import Source, resolve_owners
from ..state import State


class SourceExport(TypedDict):
    source: str
    label: str
    purpose: str
    #: How long these rows are kept: the wording the privacy page shows too.
    period: str
    retention: dict[str, list[dict[str, Any]]]
    count: int
    records: list[dict[str, Any]]


class ReadableField(TypedDict):
    name: str
    label: str
    value: str


class ReadableSource(TypedDict):
    """One source of the data page: every field and value as a person reads it."""

    source: str
    label: str
    purpose: str
    period: str
    records: list[list[ReadableField]]


class SubjectExport(TypedDict):
    """What ``privacy.export_subject(email)`` returns (and ``export.json`` holds)."""

    controller: str
    contact: str
    subject: str
    generated_at: str
    sources: list[SourceExport]


def _value(value: object) -> object:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def rows_of(state: State, source: Source, email: str) -> Sequence[RowMapping]:
    """The subject's rows of one source (``email`` canonical), oldest first; for a
    source registered with ``owner``, the rows of the subject's rows of its owner
    (one query, a subquery per owner on the way)."""
    resolve_owners(state.sources, state.settings.retention)
    table = source.table
    return state.db.session.execute(
        sa.select(table).where(source.of_subject(email)).order_by(*table.primary_key)
    ).mappings().all()


def _categories(source: Source, rows: Sequence[RowMapping]) -> list[str]:
    if source.category_column is None:
        return [source.category]
    return sorted({r.get(source.category_column) or "default" for r in rows} or {"default"})


def _period(state: State, source: Source, rows: Sequence[RowMapping]) -> str:
    """The source's period as the privacy page words it; rows with a category
    each read their own categories'."""
    return source_period(state.settings, source, _categories(source, rows))


def _retention(state: State, source: Source, rows: Sequence[RowMapping],
               language: str) -> dict[str, list[dict[str, Any]]]:
    # A source with rules of its own (mail, consents, requests, the newsletter)
    # is not purged by a category's period: naming one would contradict "period".
    names = _categories(source, rows) if source.rules is None else []
    return {"categories": [retention_info(state.settings, n, language) for n in names
                           if n in state.settings.retention]}


def export_subject(state: State, email: str, language: str | None = None) -> SubjectExport:
    """Every record of ``email`` (canonical) from every registered source."""
    language = language or state.settings.default_language
    out: list[SourceExport] = []
    for source in state.sources:
        rows = rows_of(state, source, email)
        wanted = source.exported_fields()
        records = [{name: _value(row[name]) for name in wanted} for row in rows]
        out.append({
            "source": source.name,
            "label": localize(source.label, language) or source.name,
            "purpose": localize(source.purpose, language),
            "period": _period(state, source, rows),
            # The category column is read for the retention info even if not exported.
            "retention": _retention(state, source, rows, language),
            "count": len(records),
            "records": records,
        })
    return {
        "controller": state.settings.controller_name,
        "contact": state.settings.contact_email,
        "subject": email,
        "generated_at": utcnow().replace(microsecond=0).isoformat() + "Z",
        "sources": out,
    }


def readable_subject(state: State, email: str, language: str) -> list[ReadableSource]:
    """The sources holding records of ``email`` (canonical), each field labelled
    and each value worded in ``language`` (call it in that locale: dates and
    lazy labels follow the active one)."""
    out: list[ReadableSource] = []
    for source in state.sources:
        rows = rows_of(state, source, email)
        if not rows:
            continue
        wanted = source.exported_fields()
        out.append({
            "source": source.name,
            "label": localize(source.label, language) or source.name,
            "purpose": localize(source.purpose, language),
            "period": _period(state, source, rows),
            "records": [[{"name": name, "label": source.field_label(name, language),
                          "value": source.value_text(name, row[name], language)}
                         for name in wanted] for row in rows],
        })
    return out


def export_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)


def neutralise(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    # Spreadsheets skip leading blanks before they look for a formula.
    if text[:1] in ("\t", "\r") or text.lstrip()[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


def export_zip(data: SubjectExport, readable: Sequence[ReadableSource] = ()) -> bytes:
    """A ZIP with a readable index.html (``readable``: what the data page shows),
    export.json and one CSV per source."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", export_json(data))
        archive.writestr("index.html", render_template(
            "webence_privacy/request_export_index.html", data=data, sources=readable))
        for source in data["sources"]:
            if not source["records"]:
                continue
            text = io.StringIO()
            writer = csv.writer(text)
            columns = list(source["records"][0])
            writer.writerow([neutralise(c) for c in columns])
            for record in source["records"]:
                writer.writerow([neutralise(record.get(c)) for c in columns])
            archive.writestr(f"{source['source']}.csv", text.getvalue())
    return buffer.getvalue()
