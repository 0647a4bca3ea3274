"""One person, one address: however a visitor types it, every lookup finds it.

An address typed as ``Erin.Unique@Example.com`` on the contact form is the same
person as ``erin.unique@example.com`` in an access or erasure request, in the
package's own tables and in the host's registered models alike. And the rules
around erasure live in one place: what the erasure page promises is what the
erasure does, records under a legal hold are kept and reported, and a row looks
the same after an erasure as after the purge.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import sqlalchemy as sa

from flask_webence_privacy import InvalidAddress, canonical
from flask_webence_privacy.models import utcnow

from .conftest import csrf_token, handles, host_model
from .test_portal import act, file_request, scan, verified

TYPED = "Erin.Unique@Example.com"
LOOKUP = "erin.unique@example.com"
URL = "/privacy/contact"
#: What the person leaves behind: the address in any case, their name, their words.
TRACES = ["erin.unique", "Erin.Unique", "ERIN.", "Erin Unique", "Hoe laat"]


def host_models(app, db, privacy):
    """The host keeps customers (any case: typed in by staff) and orders."""

    Customer = host_model(db, "Customer", extra_columns={"name": sa.String(200)})

    class Order(db.Model):
        __tablename__ = "host_order"
        id = sa.Column(sa.Integer, primary_key=True)
        email = sa.Column(sa.String(254), nullable=True)
        name = sa.Column(sa.String(100), nullable=False)
        total = sa.Column(sa.Integer)
        created_at = sa.Column(sa.DateTime, default=utcnow)

    privacy.register(Customer, label={"en": "Customers", "nl": "Klanten"})
    privacy.register(Order, erase="anonymize", fields=("email", "name"))
    app.extensions["test_models"] = (Customer, Order)


@pytest.fixture
def site(make_app):
    return make_app(setup=host_models)


def send_contact_form(app, email, inbox):
    """The visitor sends a question; both its mails (maintainer, visitor) arrive."""
    client = app.test_client()
    response = client.post(URL, data={
        "csrf_token": csrf_token(client, URL), "purpose": "question", "name": "Erin Unique",
        "email": email, "phone": "", "company": "", "message": "Hoe laat zijn jullie open?",
        "age_ok": "y", "website": ""}, follow_redirects=True)
    assert response.status_code == 200
    inbox.wait(2)


def counts(export):
    return {s["source"]: s["count"] for s in export["sources"] if s["count"]}


# -- the canonical address -------------------------------------------------------------


@pytest.mark.parametrize(("typed", "expected"), [
    ("Erin.Unique@Example.com", "erin.unique@example.com"),
    ("  erin.unique@EXAMPLE.COM \t", "erin.unique@example.com"),
    ("Erin@EXÄMPLE.org", "erin@xn--exmple-cua.org"),
    ("erin@xn--exmple-cua.org", "erin@xn--exmple-cua.org"),
])
def test_every_spelling_of_one_address_has_one_canonical_form(app, typed, expected):
    with app.test_request_context():
        assert canonical(typed) == expected


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Enter your e-mail address."),
    ("erin@", "Enter a valid e-mail address"),
    ("erin@example.com\nBcc: x@example.org", "Enter a valid e-mail address"),
    ("ünïcode@exämple.org", "only unaccented letters"),
    ("a" * 250 + "@example.com", "Enter a valid e-mail address"),
])
def test_an_address_that_cannot_be_stored_and_mailed_is_refused_with_a_reason(app, typed, message):
    with app.test_request_context(headers={"Accept-Language": "en"}), \
            pytest.raises(InvalidAddress, match=message):
        canonical(typed)


def test_the_contact_form_says_why_a_non_ascii_local_part_is_refused(app, inbox):
    client = app.test_client()
    response = client.post(URL, headers={"Accept-Language": "en"}, data={
        "csrf_token": csrf_token(client, URL, headers={"Accept-Language": "en"}),
        "purpose": "question", "name": "Ünï", "email": "ünïcode@exämple.org",
        "message": "Hallo", "age_ok": "y", "website": ""}, follow_redirects=True)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "only unaccented letters" in page
    assert 'value="ünïcode@exämple.org"' in page  # what they typed is kept
    db, _ = handles(app)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(
            app.extensions["webence_privacy"].models.ContactMessage.__table__)) == 0


# -- every source kind finds the person ------------------------------------------------------


def test_a_mixed_case_address_is_exported_and_erased_from_package_and_host_models(site, inbox):
    send_contact_form(site, TYPED, inbox)
    db, privacy = handles(site)
    Customer, Order = site.extensions["test_models"]
    with site.app_context():
        # Staff typed the customer's address in yet another case.
        db.session.add(Customer(email="ERIN.Unique@example.COM", name="Erin Unique"))
        db.session.add(Order(email="Erin.Unique@Example.Com", name="Erin", total=12))
        db.session.commit()
        found = counts(privacy.export_subject(LOOKUP))
        assert found == {"ContactMessage": 1, "ConsentRecord": 1, "Outbox": 2,
                         "Customer": 1, "Order": 1}
        report = privacy.erase_subject(" ERIN.UNIQUE@example.com ")
        assert {r.name: r.count for r in report.erased} == found
        assert report.kept == []
        assert counts(privacy.export_subject(TYPED)) == {}
        order = db.session.scalars(sa.select(Order)).one()
        assert (order.email, order.name, order.total) == (None, "[erased]", 12)
    assert scan(site, TRACES) == []


def test_an_internationalised_domain_is_one_person_whichever_way_it_is_written(site, inbox):
    send_contact_form(site, "Erin@EXÄMPLE.org", inbox)
    _, privacy = handles(site)
    with site.app_context():
        assert counts(privacy.export_subject("erin@xn--exmple-cua.org"))["ContactMessage"] == 1
        assert counts(privacy.export_subject("ERIN@exämple.org"))["ContactMessage"] == 1


def test_the_portal_finds_what_was_typed_in_another_case(site, inbox):
    send_contact_form(site, TYPED, inbox)
    inbox.clear()
    client, link = verified(site, inbox, "access", email=LOOKUP)
    data = client.get(link + "/export.json").get_json()
    assert {s["source"]: s["count"] for s in data["sources"] if s["count"]}["ContactMessage"] == 1
    assert data["subject"] == LOOKUP


def test_the_cli_erases_whatever_case_the_maintainer_types(site, inbox):
    send_contact_form(site, TYPED, inbox)
    result = site.test_cli_runner().invoke(args=["privacy", "erase", "ERIN.unique@EXAMPLE.com",
                                                 "--yes"])
    assert result.exit_code == 0, result.output
    assert "erased\tContactMessage\t1" in result.output
    assert scan(site, TRACES) == []


def test_a_hold_typed_in_another_case_keeps_the_subject(site, inbox):
    send_contact_form(site, TYPED, inbox)
    _, privacy = handles(site)
    with site.app_context():
        privacy.hold("ERIN.UNIQUE@EXAMPLE.COM", "claim about invoice 2026-031")
        report = privacy.purge(now=utcnow() + dt.timedelta(days=800))
        assert report.count("ContactMessage") == 0
        assert privacy.release(TYPED) == 1
        report = privacy.purge(now=utcnow() + dt.timedelta(days=800))
        assert report.count("ContactMessage") == 1


# -- one "kept" rule, one erasure plan --------------------------------------------------------


def test_an_erasure_keeps_what_is_on_hold_and_says_why(site, inbox):
    send_contact_form(site, TYPED, inbox)
    _, privacy = handles(site)
    with site.app_context():
        privacy.hold(TYPED, "a claim about an invoice")
    inbox.clear()
    client, link = verified(site, inbox, "erasure", email=LOOKUP)
    page = client.get(link, headers={"Accept-Language": "en"}).get_data(as_text=True)
    # The page promises what the erasure will do: nothing erased, all kept for the claim.
    assert "What we must keep" in page and "legal claim" in page
    assert "What will be erased" not in page
    response = act(client, link, action="erase")
    assert response.status_code == 303
    done = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "rechtsvordering" in done  # the result page, in Dutch (no Accept-Language)
    with site.app_context():
        found = counts(privacy.export_subject(LOOKUP))
        assert found["ContactMessage"] == 1 and found["ConsentRecord"] == 1


def test_an_erasure_keeps_a_restricted_subject_through_the_same_rule_as_the_purge(site, inbox):
    send_contact_form(site, TYPED, inbox)
    db, privacy = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        db.session.add(models.SubjectMark(email=LOOKUP, kind="restriction", grounds="dispuut"))
        db.session.commit()
        report = privacy.erase_subject(TYPED)
        assert report.erased == []
        assert {r.name for r in report.kept} == {"ContactMessage", "ConsentRecord", "Outbox"}
        assert all("GDPR art. 18" in r.reason or "AVG art. 18" in r.reason for r in report.kept)
        purged = privacy.purge(now=utcnow() + dt.timedelta(days=800))
        assert purged.count("ContactMessage") == 0


def test_an_unverified_restriction_request_blocks_nobody(site, inbox):
    send_contact_form(site, TYPED, inbox)
    client = site.test_client()
    file_request(client, LOOKUP, "restriction")  # anyone can type anyone's address
    _, privacy = handles(site)
    with site.app_context():
        report = privacy.erase_subject(LOOKUP)
        assert report.kept == [] and report.erased_count >= 4


def test_the_erasure_plan_and_the_erasure_report_agree(site, inbox):
    send_contact_form(site, TYPED, inbox)
    db, privacy = handles(site)
    Customer, _ = site.extensions["test_models"]
    with site.app_context():
        db.session.add(Customer(email=TYPED, name="Erin"))
        db.session.commit()
        plan = privacy.erasure_plan(LOOKUP)
        assert plan.planned and plan.erased_count == 5
        report = privacy.erase_subject(LOOKUP)
        assert report.as_dict() == plan.as_dict()


def test_a_row_looks_the_same_after_an_erasure_as_after_the_purge(site):
    db, privacy = handles(site)
    _, Order = site.extensions["test_models"]
    with site.app_context():
        old = dt.datetime(2020, 1, 1)
        db.session.add(Order(email="a@example.nl", name="Ans", total=5, created_at=old))
        db.session.add(Order(email="b@example.nl", name="Bob", total=5, created_at=old))
        db.session.commit()
        privacy.erase_subject("a@example.nl")
        db.session.execute(sa.update(Order).where(Order.email == "b@example.nl")
                           .values(created_at=dt.datetime(2010, 1, 1)))
        db.session.commit()
        assert privacy.purge(now=dt.datetime(2026, 11, 25)).count("Order") == 1
        rows = [(r.email, r.name, r.total) for r in db.session.scalars(sa.select(Order))]
        assert rows == [(None, "[erased]", 5), (None, "[erased]", 5)]


def test_the_pending_sign_up_of_a_restricted_subject_survives_the_purge(make_app, inbox):
    app = make_app()
    db, privacy = handles(app)
    models = app.extensions["webence_privacy"].models
    with app.app_context():
        db.session.add(models.Subscriber(email="rest@example.nl", status="pending",
                                         created_at=dt.datetime(2026, 1, 1)))
        db.session.add(models.Subscriber(email="gone@example.nl", status="pending",
                                         created_at=dt.datetime(2026, 1, 1)))
        db.session.add(models.SubjectMark(email="rest@example.nl", kind="restriction"))
        db.session.commit()
        report = privacy.purge(now=dt.datetime(2026, 11, 25))
        assert report.count("Subscriber", "pending") == 1
        left = db.session.scalars(sa.select(models.Subscriber.email)).all()
        assert left == ["rest@example.nl"]


# -- configuration read once ------------------------------------------------------------------


def test_a_misspelt_setting_is_named_in_a_warning(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="flask_webence_privacy"):
        make_app(create=False, PRIVACY_RETENTON={"default": {"years": 2}})
    assert "PRIVACY_RETENTON is not a setting" in caplog.text


def test_invalid_input_to_the_python_api_is_an_invalid_address(app):
    _, privacy = handles(app)
    with app.app_context(), pytest.raises(InvalidAddress):
        privacy.export_subject("not an address")
