"""A host site that manages its schema with Flask-Migrate, for the upgrade test.
Its database comes from MIGRATE_SITE_CONFIG (JSON) in the environment."""

from __future__ import annotations

import json
import os

import sqlalchemy as sa
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from flask_webence_privacy import Privacy

db = SQLAlchemy()
privacy = Privacy()
migrate = Migrate()


class Customer(db.Model):
    __tablename__ = "customer"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(254), index=True)
    name = sa.Column(sa.String(100))
    created_at = sa.Column(sa.DateTime)


privacy.register(Customer, category="customer", canonical_email=True)


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(json.loads(os.environ["MIGRATE_SITE_CONFIG"]))
    db.init_app(app)
    # MIGRATE_SITE_PRIVACY=0: the site as it was before it added the package.
    if os.environ.get("MIGRATE_SITE_PRIVACY", "1") == "1":
        privacy.init_app(app, db=db)
    migrate.init_app(app, db, directory=os.environ["MIGRATE_SITE_MIGRATIONS"])
    return app
