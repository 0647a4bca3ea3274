"""The shared data layer: consent proof is append-only; init-db creates the tables."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flask_webence_privacy import AppendOnlyError

from .conftest import handles


def test_consent_records_are_append_only(app):
    db, privacy = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        record = models.ConsentRecord(
            email="ana@example.nl", purpose="newsletter", action="given",
            wording="Ja, stuur mij de nieuwsbrief", wording_hash="0" * 64,
            policy_version="1", form="newsletter", age_confirmed=True,
        )
        db.session.add(record)
        db.session.commit()
        record.wording = "something else"
        with pytest.raises(AppendOnlyError):
            db.session.commit()
        db.session.rollback()
        stored = db.session.scalars(db.select(models.ConsentRecord)).one()
        assert stored.wording == "Ja, stuur mij de nieuwsbrief"


def test_init_db_creates_tables_and_records_versions(make_app):
    app = make_app(create=False, PRIVACY_POLICY_VERSIONS=[
        {"version": "2018-05-12", "effective": "2018-05-12"}])
    db, _ = handles(app)
    result = app.test_cli_runner().invoke(args=["privacy", "init-db"])
    assert result.exit_code == 0, result.output
    assert "1 policy version(s) recorded" in result.output
    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
        assert {"privacy_consent_record", "privacy_outbox", "privacy_contact_message",
                "privacy_subscriber", "privacy_data_request",
                "privacy_policy_version"} <= tables
        models = app.extensions["webence_privacy"].models
        row = db.session.scalars(db.select(models.PolicyVersion)).one()
        assert row.version == "2018-05-12" and row.snapshot
    again = app.test_cli_runner().invoke(args=["privacy", "init-db"])
    assert "0 policy version(s) recorded" in again.output
