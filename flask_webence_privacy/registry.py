"""Sources of personal data, and the retention rules each one brings.

``privacy.register(Model, ...)`` adds a :class:`Source`. The package's own models
register through the same :func:`make_source`, each feature module building its
own (with its own retention rules where a fixed period does not fit), so
export, erasure, the purge and the record of processing all read one list and
cannot disagree about where data lives or how it is removed.

Rules that concern one subject's rows name the column holding the address, so
the purge can keep what :mod:`~flask_webence_privacy.keeping` says is kept.
Anonymisation is :func:`anonymized_values`, for the purge and erasure alike;
:func:`remove` removes rows the way a source's registration says.

A source registered with ``owner`` has no address of its own: its rows belong to
the person of a row of another registered source, through a many-to-one
relationship or a foreign key (``Comment -> Post -> User``). Its lookups are
subqueries on that key (:meth:`Source.of_subject`, :meth:`Source.subject_key`),
and the sources it leads to are linked by :func:`resolve_owners` once they are
all registered. Rows that belong to a row go before it (:func:`children_first`,
:func:`owned_by`), so the foreign keys hold whatever the database enforces.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import (
    ColumnProperty,
    Mapper,
    RelationshipDirection,
    RelationshipProperty,
    Session,
    scoped_session,
)
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from . import address, labels
from .config import ConfigurationError, RetentionCategory, Settings, Text
from .models import Models

#: A custom erase receives a SELECT of the rows to remove and returns how many it
#: removed; it runs inside the erasure's (or the purge batch's) transaction and
#: must not commit (see ``Privacy.register``).
EraseFunction = Callable[[Select[tuple[object]]], int]
EraseMode = Literal["delete", "anonymize"] | EraseFunction
ERASE_MODES = ("delete", "anonymize")
#: What an anonymised text column holds instead of personal data.
PLACEHOLDER = "[erased]"
#: What an anonymised unique text column holds: this, then the row's key, so no
#: two rows ever hold the same value.
UNIQUE_PLACEHOLDER = PLACEHOLDER + "-"
#: The digits of a row's key an anonymised unique column must have room for.
KEY_DIGITS = 10


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
class OwnerLink:
    """Where the rows of a source registered with ``owner`` belong: ``column`` of
    its table holds ``key`` of a row of ``parent``."""

    column: sa.Column[Any]
    parent: Source
    key: sa.Column[Any]


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
    ``owner`` names the many-to-one relationship (or foreign-key column) through
    which each row belongs to a row of another registered source, and so to its
    person; such a source has no address column (``email`` is ``""``).
    ``anonymize`` is the columns an anonymising erasure writes over.
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
    owner: str | None = None
    anonymize: tuple[str, ...] = ()
    rules: SourceRules | None = field(default=None, compare=False)
    period: PeriodText | None = field(default=None, compare=False)
    field_labels: Mapping[str, labels.Label] = field(default_factory=dict, compare=False)
    value_labels: Mapping[str, labels.ValueLabels] = field(default_factory=dict, compare=False)
    #: Where ``owner`` leads: set by :func:`resolve_owners`, once the source it
    #: leads to is registered (before or after this one).
    link: OwnerLink | None = field(default=None, compare=False, repr=False)

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

    @property
    def owner_link(self) -> OwnerLink:
        """Where ``owner`` leads; an error naming it while that is not known yet."""
        if self.link is None:
            raise ConfigurationError(
                f"privacy.register({self.name}): owner={self.owner!r} leads to no "
                "registered source yet; register the model it leads to")
        return self.link

    def subject_key(self) -> ColumnElement[str]:
        """This source's address column in canonical case; for an owned source,
        its owner row's, as a subquery correlated to each row."""
        if self.owner is not None:
            link = self.owner_link
            return (sa.select(link.parent.subject_key()).where(link.key == link.column)
                    .correlate(self.table).scalar_subquery())
        return address.column_key(self.email_column, self.canonical_email)

    def of_subject(self, email: str) -> ColumnElement[bool]:
        """SQL: rows of the subject with this (canonical) address; for an owned
        source, rows whose owner row is the subject's (a subquery on the key)."""
        if self.owner is not None:
            link = self.owner_link
            return link.column.in_(sa.select(link.key).where(link.parent.of_subject(email)))
        clauses = [address.matches(self.table.c[name], email, self.canonical_email)
                   for name in (self.email, *self.other_emails)]
        return clauses[0] if len(clauses) == 1 else sa.or_(*clauses)

    def exported_fields(self) -> tuple[str, ...]:
        if self.fields is not None:
            return self.fields
        return tuple(c.name for c in self.table.columns)

    def retention_category(self) -> str:
        """The retention category the record and a breach scope name: the
        source's, or "per row (column)" where each row holds its own."""
        return f"per row ({self.category_column})" if self.category_column else self.category

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
    owner: str | None = None,
    anonymize: Iterable[str] | None = None,
    rules: SourceRules | None = None,
    period: PeriodText | None = None,
    field_labels: Mapping[str, labels.Label] | None = None,
    value_labels: Mapping[str, labels.ValueLabels] | None = None,
) -> Source:
    """Build a source, checking the names against the model's columns (and, for
    ``anonymize``, against what each column may hold)."""
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

    other_names = tuple(other_emails)
    if owner is not None:
        _check_owner_name(name, owner, email, other_names, canonical_email)
        email = ""  # the rows reach their person through the owner, not an address
    else:
        check("email", email)
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
    anonymize_names = tuple(anonymize) if anonymize is not None else None
    for column in anonymize_names or ():
        check("anonymize", column)
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
    source = Source(
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
        owner=owner,
        rules=rules,
        period=period,
        field_labels=field_label_map,
        value_labels=value_label_map,
    )
    if erase != "anonymize":
        if anonymize_names is not None:
            raise ConfigurationError(
                f"privacy.register({name}): anonymize={anonymize_names!r} is only used with "
                f"erase='anonymize' (erase is {erase!r})")
        return source
    return replace(source, anonymize=_anonymized_columns(source, anonymize_names))


