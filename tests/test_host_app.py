"""The package in an existing app, added by the README alone (tests/host_app).

Each test names the problem of a real host it guards against: the host's own
routes answer as before ``init_app``, its languages stay its own, an app factory
may build as many apps as it likes, mailed links come from the declared site
address only, and the host's layout keeps its CDN assets and its look.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask_wtf.csrf import CSRFProtect

from flask_webence_privacy import ConfigurationError

from . import host_app
from .conftest import csrf_token

ALICE = "alice@microblog.example"


def seed(app, *users: str) -> None:
    with app.app_context():
        for name in users:
            host_app.db.session.add(host_app.User(username=name, email=f"{name}@microblog.example"))
        host_app.db.session.commit()


def subscribe(app, email: str = ALICE) -> None:
    with app.app_context():
        models = app.extensions["webence_privacy"].models
        host_app.db.session.add(models.Subscriber(email=email, status="confirmed",
                                                  language="en"))
        host_app.db.session.commit()


def comparable(response) -> tuple[int, str, list[tuple[str, str]]]:
    headers = sorted((k, v) for k, v in response.headers.items() if k not in ("Date",))
    return response.status_code, response.get_data(as_text=True), headers


# -- 2. no app-wide CSRF; the host's routes answer exactly as before ---------------


@pytest.mark.parametrize("host_csrf", [True, False], ids=["host-csrf", "no-host-csrf"])
def test_host_routes_answer_as_before_init_app(make_sqlite_host, host_csrf):
    before = make_sqlite_host(WITH_PRIVACY=False, HOST_CSRF=host_csrf)
    after = make_sqlite_host(HOST_CSRF=host_csrf)
    seed(before, "alice")
    seed(after, "bob")
    for app, user in ((before, "alice"), (after, "bob")):
        assert ("csrf" in app.extensions) is host_csrf
        client = app.test_client()
        # The JSON API and a fetch() endpoint take no token, with or without the package.
        made = client.post("/api/posts", json={"username": user, "body": "hi"})
        assert made.status_code == 201, made.get_data(as_text=True)
    answers = []
    for app in (before, after):
        client = app.test_client()
        answers.append([comparable(client.post("/api/ping", json={})),
                        comparable(client.get("/api/posts")),
                        comparable(client.post("/login/nobody"))])
    assert answers[0] == answers[1]
    # The host's own CSRFProtect still guards the host's own form posts.
    refused = after.test_client().post("/login/bob")
    assert refused.status_code == (400 if host_csrf else 200)


def test_package_forms_check_their_own_tokens_beside_the_host_csrf(make_sqlite_host, inbox):
    app = make_sqlite_host(HOST_CSRF=True)
    client = app.test_client()
    # Without the package's token: the form again, with its message, nothing stored.
    refused = client.post("/privacy/request", data={"email": ALICE, "kind": "access"})
    assert refused.status_code == 400
    assert "csrf" not in refused.get_data(as_text=True).lower() or "form" in \
        refused.get_data(as_text=True).lower()
    with app.app_context():
        models = app.extensions["webence_privacy"].models
        count = sa.select(sa.func.count()).select_from(models.DataRequest)
        assert host_app.db.session.scalar(count) == 0
    # With it (and no Referer, as the no-referrer pages post): filed, mailed.
    token = csrf_token(client, "/privacy/request")
    filed = client.post("/privacy/request", data={"email": ALICE, "kind": "access",
                                                  "csrf_token": token})
    assert filed.status_code == 303
    assert inbox.wait_to(ALICE)


def test_a_host_csrf_made_after_init_app_leaves_the_one_click_unsubscribe_alone(
        make_sqlite_host, inbox):
    app = make_sqlite_host(HOST_CSRF=False)
    CSRFProtect(app)  # the host adds its own protection later in its factory
    subscribe(app)
    with app.app_context():
        headers = host_app.privacy.unsubscribe_headers(ALICE)
    link = headers["List-Unsubscribe"].split(",")[0].strip("<> ")
    path = link.removeprefix("https://microblog.example")
    answer = app.test_client().post(path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    with app.app_context():
        assert host_app.privacy.newsletter_recipients() == []
    # ... while a host form without its token is still refused by the host's check.
    assert app.test_client().post("/login/nobody").status_code == 400


# -- 5. registration in an app factory ------------------------------------------------


def test_the_factory_builds_two_apps_with_the_same_registrations(make_sqlite_host):
    first = make_sqlite_host()
    second = make_sqlite_host()
    for app in (first, second):
        assert app.test_client().get("/privacy/").status_code == 200
        with app.app_context():
            names = {s.name for s in host_app.privacy.sources}
        assert {"User", "Post", "Comment"} <= names


def test_registering_a_model_again_with_other_options_names_them(make_sqlite_host):
    make_sqlite_host()
    with pytest.raises(ConfigurationError, match=r"register\(User\).*category='default' "
                                                 r"then 'customer'"):
        host_app.privacy.register(host_app.User, category="customer", erase="anonymize",
                                  fields=("username", "email", "about_me"),
                                  label={"en": "Your account", "nl": "Uw account"})


# -- 4. languages --------------------------------------------------------------------


def lang_of(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match, html[:200]
    return match.group(1)


def test_host_pages_keep_the_host_language_and_privacy_pages_speak_the_packages(
        make_sqlite_host):
    app = make_sqlite_host()
    client = app.test_client()
    spanish = {"Accept-Language": "es,en;q=0.5"}
    home = client.get("/", headers=spanish).get_data(as_text=True)
    assert lang_of(home) == "es" and "Bienvenido" in home
    # Spanish is not a package language: the visitor's next choice among nl/en.
    page = client.get("/privacy/", headers=spanish).get_data(as_text=True)
    assert lang_of(page) == "en"
    assert "Privacy policy" in page and "Privacybeleid" not in page
    # ?lang= chooses, on the package's pages, and its cookie keeps it there ...
    dutch = client.get("/privacy/?lang=nl", headers=spanish).get_data(as_text=True)
    assert lang_of(dutch) == "nl" and "Privacybeleid" in dutch
    again = client.get("/privacy/contact", headers=spanish).get_data(as_text=True)
    assert lang_of(again) == "nl"
    # ... but never on the host's, whose selector is the host's.
    home = client.get("/", headers=spanish).get_data(as_text=True)
    assert lang_of(home) == "es" and "Bienvenido" in home


def test_a_language_without_a_catalogue_stops_the_start(make_sqlite_host):
    with pytest.raises(ConfigurationError, match=r"PRIVACY_LANGUAGES names 'es'.*no catalogue"):
        make_sqlite_host(PRIVACY_LANGUAGES=("en", "es"), PRIVACY_DEFAULT_LANGUAGE="en")


def test_a_site_adds_a_language_with_its_own_catalogue_of_the_domain(make_sqlite_host, tmp_path):
    # As the README says: the site's translation directory holds a catalogue of
    # the package's domain for the new language.
    catalog = Catalog(locale="es", domain="webence_privacy")
    catalog.add("Privacy policy", "Política de privacidad")
    target = tmp_path / "translations" / "es" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with open(target / "webence_privacy.mo", "wb") as out:
        write_mo(out, catalog)
    app = make_sqlite_host(
        PRIVACY_LANGUAGES=("en", "es"), PRIVACY_DEFAULT_LANGUAGE="en",
        BABEL_TRANSLATION_DIRECTORIES=f"translations;{tmp_path / 'translations'}")
    page = app.test_client().get("/privacy/?lang=es").get_data(as_text=True)
    assert lang_of(page) == "es" and "Política de privacidad" in page


def test_the_python_api_and_cli_never_call_the_host_selector_outside_a_request(
        make_host):
    app = make_host()
    seed(app, "alice")
    with app.app_context():
        exported = host_app.privacy.export_subject(ALICE)
        (account,) = [s for s in exported["sources"] if s["source"] == "User"]
        assert account["records"][0]["username"] == "alice"
        assert host_app.privacy.erasure_plan(ALICE)
        host_app.privacy.purge(dry_run=True)
    result = app.test_cli_runner().invoke(args=["privacy", "export", ALICE])
    assert result.exit_code == 0, result.output
    assert "alice" in result.output


# -- 3. one declared site address -----------------------------------------------------


def test_mailed_links_come_from_the_site_address_whatever_the_host_header(
        make_sqlite_host, inbox):
    app = make_sqlite_host()
    assert not app.config.get("SERVER_NAME")
    client = app.test_client()
    evil = {"Host": "evil.example"}
    token = csrf_token(client, "/privacy/request", headers=evil)
    client.post("/privacy/request", headers=evil,
                data={"email": ALICE, "kind": "access", "csrf_token": token})
    (mail,) = inbox.wait_to(ALICE)
    links = inbox.links(mail)
    assert links and all(link.startswith("https://microblog.example/privacy/") for link in links)
    assert "evil.example" not in mail.as_string()


def test_the_host_answers_on_every_host_name_it_did_before(make_sqlite_host):
    app = make_sqlite_host()
    for host in ("127.0.0.1:5000", "localhost:5000", "microblog.example"):
        assert app.test_client().get("/", headers={"Host": host}).status_code == 200
        assert app.test_client().get("/privacy/", headers={"Host": host}).status_code == 200


def test_a_site_under_a_path_gets_links_under_that_path(make_sqlite_host):
    app = make_sqlite_host(PRIVACY_SITE_URL="https://shop.example/blog/")
    subscribe(app)
    with app.app_context():
        headers = host_app.privacy.unsubscribe_headers(ALICE)
    assert headers["List-Unsubscribe"].startswith(
        "<https://shop.example/blog/privacy/newsletter/unsubscribe/")


def test_outside_debug_the_site_address_must_be_declared(make_sqlite_host):
    with pytest.raises(ConfigurationError, match="PRIVACY_SITE_URL"):
        make_sqlite_host(TESTING=False, PRIVACY_SITE_URL=None, TRUSTED_HOSTS=["microblog.example"])


# -- 9. the host's look ---------------------------------------------------------------


def test_the_csp_names_the_host_cdn_and_never_allows_inline_script(make_sqlite_host):
    app = make_sqlite_host()
    csp = app.test_client().get("/privacy/").headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split("; ")}
    assert "https://cdn.jsdelivr.net" in directives["style-src"]
    assert "https://cdn.jsdelivr.net" in directives["script-src"]
    assert "'unsafe-inline'" not in directives["script-src"]
    # The host's own pages get no header of the package's.
    assert "Content-Security-Policy" not in app.test_client().get("/").headers


@pytest.mark.parametrize("csp", [{"script-src": ["'unsafe-inline'"]},
                                 {"script-src": ["*"]},
                                 {"style-src": ["https://a.example; script-src *"]}])
def test_a_csp_that_would_open_the_pages_stops_the_start(make_sqlite_host, csp):
    with pytest.raises(ConfigurationError, match="PRIVACY_CSP"):
        make_sqlite_host(PRIVACY_CSP=csp)


# -- 6. rows reached through foreign keys; 7. anonymising unique columns -----------------


def enforce_foreign_keys(app) -> None:
    """SQLite checks foreign keys only when asked, per connection; the servers always do."""
    with app.app_context():
        engine = host_app.db.engine
        if engine.dialect.name == "sqlite":
            engine.dispose()
            sa.event.listen(engine, "connect",
                            lambda conn, _: conn.execute("PRAGMA foreign_keys=ON"))


def seed_blog(app) -> None:
    seed(app, "alice", "bob")
    with app.app_context():
        session = host_app.db.session
        users = {u.username: u for u in session.scalars(sa.select(host_app.User))}
        for name in ("alice", "bob"):
            post = host_app.Post(body=f"{name}'s post", author=users[name])
            session.add(host_app.Comment(text=f"a comment on {name}'s post", post=post))
        session.commit()


def test_the_owner_chain_exports_and_erases_children_first(make_host):
    app = make_host()
    enforce_foreign_keys(app)
    seed_blog(app)
    with app.app_context():
        exported = {s["source"]: s for s in host_app.privacy.export_subject(ALICE)["sources"]}
        assert [r["body"] for r in exported["Post"]["records"]] == ["alice's post"]
        assert [r["text"] for r in exported["Comment"]["records"]] == \
            ["a comment on alice's post"]
        host_app.privacy.erase_subject(ALICE)
        session = host_app.db.session
        session.expire_all()
        assert session.scalars(sa.select(host_app.Post.body)).all() == ["bob's post"]
        assert session.scalars(sa.select(host_app.Comment.text)).all() == \
            ["a comment on bob's post"]
        emails = session.scalars(sa.select(host_app.User.email)).all()
        assert ALICE not in emails and "bob@microblog.example" in emails


def test_two_anonymised_users_keep_their_unique_columns_apart(make_host):
    app = make_host()
    seed(app, "alice", "bob")
    with app.app_context():
        for address in (ALICE, "bob@microblog.example"):
            host_app.privacy.erase_subject(address)
        host_app.db.session.expire_all()
        users = host_app.db.session.scalars(sa.select(host_app.User)).all()
        assert len(users) == 2
        assert len({u.username for u in users}) == 2 and len({u.email for u in users}) == 2
        for user in users:
            assert "alice" not in user.username + user.email
            assert "bob" not in user.username + user.email
            assert user.about_me is None


# -- 8. init-db makes the package's tables only ------------------------------------------


def test_init_db_creates_the_package_tables_and_none_of_the_host(make_host):
    app = make_host(create=False)
    result = app.test_cli_runner().invoke(args=["privacy", "init-db"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        tables = set(sa.inspect(host_app.db.engine).get_table_names())
    assert "privacy_outbox" in tables and "privacy_policy_version" in tables
    assert not {"user", "post", "comment"} & tables
