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


def test_maintainer_pages_refuse_a_foreign_host_name_even_from_this_machine(example_site_app):
    """DNS rebinding: a page elsewhere whose name resolves to 127.0.0.1 still
    sends its own name in the Host header."""
    client = example_site_app(debug=True, TRUSTED_HOSTS=None).test_client()
    local = {"base_url": "http://localhost"}
    assert client.get("/privacy/admin/", **local).status_code == 200
    assert client.get("/_mail/", **local).status_code == 200
    rebound = {"base_url": "http://attacker.example"}
    assert client.get("/privacy/admin/", **rebound).status_code == 403
    assert client.get("/_mail/", **rebound).status_code == 404
    remote = {"base_url": "http://localhost", "environ_base": {"REMOTE_ADDR": "203.0.113.9"}}
    assert client.get("/_mail/", **remote).status_code == 404