def _check_owner_name(name: str, owner: str, email: str, other_emails: tuple[str, ...],
                      canonical_email: bool) -> None:
    """``owner`` comes instead of an address column. Where it leads is checked once
    every model is defined and registered (:func:`resolve_owners`): a backref
    exists only once the mappers are set up, and setting them up before every
    related class is defined would fail for good."""
    if not isinstance(owner, str) or not owner:
        raise ConfigurationError(f"privacy.register({name}): owner must be the name of a "
                                 f"relationship or a foreign-key column, not {owner!r}")
    if email != "email" or other_emails or canonical_email:
        raise ConfigurationError(
            f"privacy.register({name}): owner={owner!r} and an address column "
            f"(email/other_emails/canonical_email): rows reach their person through one of them")


def check_categories(sources: Iterable[Source], known: Mapping[str, RetentionCategory]) -> None:
    """Every fixed category must exist in ``PRIVACY_RETENTION``; named in the error."""
    for source in sources:
        if source.category_column is None and source.category not in known:
            raise ConfigurationError(
                f"privacy.register({source.name}): unknown retention category "
                f"{source.category!r}; PRIVACY_RETENTION has {', '.join(sorted(known))}"
            )


# -- rows that belong to a person through another source ----------------------------------


def resolve_owners(sources: Sequence[Source],
                   known: Mapping[str, RetentionCategory]) -> Sequence[Source]:
    """Link every registration with ``owner`` to the registered source it leads
    to, or stop with an error naming the model and the ``owner`` value: it leads
    to no registered source, is not many-to-one, makes a cycle, or would leave
    rows pointing at removed ones. Called at ``init_app`` with every source, and
    before each use (for a model registered after it); linked sources are left
    as they are. Returns ``sources``."""
    hosts = [s for s in sources if not s.builtin]
    pending = [s for s in hosts if s.owner is not None and s.link is None]
    if not pending:
        return sources
    by_table = {s.table: s for s in hosts}
    links: dict[int, OwnerLink] = {}
    for source in pending:
        column, key = _owner_columns(source)
        parent = by_table.get(key.table)
        if parent is None:
            raise ConfigurationError(
                f"privacy.register({source.name}): owner={source.owner!r} leads to table "
                f"{key.table.name}, which no registered model holds; register its model "
                "(privacy.register(...)) as well")
        links[id(source)] = OwnerLink(column, parent, key)
    for source in pending:
        _check_chain(source, links)
    for source in pending:
        link = links[id(source)]
        _check_removed_with_owner(source, link.parent, known)
        if link.column.name in source.anonymize:
            raise ConfigurationError(
                f"privacy.register({source.name}): anonymize= names {link.column.name}, the "
                f"key through which owner={source.owner!r} leads to the rows' person")
    for source in pending:
        # Sources are frozen (their options are compared); the link is the one
        # thing known only once the source it leads to is registered.
        object.__setattr__(source, "link", links[id(source)])
    return sources


