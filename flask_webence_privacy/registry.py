"""Sources of personal data, and the retention rules each one brings.

``privacy.register(Model, ...)`` adds a :class:`Source`. The package's own models
register through the same :func:`make_source`, each feature module building its
own (with its own retention rules where a fixed period does not fit), so
export, erasure, the purge and the record of processing all read one list and
cannot disagree about where data lives or how it is removed.

Rules that concern one subject's rows name the column holding the address, so
the purge can keep what :mod:`~flask_webence_privacy.keeping` says is kept.
Anonymisation is :func:`anonymized_values`, for the purge and erasure alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from . import address, labels
from .config import ConfigurationError, RetentionCategory, Settings, Text
from .models import Models

#: A custom erase receives a SELECT of the rows to remove and returns how many it removed.
EraseFunction = Callable[[Select[tuple[object]]], int]
EraseMode = Literal["delete", "anonymize"] | EraseFunction
ERASE_MODES = ("delete", "anonymize")
#: What an anonymised text column holds instead of personal data.
PLACEHOLDER = "[erased]"


@dataclass(frozen=True)
class RuleContext:
    """What a retention rule is computed from: the settings, the models, the moment."""

    settings: Settings
    models: Models
    now: dt.datetime


@dataclass(frozen=True)
class Rule:
    """A set of expired rows of one table, and how to remove them."""

    table: sa.Table
    name: str
    category: str
    cutoff: dt.datetime
    where: ColumnElement[bool]
    #: The rows' address in canonical case, for the "kept" check; None: no subject.
    subject: ColumnElement[str] | None = None
    erase: EraseMode = "delete"
    source: Source | None = None
    #: An indexed column the batches may follow instead of the primary key (the
    #: timestamp the rule compares): then only expired rows are read.
    order: ColumnElement[Any] | None = None

    @property
    def pk(self) -> sa.Column[int]:
        (column,) = self.table.primary_key.columns
        return column


SourceRules = Callable[["Source", RuleContext], Iterable[Rule]]
ExtraRules = Callable[[RuleContext], Iterable[Rule]]
PeriodText = Callable[[Settings], str]


@dataclass(frozen=True)
class Source:
    """One registered model and how its rows are found, kept and removed.

    ``category`` is a retention category name; ``category_column`` names a column
    holding one per row (the contact form stores its purpose's category). ``erase``
    is ``"delete"``, ``"anonymize"`` (personal fields set to NULL or a marker) or a
    callable that receives a SELECT of the rows and returns how many it removed.
    ``canonical_email`` says the address column holds canonical addresses only
    (the package's own tables): compared as it is, so a plain index serves.
    ``rules`` replaces the category's rule with the feature's own; ``period``
    words the period for the privacy page where one category does not say it.
    ``field_labels`` (column -> label) and ``value_labels`` (column -> {value:
    label} or a function of value and language) say how the data page shows a
    record; columns without one get :data:`~.labels.FIELD_LABELS` or their name.
    """

    model: type
    table: sa.Table
    name: str
    category: str = "default"
    category_column: str | None = None
    email: str = "email"
    timestamp: str = "created_at"
    erase: EraseMode = "delete"
    fields: tuple[str, ...] | None = None
    editable: tuple[str, ...] = ()
    purpose: Text | None = None
    label: Text | None = None
    builtin: bool = False
    canonical_email: bool = False
    #: Further address columns whose rows are the subject's too (mail: recipient).
    other_emails: tuple[str, ...] = ()
    rules: SourceRules | None = field(default=None, compare=False)
    period: PeriodText | None = field(default=None, compare=False)
    field_labels: Mapping[str, labels.Label] = field(default_factory=dict, compare=False)
    value_labels: Mapping[str, labels.ValueLabels] = field(default_factory=dict, compare=False)

    def field_label(self, name: str, language: str) -> str:
        """A column's name as the data page shows it, in ``language``."""
        label = self.field_labels.get(name) or labels.FIELD_LABELS.get(name)
        return labels.text(label, language) if label is not None else name

    def value_text(self, name: str, value: object, language: str) -> str:
        """A stored value of column ``name`` as the data page shows it."""
        return labels.value_text(value, language, self.value_labels.get(name)
                                 or labels.VALUE_LABELS.get(name))

    def column(self, name: str) -> sa.Column[object]:
        return self.table.c[name]

    @property
    def email_column(self) -> ColumnElement[str]:
        column: ColumnElement[str] = self.table.c[self.email]
        return column

    @property
    def pk(self) -> sa.Column[object]:
        return next(iter(self.table.primary_key.columns))

    def subject_key(self) -> ColumnElement[str]:
        """This source's address column in canonical case."""
        return address.column_key(self.email_column, self.canonical_email)

    def of_subject(self, email: str) -> ColumnElement[bool]:
        """SQL: rows of the subject with this (canonical) address."""
        clauses = [address.matches(self.table.c[name], email, self.canonical_email)
                   for name in (self.email, *self.other_emails)]
        return clauses[0] if len(clauses) == 1 else sa.or_(*clauses)

    def lookup_expression(self) -> str:
        """What an index must be on for the lookups by address: the column where it
        holds canonical addresses, ``lower(column)`` where it may hold any case."""
        return self.email if self.canonical_email else f"lower({self.email})"

    def has_lookup_index(self) -> bool:
        """The model declares an index the lookups by address can use."""
        column = self.table.c[self.email]
        if self.canonical_email and (column.index or column.unique or column.primary_key):
            return True
        for index in self.table.indexes:
            first = str(index.expressions[0]) if index.expressions else ""
            if first.replace(f"{self.table.name}.", "").lower() == self.lookup_expression():
                return True
        return False

    def exported_fields(self) -> tuple[str, ...]:
        if self.fields is not None:
            return self.fields
        return tuple(c.name for c in self.table.columns)

    def retention_rules(self, context: RuleContext) -> list[Rule]:
        if self.rules is not None:
            return list(self.rules(self, context))
        return category_rules(self, context)


def make_source(
    model: type,
    *,
    category: str = "default",
    category_column: str | None = None,
    email: str = "email",
    timestamp: str = "created_at",
    erase: EraseMode = "delete",
    fields: Iterable[str] | None = None,
    editable: Iterable[str] = (),
    purpose: Text | None = None,
    label: Text | None = None,
    builtin: bool = False,
    canonical_email: bool = False,
    other_emails: Iterable[str] = (),
    rules: SourceRules | None = None,
    period: PeriodText | None = None,
    field_labels: Mapping[str, labels.Label] | None = None,
    value_labels: Mapping[str, labels.ValueLabels] | None = None,
) -> Source:
    """Build a source, checking the names against the model's columns."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, sa.Table):
        raise TypeError(f"privacy.register() needs a mapped model class, got {model!r}")
    name = getattr(model, "__name__", table.name)
    columns = set(table.c.keys())

    def check(arg: str, column: str | None) -> None:
        if column is not None and column not in columns:
            raise ConfigurationError(
                f"privacy.register({name}): {arg}={column!r} is not a column of {table.name}"
            )

    check("email", email)
    other_names = tuple(other_emails)
    for column in other_names:
        check("other_emails", column)
    check("timestamp", timestamp)
    check("category_column", category_column)
    field_names = tuple(fields) if fields is not None else None
    for column in field_names or ():
        check("fields", column)
    editable_names = tuple(editable)
    for column in editable_names:
        check("editable", column)
    field_label_map = dict(field_labels or {})
    value_label_map = dict(value_labels or {})
    for column in (*field_label_map, *value_label_map):
        check("field_labels" if column in field_label_map else "value_labels", column)
    for column, value_map in value_label_map.items():
        if not callable(value_map) and not isinstance(value_map, Mapping):
            raise ConfigurationError(
                f"privacy.register({name}): value_labels[{column!r}] must be a mapping "
                "of value to label or a function of (value, language)")
    if not callable(erase) and erase not in ERASE_MODES:
        raise ConfigurationError(
            f"privacy.register({name}): erase must be 'delete', 'anonymize' or a callable"
        )
    if not isinstance(category, str) or not category:
        raise ConfigurationError(f"privacy.register({name}): category must be a name")
    if len(table.primary_key.columns) != 1:
        raise ConfigurationError(f"privacy.register({name}): the table needs a one-column primary key")
    return Source(
        model=model,
        table=table,
        name=name,
        category=category,
        category_column=category_column,
        email=email,
        timestamp=timestamp,
        erase=erase,
        fields=field_names,
        editable=editable_names,
        purpose=purpose,
        label=label,
        builtin=builtin,
        canonical_email=canonical_email,
        other_emails=other_names,
        rules=rules,
        period=period,
        field_labels=field_label_map,
        value_labels=value_label_map,
    )


def check_categories(sources: Iterable[Source], known: Mapping[str, RetentionCategory]) -> None:
    """Every fixed category must exist in ``PRIVACY_RETENTION``; named in the error."""
    for source in sources:
        if source.category_column is None and source.category not in known:
            raise ConfigurationError(
                f"privacy.register({source.name}): unknown retention category "
                f"{source.category!r}; PRIVACY_RETENTION has {', '.join(sorted(known))}"
            )


# -- anonymisation ---------------------------------------------------------------------


def materialized(query: Select[Any], name: str) -> Select[Any]:
    """``query`` as a derived table the database must compute first. MySQL refuses
    a DELETE whose subquery reads the table being deleted from (error 1093) unless
    the subquery is such a table; DISTINCT keeps its optimiser from merging it
    back. Harmless elsewhere."""
    derived = query.distinct().subquery(name)
    return sa.select(*derived.c)


def placeholder(column: sa.Column[object]) -> str:
    """The marker a NOT NULL text column gets, cut to the column's length."""
    length = getattr(column.type, "length", None)
    return PLACEHOLDER[:length] if length else PLACEHOLDER


def anonymized_values(source: Source) -> dict[str, object]:
    """Column values that anonymise a row of ``source``: the one anonymiser, for
    the purge and erasure alike.

    The personal columns are the registration's ``fields`` (all columns when it
    names none) and always the address. Each is set to NULL where allowed, else
    to the placeholder for text; a NOT NULL non-text column keeps its value. The
    primary key, the timestamp and the category column (what the purge needs to
    find the row again) and foreign keys (links, not data about a person) stay.
    """
    table = source.table
    keep = {source.timestamp, source.category_column, *(c.name for c in table.primary_key.columns)}
    names = [*(source.fields if source.fields is not None else table.c.keys()), source.email]
    values: dict[str, object] = {}
    for name in names:
        column = table.c[name]
        if name in keep or column.foreign_keys:
            continue
        if column.nullable:
            values[name] = None
        elif isinstance(column.type, sa.String):
            values[name] = placeholder(column)
    return values


def not_anonymized(source: Source) -> ColumnElement[bool]:
    """Rows not anonymised yet: an anonymised row is not expired again."""
    column = source.column(source.email)
    return sa.and_(column.is_not(None), column != placeholder(column))


# -- the default rule: a category's period from the row's timestamp ------------------------


def category_rules(source: Source, context: RuleContext) -> list[Rule]:
    """Rows older than their category's period (one rule per category a row may have)."""
    stamp = source.column(source.timestamp)
    if source.category_column is None:
        categories = [context.settings.category(source.category)]
    else:
        categories = list(context.settings.retention.values())
    rules = []
    for category in categories:
        cutoff = category.cutoff(context.now)
        where: ColumnElement[bool] = stamp < cutoff
        if source.category_column is not None:
            where = sa.and_(source.column(source.category_column) == category.name, where)
        if source.erase == "anonymize":
            where = sa.and_(where, not_anonymized(source))
        rules.append(Rule(source.table, source.name, category.name, cutoff, where,
                          source.subject_key(), source.erase, source,
                          order=stamp if _indexed(source.table, stamp) else None))
    return rules


def _indexed(table: sa.Table, column: sa.Column[Any]) -> bool:
    """An index starts with ``column``, so ordering by it reads no more than needed."""
    return bool(column.index) or any(
        index.columns and next(iter(index.columns)) is column for index in table.indexes)
