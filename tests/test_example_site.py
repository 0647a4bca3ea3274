"""The example site: its maintainer's pages open only locally in debug mode."""

from __future__ import annotations


def make(tmp_path, **config):
    from example_site import create_app, db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'site.db'}",
                      "SECRET_KEY": "example-test", **config})
    with app.app_context():
        db.create_all()
    return app


def test_admin_opens_for_the_local_maintainer_in_debug_mode(tmp_path):
    app = make(tmp_path)
    app.debug = True
    client = app.test_client()
    assert client.get("/privacy/admin/").status_code == 200
    remote = client.get("/privacy/admin/", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 403


def test_admin_is_closed_outside_debug_mode(tmp_path):
    app = make(tmp_path)
    assert app.test_client().get("/privacy/admin/").status_code in (403, 404)