def _owner_columns(source: Source) -> tuple[sa.Column[Any], sa.Column[Any]]:
    """The foreign-key column ``owner`` names (itself, or a many-to-one
    relationship's) and the column of the other table it references."""
    owner, name = source.owner, source.name
    where = f"privacy.register({name}): owner={owner!r}"
    try:
        mapper: Mapper[Any] = sa.inspect(source.model)
        # .attrs sets up the relationships (their direction and columns) first.
        prop = mapper.attrs.get(owner) if owner is not None else None
    except sa.exc.SQLAlchemyError as exc:
        raise ConfigurationError(f"{where}: the model's mapping fails: {exc}") from exc
    if isinstance(prop, RelationshipProperty):
        if prop.direction is not RelationshipDirection.MANYTOONE:
            raise ConfigurationError(
                f"{where} is a {prop.direction.name.lower().replace('to', '-to-')} "
                "relationship; it must be many-to-one (each row has one owner row)")
        pairs = prop.local_remote_pairs or []
        if len(pairs) != 1 or pairs[0][0].table is not source.table:
            raise ConfigurationError(f"{where} must join on one foreign-key column of "
                                     f"{source.table.name}")
        local, remote = pairs[0]
        return _as_column(local, where), _as_column(remote, where)
    if isinstance(prop, ColumnProperty):
        column = prop.columns[0]
    elif owner is not None and owner in source.table.c:
        column = source.table.c[owner]
    else:
        raise ConfigurationError(
            f"{where} is neither a relationship of {name} nor a column of {source.table.name}")
    column = _as_column(column, where)
    keys = list(column.foreign_keys)
    if column.table is not source.table or len(keys) != 1:
        raise ConfigurationError(
            f"{where}: column {column.name} must be a foreign key to one other table")
    try:
        return column, keys[0].column
    except sa.exc.NoReferencedTableError as exc:
        raise ConfigurationError(f"{where}: {exc}") from exc


def _as_column(element: Any, where: str) -> sa.Column[Any]:
    if not isinstance(element, sa.Column):
        raise ConfigurationError(f"{where} must join on plain columns, not {element}")
    return element


def _check_chain(source: Source, links: Mapping[int, OwnerLink]) -> None:
    """Following the owners from ``source`` ends at a source with an address."""
    seen = [source]
    current: Source | None = source
    while current is not None and current.owner is not None:
        link = current.link or links.get(id(current))
        if link is None:
            return  # checked when that one is linked
        current = link.parent
        if any(current is s for s in seen):
            path = " -> ".join(s.name for s in (*seen, current))
            raise ConfigurationError(
                f"privacy.register({source.name}): owner={source.owner!r} makes a cycle "
                f"({path}); the chain must end at a model with an address column")
        seen.append(current)


