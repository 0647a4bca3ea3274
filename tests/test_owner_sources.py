"""Rows that belong to a person through another model: a blog's users, their
posts, and the comments on those posts (Comment -> Post -> User), linked by real
foreign keys that each database enforces (SQLite too: the test switches them on).

Only the user has an address. The posts and comments are registered with
``owner`` and follow their user through export, the data page, erasure, holds
and the purge.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import relationship

from flask_webence_privacy.config import ConfigurationError
from flask_webence_privacy.models import utcnow

from .conftest import Inbox, csrf_token, handles, wait_for_delivery

ANA, BOB = "ana@example.nl", "bob@example.nl"
NOW = dt.datetime(2026, 11, 25)
OLD = dt.datetime(2020, 1, 1)


def enforce_foreign_keys(app: Any, db: Any) -> None:
    """SQLite checks foreign keys only when each connection asks it to."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def foreign_keys_on(connection: Any, record: Any) -> None:
            connection.execute("PRAGMA foreign_keys=ON")


def blog_models(db: Any) -> tuple[Any, Any, Any]:
    """A quoted "user" table with unique username and email; posts and comments
    with NOT NULL foreign keys, declared as constraints."""

    class User(db.Model):
        __tablename__ = "user"
        id = sa.Column(sa.Integer, primary_key=True)
        email = sa.Column(sa.String(254), unique=True, nullable=False)
        username = sa.Column(sa.String(40), unique=True, nullable=False)
        created_at = sa.Column(sa.DateTime, default=utcnow, nullable=False)
        __table_args__ = (sa.Index("ix_user_email_lower", sa.func.lower(email)).ddl_if(
            dialect=("postgresql", "sqlite")),)

    class Post(db.Model):
        __tablename__ = "post"
        id = sa.Column(sa.Integer, primary_key=True)
        author_id = sa.Column(sa.ForeignKey("user.id"), nullable=False, index=True)
        title = sa.Column(sa.String(200), nullable=False)
        body = sa.Column(sa.Text, nullable=False)
        created_at = sa.Column(sa.DateTime, default=utcnow, nullable=False)
        author = relationship(User, backref="posts")

    class Comment(db.Model):
        __tablename__ = "comment"
        id = sa.Column(sa.Integer, primary_key=True)
        post_id = sa.Column(sa.ForeignKey("post.id"), nullable=False, index=True)
        text = sa.Column(sa.Text, nullable=False)
        created_at = sa.Column(sa.DateTime, default=utcnow, nullable=False)
        post = relationship(Post)

    return User, Post, Comment


def blog(app: Any, db: Any, privacy: Any) -> None:
    enforce_foreign_keys(app, db)
    User, Post, Comment = blog_models(db)
    # The user first, then the comments before the posts they belong to: the
    # order of registration is not the order of removal.
    privacy.register(User, fields=("username", "email"))
    privacy.register(Comment, owner="post", label={"en": "Comments", "nl": "Reacties"})
    privacy.register(Post, owner="author_id", label={"en": "Posts", "nl": "Berichten"})
    app.extensions["blog"] = (User, Post, Comment)


@pytest.fixture
def site(make_app: Any) -> Any:
    return make_app(setup=blog)


def seed(app: Any, when: dt.datetime | None = None) -> None:
    """Ana wrote two posts, each with a comment; Bob wrote one, with a comment."""
    db, _ = handles(app)
    User, Post, Comment = app.extensions["blog"]
    with app.app_context():
        for email, name, posts in ((ANA, "ana", 2), (BOB, "bob", 1)):
            user = User(email=email, username=name)
            db.session.add(user)
            for number in range(1, posts + 1):
                post = Post(author=user, title=f"{name} post {number}",
                            body=f"{name} writes {number}", created_at=when or utcnow())
                db.session.add(Comment(post=post, text=f"on {name} post {number}",
                                       created_at=when or utcnow()))
        db.session.commit()


def titles(app: Any) -> tuple[list[str], list[str], list[str]]:
    """What the three tables hold: usernames, post titles, comment texts."""
    db, _ = handles(app)
    User, Post, Comment = app.extensions["blog"]
    with app.app_context():
        return (sorted(db.session.scalars(sa.select(User.username))),
                sorted(db.session.scalars(sa.select(Post.title))),
                sorted(db.session.scalars(sa.select(Comment.text))))


