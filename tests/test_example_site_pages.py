"""The example site's own pages: a home page that says what Webence does, its own
404 and 500 pages in its layout and language, and the debug mail viewer that
reads the outbox (so it survives a restart) with links that can be followed."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from .conftest import csrf_token


def test_the_home_page_says_what_webence_does_and_leads_to_a_quote(example_site_app):
    client = example_site_app().test_client()
    page = client.get("/").get_data(as_text=True)
    assert re.search(r"<h1>Websites en webapplicaties voor het MKB</h1>", page)
    assert "<h1>Webence</h1>" not in page
    for service in ("Bedrijfswebsites", "Webwinkels", "Onderhoud en hosting"):
        assert f"<h3>{service}</h3>" in page
    assert "nooit voor commerciële doeleinden" in page
    quote = re.search(r'<a class="wp-button site-cta" href="([^"]+)">Vraag een offerte aan</a>', page)
    assert quote and "purpose=quote" in quote.group(1)
    form = client.get(quote.group(1)).get_data(as_text=True)
    assert re.search(r'<input checked id="purpose-\d" name="purpose" type="radio" value="quote">', form)

    english = client.get("/?lang=en").get_data(as_text=True)
    assert "<h1>Websites and web applications for small businesses</h1>" in english
    assert "Request a quote" in english


@pytest.mark.parametrize(("query", "title", "text"), [
    ("", "Pagina niet gevonden", "Deze pagina bestaat niet (meer)."),
    ("?lang=en", "Page not found", "This page does not exist (any more)."),
])
def test_an_unknown_address_gets_the_sites_own_404_in_its_language(example_site_app, query,
                                                                   title, text):
    response = example_site_app().test_client().get("/no-such-page" + query)
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert f"<h1>{title}</h1>" in page and text in page
    assert 'class="site-header"' in page and 'href="/diensten"' in page  # the site's layout
    assert "Not Found" not in page


def test_an_error_gets_the_sites_own_500_page(example_site_app):
    app = example_site_app()

    @app.get("/broken")
    def broken() -> str:
        raise RuntimeError("a bug")

    response = app.test_client().get("/broken?lang=en")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in page and 'class="site-header"' in page
    assert "a bug" not in page


def test_the_mail_viewer_reads_the_outbox_and_its_links_survive_a_restart(example_site_app,
                                                                          tmp_path):
    database = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'kept.db'}"}
    app = example_site_app(debug=True, **database)
    client = app.test_client()
    token = csrf_token(client, "/privacy/request")
    response = client.post("/privacy/request", data={
        "csrf_token": token, "email": "ana@example.nl", "kind": "access"})
    assert response.status_code in (200, 303)

    restarted = example_site_app(debug=True, **database).test_client()
    viewer = restarted.get("/_mail/").get_data(as_text=True)
    assert "ana@example.nl" in viewer
    links = re.findall(r'<a href="(http[^"]+/privacy/request/[^"]+)">', viewer)
    assert len(links) == 1
    path = links[0].split("://", 1)[1].split("/", 1)[1]
    confirm = restarted.get("/" + path.replace("&amp;", "&"))
    assert confirm.status_code == 200
    assert "Bevestigen en verder" in confirm.get_data(as_text=True)


def test_a_delivered_mail_shows_in_the_viewer_without_working_links(example_site_app):
    """No working token at rest: once a mail is delivered the outbox drops its
    links, and the viewer has nothing else to show them from."""
    app = example_site_app(debug=True)
    client = app.test_client()
    client.post("/privacy/request", data={
        "csrf_token": csrf_token(client, "/privacy/request"), "email": "ana@example.nl",
        "kind": "access"})
    state = app.extensions["webence_privacy"]
    with app.app_context():
        queued = state.db.session.scalars(sa.select(state.models.Outbox.id)).all()
        assert state.privacy.send_mail(queued)["sent"] == 1
    viewer = client.get("/_mail/").get_data(as_text=True)
    assert "ana@example.nl" in viewer and "[link removed after delivery]" in viewer
    assert "/privacy/request/ey" not in viewer


def test_the_mail_viewer_stays_closed_outside_debug_mode(example_site_app):
    client = example_site_app().test_client()
    assert client.get("/_mail/").status_code == 404
