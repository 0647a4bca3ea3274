"""Every answer under the prefix carries the package's headers, routing errors
included (SECURITY 46), and no Host header, port included, reaches a mailed link
(SECURITY 42; issue 23's item 8)."""

from __future__ import annotations

import pytest

from .conftest import Inbox, csrf_token

HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
           "Referrer-Policy")


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/privacy/no-such-page", 404),
    ("GET", "/privacy//request/abc", 308),       # Werkzeug merges the slashes
    ("GET", "/privacy", 308),                    # the slash redirect
    ("POST", "/privacy/", 405),                  # a route that takes no POST
    ("DELETE", "/privacy/contact", 405),
])
def test_routing_answers_under_the_prefix_carry_the_headers(make_sqlite_app, method, path,
                                                             status):
    app = make_sqlite_app()
    response = app.test_client().open(path, method=method)
    assert response.status_code == status
    for name in HEADERS:
        assert name in response.headers, (name, dict(response.headers))


def test_the_hosts_own_routing_answers_are_left_alone(make_sqlite_app):
    app = make_sqlite_app()
    response = app.test_client().get("/no-such-page")
    assert response.status_code == 404
    assert "Content-Security-Policy" not in response.headers
    # A path that only starts like the prefix is the host's too.
    assert "Content-Security-Policy" not in app.test_client().get("/privacyx").headers


def test_a_forged_host_port_never_reaches_a_mailed_link(make_sqlite_app, inbox):
    app = make_sqlite_app(SERVER_NAME=None, PRIVACY_SITE_URL="https://webence.test")
    client = app.test_client()
    forged = "https://webence.test:6666"
    token = csrf_token(client, "/privacy/request", base_url=forged)
    client.post("/privacy/request", base_url=forged,
                data={"csrf_token": token, "email": "ann@example.org", "kind": "access"})
    (mail,) = inbox.wait_to("ann@example.org")
    links = Inbox.links(mail)
    assert links and all(link.startswith("https://webence.test/privacy/") for link in links)
    assert ":6666" not in mail.as_string()
