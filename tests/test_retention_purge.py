"""A site owner's promise, kept: data past its period is gone, the rest stays.

Each test builds the site's database, lets time pass (``now=``) and runs the
purge, then looks at what the database holds.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from flask_webence_privacy import retention
from flask_webence_privacy.config import ConfigurationError
from flask_webence_privacy.signals import records_purged
from tests.conftest import handles, host_model


def customer_model(app, db, privacy):
    """A host's own table of invoices: customer data, kept 7 years by law."""
    Invoice = host_model(db, "Invoice", table="host_invoice",
                         extra_columns={"amount": db.Integer})
    privacy.register(Invoice, category="customer")
    app.extensions["Invoice"] = Invoice


@pytest.fixture
def site(make_app):
    app = make_app(setup=customer_model)
    with app.app_context():
        yield app


def add_invoices(app, *stamps, email="klant@example.nl"):
    db, _ = handles(app)
    Invoice = app.extensions["Invoice"]
    for stamp in stamps:
        db.session.add(Invoice(email=email, amount=100, created_at=stamp))
    db.session.commit()


def add_messages(app, *stamps, category="default", email="bezoeker@example.nl"):
    db, privacy = handles(app)
    Message = privacy.sources[0].model
    for stamp in stamps:
        db.session.add(Message(name="Jan", email=email, purpose="question", message="Hallo",
                               retention_category=category, policy_version="1", created_at=stamp))
    db.session.commit()


def invoices(app):
    db, _ = handles(app)
    Invoice = app.extensions["Invoice"]
    return sorted(db.session.scalars(sa.select(Invoice.created_at)))


def messages(app):
    db, privacy = handles(app)
    Message = privacy.sources[0].model
    return sorted(db.session.scalars(sa.select(Message.created_at)))


def test_one_day_inside_the_year_is_kept_one_day_past_is_removed(site):
    now = dt.datetime(2026, 11, 25, 12, 0)
    inside = dt.datetime(2025, 11, 26, 12, 0)
    past = dt.datetime(2025, 11, 24, 12, 0)
    add_messages(site, inside, past)
    report = handles(site)[1].purge(now=now)
    assert messages(site) == [inside]
    assert report.count("ContactMessage", "default") == 1
    assert "ContactMessage" in str(report) and "2025-11-25" in str(report)


def test_seven_years_for_customer_data_from_a_29_february(site):
    # Stamped on a leap day: seven years later there is no 29 February, and the
    # period ends on 28 February 2031 (calendar arithmetic, not 7 * 365 days).
    leap = dt.datetime(2024, 2, 29, 9, 0)
    add_invoices(site, leap)
    _, privacy = handles(site)
    privacy.purge(now=dt.datetime(2031, 2, 27, 9, 0))
    assert invoices(site) == [leap], "one day inside seven years: kept"
    privacy.purge(now=dt.datetime(2031, 3, 1, 9, 0))
    assert invoices(site) == [], "one day past seven years: removed"


def test_seven_year_boundary_one_day_either_side(site):
    now = dt.datetime(2026, 11, 25)
    inside, past = dt.datetime(2019, 11, 26), dt.datetime(2019, 11, 24)
    add_invoices(site, inside, past)
    # A contact message of the customer category is on the same clock.
    add_messages(site, inside, past, category="customer")
    report = handles(site)[1].purge(now=now)
    assert invoices(site) == [inside]
    assert messages(site) == [inside]
    assert report.count("Invoice", "customer") == 1
    assert report.count("ContactMessage", "customer") == 1


def test_one_year_from_a_29_february(site):
    leap = dt.datetime(2024, 2, 29, 10, 0)
    add_messages(site, leap)
    _, privacy = handles(site)
    privacy.purge(now=dt.datetime(2025, 2, 27, 10, 0))
    assert messages(site) == [leap]
    privacy.purge(now=dt.datetime(2025, 3, 1, 10, 0))
    assert messages(site) == []


def test_dry_run_deletes_nothing_and_reports_the_same_counts(site):
    now = dt.datetime(2026, 11, 25)
    add_messages(site, *[dt.datetime(2024, 1, d) for d in range(1, 6)], dt.datetime(2026, 11, 1))
    add_invoices(site, dt.datetime(2010, 5, 5), dt.datetime(2025, 5, 5))
    _, privacy = handles(site)
    dry = privacy.purge(now=now, dry_run=True)
    assert len(messages(site)) == 6 and len(invoices(site)) == 2
    real = privacy.purge(now=now)
    assert dry.dry_run and not real.dry_run
    assert [(r.model, r.category, r.count) for r in dry.rows] == \
        [(r.model, r.category, r.count) for r in real.rows]
    assert real.total == 6
    assert "would remove" in str(dry)


