"""The shared data layer: consent proof is append-only; init-db creates the tables."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flask_webence_privacy import AppendOnlyError
from flask_webence_privacy.models import insert_all

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


def message_and_proof(models, wording):
    """A contact message and its consent record, not yet written."""
    return (models.ContactMessage(name="Anna", email="anna@example.nl", purpose="quote",
                                  message="Een offerte graag", policy_version="1"),
            models.ConsentRecord(email="anna@example.nl", purpose="contact", action="given",
                                 wording=wording, wording_hash="0" * 64, policy_version="1",
                                 form="contact"))


def test_rows_of_several_tables_are_written_together_with_their_ids_and_defaults(app):
    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        message, proof = message_and_proof(models, "Ja")
        mails = [models.Outbox(kind=kind, recipient="anna@example.nl", template="contact_ack",
                               language="nl", context="{}") for kind in ("a", "b")]
        insert_all(db.session, [message, proof, *mails])
        db.session.commit()
        # Each row has its id and its defaults, readable without a query.
        assert message.retention_category == "default" and message.created_at is not None
        assert proof.age_confirmed is False and [m.status for m in mails] == ["queued"] * 2
        stored = db.session.get(models.ContactMessage, message.id)
        assert (stored.name, stored.retention_category) == ("Anna", "default")
        assert db.session.get(models.ConsentRecord, proof.id).wording == "Ja"
        assert [db.session.get(models.Outbox, m.id).kind for m in mails] == ["a", "b"]


def test_rows_written_together_are_all_undone_when_one_fails(app):
    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        message, broken = message_and_proof(models, None)  # a proof's wording is required
        with pytest.raises(sa.exc.IntegrityError):
            insert_all(db.session, [message, broken])
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(
            models.ContactMessage)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(
            models.ConsentRecord)) == 0
