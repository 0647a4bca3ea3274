"""The address-index check: a host's quoted ``"user"`` table with its lower(email)
index is recognised; without one, the start-up warning and ``flask privacy check``
(W005) give a statement that runs on the site's database, under a free name, and
running it makes the finding go away. On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from flask_webence_privacy.lookup_index import declared_gap, normal
from flask_webence_privacy.registry import make_source

from .conftest import handles

#: The lookups compare lower(email) where the database has expression indexes;
#: MariaDB compares the column by its case-insensitive collation.
LOWER_INDEX_DIALECTS = ("postgresql", "sqlite")


def user_model(db, *, lower_index: bool):
    """The host's quoted "user" table: unique username, an address column without a
    plain index, and (if asked) the lower(email) index, as the README shows it."""

    class User(db.Model):
        __tablename__ = "user"
        id = sa.Column(sa.Integer, primary_key=True)
        username = sa.Column(sa.String(80), unique=True, nullable=False)
        email = sa.Column(sa.String(254), nullable=False)
        created_at = sa.Column(sa.DateTime)

    if lower_index:
        sa.Index("ix_user_email_lower", sa.func.lower(User.__table__.c.email)).ddl_if(
            dialect=LOWER_INDEX_DIALECTS)
        # MariaDB has no index on an expression; a plain one serves it there.
        sa.Index("ix_user_email", User.__table__.c.email).ddl_if(dialect=("mysql", "mariadb"))
    return User


def make_site(make_app, *, lower_index: bool, **config):
    def setup(app, db, privacy):
        privacy.register(user_model(db, lower_index=lower_index), category="customer")

    return make_app(setup=setup, **config)


def check(app) -> str:
    return app.test_cli_runner().invoke(args=["privacy", "check"]).output


def w005(output: str) -> str:
    """The W005 finding's text, or "" when there is none."""
    match = re.search(r"privacy\.W005: .*?\n    Fix: [^\n]*", output)
    return match.group(0) if match else ""


def suggested_ddl(output: str) -> str:
    match = re.search(r"Fix: (CREATE INDEX [^;]+);", w005(output))
    assert match, output
    return match.group(1)


def run(app, statement: str) -> None:
    db, _ = handles(app)
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql(statement)


def dialect_name(app) -> str:
    db, _ = handles(app)
    with app.app_context():
        return db.engine.dialect.name


def test_a_user_table_with_its_lower_email_index_gets_no_warning_nor_w005(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="flask_webence_privacy"):
        app = make_site(make_app, lower_index=True)
    assert "privacy.register(User)" not in caplog.text
    output = check(app)
    assert "privacy.W005" not in output, output


def test_without_it_w005_gives_a_statement_that_runs_and_ends_the_finding(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="flask_webence_privacy"):
        app = make_site(make_app, lower_index=False)
    dialect = dialect_name(app)
    ddl = suggested_ddl(check(app))
    expected = {
        "postgresql": 'CREATE INDEX ix_user_email_lower ON "user" (lower(email))',
        "sqlite": "CREATE INDEX ix_user_email_lower ON user (lower(email))",
        # "user" is a reserved word on PostgreSQL only: quoted there.
        "mysql": "CREATE INDEX ix_user_email ON user (email)",
    }[dialect]
    assert ddl == expected
    # The start-up warning says the same, read from the model.
    assert "privacy.register(User): no index on" in caplog.text and expected in caplog.text
    run(app, ddl)
    output = check(app)
    assert "privacy.W005" not in output, output


def test_a_name_already_taken_makes_the_suggestion_pick_another(make_app):
    app = make_site(make_app, lower_index=False)
    on_mariadb = dialect_name(app) == "mysql"
    taken = "ix_user_email" if on_mariadb else "ix_user_email_lower"
    table = "`user`" if on_mariadb else '"user"'
    # Someone's index on another column, named as the suggestion would be.
    run(app, f"CREATE INDEX {taken} ON {table} (username)")
    ddl = suggested_ddl(check(app))
    assert ddl.startswith(f"CREATE INDEX {taken}_2 ON ")
    run(app, ddl)
    assert "privacy.W005" not in check(app)


