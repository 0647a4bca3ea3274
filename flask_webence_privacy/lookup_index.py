"""Does a source's lookup by address have an index, and the DDL that gives it one.

Every export and erasure finds a person's rows by address
(:meth:`~flask_webence_privacy.registry.Source.of_subject`): on PostgreSQL and
SQLite a host's column is compared on ``lower(column)``, on MariaDB/MySQL as it
is (their ``*_ci`` collations ignore case), and a column registered with
``canonical_email=True`` as it is everywhere. An index serves those lookups when
its first expression is what they compare; without one each lookup reads the
whole table.

Two answers, for two moments. At start-up :func:`declared_gap` reads the model's
declared indexes only (no connection is made, and an index a migration would drop
because the model does not declare it is not one to count on). ``flask privacy
check`` asks :func:`database_gap`, which reads the indexes the database really
has. Both recognise the expression however it is written: ``lower(email)``,
``lower("user".email)``, ``LOWER(public."user"."email")``, PostgreSQL's
``lower((email)::text)``; and both suggest a ``CREATE INDEX`` quoted for the
database in use, under a name no index, constraint or table already has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.engine.reflection import Inspector

from .registry import Source

#: Databases that compare text by a case-insensitive collation: there a plain
#: index on the column serves (see :class:`~flask_webence_privacy.address.folded`).
COLLATING = ("mysql", "mariadb")


@dataclass(frozen=True)
class Gap:
    """A source whose lookups by address no index serves, and how to give it one."""

    source: Source
    #: What the lookups compare, as the database writes it: ``lower(email)``, ``email``.
    expression: str
    #: A free name for the new index.
    name: str
    #: The statement that creates it, valid for the database in use (no ``;``).
    ddl: str
    #: The model declares an index that would serve, but the database lacks it
    #: (the migration that creates it has not run).
    declared: bool = False
    #: The database compares by collation: a plain index on the column is the fix.
    collating: bool = False

    @property
    def model_index(self) -> str:
        """The same index declared on the model, so migrations create and keep it."""
        model, column = self.source.name, self.source.email
        if self.expression.lower().startswith("lower("):
            return f'sa.Index("{self.name}", sa.func.lower({model}.{column}))'
        return f"index=True on {model}.{column}"


def checked(source: Source) -> bool:
    """Whether the source looks rows up by an address column of its own: a source
    registered with ``owner=`` reaches its person through its owner's rows."""
    return getattr(source, "owner", None) is None


# -- reading an index expression ------------------------------------------------------------

_TOKEN = re.compile(r'"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|::|[^\W\d]\w*|\d+|\S')
_QUOTES = {'"': '"', "`": "`", "[": "]"}
#: Words after the expression that do not change what it is.
_ORDER_WORDS = frozenset({"asc", "desc", "nulls", "first", "last"})


def _tokens(text: str) -> list[tuple[bool, str]]:
    """(is an identifier or word, text lower-cased and unquoted) for each token."""
    found = []
    for token in _TOKEN.findall(text):
        close = _QUOTES.get(token[0])
        if close is not None and len(token) > 1 and token.endswith(close):
            found.append((True, token[1:-1].replace(close * 2, close).lower()))
        else:
            found.append((token[0].isalpha() or token[0] == "_", token.lower()))
    return found


def normal(text: str) -> str:
    """An index expression in one spelling, so two spellings of it compare equal:
    quotes, schema and table qualifiers, casts (``::text``), collations, sort
    order, case, spaces and redundant parentheses go.

    ``lower(public."User"."Email")``, ``LOWER(email)`` and ``lower((email)::text)``
    all read ``lower(email)``; ```user`.email`` reads ``email``.
    """
    tokens = _tokens(text)
    kept: list[str] = []
    i = 0
    while i < len(tokens):
        is_word, value = tokens[i]
        if value == "::" or (is_word and value == "collate"):
            # A cast or a collation: skip its type or collation name, words and
            # a parenthesised length (``character varying(254)``).
            i += 1
            while i < len(tokens) and tokens[i][0]:
                i += 1
            if i < len(tokens) and tokens[i][1] == "(":
                while i < len(tokens) and tokens[i][1] != ")":
                    i += 1
                i += 1
            continue
        if is_word and i + 1 < len(tokens) and tokens[i + 1][1] == ".":
            i += 2  # a schema or table qualifier
            continue
        if is_word and value in _ORDER_WORDS and kept and kept[-1] not in ("(", ","):
            i += 1  # after an expression: its sort order, not a name
            continue
        kept.append(value)
        i += 1
    joined = "".join(kept)
    while True:
        # Parentheses around a bare name (not a call's): ``lower((email))``.
        shorter = re.sub(r"(?<![\w$])\(([\w$]+)\)", r"\1", joined)
        if shorter.startswith("(") and _closing(shorter, 0) == len(shorter) - 1:
            shorter = shorter[1:-1]
        if shorter == joined:
            return joined
        joined = shorter