def test_twice_gives_the_same_database(site):
    now = dt.datetime(2026, 11, 25)
    add_messages(site, dt.datetime(2020, 1, 1), dt.datetime(2026, 6, 1))
    add_invoices(site, dt.datetime(2015, 1, 1), dt.datetime(2022, 1, 1))
    _, privacy = handles(site)
    first = privacy.purge(now=now)
    state = (messages(site), invoices(site))
    second = privacy.purge(now=now)
    assert (messages(site), invoices(site)) == state
    assert first.total == 2 and second.total == 0


def test_signal_reports_each_model_and_category(site):
    add_messages(site, dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 2))
    add_invoices(site, dt.datetime(2010, 1, 1))
    seen = []

    def receiver(sender, **kwargs):
        seen.append((kwargs["model"], kwargs["category"], kwargs["count"]))

    records_purged.connect(receiver, site)
    try:
        handles(site)[1].purge(now=dt.datetime(2026, 11, 25), dry_run=True)
        assert seen == [], "a dry run reports, it does not announce a purge"
        handles(site)[1].purge(now=dt.datetime(2026, 11, 25))
    finally:
        records_purged.disconnect(receiver, site)
    assert ("ContactMessage", "default", 2) in seen
    assert ("Invoice", "customer", 1) in seen
    assert all(count > 0 for *_, count in seen)


def test_a_hold_keeps_the_subjects_rows_until_released(site):
    old = dt.datetime(2020, 1, 1)
    add_messages(site, old, email="claim@example.nl")
    add_messages(site, old, email="other@example.nl")
    _, privacy = handles(site)
    privacy.hold("claim@example.nl", "Dispute about invoice 2020-17")
    report = privacy.purge(now=dt.datetime(2026, 11, 25))
    assert messages(site) == [old]
    assert report.count("ContactMessage") == 1
    assert privacy.release("claim@example.nl") == 1
    privacy.purge(now=dt.datetime(2026, 11, 25))
    assert messages(site) == []


def test_an_open_restriction_keeps_the_subjects_rows(site):
    db, privacy = handles(site)
    models = site.extensions["webence_privacy"].models
    add_messages(site, dt.datetime(2020, 1, 1), email="restrict@example.nl")
    db.session.add(models.SubjectMark(email="restrict@example.nl", kind="restriction",
                                      grounds="contests accuracy"))
    db.session.commit()
    privacy.purge(now=dt.datetime(2026, 11, 25))
    assert len(messages(site)) == 1


def failing_erase(app, db, privacy):
    """A host whose custom erase breaks on its second call."""
    Note = host_model(db, "Note", table="host_note")
    calls = []

    def erase(query):
        calls.append(1)
        ids = [row.id for row in db.session.scalars(query)]
        # Delete the first row of the batch, then fail halfway on the second batch.
        db.session.execute(sa.delete(Note).where(Note.id == ids[0]))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        db.session.execute(sa.delete(Note).where(Note.id.in_(ids)))
        return len(ids)

    privacy.register(Note, erase=erase)
    app.extensions["Note"] = Note


def test_a_failure_in_the_second_batch_keeps_the_first_and_no_half_batch(make_app):
    app = make_app(setup=failing_erase, PRIVACY_PURGE_BATCH_SIZE=2)
    with app.app_context():
        db, privacy = handles(app)
        Note = app.extensions["Note"]
        for day in range(1, 6):
            db.session.add(Note(email=f"n{day}@example.nl", created_at=dt.datetime(2020, 1, day)))
        db.session.commit()
        with pytest.raises(RuntimeError, match="disk full"):
            privacy.purge(now=dt.datetime(2026, 11, 25))
        left = sorted(db.session.scalars(sa.select(Note.email)))
        # Batch 1 (n1, n2) is gone; batch 2 (n3, n4) is whole; n5 was not reached.
        assert left == ["n3@example.nl", "n4@example.nl", "n5@example.nl"]
        # A rerun finishes the job.
        privacy.purge(now=dt.datetime(2026, 11, 25))
        assert db.session.scalars(sa.select(Note.email)).all() == []


def test_an_unknown_category_in_a_registration_fails_at_start_up(make_app):
    def setup(app, db, privacy):
        privacy.register(host_model(db, "Archive", table="host_archive"), category="archief")

    with pytest.raises(ConfigurationError, match="archief"):
        make_app(setup=setup, create=False)


def test_a_row_with_an_unknown_category_stops_the_purge_before_anything_goes(site):
    add_messages(site, dt.datetime(2020, 1, 1))
    add_messages(site, dt.datetime(2020, 1, 1), category="vervallen")
    add_invoices(site, dt.datetime(2010, 1, 1))
    with pytest.raises(ConfigurationError, match="vervallen"):
        handles(site)[1].purge(now=dt.datetime(2026, 11, 25))
    assert len(messages(site)) == 2 and len(invoices(site)) == 1


