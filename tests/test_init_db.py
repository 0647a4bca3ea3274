"""The package's tables and the policy record: ``flask privacy init-db`` creates
the package's tables and nothing of the host's; ``flask privacy sync-policy``
records the policy after the migrations, once; the first request of a process
records it when a deploy forgot to. On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from flask_webence_privacy import policy

from .conftest import handles

VERSIONS = [{"version": "2018-05-12", "effective": "2018-05-12"},
            {"version": "2024-01-01", "effective": "2024-01-01"}]


def host_site(make_app, **config):
    """A host with a quoted "user" table and posts that it has not created yet."""
    models = {}

    def setup(app, db, privacy):
        class User(db.Model):
            __tablename__ = "user"
            id = sa.Column(sa.Integer, primary_key=True)
            username = sa.Column(sa.String(80), unique=True, nullable=False)
            email = sa.Column(sa.String(254), unique=True, nullable=False)
            created_at = sa.Column(sa.DateTime)

        class Post(db.Model):
            __tablename__ = "post"
            id = sa.Column(sa.Integer, primary_key=True)
            user_id = sa.Column(sa.ForeignKey("user.id"))
            body = sa.Column(sa.Text)

        models.update(User=User, Post=Post)

    app = make_app(create=False, setup=setup, **config)
    return app, models


def table_names(app) -> set[str]:
    db, _ = handles(app)
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names())


def policy_rows(app) -> list[tuple[str, bool]]:
    db, _ = handles(app)
    PolicyVersion = app.extensions["webence_privacy"].models.PolicyVersion
    with app.app_context():
        rows = db.session.scalars(db.select(PolicyVersion).order_by(PolicyVersion.version))
        return [(row.version, row.snapshot is not None) for row in rows]


def columns(db, table: str) -> list[tuple[str, str, bool]]:
    return [(c["name"], str(c["type"]), c["nullable"])
            for c in sa.inspect(db.engine).get_columns(table)]


def privacy(app, *args: str):
    return app.test_cli_runner().invoke(args=["privacy", *args])


def test_init_db_leaves_the_host_table_alone_and_creates_only_its_own(make_app):
    app, models = host_site(make_app)
    db, _ = handles(app)
    User = models["User"]
    with app.app_context():
        # The host made its "user" table itself (its migrations), with a row in it.
        User.__table__.create(db.engine)
        db.session.add(User(username="ann", email="Ann@Example.com"))
        db.session.commit()
        columns_before = columns(db, "user")

    result = privacy(app, "init-db")
    assert result.exit_code == 0, result.output
    assert "Privacy tables ready" in result.output

    tables = table_names(app)
    package = {m.__table__.name for m in app.extensions["webence_privacy"].models.all()}
    assert package <= tables
    # The post table the host has not created yet is still the host's to create.
    assert tables - package == {"user"}
    with app.app_context():
        assert db.session.scalars(db.select(User.email)).all() == ["Ann@Example.com"]
        assert columns(db, "user") == columns_before


def test_sync_policy_records_once_and_says_so_the_second_time(make_app):
    app, _ = host_site(make_app, PRIVACY_POLICY_VERSIONS=VERSIONS)
    db, _ = handles(app)
    with app.app_context():
        db.create_all()  # as the host's migrations would
    first = privacy(app, "sync-policy")
    assert first.exit_code == 0, first.output
    assert "2 policy version(s) recorded; the snapshot of version 2024-01-01 stored." in first.output
    second = privacy(app, "sync-policy")
    assert second.exit_code == 0, second.output
    assert "nothing new" in second.output and "0 policy version(s) recorded" in second.output
    # The earlier version has no snapshot: today's configuration is not what it said.
    assert policy_rows(app) == [("2018-05-12", False), ("2024-01-01", True)]


def test_sync_policy_before_the_migrations_stops_with_exit_code_2(make_app):
    app, _ = host_site(make_app)
    result = privacy(app, "sync-policy")
    assert result.exit_code == 2
    assert "flask db upgrade" in result.output and "privacy.E007" in result.output
    assert table_names(app) == set()  # it creates nothing


def test_the_first_request_records_a_policy_a_deploy_forgot(make_app):
    app, _ = host_site(make_app, PRIVACY_POLICY_VERSIONS=VERSIONS)
    db, _ = handles(app)
    with app.app_context():
        db.create_all()  # migrations ran; sync-policy did not
    assert policy_rows(app) == []
    assert app.test_client().get("/privacy/").status_code == 200
    assert policy_rows(app) == [("2018-05-12", False), ("2024-01-01", True)]
    # A second process (another worker) finds it recorded and adds nothing.
    again, _ = host_site(make_app, PRIVACY_POLICY_VERSIONS=VERSIONS)
    assert again.test_client().get("/privacy/").status_code == 200
    assert policy_rows(app) == [("2018-05-12", False), ("2024-01-01", True)]


def test_recording_tolerates_another_process_recording_the_same_version(make_app):
    """Two workers' first requests at once: the one that inserts second meets the
    unique version, reads the winner's row and records nothing twice."""
    app, _ = host_site(make_app)
    db, _ = handles(app)
    state = app.extensions["webence_privacy"]
    table = state.models.PolicyVersion.__table__
    with app.app_context():
        db.create_all()
        session = db.session()

        @sa.event.listens_for(session, "before_flush", once=True)
        def the_other_worker_is_first(*args: object) -> None:
            with db.engine.begin() as other:
                other.execute(table.insert().values(
                    version="1", effective_date=dt.date(1970, 1, 1),
                    created_at=dt.datetime(2024, 1, 1)))

        done = policy.record(db, state.models, state.settings, state.sources, state.periods)
        db.session.remove()
    assert done.added == 0 and done.snapshot
    assert policy_rows(app) == [("1", True)]
