"""A visitor exercises their GDPR rights through the request portal.

Each story files a request through the form, receives the link by real SMTP,
confirms it, and sees (or acts on) their data. The contact message and the
subscription are inserted directly, so these stories do not depend on the
contact and newsletter forms.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from flask_webence_privacy import signals
from flask_webence_privacy.models import utcnow

from .conftest import Inbox, csrf_token, handles, host_model, wait_for_delivery

ANA = "ana@example.nl"
#: The form page is not private, so the browser sends a Referer (CSRF over https wants one).
REFERER = {"Referer": "https://webence.test/privacy/request"}
MESSAGE = "Kunt u een offerte maken voor een webshop met iDEAL?"


def _host_model(app, db, privacy):
    Invoice = host_model(db, "Invoice", extra_columns={
        "name": sa.String(200), "amount": sa.String(20)})
    privacy.register(Invoice, category="customer", editable=("name",),
                     label={"en": "Invoices", "nl": "Facturen"},
                     purpose={"en": "Bookkeeping", "nl": "Boekhouding"})
    app.extensions["test_invoice"] = Invoice


@pytest.fixture
def site(make_app):
    return make_app(setup=_host_model, PRIVACY_ADMIN_CHECK=lambda: True)


def seed_subject(app, email=ANA):
    """Ana asked for a quote, subscribes to the newsletter, and is a customer."""
    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    Invoice = app.extensions["test_invoice"]
    with app.app_context():
        db.session.add(models.ContactMessage(
            name="Ana de Vries", email=email, purpose="quote", retention_category="default",
            message=MESSAGE, language="nl", policy_version="1"))
        db.session.add(models.Subscriber(email=email, status="confirmed", language="nl",
                                         confirmed_at=utcnow()))
        db.session.add(models.ConsentRecord(
            email=email, purpose="newsletter", action="given", wording="Ja, stuur mij de nieuwsbrief",
            wording_hash="0" * 64, policy_version="1", form="newsletter", age_confirmed=True))
        db.session.add(Invoice(email=email, name="Ana de Vries", amount="=1+2"))
        db.session.commit()


def path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def file_request(client, email=ANA, kind="access", details=""):
    token = csrf_token(client, "/privacy/request")
    return client.post("/privacy/request", headers=REFERER, data={
        "csrf_token": token, "email": email, "kind": kind, "details": details}, follow_redirects=True)


def mailed_link(inbox, email=ANA, index=-1) -> str:
    inbox.wait(1)
    mails = [m for m in inbox.to(email) if "/privacy/request/" in Inbox.text(m)]
    assert mails, "no request mail"
    links = [u for u in Inbox.links(mails[index]) if "/privacy/request/" in u]
    # The link's ?lang= (tests/test_language_travels.py) is left off, so these
    # stories can add /export.json and choose the page's language themselves.
    return urlsplit(links[0]).path


def confirm(client, link):
    page = client.get(link)
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      page.get_data(as_text=True)).group(1)
    return client.post(link, data={"csrf_token": token, "action": "verify"})


def act(client, link, **data):
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get(link).get_data(as_text=True)).group(1)
    return client.post(link, data={"csrf_token": token, **data})


def verified(site, inbox, kind, email=ANA):
    client = site.test_client()
    assert file_request(client, email, kind).status_code == 200
    link = mailed_link(inbox, email)
    assert confirm(client, link).status_code == 303
    wait_for_delivery(site)  # the maintainer's notice is out before the story goes on
    return client, link


def scan(app, needles):
    """Every table, every text column: which still hold one of ``needles``."""
    db, _ = handles(app)
    hits = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)).mappings():
                for key, value in row.items():
                    if isinstance(value, str) and any(n in value for n in needles):
                        hits.append(f"{table.name}.{key}")
    return hits


# -- filing ------------------------------------------------------------------------


def test_the_form_preselects_a_kind_and_asks_no_identity_document(site):
    page = site.test_client().get("/privacy/request?kind=erasure&lang=en").get_data(as_text=True)
    assert 'id="kind-erasure" value="erasure" checked' in page
    assert "never ask for a copy of an identity document" in page
    assert 'type="file"' not in page


def test_known_and_unknown_addresses_get_the_same_answer(site, inbox):
    seed_subject(site)
    known = file_request(site.test_client(), ANA)
    unknown = file_request(site.test_client(), "nobody@example.nl")

    def strip(body):
        return re.sub(r'value="[^"]+"', "", body.get_data(as_text=True))

    assert known.status_code == unknown.status_code == 200
    assert strip(known) == strip(unknown)
    assert "Check your e-mail" in known.get_data(as_text=True) or "Controleer" in known.get_data(
        as_text=True)


def test_the_link_mailed_carries_no_address_and_only_a_hash_is_stored(site, inbox):
    created = []
    signals.request_created.connect(lambda s, **kw: created.append(kw["request"]), site,
                                    weak=False)
    file_request(site.test_client(), ANA, "access")
    link = mailed_link(inbox)
    token = link.rsplit("/", 1)[1]
    assert "ana" not in link.lower() and "example" not in link
    db, _ = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        row = db.session.scalars(db.select(models.DataRequest)).one()
        assert row.status == "unverified" and row.token_hash and token not in row.token_hash
        assert row.verified_at is None and row.due_at is None
    assert len(created) == 1


def test_a_second_request_of_the_same_kind_is_not_filed_twice(site, inbox):
    client = site.test_client()
    file_request(client, ANA, "erasure")
    inbox.wait(1)
    again = file_request(client, ANA, "erasure")
    assert again.status_code == 200
    db, _ = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(models.DataRequest)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(models.Outbox)) == 1


@pytest.mark.parametrize("data, field", [
    ({"email": ANA, "kind": "everything"}, "kind"),
    ({"email": "not an address", "kind": "access"}, "email"),
    ({"email": ANA}, "kind"),
])
def test_bad_input_gets_400_with_messages_and_nothing_is_stored(site, inbox, data, field):
    client = site.test_client()
    token = csrf_token(client, "/privacy/request")
    response = client.post("/privacy/request", headers=REFERER,
                           data={"csrf_token": token, **data}, follow_redirects=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in body or f'href="#{field}"' in body
    db, _ = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(models.DataRequest)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(models.Outbox)) == 0


def test_a_post_without_csrf_is_refused_and_nothing_is_stored(site, inbox):
    response = site.test_client().post("/privacy/request", headers=REFERER,
                                       data={"email": ANA, "kind": "access"}, follow_redirects=True)
    assert response.status_code == 400
    db, _ = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(models.DataRequest)) == 0


# -- links -------------------------------------------------------------------------


def test_opening_the_link_changes_nothing_until_the_button_is_pressed(site, inbox):
    seed_subject(site)
    client = site.test_client()
    file_request(client, ANA, "access")
    link = mailed_link(inbox)
    for _ in range(2):  # a mail scanner prefetches
        page = client.get(link)
        assert page.status_code == 200
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert MESSAGE not in page.get_data(as_text=True)
    db, _ = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        assert db.session.scalars(db.select(models.DataRequest)).one().verified_at is None


@pytest.mark.parametrize("token", ["garbage", "x" * 1000, "eyJyIjoxfQ.tampered.sig"])
def test_a_bad_token_gets_a_clear_page_without_data(site, token):
    response = site.test_client().get(f"/privacy/request/{token}")
    assert response.status_code == 400
    assert "This link does not work" in response.get_data(as_text=True) or "werkt niet" in \
        response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    export = site.test_client().get(f"/privacy/request/{token}/export.json")
    assert export.status_code == 400 and export.mimetype == "text/html"


def test_a_token_of_another_purpose_is_refused(site):
    from flask_webence_privacy import tokens

    with site.test_request_context():
        token = tokens.make("newsletter-confirm", {"r": 1, "n": "x"})
    assert site.test_client().get(f"/privacy/request/{token}").status_code == 400


def test_an_expired_link_shows_the_expired_page(site, inbox, monkeypatch):
    file_request(site.test_client(), ANA, "access")
    link = mailed_link(inbox)
    import itsdangerous.timed

    later = itsdangerous.timed.TimestampSigner.get_timestamp(None) + 49 * 3600  # type: ignore
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: later)
    response = site.test_client().get(link)
    assert response.status_code == 410
    assert MESSAGE not in response.get_data(as_text=True)


# -- access ------------------------------------------------------------------------


def test_access_shows_and_exports_every_source(site, inbox):
    seed_subject(site)
    got = []
    signals.request_verified.connect(lambda s, **kw: got.append(kw["request"].kind), site,
                                     weak=False)
    client, link = verified(site, inbox, "access")
    page = client.get(link)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert MESSAGE in body and "Facturen" in body and "Nieuwsbriefinschrijving" in body
    assert "7 jaar" in body  # the retention period of the invoices
    assert got == ["access"]

    export = client.get(link + "/export.json")
    assert export.status_code == 200
    assert export.headers["Content-Disposition"] == 'attachment; filename="privacy-export.json"'
    assert export.headers["Cache-Control"] == "no-store"
    data = json.loads(export.get_data(as_text=True))
    by_source = {s["source"]: s for s in data["sources"]}
    assert by_source["ContactMessage"]["records"][0]["message"] == MESSAGE
    assert by_source["Subscriber"]["records"][0]["status"] == "confirmed"
    assert by_source["Invoice"]["records"][0]["name"] == "Ana de Vries"
    assert by_source["Invoice"]["purpose"] == "Boekhouding"
    assert by_source["Invoice"]["retention"]["categories"][0]["erasable"] is False


def test_the_zip_neutralises_formula_cells(site, inbox):
    import io
    import zipfile

    seed_subject(site)
    client, link = verified(site, inbox, "portability")
    response = client.get(link + "/export.zip")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="privacy-export.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert {"index.html", "export.json", "Invoice.csv", "ContactMessage.csv"} <= set(
        archive.namelist())
    csv_text = archive.read("Invoice.csv").decode()
    assert "'=1+2" in csv_text and ",=1+2" not in csv_text
    assert MESSAGE in archive.read("index.html").decode()


def test_the_maintainer_is_mailed_with_the_kind_in_the_subject(site, inbox):
    verified(site, inbox, "objection")
    mails = inbox.wait(2)
    notify = [m for m in mails if "info@webence.nl" in str(m["To"])]
    # The kind as the maintainer reads it, in the site's language (issue 12).
    assert notify and "Bezwaar maken (#1)" in str(notify[0]["Subject"])


# -- erasure -----------------------------------------------------------------------


def test_erasure_removes_everything_but_the_statutory_hold(site, inbox):
    seed_subject(site)
    erased = []
    signals.subject_erased.connect(lambda s, **kw: erased.append(kw["email_hash"]), site,
                                   weak=False)
    client, link = verified(site, inbox, "erasure")
    summary = client.get(link).get_data(as_text=True)
    assert "Facturen" in summary and "Contact- en offerteberichten" in summary

    answer = act(client, link, action="erase")
    assert answer.status_code == 303
    # The result page says what was erased and kept; reloading it erases nothing again.
    response = client.get(answer.headers["Location"])
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Facturen" in body and "7 jaar" in body  # kept, and why
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get(answer.headers["Location"]).get_data(as_text=True) == body
    assert ANA not in answer.headers["Location"]

    hits = scan(site, [ANA, MESSAGE])
    assert hits == ["invoice.email"]
    db, _ = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        req = db.session.scalars(db.select(models.DataRequest)).one()
        assert req.email is None and req.status == "completed" and len(req.email_hash) == 64
        ledger = db.session.scalars(db.select(models.ErasureLedger)).one()
        assert ledger.email_hash == req.email_hash
    assert erased == [req.email_hash]

    # The used link does nothing more.
    again = client.get(link)
    assert again.status_code == 400
    assert "Ana de Vries" not in again.get_data(as_text=True)


def test_a_used_erasure_link_does_nothing(site, inbox):
    seed_subject(site)
    client, link = verified(site, inbox, "erasure")
    page = client.get(link).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    first = client.post(link, data={"csrf_token": token, "action": "erase"}, follow_redirects=True)
    assert first.status_code == 200
    seed_subject(site)  # the data comes back (e.g. a new message)
    second = client.post(link, data={"csrf_token": token, "action": "erase"}, follow_redirects=True)
    assert second.status_code == 400
    assert scan(site, [MESSAGE]) == ["privacy_contact_message.message"]


def test_a_failing_source_rolls_the_whole_erasure_back(make_app, inbox):
    def setup(app, db, privacy):
        _host_model(app, db, privacy)
        Broken = host_model(db, "Broken")

        def explode(query):
            raise RuntimeError("disk full")

        privacy.register(Broken, erase=explode)

    site = make_app(setup=setup)
    seed_subject(site)
    client, link = verified(site, inbox, "erasure")
    response = act(client, link, action="erase")
    assert response.status_code == 503
    assert "nothing was changed" in response.get_data(as_text=True) or \
        "niets gewijzigd" in response.get_data(as_text=True)
    assert set(scan(site, [MESSAGE])) == {"privacy_contact_message.message"}
    db, _ = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        req = db.session.scalars(db.select(models.DataRequest)).one()
        assert req.status == "verified" and req.email == ANA and req.token_used_at is None


def test_two_concurrent_erasures_give_one_success(site, inbox):
    seed_subject(site)
    _, link = verified(site, inbox, "erasure")
    results = []
    barrier = threading.Barrier(2)

    def post():
        browser = site.test_client()
        page = browser.get(link).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        barrier.wait()
        results.append(browser.post(link, data={"csrf_token": token, "action": "erase"},
                                    follow_redirects=True)
                       .status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(200) == 1, results
    db, _ = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(models.ErasureLedger)) == 1


def test_replay_erasures_erases_what_a_backup_brought_back(site, inbox):
    seed_subject(site)
    runner = site.test_cli_runner()
    result = runner.invoke(args=["privacy", "erase", ANA, "--yes"])
    assert result.exit_code == 0, result.output
    assert "erased\tContactMessage\t1" in result.output
    assert "kept\tInvoice\t1" in result.output
    seed_subject(site)  # a backup restored
    assert "privacy_contact_message.message" in scan(site, [MESSAGE])
    result = runner.invoke(args=["privacy", "replay-erasures"])
    assert result.exit_code == 0, result.output
    assert scan(site, [MESSAGE]) == []


# -- withdraw, objection, restriction, rectification -------------------------------


def test_withdraw_lists_consents_and_withdraws_all(site, inbox):
    seed_subject(site)
    client, link = verified(site, inbox, "withdraw")
    assert "newsletter" in client.get(link).get_data(as_text=True)
    response = act(client, link, action="withdraw", all="1")
    assert response.status_code == 303
    db, privacy = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        sub = db.session.scalars(db.select(models.Subscriber)).one()
        assert sub.status == "unsubscribed"
        actions = [r.action for r in db.session.scalars(db.select(models.ConsentRecord)
                                                        .order_by(models.ConsentRecord.id))]
        assert actions == ["given", "withdrawn"]
        assert db.session.scalars(db.select(models.DataRequest)).one().status == "completed"


def test_restriction_is_recorded_and_honoured(site, inbox):
    seed_subject(site)
    client, link = verified(site, inbox, "restriction")
    db, privacy = handles(site)
    with site.app_context():
        assert privacy.is_restricted(ANA) is False
    response = act(client, link, action="mark", grounds="Mijn adres klopt niet")
    assert response.status_code == 303
    with site.app_context():
        assert privacy.is_restricted(ANA) is True
        mark = db.session.scalars(db.select(site.extensions["webence_privacy"].models
                                            .SubjectMark)).one()
        assert mark.grounds == "Mijn adres klopt niet"
    # The act works once.
    token = csrf_token(client, "/privacy/request")  # the page no longer has the form
    again = client.post(link, data={"csrf_token": token, "action": "mark", "grounds": "again"},
                        follow_redirects=True)
    assert again.status_code == 409


def test_objection_to_marketing_stops_the_newsletter(site, inbox):
    seed_subject(site)
    client, link = verified(site, inbox, "objection")
    act(client, link, action="mark", grounds="Geen reclame", marketing="y")
    db, _ = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        assert db.session.scalars(db.select(models.Subscriber)).one().status == "unsubscribed"
        kinds = {m.kind for m in db.session.scalars(db.select(models.SubjectMark))}
        assert kinds == {"objection", "objection-marketing"}


def test_rectification_corrects_editable_fields_only(site, inbox):
    seed_subject(site)
    client, link = verified(site, inbox, "rectification")
    page = client.get(link).get_data(as_text=True)
    field = re.search(r'name="(fix-\d+-\d+-name)" value="Ana de Vries"', page).group(1)
    response = act(client, link, action="rectify", **{field: "Ana de Vries-Jansen"})
    assert response.status_code == 303
    assert "Ana de Vries-Jansen" in client.get(link).get_data(as_text=True)


# -- deadline ----------------------------------------------------------------------


def test_the_due_date_is_four_weeks_after_verification(site, inbox):
    client, link = verified(site, inbox, "erasure")
    db, _ = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        req = db.session.scalars(db.select(models.DataRequest)).one()
        assert req.due_at - req.verified_at == dt.timedelta(days=28)
    assert "request_verified" not in client.get(link).get_data(as_text=True)


def test_the_request_page_refuses_a_post_without_its_csrf_token(site, inbox):
    seed_subject(site)
    client, link = verified(site, inbox, "erasure")
    response = client.post(link, data={"action": "erase"}, follow_redirects=True)
    assert response.status_code == 400
    assert "privacy_contact_message.message" in scan(site, [MESSAGE])


def test_requests_for_one_address_are_rate_limited(site, inbox):
    client = site.test_client()
    statuses = [file_request(client, ANA, kind).status_code
                for kind in ("access", "erasure", "objection", "restriction", "withdraw",
                             "portability")]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429


def test_the_export_needs_a_confirmed_link(site, inbox):
    seed_subject(site)
    client = site.test_client()
    file_request(client, ANA, "access")
    link = mailed_link(inbox)
    response = client.get(link + "/export.json")
    assert response.status_code == 409
    assert MESSAGE not in response.get_data(as_text=True)


def test_completing_an_erasure_sends_the_completed_signal(site, inbox):
    seed_subject(site)
    completed = []
    signals.request_completed.connect(lambda s, **kw: completed.append(kw["request"].kind),
                                      site, weak=False)
    client, link = verified(site, inbox, "erasure")
    act(client, link, action="erase")
    assert completed == ["erasure"]


def test_unconfirmed_requests_stay_off_the_maintainers_list(site, inbox):
    file_request(site.test_client(), "spam@example.nl", "erasure")
    result = site.test_cli_runner().invoke(args=["privacy", "requests"])
    assert result.output.strip() == "No open requests."