def test_anonymize_keeps_the_row_without_the_person(make_app):
    def setup(app, db, privacy):
        class Order(db.Model):
            __tablename__ = "host_order"
            id = db.Column(db.Integer, primary_key=True)
            email = db.Column(db.String(254), nullable=True)
            name = db.Column(db.String(100), nullable=False)
            total = db.Column(db.Integer)
            created_at = db.Column(db.DateTime)

        privacy.register(Order, erase="anonymize", fields=("email", "name"))
        app.extensions["Order"] = Order

    app = make_app(setup=setup)
    with app.app_context():
        db, privacy = handles(app)
        Order = app.extensions["Order"]
        db.session.add(Order(email="a@example.nl", name="Ans", total=5,
                             created_at=dt.datetime(2020, 1, 1)))
        db.session.commit()
        first = privacy.purge(now=dt.datetime(2026, 11, 25))
        second = privacy.purge(now=dt.datetime(2026, 11, 25))
        row = db.session.scalars(sa.select(Order)).one()
        assert (row.email, row.name, row.total) == (None, "[erased]", 5)
        assert first.count("Order") == 1 and second.count("Order") == 0


# Server databases only: SQLite has one writer, so there is no concurrency to test there.
@pytest.mark.parametrize("database", ["postgresql", "mariadb"], indirect=True)
def test_two_purges_at_once_count_every_row_once(make_app, database):
    app = make_app(setup=customer_model, PRIVACY_PURGE_BATCH_SIZE=50)
    with app.app_context():
        add_messages(app, *[dt.datetime(2020, 1, 1) + dt.timedelta(minutes=i) for i in range(1000)])
        add_messages(app, *[dt.datetime(2026, 11, 1)] * 10)
    totals, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            with app.app_context():
                barrier.wait()
                totals.append(handles(app)[1].purge(now=dt.datetime(2026, 11, 25)).total)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sum(totals) == 1000
    with app.app_context():
        assert len(messages(app)) == 10


def test_registering_an_unknown_category_after_start_up_is_refused(site):
    db, privacy = handles(site)
    Late = host_model(db, "Late", table="host_late")
    with pytest.raises(ConfigurationError, match="'contracten'"):
        privacy.register(Late, category="contracten")
    assert "Late" not in [s.name for s in privacy.sources]


def test_the_purge_logs_counts_never_addresses(site, caplog):
    caplog.set_level("DEBUG")
    add_messages(site, dt.datetime(2020, 1, 1), email="geheim@example.nl")
    handles(site)[1].purge(now=dt.datetime(2026, 11, 25))
    assert "ContactMessage/default: 1 row(s) removed" in caplog.text
    assert "geheim" not in caplog.text


def _deletes_of_invoices(app, run):
    """How many DELETE statements on the invoices table ``run()`` makes."""
    db, _ = handles(app)
    seen = []

    def listen(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("DELETE") and "host_invoice" in statement:
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        run()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    return len(seen)


@pytest.mark.parametrize("size, batches", [(None, 1), (4, 3)])
def test_the_batch_size_is_the_setting_or_the_databases_default(make_app, size, batches):
    """Unset, the purge takes 100,000 rows a batch (250,000 on SQLite, where each
    batch rewrites index pages all over): ten expired invoices go in one DELETE;
    set, it is the setting's size, and every expired row still goes."""
    config = {} if size is None else {"PRIVACY_PURGE_BATCH_SIZE": size}
    app = make_app(setup=customer_model, **config)
    with app.app_context():
        add_invoices(app, *[dt.datetime(2010, 1, 1) + dt.timedelta(days=i) for i in range(10)])
        add_invoices(app, dt.datetime(2026, 1, 1))
        state = app.extensions["webence_privacy"]
        expected = size or (250_000 if state.db.engine.dialect.name == "sqlite" else 100_000)
        assert retention.batch_size(state) == expected
        report = {}
        count = _deletes_of_invoices(app, lambda: report.update(
            total=handles(app)[1].purge(now=dt.datetime(2026, 11, 25)).count("Invoice")))
        assert report["total"] == 10 and invoices(app) == [dt.datetime(2026, 1, 1)]
        assert count == batches


def test_a_batch_size_that_is_not_a_positive_number_stops_the_start(make_app):
    for wrong in (0, -5, "100", True):
        with pytest.raises(ConfigurationError, match="PRIVACY_PURGE_BATCH_SIZE"):
            make_app(setup=customer_model, create=False, PRIVACY_PURGE_BATCH_SIZE=wrong)