def _check_removed_with_owner(source: Source, parent: Source,
                              known: Mapping[str, RetentionCategory]) -> None:
    """Rows that go with their owner row can go: where the owner row is removed
    (deleted, or by a callable), an owned row must be removed before it, so it
    may not be anonymised in place nor outlive it by law."""
    if parent.erase == "anonymize":
        return  # the owner row stays; the owned rows keep their key
    if source.erase == "anonymize":
        raise ConfigurationError(
            f"privacy.register({source.name}): erase='anonymize', but its owner "
            f"{parent.name} (owner={source.owner!r}) is removed: anonymised rows would still "
            f"point at it. Erase {source.name} by 'delete' or anonymise {parent.name} too")
    mine, theirs = known.get(source.category), known.get(parent.category)
    if mine is None or theirs is None or mine.erasable:
        return  # an unknown category is named by check_categories
    reference = dt.datetime(2000, 1, 1)
    if theirs.erasable or mine.cutoff(reference) < theirs.cutoff(reference):
        raise ConfigurationError(
            f"privacy.register({source.name}): its rows are kept by law (category "
            f"{source.category!r}), but they go with their owner {parent.name} (owner="
            f"{source.owner!r}), which is kept {'less long' if not theirs.erasable else 'only'}"
            f" (category {parent.category!r}). Give {parent.name} a category kept at least "
            f"as long, or erase it by 'anonymize'")


def depth(source: Source) -> int:
    """How many owners lie between the source's rows and an address."""
    count, current = 0, source
    while current.link is not None:
        count, current = count + 1, current.link.parent
    return count


def children_first(sources: Sequence[Source]) -> list[Source]:
    """The sources with rows that belong to other rows before those: the order in
    which removing rows keeps every foreign key valid. Otherwise as registered."""
    return sorted(sources, key=depth, reverse=True)


def owned_by(source: Source, sources: Sequence[Source]) -> list[Source]:
    """The sources whose rows belong to rows of ``source``, at any depth, deepest first."""
    def under(candidate: Source) -> bool:
        current = candidate.link
        while current is not None:
            if current.parent is source:
                return True
            current = current.parent.link
        return False

    return children_first([s for s in sources if under(s)])


def rows_owned(source: Source, ancestor: Source, where: ColumnElement[bool]) -> ColumnElement[bool]:
    """SQL: rows of ``source`` that belong to the rows of ``ancestor`` matching
    ``where`` (a subquery per owner on the way)."""
    link = source.owner_link
    parent_rows = where if link.parent is ancestor else rows_owned(link.parent, ancestor, where)
    return link.column.in_(sa.select(link.key).where(parent_rows))


def remove(session: Session | scoped_session[Any], source: Source,
           where: ColumnElement[bool]) -> int:
    """Remove the rows of ``source`` matching ``where`` as its registration says,
    inside the caller's transaction; how many it removed.

    A callable gets a SELECT of the model whose rows are named through a derived
    table (:func:`materialized`), so it may delete through it on MySQL too.
    """
    if callable(source.erase):
        rows = materialized(sa.select(source.pk).where(where), "erased_rows")
        result = source.erase(sa.select(source.model).where(source.pk.in_(rows)))
        session.flush()
        return int(result or 0)
    statement: Any
    if source.erase == "anonymize":
        statement = sa.update(source.table).where(where).values(anonymized_values(source))
    else:
        statement = sa.delete(source.table).where(where)
    # rowcount: a row another purge removed meanwhile is not ours to count.
    done = session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(done, "rowcount", 0) or 0)


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


def _is_text(column: sa.Column[Any]) -> bool:
    """A column a marker can be written to (an enum's values are fixed)."""
    return isinstance(column.type, sa.String) and not isinstance(column.type, sa.Enum)


