"""A host app shaped like the Flask apps site builders run, with the package added
by the README alone ("Adding it to an existing app").

What makes it a real host: an app factory with module-level extensions;
Flask-Login (the admin check), Flask-Migrate, its own Flask-Babel with its own
selector and a Spanish catalogue of its own; a JSON API without CSRF tokens (and
optionally the host's own CSRFProtect for its HTML forms); a layout that loads
Bootstrap from a CDN and runs an inline script; a quoted ``"user"`` table with
unique ``username`` and ``email``; posts that reach their author through a
foreign key, and comments that reach the post.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flask_babel
import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask_babel import Babel
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_user
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flask_webence_privacy import Privacy

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=sa.MetaData(naming_convention=NAMING))
migrate = Migrate()
login = LoginManager()
babel = Babel()
csrf = CSRFProtect()
privacy = Privacy()


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "user"  # a reserved word: every statement must quote it
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str] = mapped_column(sa.String(120), unique=True)
    about_me: Mapped[str | None] = mapped_column(sa.String(140))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    posts: Mapped[list[Post]] = relationship(back_populates="author")


# Lookups compare lower(email); MariaDB's case-insensitive collation uses the unique index.
sa.Index("ix_user_email_lower", sa.func.lower(User.__table__.c.email)).ddl_if(
    dialect=("postgresql", "sqlite"))


class Post(db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(sa.String(140))
    timestamp: Mapped[dt.datetime] = mapped_column(index=True, default=now)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey(User.id), index=True)
    author: Mapped[User] = relationship(back_populates="posts")
    comments: Mapped[list[Comment]] = relationship(back_populates="post")


class Comment(db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey(Post.id), index=True)
    post: Mapped[Post] = relationship(back_populates="comments")


@login.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def get_locale() -> str | None:
    # The host's own choice for its own pages, as real apps write it: it reads the
    # request, so it raises if anyone calls it outside one.
    return request.accept_languages.best_match(current_app.config["LANGUAGES"])


def is_admin() -> bool:
    return bool(current_user.is_authenticated and current_user.username == "admin")


main = Blueprint("main", __name__)
api = Blueprint("api", __name__, url_prefix="/api")


@main.route("/")
def index() -> str:
    return render_template("index.html")


@main.route("/login/<username>", methods=["POST"])
def login_as(username: str) -> Any:
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        return jsonify(error="no such user"), 404
    login_user(user)
    return jsonify(ok=True)


@api.route("/posts", methods=["GET", "POST"])
def posts() -> Any:
    """A JSON API called by fetch() and scripts: no CSRF token, ever."""
    if request.method == "POST":
        data = request.get_json(silent=True) or {}
        user = db.session.scalar(sa.select(User).where(User.username == data.get("username")))
        if user is None or not data.get("body"):
            return jsonify(error="username and body are required"), 400
        post = Post(body=data["body"], author=user)
        db.session.add(post)
        db.session.commit()
        return jsonify(id=post.id), 201
    return jsonify([{"id": p.id, "body": p.body} for p in db.session.scalars(sa.select(Post))])


@api.route("/ping", methods=["POST"])
def ping() -> Any:
    return jsonify(pong=True, greeting=_("Hello"))


DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": "host-secret",
    "LANGUAGES": ["en", "es"],
    # The host's own CSRFProtect guards its HTML forms; its API is exempt, as in
    # real apps. HOST_CSRF=False builds the host without one.
    "HOST_CSRF": True,
    "PRIVACY_CONTROLLER_NAME": "Microblog",
    "PRIVACY_CONTACT_EMAIL": "privacy@microblog.example",
    "PRIVACY_SITE_URL": "https://microblog.example",
    "PRIVACY_HASH_KEY": "host-hash-key",
    "PRIVACY_BASE_TEMPLATE": "base.html",
    "PRIVACY_ADMIN_CHECK": is_admin,
    "PRIVACY_CSP": {"style-src": ["https://cdn.jsdelivr.net"],
                    "script-src": ["https://cdn.jsdelivr.net"]},
    "MAIL_DEFAULT_SENDER": "noreply@microblog.example",
    # WITH_PRIVACY=False builds the host as it was before the package: the
    # tests compare its own routes' answers with and without it.
    "WITH_PRIVACY": True,
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    db.init_app(app)
    migrate.init_app(app, db)
    login.init_app(app)
    babel.init_app(app, locale_selector=get_locale)
    if app.config["HOST_CSRF"]:
        csrf.init_app(app)
        csrf.exempt(api)
    app.register_blueprint(main)
    app.register_blueprint(api)
    # The layout says the language of the page (Flask-Babel has no such global).
    app.context_processor(lambda: {"get_locale": flask_babel.get_locale})
    if not app.config["WITH_PRIVACY"]:
        return app
    # Registered in the factory, as the README shows: each app the factory builds
    # registers the same models with the same options.
    privacy.register(User, erase="anonymize", fields=("username", "email", "about_me"),
                     label={"en": "Your account", "nl": "Uw account"})
    privacy.register(Post, owner="author", timestamp="timestamp", fields=("body",),
                     label={"en": "Your posts", "nl": "Uw berichten"})
    privacy.register(Comment, owner="post", fields=("text",),
                     label={"en": "Comments on your posts", "nl": "Reacties op uw berichten"})
    privacy.init_app(app, db=db)
    return app
