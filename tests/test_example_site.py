"""The example site: its maintainer's pages open only locally in debug mode."""

from __future__ import annotations


def test_admin_opens_for_the_local_maintainer_in_debug_mode(example_site_app):
    client = example_site_app(debug=True).test_client()
    assert client.get("/privacy/admin/").status_code == 200
    remote = client.get("/privacy/admin/", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 403


def test_admin_is_closed_outside_debug_mode(example_site_app):
    app = example_site_app()
    assert app.test_client().get("/privacy/admin/").status_code in (403, 404)