def is_unique(table: sa.Table, column: sa.Column[Any]) -> bool:
    """No two rows may hold the same value: the column's own flag, or a unique
    constraint or index it is part of."""
    if column.unique or column.primary_key:
        return True
    constraints = [c.columns for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    constraints += [i.columns for i in table.indexes if i.unique]
    return any(column.name in found for found in constraints)


def _key_room(source: Source) -> int:
    """Characters the row's key takes in a per-row marker."""
    length = getattr(source.pk.type, "length", None)
    return int(length) if length else KEY_DIGITS


def _anonymized_columns(source: Source, named: tuple[str, ...] | None) -> tuple[str, ...]:
    """The columns an anonymising erasure writes over, checked against the schema.

    ``named`` is the registration's ``anonymize``; without it, the ``fields``
    (every column when those name none) and the address, less the primary key,
    the timestamp, the category column (what the purge needs to find the row
    again) and foreign keys (links, not data about a person). Each column must
    take NULL, or be text: a unique one then gets a per-row marker, which needs
    room for the row's key.
    """
    table, name = source.table, source.name
    addresses = tuple(c for c in (source.email, *source.other_emails) if c)
    keep = {source.timestamp, source.category_column, source.pk.name}
    if named is None:
        wanted = (*(source.fields if source.fields is not None else table.c.keys()), *addresses)
        names = tuple(dict.fromkeys(
            c for c in wanted if c not in keep and not table.c[c].foreign_keys))
        how = ("anonymize= (by default the registration's fields and the address column) "
               "names")
    else:
        names = tuple(dict.fromkeys(named))
        how = "anonymize= names"
        stay = [c for c in names if c in keep]
        if stay:
            raise ConfigurationError(
                f"privacy.register({name}): {how} {', '.join(stay)}, which the purge needs to "
                "find the row again (the primary key, the timestamp, the category column)")
        missing = [c for c in addresses if c not in names]
        if missing:
            raise ConfigurationError(
                f"privacy.register({name}): anonymize= leaves out the address column "
                f"{', '.join(missing)}: an anonymised row would still name its person")
    if not names:
        raise ConfigurationError(
            f"privacy.register({name}): erase='anonymize' but no column to write over; "
            "name them with anonymize=(...)")
    fixed = [c for c in names if not table.c[c].nullable and not _is_text(table.c[c])]
    if fixed:
        raise ConfigurationError(
            f"privacy.register({name}): {how} {', '.join(fixed)}, which can hold neither "
            "NULL nor a marker (NOT NULL and not text); make them nullable or leave them "
            "out of anonymize=(...)")
    room = len(UNIQUE_PLACEHOLDER) + _key_room(source)
    short = [c for c in names if not table.c[c].nullable and is_unique(table, table.c[c])
             and (getattr(table.c[c].type, "length", None) or room) < room]
    if short:
        raise ConfigurationError(
            f"privacy.register({name}): {how} unique column(s) {', '.join(short)} too short "
            f"for the per-row marker {UNIQUE_PLACEHOLDER!r} + the row's key ({room} "
            "characters); make them nullable, longer, or leave them out")
    return names


def anonymous_value(source: Source, name: str) -> Any:
    """What an anonymised row holds in column ``name``: NULL where the column takes
    it, else the marker; in a unique column the marker and the row's key, so two
    anonymised rows never collide."""
    column = source.table.c[name]
    if column.nullable:
        return None
    if is_unique(source.table, column):
        return sa.literal(UNIQUE_PLACEHOLDER, sa.String) + sa.cast(source.pk, sa.String)
    return placeholder(column)


def anonymized_values(source: Source) -> dict[str, object]:
    """Column values that anonymise a row of ``source`` (its ``anonymize``
    columns): the one anonymiser, for the purge and erasure alike."""
    return {name: anonymous_value(source, name) for name in source.anonymize}


def not_anonymized(source: Source) -> ColumnElement[bool]:
    """Rows not anonymised yet (a column still differs from what anonymising
    writes): an anonymised row is not expired again."""
    clauses: list[ColumnElement[bool]] = []
    for name in source.anonymize:
        column, value = source.column(name), anonymous_value(source, name)
        clauses.append(column.is_not(None) if value is None else column != value)
    return sa.or_(*clauses)


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