def _closing(text: str, start: int) -> int:
    """The index of the parenthesis that closes the one at ``start`` (-1: none)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _first_of_list(sql: str) -> str | None:
    """The first entry of a ``CREATE INDEX ... ON t (a, b)`` statement's list."""
    match = re.search(r"\bON\b", sql, re.IGNORECASE)
    if match is None:
        return None
    start = sql.find("(", match.end())
    end = _closing(sql, start) if start >= 0 else -1
    if end < 0:
        return None
    depth, inner = 0, sql[start + 1:end]
    for i, char in enumerate(inner):
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            return inner[:i]
    return inner


# -- what the lookups compare, and what the indexes start with -----------------------------


def lookup_expression(source: Source, dialect: Dialect) -> str:
    """What the lookups compare on ``dialect``, written as it writes it
    (``lower(email)``, ``lower("E-mail")``, ``email``): the address module's own
    expression, compiled, so this and the lookups cannot disagree."""
    return str(source.subject_key().compile(dialect=dialect,
                                            compile_kwargs={"include_table": False}))


def _created_on(item: object, dialect: Dialect) -> bool:
    """Whether ``create_all`` (and so a migration) makes this index on ``dialect``:
    ``.ddl_if(dialect=...)`` may leave it out (SQLAlchemy keeps that on ``_ddl_if``)."""
    condition = getattr(item, "_ddl_if", None)
    names = getattr(condition, "dialect", None)
    if names is None:
        return True
    names = (names,) if isinstance(names, str) else tuple(names)
    return dialect.name in names or (getattr(dialect, "is_mariadb", False) and "mariadb" in names)


def _declared_firsts(table: sa.Table, dialect: Dialect) -> Iterator[str]:
    """The first expression of every index the model declares for ``dialect``, and
    the first column of its unique constraints and primary key."""
    for index in table.indexes:
        if index.expressions and _created_on(index, dialect):
            yield str(index.expressions[0].compile(  # type: ignore[union-attr]
                dialect=dialect, compile_kwargs={"include_table": False}))
    for constraint in table.constraints:
        if isinstance(constraint, (sa.UniqueConstraint, sa.PrimaryKeyConstraint)):
            columns = list(constraint.columns)
            if columns:
                yield columns[0].name


def _sqlite_firsts(connection: Connection, table: sa.Table) -> Iterator[str]:
    """SQLite's indexes, expressions included (SQLAlchemy's reflection skips those):
    from ``PRAGMA index_list``/``index_xinfo`` and the statement SQLite keeps."""
    quote = connection.dialect.identifier_preparer.quote
    prefix = f"{quote(table.schema)}." if table.schema else ""
    master = f"{prefix}sqlite_master"
    for row in connection.exec_driver_sql(f"PRAGMA {prefix}index_list({quote(table.name)})"):
        name, partial = row[1], row[4]
        if partial:
            continue  # a partial index serves only the rows it names
        keys = [r for r in connection.exec_driver_sql(f"PRAGMA {prefix}index_xinfo({quote(name)})")
                if r[5]]
        if not keys:
            continue
        if keys[0][1] != -2:  # a column: index_xinfo names it
            yield str(keys[0][2])
            continue
        sql = connection.execute(sa.text(
            f"SELECT sql FROM {master} WHERE type = 'index' AND name = :name"  # noqa: S608 - a quoted schema name
        ), {"name": name}).scalar()
        first = _first_of_list(sql or "")
        if first is not None:
            yield first


def _reflected_firsts(connection: Connection, table: sa.Table) -> Iterator[str]:
    """The first expression of every index the database has on ``table``, and the
    first column of its unique constraints and primary key."""
    inspector: Inspector = sa.inspect(connection)
    pk = inspector.get_pk_constraint(table.name, schema=table.schema)
    if pk.get("constrained_columns"):
        yield pk["constrained_columns"][0]
    if connection.dialect.name == "sqlite":
        yield from _sqlite_firsts(connection, table)
        return
    for index in inspector.get_indexes(table.name, schema=table.schema):
        options = index.get("dialect_options") or {}
        if any(key.endswith("_where") and value for key, value in options.items()):
            continue  # a partial index serves only the rows it names
        first = (index.get("expressions") or index["column_names"] or [None])[0]
        if first:
            yield first
    for constraint in inspector.get_unique_constraints(table.name, schema=table.schema):
        if constraint["column_names"]:
            yield constraint["column_names"][0]


