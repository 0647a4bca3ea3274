"""Anonymising erasure that respects the host's schema: unique columns get values
that never collide, nullable ones NULL; ``anonymize`` says what is written over,
apart from ``fields`` (what is shown and exported); a schema it cannot write to
stops the start; a failing custom erase is logged whole, without the address,
and leaves nothing half erased.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
import sqlalchemy as sa

from flask_webence_privacy.config import ConfigurationError
from flask_webence_privacy.models import utcnow
from flask_webence_privacy.requests.erasure import ErasureFailed

from .conftest import handles, host_model

ANA, BOB = "ana@example.nl", "bob@example.nl"


def member_model(db: Any, **columns: Any) -> Any:
    """A quoted "user" table: unique, NOT NULL username and email, a nullable bio
    and plan, and any ``columns`` more."""
    table = sa.Table(
        "user", db.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(254), unique=True, nullable=False),
        sa.Column("username", sa.String(40), unique=True, nullable=False),
        sa.Column("bio", sa.Text, nullable=True),
        sa.Column("plan", sa.String(20), nullable=True),
        *(sa.Column(name, type_, nullable=False) for name, type_ in columns.items()),
        sa.Column("created_at", sa.DateTime, default=utcnow, nullable=False),
    )
    sa.Index("ix_user_email_lower", sa.func.lower(table.c.email)).ddl_if(
        dialect=("postgresql", "sqlite"))
    return type("User", (db.Model,), {"__table__": table})


def members(**options: Any) -> Any:
    def setup(app: Any, db: Any, privacy: Any) -> None:
        User = member_model(db)
        privacy.register(User, erase="anonymize", **options)
        app.extensions["User"] = User
    return setup


def add_members(app: Any, when: dt.datetime | None = None) -> None:
    db, _ = handles(app)
    User = app.extensions["User"]
    with app.app_context():
        db.session.add_all([
            User(email=ANA, username="ana", bio="Ana's bio", plan="gold", created_at=when),
            User(email=BOB, username="bob", bio="Bob's bio", plan="basic", created_at=when)])
        db.session.commit()


def rows(app: Any) -> list[dict[str, Any]]:
    db, _ = handles(app)
    User = app.extensions["User"]
    with app.app_context():
        return [dict(r) for r in db.session.execute(
            sa.select(User.__table__).order_by(User.id)).mappings()]


def test_two_anonymised_users_with_unique_columns_never_collide(make_app):
    app = make_app(setup=members(fields=("username", "email", "bio")))
    add_members(app)
    _, privacy = handles(app)
    with app.app_context():
        first = privacy.erase_subject(ANA)
        second = privacy.erase_subject(BOB)
    assert first.erased_count == second.erased_count == 1
    ana, bob = rows(app)
    assert ana["username"] != bob["username"] and ana["email"] != bob["email"]
    assert ana["username"] == f"[erased]-{ana['id']}" and bob["email"] == f"[erased]-{bob['id']}"
    assert ana["bio"] is None and bob["bio"] is None
    assert ana["plan"] == "gold"  # not among the fields: not written over


def test_anonymize_writes_over_its_own_columns_apart_from_what_is_shown(make_app):
    app = make_app(setup=members(fields=("username", "plan"),
                                 anonymize=("username", "email", "bio")))
    add_members(app)
    _, privacy = handles(app)
    with app.app_context():
        shown = privacy.export_subject(ANA)
        privacy.erase_subject(ANA)
    user = next(s for s in shown["sources"] if s["source"] == "User")
    assert user["records"] == [{"username": "ana", "plan": "gold"}]
    ana, bob = rows(app)
    assert (ana["username"], ana["bio"], ana["plan"]) == (f"[erased]-{ana['id']}", None, "gold")
    assert bob["username"] == "bob"


def test_the_purge_anonymises_unique_columns_once(make_app):
    app = make_app(setup=members(fields=("username", "email", "bio")))
    add_members(app, when=dt.datetime(2020, 1, 1))
    _, privacy = handles(app)
    with app.app_context():
        first = privacy.purge(now=dt.datetime(2026, 11, 25))
        again = privacy.purge(now=dt.datetime(2026, 11, 25))
    assert first.count("User") == 2 and again.count("User") == 0
    assert {r["username"] for r in rows(app)} == {f"[erased]-{r['id']}" for r in rows(app)}


@pytest.mark.parametrize(("options", "extra", "named"), [
    ({"anonymize": ("username", "nickname")}, {}, r"User.*anonymize='nickname'"),
    ({"anonymize": ("email", "visits")}, {"visits": sa.Integer}, r"User.*visits.*NOT NULL"),
    ({"fields": ("email", "visits")}, {"visits": sa.Integer}, r"User.*visits.*NOT NULL"),
    ({"anonymize": ("email", "number")}, {"number": sa.Integer}, r"User.*number"),
    ({"anonymize": ("bio",)}, {}, r"User.*address column email"),
    ({"anonymize": ("email", "created_at")}, {}, r"User.*created_at"),
    ({"anonymize": ("email", "code")}, {"code": sa.String(12)}, r"User.*code.*too short"),
])
def test_a_schema_anonymising_cannot_write_to_stops_the_start(make_sqlite_app, options, extra,
                                                              named):
    def setup(app: Any, db: Any, privacy: Any) -> None:
        User = member_model(db, **extra)
        if "number" in extra or "code" in extra:
            User.__table__.append_constraint(sa.UniqueConstraint(*extra))
        privacy.register(User, erase="anonymize", **options)

    with pytest.raises(ConfigurationError, match=named):
        make_sqlite_app(setup=setup, create=False)


def test_anonymize_without_anonymising_erasure_stops_the_start(make_sqlite_app):
    def setup(app: Any, db: Any, privacy: Any) -> None:
        privacy.register(member_model(db), anonymize=("email",))

    with pytest.raises(ConfigurationError, match=r"User.*anonymize=.*erase is 'delete'"):
        make_sqlite_app(setup=setup, create=False)


def test_a_failing_erase_is_logged_whole_without_the_address_and_undone(make_app, caplog):
    def setup(app: Any, db: Any, privacy: Any) -> None:
        Note = host_model(db, "Note", extra_columns={"text": sa.Text})
        Archive = host_model(db, "Archive", extra_columns={"text": sa.Text})

        def erase_archive(rows: sa.Select[Any]) -> int:
            # A site's own clean-up that breaks, and names the person as it does.
            found = db.session.scalars(rows).all()
            raise RuntimeError(f"archive offline for {found[0].email.upper()}")

        privacy.register(Note)
        privacy.register(Archive, erase=erase_archive)
        app.extensions["models"] = (Note, Archive)

    app = make_app(setup=setup)
    db, privacy = handles(app)
    Note, Archive = app.extensions["models"]
    with app.app_context():
        db.session.add_all([Note(email=ANA, text="note"), Archive(email=ANA, text="old")])
        db.session.commit()
        with caplog.at_level(logging.ERROR), pytest.raises(ErasureFailed):
            privacy.erase_subject(ANA)
        left = (db.session.scalars(sa.select(Note.text)).all(),
                db.session.scalars(sa.select(Archive.text)).all())
    assert left == (["note"], ["old"])  # the note erased before the failure is back
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert "Traceback" in logged and "erase_archive" in logged
    assert "RuntimeError: archive offline for <address>" in logged
    assert ANA not in logged.lower()