def test_the_export_holds_the_persons_posts_and_comments_and_no_one_elses(site):
    seed(site)
    _, privacy = handles(site)
    with site.app_context():
        data = privacy.export_subject(ANA)
    sources = {s["source"]: s for s in data["sources"]}
    assert [r["title"] for r in sources["Post"]["records"]] == ["ana post 1", "ana post 2"]
    assert [r["text"] for r in sources["Comment"]["records"]] == ["on ana post 1",
                                                                  "on ana post 2"]
    assert [r["username"] for r in sources["User"]["records"]] == ["ana"]
    assert sources["Post"]["label"] == "Berichten"


def test_the_data_page_shows_the_persons_posts_and_comments(site, inbox):
    seed(site)
    client = site.test_client()
    client.post("/privacy/request", headers={"Referer": "https://webence.test/privacy/request"},
                data={"csrf_token": csrf_token(client, "/privacy/request"), "email": ANA,
                      "kind": "access"})
    inbox.wait(1)
    link = next(u for m in inbox.to(ANA) for u in Inbox.links(m) if "/privacy/request/" in u)
    link = re.sub(r"^https?://[^/]+|\?.*$", "", link)
    page = client.get(link).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post(link, data={"csrf_token": token, "action": "verify"}).status_code == 303
    wait_for_delivery(site)
    body = client.get(link).get_data(as_text=True)
    assert "Berichten" in body and "Reacties" in body
    assert "ana writes 1" in body and "on ana post 2" in body
    assert "bob" not in body


def test_erasure_removes_comments_then_posts_then_the_user_with_foreign_keys_enforced(site):
    seed(site)
    db, privacy = handles(site)
    User, Post, Comment = site.extensions["blog"]
    with site.app_context():
        # The database refuses a user whose posts remain: the keys are enforced.
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.delete(User).where(User.username == "ana"))
            db.session.flush()
        db.session.rollback()
        plan = privacy.erasure_plan(ANA)
        report = privacy.erase_subject(ANA)
    planned = [(r.name, r.count) for r in plan.erased]
    erased = [(r.name, r.count) for r in report.erased]
    assert erased == planned == [("Comment", 2), ("Post", 2), ("User", 1)]
    assert titles(site) == (["bob"], ["bob post 1"], ["on bob post 1"])


def test_a_hold_keeps_the_persons_posts_and_comments_through_erasure_and_purge(site):
    seed(site, when=OLD)
    db, privacy = handles(site)
    with site.app_context():
        privacy.hold(ANA, "a claim about a post")
        report = privacy.erase_subject(ANA)
        purged = privacy.purge(now=NOW)
    assert report.erased == []
    assert {(r.name, r.count) for r in report.kept} >= {("Comment", 2), ("Post", 2), ("User", 1)}
    # Bob's expired post and comment went; Ana's stay, all of them.
    assert purged.count("Post") == 1 and purged.count("Comment", "default") == 1
    assert titles(site) == (["ana", "bob"], ["ana post 1", "ana post 2"],
                            ["on ana post 1", "on ana post 2"])


def test_a_restriction_keeps_the_persons_posts_and_comments_from_the_purge(site):
    seed(site, when=OLD)
    db, privacy = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        db.session.add(models.SubjectMark(email=BOB, kind="restriction", grounds="disputed"))
        db.session.commit()
        purged = privacy.purge(now=NOW)
    assert purged.count("Post") == 2 and purged.count("Comment") == 2
    assert titles(site)[1:] == (["bob post 1"], ["on bob post 1"])


def test_the_purge_removes_an_expired_posts_comments_first(site):
    seed(site, when=OLD)
    db, privacy = handles(site)
    User, Post, Comment = site.extensions["blog"]
    with site.app_context():
        # The comments are new: only their posts have expired.
        db.session.execute(sa.update(Comment).values(created_at=NOW - dt.timedelta(days=1)))
        db.session.commit()
        planned = privacy.purge(now=NOW, dry_run=True)
        done = privacy.purge(now=NOW)
        again = privacy.purge(now=NOW)
    assert planned.count("Post") == done.count("Post") == 3
    assert planned.count("Comment") == done.count("Comment") == 3
    assert done.count("Comment", "default, with Post") == 3
    assert again.total == 0
    assert titles(site) == (["ana", "bob"], [], [])