def _serves(expression: str, firsts: Iterable[str]) -> bool:
    wanted = normal(expression)
    return any(normal(first) == wanted for first in firsts)


# -- a free name and the statement ----------------------------------------------------------


def _declared_names(metadata: sa.MetaData) -> Iterator[str]:
    for table in metadata.tables.values():
        yield table.name
        for item in (*table.indexes, *table.constraints):
            name = getattr(item, "name", None)
            if isinstance(name, str):
                yield name


def _database_names(connection: Connection, schema: str | None) -> Iterator[str]:
    """Every index, constraint and table name of the schema: PostgreSQL and SQLite
    give indexes one namespace per schema, shared with tables."""
    inspector: Inspector = sa.inspect(connection)
    if connection.dialect.name == "sqlite":
        prefix = connection.dialect.identifier_preparer.quote(schema) + "." if schema else ""
        master = f"{prefix}sqlite_master"
        yield from connection.exec_driver_sql(
            f"SELECT name FROM {master}").scalars()  # noqa: S608 - a quoted schema name
        return
    yield from inspector.get_table_names(schema=schema)
    for found in (inspector.get_multi_indexes(schema=schema),
                  inspector.get_multi_unique_constraints(schema=schema)):
        for entries in found.values():
            yield from (entry["name"] for entry in entries if entry["name"])
    for pk in inspector.get_multi_pk_constraint(schema=schema).values():
        if pk.get("name"):
            yield str(pk["name"])


def free_name(base: str, taken: Iterable[str], limit: int) -> str:
    """``base`` (cut to ``limit`` characters), or with ``_2``, ``_3`` ... where
    that name is taken (compared whatever the case)."""
    used = {name.lower() for name in taken}
    candidate, number = base[:limit], 2
    while candidate.lower() in used:
        suffix = f"_{number}"
        candidate, number = base[:limit - len(suffix)] + suffix, number + 1
    return candidate


def _gap(source: Source, dialect: Dialect, taken: Iterable[str], declared: bool) -> Gap:
    expression = lookup_expression(source, dialect)
    lowered = normal(expression) != normal(source.email)
    base = f"ix_{source.table.name}_{source.email}" + ("_lower" if lowered else "")
    limit = getattr(dialect, "max_index_name_length", None) or dialect.max_identifier_length
    name = free_name(re.sub(r"\W", "_", base), taken, limit)
    preparer = dialect.identifier_preparer
    ddl = (f"CREATE INDEX {preparer.quote(name)} ON {preparer.format_table(source.table)} "
           f"({expression})")
    return Gap(source, expression, name, ddl, declared=declared,
               collating=dialect.name in COLLATING and not source.canonical_email)


# -- the two answers ------------------------------------------------------------------------


def declared_gap(source: Source, dialect: Dialect) -> Gap | None:
    """The model declares no index the lookups on ``dialect`` can use: the gap, with
    a name free among the names the models declare; None when one is declared."""
    if not checked(source):
        return None
    if _serves(lookup_expression(source, dialect), _declared_firsts(source.table, dialect)):
        return None
    return _gap(source, dialect, _declared_names(source.table.metadata), declared=False)


def database_gap(source: Source, connection: Connection) -> Gap | None:
    """The database has no index the lookups can use: the gap, with a name free in
    the database and among the models' names; None when one serves. A table the
    database does not have yet is judged by the model (its migration brings it)."""
    if not checked(source):
        return None
    dialect, table = connection.dialect, source.table
    declared = _serves(lookup_expression(source, dialect), _declared_firsts(table, dialect))
    if not sa.inspect(connection).has_table(table.name, schema=table.schema):
        return None if declared else declared_gap(source, dialect)
    if _serves(lookup_expression(source, dialect), _reflected_firsts(connection, table)):
        return None
    taken = [*_declared_names(table.metadata), *_database_names(connection, table.schema)]
    return _gap(source, dialect, taken, declared=declared)


def engine_for(db: SQLAlchemy, table: sa.Table, app: Flask | None = None) -> Engine:
    """The engine ``table``'s rows are read with (its bind's), of ``app`` or of the
    current app. Getting it connects to nothing."""
    key = table.metadata.info.get("bind_key")
    if app is not None:
        with app.app_context():
            return db.engines.get(key) or db.engine
    return db.engines.get(key) or db.engine
