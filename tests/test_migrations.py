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


def test_flask_migrate_sees_upgrades_and_downgrades_the_package_tables(database, tmp_path):
    migrations = tmp_path / "migrations"
    env = {**os.environ, "FLASK_APP": "tests.migrate_site:create_app", "PYTHONPATH": str(ROOT),
           "MIGRATE_SITE_CONFIG": json.dumps({**BASE_CONFIG, **database}),
           "MIGRATE_SITE_MIGRATIONS": str(migrations)}

    def flask(*args: str) -> str:
        done = subprocess.run([FLASK, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"flask {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    flask("db", "init")
    flask("db", "migrate", "-m", "privacy tables")
    (script,) = (migrations / "versions").glob("*.py")
    text = script.read_text()
    for table in ("privacy_consent_record", "privacy_outbox", "privacy_subscriber", "customer"):
        assert f"'{table}'" in text
    assert "pk_privacy_outbox" in text and "uq_privacy_subscriber_list_name_email" in text

    engine = sa.create_engine(database["SQLALCHEMY_DATABASE_URI"],
                              **database.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    try:
        flask("db", "upgrade")
        assert {"privacy_outbox", "privacy_data_request", "customer"} <= set(
            sa.inspect(engine).get_table_names())
        flask("db", "downgrade", "base")
        assert not [t for t in sa.inspect(engine).get_table_names() if t.startswith("privacy_")]
        flask("db", "upgrade")
        # Nothing left to change: a second autogenerate writes no operations.
        out = flask("db", "migrate", "-m", "nothing")
        assert "No changes in schema detected" in out, out
    finally:
        # Leave the shared test database as it was found.
        flask("db", "downgrade", "base")
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()


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
