"""The host's layout on the package's pages, in Chromium: its CDN assets load
under the package's Content-Security-Policy once named in PRIVACY_CSP, its inline
script stays blocked, and the package's stylesheet leaves the host's own
elements alone. The CDN is played by a route of the browser (no network here)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

CDN = "https://cdn.jsdelivr.net/"
#: What the host's "Bootstrap" does here: a colour on the host's brand, and a mark.
CDN_CSS = ".host-brand { color: rgb(1, 2, 3); }"
CDN_JS = "window.cdnScript = true;"


def serve_cdn(route) -> None:
    url = route.request.url
    if url.endswith(".css"):
        route.fulfill(status=200, content_type="text/css", body=CDN_CSS,
                      headers={"Access-Control-Allow-Origin": "*"})
    else:
        route.fulfill(status=200, content_type="application/javascript", body=CDN_JS,
                      headers={"Access-Control-Allow-Origin": "*"})


def test_the_host_layout_keeps_its_cdn_and_look_on_a_privacy_page(make_sqlite_host, live_server,
                                                                    page):
    server = live_server(make_sqlite_host())
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.route(f"{CDN}**", serve_cdn)

    page.goto(server.url + "/")
    host_link = page.eval_on_selector(".host-privacy-link", "e => getComputedStyle(e).color")
    # The host's own page: no policy of the package's, everything runs.
    assert page.evaluate("window.hostInline") is True
    assert page.evaluate("window.cdnScript") is True

    page.goto(server.url + "/privacy/?lang=en")
    assert page.title().startswith("Privacy policy")
    # The CDN named in PRIVACY_CSP: its stylesheet and script are allowed ...
    assert page.eval_on_selector(".host-brand", "e => getComputedStyle(e).color") == \
        "rgb(1, 2, 3)"
    assert page.evaluate("window.cdnScript") is True
    # ... the inline script is not, and the browser says so.
    assert page.evaluate("window.hostInline === undefined") is True
    assert any("inline script" in text for text in violations), violations
    # ... and it is the only thing refused: nothing from the CDN.
    assert all("inline script" in text for text in violations), violations
    # The package's stylesheet is on the page, and the host's link keeps its colour.
    assert page.eval_on_selector(".host-privacy-link", "e => getComputedStyle(e).color") == \
        host_link
    # The package's own links wear the package's accent.
    assert page.eval_on_selector(".wp-page a[href]", "e => getComputedStyle(e).color") == \
        "rgb(11, 83, 148)"
