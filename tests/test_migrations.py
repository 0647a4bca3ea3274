"""Upgrading a site the way Flask sites do it: with Flask-Migrate (Alembic).

A host app on each database autogenerates its first migration: the package's
tables are in it with no extra step; it upgrades, downgrades to nothing and
upgrades again; autogenerate against the upgraded database then finds nothing
to change (named constraints, microsecond times, the same types everywhere).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from .conftest import BASE_CONFIG

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")


class MigrateSite:
    """``tests.migrate_site`` run by the ``flask`` command, as its maintainer runs it."""

    def __init__(self, database: dict, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.migrations = tmp_path / "migrations"
        self.env = {**os.environ, "FLASK_APP": "tests.migrate_site:create_app",
                    "PYTHONPATH": str(ROOT),
                    "MIGRATE_SITE_CONFIG": json.dumps({**BASE_CONFIG, **database}),
                    "MIGRATE_SITE_MIGRATIONS": str(self.migrations)}
        self.engine = sa.create_engine(database["SQLALCHEMY_DATABASE_URI"],
                                       **database.get("SQLALCHEMY_ENGINE_OPTIONS", {}))

    def run(self, *args: str, privacy: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "MIGRATE_SITE_PRIVACY": "1" if privacy else "0"}
        return subprocess.run([FLASK, *args], cwd=self.tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)

    def flask(self, *args: str, privacy: bool = True) -> str:
        done = self.run(*args, privacy=privacy)
        assert done.returncode == 0, f"flask {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def tables(self) -> set[str]:
        return set(sa.inspect(self.engine).get_table_names())

    def clean(self) -> None:
        """Leave the shared test database as it was found."""
        names = [t for t in self.tables()
                 if t.startswith("privacy_") or t in ("customer", "alembic_version")]
        metadata = sa.MetaData()
        metadata.reflect(self.engine, only=names)
        metadata.drop_all(self.engine)
        self.engine.dispose()


def test_flask_migrate_sees_upgrades_and_downgrades_the_package_tables(database, tmp_path):
    site = MigrateSite(database, tmp_path)
    flask = site.flask
    flask("db", "init")
    flask("db", "migrate", "-m", "privacy tables")
    (script,) = (site.migrations / "versions").glob("*.py")
    text = script.read_text()
    for table in ("privacy_consent_record", "privacy_outbox", "privacy_subscriber", "customer"):
        assert f"'{table}'" in text
    assert "pk_privacy_outbox" in text and "uq_privacy_subscriber_list_name_email" in text

    try:
        # The policy is recorded after the migrations, never before: it says so.
        early = site.run("privacy", "sync-policy")
        assert early.returncode == 2 and "flask db upgrade" in early.stderr, early.stderr
        flask("db", "upgrade")
        assert {"privacy_outbox", "privacy_data_request", "customer"} <= site.tables()
        assert "1 policy version(s) recorded" in flask("privacy", "sync-policy")
        assert "nothing new" in flask("privacy", "sync-policy")
        flask("db", "downgrade", "base")
        assert not [t for t in site.tables() if t.startswith("privacy_")]
        flask("db", "upgrade")
        # Nothing left to change: a second autogenerate writes no operations.
        out = flask("db", "migrate", "-m", "nothing")
        assert "No changes in schema detected" in out, out
    finally:
        site.clean()


def test_a_site_that_ran_init_db_still_upgrades_its_own_tables(database, tmp_path):
    """init-db once made the host's tables too, and the host's next `flask db upgrade`
    failed on them ("table user already exists"). Now it makes the package's only."""
    site = MigrateSite(database, tmp_path)
    site.flask("db", "init")
    # The site's own migration, written before it added the package.
    site.flask("db", "migrate", "-m", "the site", privacy=False)
    (script,) = (site.migrations / "versions").glob("*.py")
    assert "'customer'" in script.read_text() and "privacy_" not in script.read_text()
    try:
        out = site.flask("privacy", "init-db")
        assert "1 policy version(s) recorded" in out
        assert "customer" not in site.tables()
        site.flask("db", "upgrade")
        assert "customer" in site.tables()
        assert "nothing new" in site.flask("privacy", "sync-policy")
    finally:
        site.clean()


def test_init_db_says_to_migrate_when_a_table_is_from_an_older_version(make_sqlite_app):
    app = make_sqlite_app(create=False)
    db = app.extensions["webence_privacy"].db
    with app.app_context(), db.engine.begin() as conn:
        # The outbox as 0.1 made it: no live_links column.
        conn.execute(sa.text("CREATE TABLE privacy_outbox (id INTEGER PRIMARY KEY, kind VARCHAR(40))"))
    result = app.test_cli_runner().invoke(args=["privacy", "init-db"])
    assert result.exit_code != 0
    assert "privacy.E008" in result.output and "live_links" in result.output
    assert "run your migrations" in result.output


def test_a_database_the_package_does_not_support_is_named_at_start_up(make_sqlite_app):
    import pytest

    from flask_webence_privacy import ConfigurationError

    def setup(app, db, privacy):
        # A site on SQL Server (its driver installed, so SQLAlchemy made the engine).
        app.config["SQLALCHEMY_DATABASE_URI"] = "mssql+pyodbc://site@dsn"

    with pytest.raises(ConfigurationError, match="'mssql'.*sqlite, postgresql, mysql, mariadb"):
        make_sqlite_app(create=False, setup=setup)


def test_a_site_deployed_without_its_migration_says_so_not_a_traceback(make_sqlite_app, caplog):
    import logging

    app = make_sqlite_app(create=False)
    db = app.extensions["webence_privacy"].db
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "CREATE TABLE privacy_outbox (id INTEGER PRIMARY KEY, kind VARCHAR(40))"))
        db.create_all()
    with caplog.at_level(logging.ERROR, logger="flask_webence_privacy"):
        response = app.test_client().get("/privacy/contact", headers={"Accept-Language": "en"})
    assert response.status_code == 503
    assert "This page is being updated" in response.get_data(as_text=True)
    assert "privacy.E008" in caplog.text and "flask db upgrade" in caplog.text