def test_a_comment_past_its_own_period_goes_by_itself(site):
    seed(site)
    db, privacy = handles(site)
    User, Post, Comment = site.extensions["blog"]
    with site.app_context():
        db.session.execute(sa.update(Comment).where(Comment.text == "on ana post 1")
                           .values(created_at=OLD))
        db.session.commit()
        done = privacy.purge(now=NOW - dt.timedelta(days=1))
    assert done.count("Comment", "default") == 1 and done.count("Post") == 0
    assert titles(site)[2] == ["on ana post 2", "on bob post 1"]


# -- mistakes stop the start ------------------------------------------------------------


def registering(*register: tuple[str, dict[str, Any]]) -> Any:
    """A setup that registers the blog's models by name with the given options."""
    def setup(app: Any, db: Any, privacy: Any) -> None:
        models = dict(zip(("User", "Post", "Comment"), blog_models(db), strict=True))
        for name, options in register:
            privacy.register(models[name], **options)
    return setup


@pytest.mark.parametrize(("register", "named"), [
    ((("User", {}), ("Post", {"owner": "writer"})), r"Post.*owner='writer'"),
    ((("User", {}), ("Post", {"owner": "title"})), r"Post.*owner='title'.*foreign key"),
    ((("Post", {"owner": "author"}),), r"Post.*owner='author'.*user"),
    ((("User", {"owner": "posts"}), ("Post", {"owner": "author"})),
     r"User.*owner='posts'.*one-to-many"),
    ((("User", {}), ("Post", {"owner": "author", "email": "title"})), r"Post.*owner='author'"),
    ((("User", {}), ("Post", {"owner": "author", "erase": "anonymize"})),
     r"Post.*anonymi.*User"),
    ((("User", {}), ("Post", {"owner": "author", "category": "customer"})),
     r"Post.*kept by law.*User"),
])
def test_an_owner_that_leads_nowhere_stops_the_start_naming_it(make_sqlite_app, register, named):
    with pytest.raises(ConfigurationError, match=named):
        make_sqlite_app(setup=registering(*register), create=False)


def test_an_owner_cycle_stops_the_start(make_sqlite_app):
    def setup(app: Any, db: Any, privacy: Any) -> None:
        Left = type("Left", (db.Model,), {"__table__": sa.Table(
            "host_left", db.metadata, sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("right_id", sa.ForeignKey("host_right.id", use_alter=True)),
            sa.Column("created_at", sa.DateTime))})
        Right = type("Right", (db.Model,), {"__table__": sa.Table(
            "host_right", db.metadata, sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("left_id", sa.ForeignKey("host_left.id")),
            sa.Column("created_at", sa.DateTime))})
        privacy.register(Left, owner="right_id")
        privacy.register(Right, owner="left_id")

    with pytest.raises(ConfigurationError, match=r"Left.*owner='right_id'.*cycle"):
        make_sqlite_app(setup=setup, create=False)


def test_an_owner_registered_after_the_start_is_followed_at_first_use(make_sqlite_app):
    def setup(app: Any, db: Any, privacy: Any) -> None:
        enforce_foreign_keys(app, db)
        app.extensions["blog"] = blog_models(db)

    app = make_sqlite_app(setup=setup)
    db, privacy = handles(app)
    User, Post, Comment = app.extensions["blog"]
    with app.app_context():
        privacy.register(Post, owner="author")
        privacy.register(User)
        seed_users = [User(email=ANA, username="ana"), User(email=BOB, username="bob")]
        db.session.add_all(seed_users)
        db.session.add_all([Post(author=u, title=u.username, body="x") for u in seed_users])
        db.session.commit()
        report = privacy.erase_subject(ANA)
        left = db.session.scalars(sa.select(Post.title)).all()
    assert [(r.name, r.count) for r in report.erased] == [("Post", 1), ("User", 1)]
    assert left == ["bob"]
