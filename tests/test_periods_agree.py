"""One source for every period shown (issue 12, item 2).

For each kind of data the package keeps, and for a host model registered with
a category, rows are stored just inside and just outside the period the pages
state; the purge runs; what survives is what the pages promised. The privacy
page's tables, the data page of an access request, the newsletter form and the
contact acknowledgement state the same period in Dutch and English; so do
the visit log (visits, daily counts, salts) and the records of cookie choices
(privacy page and the browser's data page), which no source carries. The periods
are set apart on purpose (proof 18 months, mail 30 days, unconfirmed sign-ups
5 days, quotes 7 years, questions 1 year), so a page that read the wrong setting
would show. Each story runs on every database.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from flask_webence_privacy.config import ConfigurationError

from .conftest import Inbox, csrf_token, handles, host_model, wait_for_outbox
from .test_contact import URL as CONTACT_URL
from .test_contact import form_data
from .test_portal import confirm, file_request, mailed_link

NOW = dt.datetime(2030, 6, 15, 12, 0)
DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)
PROOF, YEAR, SEVEN = relativedelta(months=18), relativedelta(years=1), relativedelta(years=7)
ANA = "ana@example.nl"

CONFIG = {
    "PRIVACY_ADMIN_CHECK": lambda: True,
    "PRIVACY_RETENTION": {
        "default": {"years": 1},
        "customer": {"years": 7, "erasable": False},
        "proof": {"months": 18},
    },
    "PRIVACY_PROOF_RETENTION": "proof",
    "PRIVACY_OUTBOX_DAYS": 30,
    "PRIVACY_NEWSLETTER_PENDING_DAYS": 5,
    "PRIVACY_CONTACT_PURPOSES": {
        "question": {"label": {"nl": "Een vraag", "en": "A question"}, "category": "default"},
        "quote": {"label": {"nl": "Een offerteaanvraag", "en": "A quote request"},
                  "category": "customer"},
    },
    "PRIVACY_PURPOSES": [
        {"label": {"nl": "Onze nieuwsbrief sturen", "en": "Sending our newsletter"},
         "category": "default", "source": "Subscriber"},
        {"label": {"nl": "Uw vraag beantwoorden", "en": "Answering your question"},
         "category": "default", "source": "ContactMessage"},
    ],
}

#: Per source: its label on the pages, and what its period must say (nl, en).
STATED = {
    "ContactMessage": (("Contact- en offerteberichten", "Contact and quote messages"),
                       ["Een vraag: 1 jaar", "Een offerteaanvraag: 7 jaar"],
                       ["A question: 1 year", "A quote request: 7 years"]),
    "Subscriber": (("Nieuwsbriefinschrijving", "Newsletter subscription"),
                   ["zolang u bent ingeschreven", "18 maanden na uitschrijving", "na 5 dagen"],
                   ["while you are subscribed", "18 months after you unsubscribe",
                    "after 5 days"]),
    "ConsentRecord": (("Gegeven en ingetrokken toestemmingen", "Consents you gave or withdrew"),
                      ["zolang de toestemming geldt", "18 maanden nadat u die intrekt"],
                      ["while the consent is in force", "18 months after you withdraw it"]),
    "DataRequest": (("Uw privacyverzoeken", "Your privacy requests"),
                    ["18 maanden na afhandeling", "niet-bevestigde verzoeken na 30 dagen"],
                    ["18 months after the request is completed",
                     "unconfirmed requests after 30 days"]),
    "Outbox": (("E-mail die wij u stuurden", "Mail we sent you"),
               ["30 dagen na verzending", "niet bezorgd kon worden 30 dagen nadat die werd opgesteld"],
               ["30 days after sending", "could not be delivered, 30 days after it was written"]),
    "Invoice": (("Facturen", "Invoices"), ["7 jaar"], ["7 years"]),
}


def _register(app, db, privacy):
    Invoice = host_model(db, "Invoice", extra_columns={"total": sa.String(20)})
    privacy.register(Invoice, category="customer", label={"en": "Invoices", "nl": "Facturen"},
                     purpose={"en": "Bookkeeping", "nl": "Boekhouding"})
    app.extensions["test_invoice"] = Invoice


@pytest.fixture
def site(make_app):
    return make_app(setup=_register, **CONFIG)


def visible(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def policy_rows(body: str) -> dict[str, list[str]]:
    """Each table row of the privacy page: first cell -> the row's cells, as read."""
    rows = {}
    for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", body, flags=re.S):
        cells = [visible(c) for c in re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", row, flags=re.S)]
        if cells:
            rows[cells[0]] = cells
    return rows


def data_page_periods(body: str) -> dict[str, str]:
    """Each source on the data page: its heading -> what "Kept for" says."""
    found = re.findall(r"<h3\b[^>]*>(.*?)</h3>\s*<dl\b[^>]*>.*?<dt>(?:Kept for|Bewaard)</dt>"
                       r"\s*<dd>(.*?)</dd>", body, flags=re.S)
    return {visible(label): visible(period) for label, period in found}


# -- rows just inside and just outside each stated period -------------------------------------


def seed_edges(app) -> None:
    """Per kind of data, rows whose address says whether they must survive a purge
    at NOW ("in-...") or go ("out-...")."""
    db, _ = handles(app)
    m = app.extensions["webence_privacy"].models
    Invoice = app.extensions["test_invoice"]
    add = db.session.add

    def contact(email, purpose, category, at):
        add(m.ContactMessage(name="X", email=email, purpose=purpose, retention_category=category,
                             message="...", language="nl", policy_version="1", created_at=at))

    def consent(email, action, at):
        add(m.ConsentRecord(email=email, purpose="contact", action=action, wording="...",
                            wording_hash="0" * 64, policy_version="1", form="contact",
                            age_confirmed=True, created_at=at))

    def request(email, *, created, completed=None, status="completed"):
        add(m.DataRequest(email=email, email_hash=email, kind="access", status=status,
                          created_at=created, verified_at=completed, completed_at=completed))

    def mail(email, status, *, created, sent=None):
        add(m.Outbox(subject_email=email, recipient=email, kind="contact-ack", subject="...",
                     body_text="...", status=status, created_at=created, sent_at=sent,
                     next_attempt_at=created))

    with app.app_context():
        for edge, shift in (("in", DAY), ("out", -DAY)):
            contact(f"{edge}-question@example.nl", "question", "default", NOW - YEAR + shift)
            contact(f"{edge}-quote@example.nl", "quote", "customer", NOW - SEVEN + shift)
            add(m.Subscriber(email=f"{edge}-unsubscribed@example.nl", status="unsubscribed",
                             created_at=NOW - SEVEN, unsubscribed_at=NOW - PROOF + shift))
            add(m.Subscriber(email=f"{edge}-pending@example.nl", status="pending",
                             created_at=NOW - dt.timedelta(days=5) + shift / 24))
            consent(f"{edge}-withdrawn@example.nl", "given", NOW - SEVEN)
            consent(f"{edge}-withdrawn@example.nl", "withdrawn", NOW - PROOF + shift)
            request(f"{edge}-completed@example.nl", created=NOW - SEVEN,
                    completed=NOW - PROOF + shift)
            request(f"{edge}-unverified@example.nl", status="unverified",
                    created=NOW - dt.timedelta(days=30) + shift / 24)
            mail(f"{edge}-sent@example.nl", "sent", created=NOW - SEVEN,
                 sent=NOW - dt.timedelta(days=30) + shift / 24)
            mail(f"{edge}-failed@example.nl", "failed", created=NOW - dt.timedelta(days=30) + shift / 24)
            mail(f"{edge}-unsent@example.nl", "queued", created=NOW - dt.timedelta(days=30) + shift / 24)
            add(Invoice(email=f"{edge}-invoice@example.nl", total="1", created_at=NOW - SEVEN + shift))
        # Kept while in force, however old: a subscription, a consent never withdrawn.
        add(m.Subscriber(email="in-subscribed@example.nl", status="confirmed",
                         created_at=NOW - SEVEN - SEVEN, confirmed_at=NOW - SEVEN - SEVEN))
        consent("in-consent@example.nl", "given", NOW - SEVEN - SEVEN)
        db.session.commit()


def addresses(app) -> dict[str, set[str]]:
    db, _ = handles(app)
    state = app.extensions["webence_privacy"]
    found: dict[str, set[str]] = {}
    with app.app_context():
        for source in state.sources:
            column = source.table.c[source.email]
            found[source.name] = set(db.session.scalars(sa.select(column)))
    return found


def test_what_the_purge_removes_is_what_the_pages_state(site):
    client = site.test_client()
    pages = {lang: client.get(f"/privacy/?lang={lang}").get_data(as_text=True)
             for lang in ("nl", "en")}
    for name, ((label_nl, label_en), says_nl, says_en) in STATED.items():
        for label, says, lang in ((label_nl, says_nl, "nl"), (label_en, says_en, "en")):
            row = policy_rows(pages[lang])[label]
            for words in says:
                assert words in row[-1], (name, lang, row)
    # The purposes table states its sources' periods, not a category's flat one.
    for index, lang, newsletter, contact in (
            (0, "nl", "Onze nieuwsbrief sturen", "Uw vraag beantwoorden"),
            (1, "en", "Sending our newsletter", "Answering your question")):
        rows = policy_rows(pages[lang])
        assert rows[newsletter][-1] == rows[STATED["Subscriber"][0][index]][-1]
        assert rows[contact][-1] == rows[STATED["ContactMessage"][0][index]][-1]

    seed_edges(site)
    _, privacy = handles(site)
    with site.app_context():
        privacy.purge(now=NOW)
    left = addresses(site)
    every = set().union(*left.values())
    survivors = {a.split("@")[0] for a in every}
    expected_in = {"in-question", "in-quote", "in-unsubscribed", "in-pending", "in-withdrawn",
                   "in-completed", "in-unverified", "in-sent", "in-failed", "in-unsent", "in-invoice",
                   "in-subscribed", "in-consent"}
    assert expected_in <= survivors
    assert not {s for s in survivors if s.startswith("out-")}


def test_the_data_page_form_and_mail_state_the_privacy_pages_periods(site, inbox):
    db, _ = handles(site)
    m = site.extensions["webence_privacy"].models
    with site.app_context():
        db.session.add(m.ContactMessage(name="Ana", email=ANA, purpose="quote",
                                        retention_category="customer", message="...",
                                        language="nl", policy_version="1"))
        db.session.add(m.Subscriber(email=ANA, status="confirmed", language="nl"))
        db.session.add(m.ConsentRecord(email=ANA, purpose="newsletter", action="given",
                                       wording="...", wording_hash="0" * 64, policy_version="1",
                                       form="newsletter", age_confirmed=True))
        db.session.add(site.extensions["test_invoice"](email=ANA, total="1"))
        db.session.commit()
    client = site.test_client()
    assert file_request(client, ANA, "access").status_code in (200, 303)
    link = mailed_link(inbox)
    assert confirm(client, link).status_code == 303
    for lang in ("nl", "en"):
        stated = {cells[0]: cells[-1] for cells in policy_rows(
            client.get(f"/privacy/?lang={lang}").get_data(as_text=True)).values()}
        shown = data_page_periods(client.get(f"{link}?lang={lang}").get_data(as_text=True))
        assert set(shown) == {labels[0 if lang == "nl" else 1] for labels, _, _ in STATED.values()}
        for label, period in shown.items():
            assert period == stated[label], (lang, label)
        # The newsletter form says the subscription's period, not "until you unsubscribe".
        form = visible(client.get(f"/privacy/newsletter?lang={lang}").get_data(as_text=True))
        subscriber = stated[STATED["Subscriber"][0][0 if lang == "nl" else 1]]
        assert subscriber in form


def test_a_purpose_naming_a_source_that_is_not_registered_is_refused_by_name(make_app):
    purposes = [{"label": "Nieuwsbrief", "category": "default", "source": "Subscribr"}]
    site = make_app(create=False, PRIVACY_PURPOSES=purposes)
    db, privacy = handles(site)
    with site.app_context():
        db.create_all()
        # Recording the policy (init-db) is where it is found, before any visitor.
        with pytest.raises(ConfigurationError,
                           match="names source 'Subscribr', which is not registered"):
            privacy.sync_policy()


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_contact_acknowledgement_states_the_messages_period(make_app, inbox, lang):
    site = make_app(setup=_register, **CONFIG)
    client = site.test_client()
    response = client.post(f"{CONTACT_URL}?lang={lang}",
                           data=form_data(client, email="bea@example.nl"),
                           headers={"Referer": f"https://webence.test{CONTACT_URL}"})
    assert response.status_code in (200, 303)
    wait_for_outbox(site, 2)
    ack = inbox.wait_to("bea@example.nl")[-1]
    says = STATED["ContactMessage"][1 if lang == "nl" else 2]
    for text in (Inbox.text(ack), visible(Inbox.html(ack))):
        for words in says:
            assert words in " ".join(text.split()), (lang, words)


# -- the visit log and the records of cookie choices: no source, same promise ------------------

LAPSE = dt.timedelta(days=365)
VISITS_AND_COOKIES = {**CONFIG, "PRIVACY_VISIT_LOG": True, "PRIVACY_COOKIES": [
    {"name": "stats", "type": "analytic", "purpose": {"nl": "Telt bezoeken", "en": "Counts visits"},
     "duration": {"nl": "1 jaar", "en": "1 year"}},
]}
#: What the privacy page says (nl, en): visits, their salts, the cookie choices' records.
VISITS_SAY = (["verwijderen ze na 1 jaar", "na twee dagen wordt verwijderd"],
              ["delete it after 1 year", "deleted after two days"])
CHOICES_SAY = (["een ja: 365 dagen zolang het geldt en daarna nog 18 maanden",
                "18 maanden nadat u het in nee verandert", "een nee: 18 maanden"],
               ["a yes: 365 days while it applies and 18 months after that",
                "18 months after you change it to no", "a no: 18 months"])


def choice_period(body: str) -> str:
    found = re.search(r"(?:How long we keep the record of your cookie choice|"
                      r"Hoe lang wij de vastlegging van uw cookiekeuze bewaren): (.*?)\.(?:\s|<)",
                      visible(body) + " ")
    assert found, "no cookie-choice period on the page"
    return found.group(1)


def seed_visits_and_choices(app) -> None:
    """Visits, daily counts and salts, and cookie-choice records, just inside
    ("in") and just outside ("out") what the page states; the label, path or
    browser id says which."""
    db, _ = handles(app)
    m = app.extensions["webence_privacy"].models
    add = db.session.add

    def choice(cid, action, at):
        add(m.ConsentRecord(email=f"cookie:{cid}", purpose="cookies:analytic", action=action,
                            wording="...", wording_hash="0" * 64, policy_version="1",
                            form="cookie-banner", age_confirmed=False, created_at=at))

    with app.app_context():
        for edge, shift in (("in", DAY), ("out", -DAY)):
            add(m.VisitLog(path=f"/{edge}", browser="other", created_at=NOW - YEAR + shift))
            add(m.VisitDaily(day=(NOW - YEAR + shift).date(), kind="path", label=edge, views=1))
            add(m.VisitSalt(day=NOW.date() - dt.timedelta(days=1 if edge == "in" else 2),
                            salt=edge))
            # A yes lapses with its cookie, then the proof period runs.
            choice(f"{edge}-yes", "given", NOW - LAPSE - PROOF + shift)
            # A no, and a yes changed to no (both go a proof period after the no).
            choice(f"{edge}-no", "withdrawn", NOW - PROOF + shift)
            choice(f"{edge}-changed", "given", NOW - PROOF - 30 * DAY)
            choice(f"{edge}-changed", "withdrawn", NOW - PROOF + shift)
        db.session.commit()


def test_the_visit_log_and_cookie_choices_go_when_the_privacy_page_says(make_app):
    site = make_app(setup=_register, **VISITS_AND_COOKIES)
    client = site.test_client()
    for lang, visits_say, choices_say in (("nl", *[VISITS_SAY[0], CHOICES_SAY[0]]),
                                          ("en", *[VISITS_SAY[1], CHOICES_SAY[1]])):
        page = visible(client.get(f"/privacy/?lang={lang}").get_data(as_text=True))
        for words in visits_say:
            assert words in page, (lang, words)
        stated = choice_period(page)
        for words in choices_say:
            assert words in stated, (lang, words, stated)

    seed_visits_and_choices(site)
    db, privacy = handles(site)
    m = site.extensions["webence_privacy"].models
    with site.app_context():
        privacy.purge(now=NOW)
        paths = set(db.session.scalars(sa.select(m.VisitLog.path)))
        days = set(db.session.scalars(sa.select(m.VisitDaily.label)))
        salts = set(db.session.scalars(sa.select(m.VisitSalt.salt)))
        records = list(db.session.execute(sa.select(m.ConsentRecord.email, m.ConsentRecord.action)))
    assert (paths, days, salts) == ({"/in"}, {"in"}, {"in"})
    assert sorted(records) == sorted([
        ("cookie:in-yes", "given"), ("cookie:in-no", "withdrawn"),
        ("cookie:in-changed", "given"), ("cookie:in-changed", "withdrawn")])


def test_the_browsers_data_page_states_the_privacy_pages_cookie_choice_period(make_app, inbox):
    site = make_app(setup=_register, **VISITS_AND_COOKIES)
    client = site.test_client()
    client.post("/privacy/cookies", data={"choice": "all"})  # no token: guarded by origin
    client.post("/privacy/request", data={"csrf_token": csrf_token(client, "/privacy/request"),
                                          "email": ANA, "kind": "access"})
    link = mailed_link(inbox)
    assert confirm(client, link).status_code == 303
    for lang in ("nl", "en"):
        stated = choice_period(client.get(f"/privacy/?lang={lang}").get_data(as_text=True))
        page = client.get(f"{link}?lang={lang}").get_data(as_text=True)
        assert "cookies:analytic" in page
        assert choice_period(page) == stated, lang
