"""Every page state a visitor or maintainer can see, in one list.

The accessibility walk (``tests/test_accessibility_walk.py``) and ``make
screenshots`` (``scripts/screenshots.py``) both import ``STATES`` and ``walk``:
a page added here is scanned by axe-core and photographed from then on.

A state is a name and a step that brings the browser there from the previous
state: steps run in list order, in one tab, and may use what earlier steps made
(the contact message, the subscription, the requests). Steps use field names and
CSS, never button text, so one list serves every language. Form submissions
wait for the navigation they cause, so a 303 redirect after a POST is followed
like any other.

To add a state: write a step ``def my_state(w: Walker) -> None`` that leaves
the tab on the page, and add ``PageState("my-state", my_state)`` where it
belongs in ``STATES``.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

#: Both widths every state is checked and photographed at (px).
WIDTHS = (1280, 390)
LANGUAGES = ("nl", "en")
#: Config the walk's example site needs on top of its defaults: one visitor sends
#: many forms in a minute, so the per-visitor limits are lifted.
SITE_CONFIG: dict[str, Any] = {
    "PRIVACY_CONTACT_RATE_LIMIT": "10000 per minute",
    "PRIVACY_NEWSLETTER_RATE_LIMIT": "10000 per minute",
    "PRIVACY_REQUEST_RATE_LIMIT": "10000 per minute",
    "PRIVACY_REQUEST_ADDRESS_RATE_LIMIT": "10000 per minute",
    # ... and one address asks for every right, each with its mailed link.
    "PRIVACY_REQUEST_MAX_LINK_MAILS": 100,
    "PRIVACY_MAILBOX_DAILY_LIMIT": 100,
}


@dataclass
class Walker:
    """One tab on the running example site, in one language.

    ``link(address, part)`` returns the newest mailed link to ``address`` that
    contains ``part`` (waiting for the mail); the test reads it from the SMTP
    inbox, the screenshot script likewise.
    """

    page: Any
    base_url: str
    language: str
    app: Any
    link: Callable[[str, str], str]
    memo: dict[str, str] = field(default_factory=dict)

    def address(self, who: str) -> str:
        return f"{who}.{self.language}@example.nl"

    def goto(self, path: str) -> None:
        self.page.goto(path if path.startswith("http") else self.base_url + path)

    def submit(self, selector: str = "main form.wp-form button[type=submit]") -> None:
        """Press a form's button and wait for the page it leads to (redirects followed)."""
        with self.page.expect_navigation():
            self.page.locator(selector).first.click()

    def fill(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self.page.locator(f"main [name='{name}']").first.fill(value)

    def check(self, selector: str) -> None:
        self.page.locator(selector).first.check()

    def ask(self, kind: str, who: str = "ana") -> None:
        """File a request of ``kind`` on the form; the "check your mail" page."""
        self.goto("/privacy/request")
        self.fill({"email": self.address(who)})
        self.check(f"#kind-{kind}")
        self.submit()

    def open_request(self, kind: str, who: str = "ana") -> None:
        """Follow the newest request link mailed to ``who``: the confirm page."""
        url = self.link(self.address(who), "/privacy/request/")
        self.memo[kind] = url
        self.goto(url)


@dataclass(frozen=True)
class PageState:
    name: str
    reach: Callable[[Walker], None]


# -- the steps, in the order they run ---------------------------------------------


def start(w: Walker) -> None:
    # The switch sets the language cookie, so every page after it is in w.language;
    # Ana is also a customer, so her data page has a record that cannot be erased.
    w.goto(f"/privacy/language/{w.language}?next=/")
    with w.app.app_context():
        from example_site import db
        from example_site.models import Customer

        db.session.add(Customer(name="Ana de Vries", email=w.address("ana"), phone="0612345678",
                                address="Kerkstraat 1, 1234 AB Utrecht", iban="NL91ABNA0417164300"))
        db.session.commit()


def services(w: Walker) -> None:
    w.goto("/diensten")


def site_not_found(w: Walker) -> None:
    w.goto("/no-such-page")


def policy(w: Walker) -> None:
    w.goto("/privacy/")


def policy_version(w: Walker) -> None:
    from example_site.demo import PRIVACY_CONFIG

    w.goto(f"/privacy/versions/{PRIVACY_CONFIG['PRIVACY_POLICY_VERSIONS'][0]['version']}")


def package_not_found(w: Walker) -> None:
    w.goto("/privacy/no-such-page")


def contact(w: Walker) -> None:
    w.goto("/privacy/contact")


def contact_errors(w: Walker) -> None:
    w.submit()


def contact_sent(w: Walker) -> None:
    w.check("#purpose-0")
    w.fill({"name": "Ana de Vries", "email": w.address("ana"),
            "message": "Wat kost een nieuwe huisstijl? / What does a new house style cost?"})
    w.check("main [name='age_ok']")
    w.submit()


def newsletter(w: Walker) -> None:
    w.goto("/privacy/newsletter")


def newsletter_errors(w: Walker) -> None:
    w.submit()


def newsletter_sent(w: Walker) -> None:
    w.fill({"email": w.address("ana")})
    w.check("main [name='consent']")
    w.check("main [name='age_ok']")
    w.submit()


def newsletter_confirm(w: Walker) -> None:
    w.goto(w.link(w.address("ana"), "/newsletter/confirm/"))


def newsletter_confirmed(w: Walker) -> None:
    w.submit()


def newsletter_link_error(w: Walker) -> None:
    w.goto("/privacy/newsletter/confirm/not-a-valid-token")


def newsletter_resend(w: Walker) -> None:
    w.goto("/privacy/newsletter/resend")


def newsletter_resend_errors(w: Walker) -> None:
    w.submit()


def newsletter_resend_sent(w: Walker) -> None:
    w.fill({"email": w.address("ana")})
    w.submit()


def newsletter_unsubscribe(w: Walker) -> None:
    w.goto(w.link(w.address("ana"), "/newsletter/unsubscribe/"))


def newsletter_unsubscribed(w: Walker) -> None:
    w.submit()


def request_form(w: Walker) -> None:
    w.goto("/privacy/request")


def request_errors(w: Walker) -> None:
    w.submit()


def request_sent(w: Walker) -> None:
    w.fill({"email": w.address("ana")})
    w.check("#kind-access")
    w.submit()


def request_confirm(w: Walker) -> None:
    w.open_request("access")


def data_page(w: Walker) -> None:
    w.submit()


def export_index(w: Walker) -> None:
    # The readable page inside the ZIP download, opened as the visitor's browser would.
    href = w.page.locator("main a[href$='export.zip']").first.get_attribute("href")
    archive = w.page.request.get(w.base_url + href if href.startswith("/") else href)
    with zipfile.ZipFile(io.BytesIO(archive.body())) as z:
        name = next(n for n in z.namelist() if n.endswith(".html"))
        html = z.read(name).decode("utf-8")
    w.page.set_content(html)


def request_link_error(w: Walker) -> None:
    w.goto("/privacy/request/not-a-valid-token")


def _kind_page(kind: str) -> Callable[[Walker], None]:
    def step(w: Walker) -> None:
        w.ask(kind)
        w.open_request(kind)
        w.submit()
    step.__name__ = f"{kind}_page"
    return step


def withdraw_done(w: Walker) -> None:
    w.submit("main form.wp-form button[name=all]")


def rectification_done(w: Walker) -> None:
    w.page.locator("main textarea[name=note]").fill("Mijn telefoonnummer is veranderd.")
    w.submit()


def mark_done(w: Walker) -> None:
    w.page.locator("main [name=grounds]").fill("Geen reclame meer, graag.")
    w.submit()


def erased(w: Walker) -> None:
    w.submit()


def admin_list(w: Walker) -> None:
    w.goto("/privacy/admin/")


def admin_detail(w: Walker) -> None:
    # An open, confirmed request: its page shows every action (complete, extend, reject).
    with w.app.app_context():
        state = w.app.extensions["webence_privacy"]
        DataRequest = state.models.DataRequest
        request_id = state.db.session.scalar(
            sa.select(DataRequest.id).where(DataRequest.status == "verified")
            .order_by(DataRequest.id.desc()).limit(1))
    w.goto(f"/privacy/admin/requests/{request_id}")


def admin_detail_errors(w: Walker) -> None:
    # Rejecting without a reason: the server's answer, with the error tied to the
    # field (the browser's own check of the required field is switched off).
    w.page.locator("main form[action$='/reject']").evaluate("f => { f.noValidate = true; }")
    w.submit("main form[action$='/reject'] button[type=submit]")


def admin_new(w: Walker) -> None:
    w.goto("/privacy/admin/requests/new")


def admin_new_errors(w: Walker) -> None:
    # A date in the future and no address: both refused beside their fields.
    w.fill({"received": "2999-01-01"})
    w.submit()


#: A person's browser: the walk's own headless browser is an automated request.
BROWSER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0")


def admin_visits(w: Walker) -> None:
    # Page views from a person's browser (an entry, a step between two routes)
    # next to the walk's own automated requests, so the chart and its tables have data.
    client = w.app.test_client()
    own = w.base_url.rstrip("/")
    for path, referrer in (("/", "https://search.example/?q=x"), ("/privacy/", f"{own}/"),
                           ("/privacy/cookies", f"{own}/privacy/")):
        client.get(path, headers={"User-Agent": BROWSER_AGENT, "Referer": referrer})
    w.goto("/privacy/admin/visits")


def report(w: Walker) -> None:
    w.goto("/privacy/report")


def report_errors(w: Walker) -> None:
    # No details: the message beside the field.
    w.submit()


def report_sent(w: Walker) -> None:
    w.fill({"details": "Het orderoverzicht toont het adres van een andere klant. / "
                       "The order page shows another customer's address.",
            "email": w.address("ana")})
    w.submit()


def admin_breaches(w: Walker) -> None:
    w.goto("/privacy/admin/breaches")


def admin_breach(w: Walker) -> None:
    w.page.locator("main table.wp-breaches a").first.click()
    w.page.wait_for_load_state()


def admin_breach_errors(w: Walker) -> None:
    # A window that ends before it starts: refused beside the field.
    w.fill({"window_start": "2026-03-10", "window_end": "2026-03-01"})
    w.submit()


def cookie_settings(w: Walker) -> None:
    w.goto("/privacy/cookies?next=/")


def cookie_settings_saved(w: Walker) -> None:
    # Yes to analytic cookies only; the answer leads back to the home page, whose
    # banner is gone for good (every state before this one shows it).
    w.check("main #cookie-analytic")
    w.submit("main button[value=save]")
    w.goto("/privacy/cookies")


def mail_viewer(w: Walker) -> None:
    w.goto("/_mail/")


def home(w: Walker) -> None:
    w.goto("/")


#: Every state, in walking order. Names are stable: they name the screenshots.
STATES: list[PageState] = [
    PageState("home-before", start),
    PageState("services", services),
    PageState("site-404", site_not_found),
    PageState("privacy", policy),
    PageState("privacy-version", policy_version),
    PageState("privacy-404", package_not_found),
    PageState("contact", contact),
    PageState("contact-errors", contact_errors),
    PageState("contact-sent", contact_sent),
    PageState("newsletter", newsletter),
    PageState("newsletter-errors", newsletter_errors),
    PageState("newsletter-sent", newsletter_sent),
    PageState("newsletter-confirm", newsletter_confirm),
    PageState("newsletter-confirmed", newsletter_confirmed),
    PageState("newsletter-link-error", newsletter_link_error),
    PageState("newsletter-resend", newsletter_resend),
    PageState("newsletter-resend-errors", newsletter_resend_errors),
    PageState("newsletter-resend-sent", newsletter_resend_sent),
    PageState("newsletter-unsubscribe", newsletter_unsubscribe),
    PageState("newsletter-unsubscribed", newsletter_unsubscribed),
    PageState("request", request_form),
    PageState("request-errors", request_errors),
    PageState("request-sent", request_sent),
    PageState("request-confirm", request_confirm),
    PageState("request-access", data_page),
    PageState("request-export-index", export_index),
    PageState("request-link-error", request_link_error),
    PageState("request-withdraw", _kind_page("withdraw")),
    PageState("request-withdraw-done", withdraw_done),
    PageState("request-rectification", _kind_page("rectification")),
    PageState("request-rectification-done", rectification_done),
    PageState("request-objection", _kind_page("objection")),
    PageState("request-objection-done", mark_done),
    PageState("request-restriction", _kind_page("restriction")),
    PageState("request-restriction-done", mark_done),
    PageState("admin", admin_list),
    PageState("admin-detail", admin_detail),
    PageState("admin-detail-errors", admin_detail_errors),
    PageState("request-erasure", _kind_page("erasure")),
    PageState("request-erased", erased),
    PageState("admin-new", admin_new),
    PageState("admin-new-errors", admin_new_errors),
    PageState("admin-visits", admin_visits),
    PageState("report", report),
    PageState("report-errors", report_errors),
    PageState("report-sent", report_sent),
    PageState("admin-breaches", admin_breaches),
    PageState("admin-breach", admin_breach),
    PageState("admin-breach-errors", admin_breach_errors),
    PageState("cookies", cookie_settings),
    PageState("cookies-saved", cookie_settings_saved),
    PageState("mail-viewer", mail_viewer),
    PageState("home", home),
]


def walk(page: Any, base_url: str, language: str, app: Any, link: Callable[[str, str], str],
         visit: Callable[[str, Any], None], states: list[PageState] | None = None) -> int:
    """Bring ``page`` to every state in turn and call ``visit(name, page)`` there;
    the number of states visited."""
    walker = Walker(page, base_url, language, app, link)
    count = 0
    for state in states if states is not None else STATES:
        state.reach(walker)
        page.wait_for_load_state()
        visit(state.name, page)
        count += 1
    return count


def scroll_overflow(page: Any) -> int:
    """How many CSS pixels the page scrolls sideways (0 when it fits)."""
    return int(page.evaluate(
        "() => { const e = document.scrollingElement || document.documentElement;"
        " return e.scrollWidth - e.clientWidth; }"))


def inbox_link(inbox: Any, timeout: float = 10.0) -> Callable[[str, str], str]:
    """``link`` for a :class:`Walker` over an SMTP inbox (``tests.conftest.Inbox``):
    the newest link to ``address`` containing ``part`` not handed out before."""
    used: set[str] = set()

    def link(address: str, part: str) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(inbox.to(address)):
                for url in inbox.links(message):
                    if part in url and url not in used:
                        used.add(url)
                        return str(url)
            time.sleep(0.05)
        raise AssertionError(f"no new mail to {address} with a link containing {part!r}")

    return link