def test_an_index_the_model_declares_but_the_database_lacks_is_a_w005(make_app):
    app = make_site(make_app, lower_index=True)
    taken = "ix_user_email" if dialect_name(app) == "mysql" else "ix_user_email_lower"
    run(app, f"DROP INDEX {taken}" + (" ON `user`" if taken == "ix_user_email" else ""))
    output = w005(check(app))
    assert "The model declares one: the migration that creates it has not run" in output
    # The declared name is the model's: the suggestion does not take it.
    assert f"CREATE INDEX {taken}_2 ON " in output


def test_an_index_made_by_hand_in_any_spelling_is_found_in_the_database(make_app):
    app = make_site(make_app, lower_index=False)
    dialect = dialect_name(app)
    if dialect == "mysql":
        run(app, "CREATE INDEX by_hand ON `user` (`email`, username)")
    else:
        # Quoted, upper case: what a hand-written migration may hold.
        run(app, 'CREATE INDEX "By_Hand" ON "user" (LOWER("email"), username)')
    assert "privacy.W005" not in check(app)


def test_an_index_that_serves_only_some_lookups_does_not_count(make_app):
    app = make_site(make_app, lower_index=False)
    if dialect_name(app) == "mysql":
        run(app, "CREATE INDEX by_name ON `user` (username, email)")
    else:
        run(app, 'CREATE INDEX by_name ON "user" (username, lower(email))')
        run(app, 'CREATE INDEX some_users ON "user" (lower(email)) WHERE id < 10')
    assert "privacy.W005" in check(app)


# -- the spellings of one expression ----------------------------------------------------------


@pytest.mark.parametrize("spelling", [
    "lower(email)",
    'lower("user".email)',
    'LOWER(public."user"."email")',
    'lower(public."USER".Email)',
    "lower((email)::text)",
    "lower(email::character varying(254))",
    "lower(`user`.`email`)",
    '(lower("email")) DESC',
    'lower(email COLLATE "C")',
])
def test_each_spelling_of_lower_email_reads_the_same(spelling):
    assert normal(spelling) == "lower(email)"


@pytest.mark.parametrize("spelling", ["lower(username)", "upper(email)", "email",
                                      "lower(email_old)", "lower(email, 'x')"])
def test_other_expressions_do_not(spelling):
    assert normal(spelling) != "lower(email)"


def user_table(*indexes: sa.Index, schema: str | None = "public") -> sa.Table:
    return sa.Table("user", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("email", sa.String(254)), sa.Column("created_at", sa.DateTime),
                    *indexes, schema=schema)


def source_of(table: sa.Table, **options):
    return make_source(type("User", (), {"__table__": table}), **options)


@pytest.mark.parametrize("expression", [
    'lower("user".email)', 'LOWER(public."user"."email")', "lower(email)"])
def test_a_declared_index_written_as_text_counts(expression):
    dialect = postgresql.dialect()
    assert declared_gap(source_of(user_table()), dialect) is not None
    indexed = user_table(sa.Index("ix_user_email_lower", sa.text(expression)))
    assert declared_gap(source_of(indexed), dialect) is None


def test_a_table_in_a_schema_gets_a_schema_qualified_quoted_statement():
    gap = declared_gap(source_of(user_table()), postgresql.dialect())
    assert gap is not None
    assert gap.ddl == 'CREATE INDEX ix_user_email_lower ON public."user" (lower(email))'
    assert gap.model_index == 'sa.Index("ix_user_email_lower", sa.func.lower(User.email))'


def test_a_canonical_column_wants_a_plain_index_on_every_database():
    dialects = (postgresql.dialect(), sqlite.dialect(), mysql.dialect())
    source = source_of(user_table(schema=None), canonical_email=True)
    for dialect in dialects:
        gap = declared_gap(source, dialect)
        assert gap is not None and gap.expression == "email", dialect.name
    indexed = user_table(sa.Index("ix_user_email", "email"), schema=None)
    assert all(declared_gap(source_of(indexed, canonical_email=True), d) is None
               for d in dialects)
