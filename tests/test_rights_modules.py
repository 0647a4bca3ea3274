"""Each right is one module, registered in one table that the portal's form and
page, the maintainer's filing and the labels read: none of them names a kind."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from jinja2 import ChoiceLoader, DictLoader

from flask_webence_privacy import rights
from flask_webence_privacy.labels import kind_label
from flask_webence_privacy.requests import lifecycle
from flask_webence_privacy.rights import Action, Done, Page, Posted, Right

from .conftest import Inbox, csrf_token

PACKAGE = Path(__file__).resolve().parent.parent / "flask_webence_privacy"
SEVEN = ("access", "rectification", "erasure", "portability", "withdraw", "objection",
         "restriction")
REFERER = {"Referer": "https://webence.test/privacy/request"}


def test_each_right_has_its_module_and_template():
    assert rights.kinds() == SEVEN
    for kind in SEVEN:
        module = importlib.import_module(f"flask_webence_privacy.requests.rights.{kind}")
        right = module.RIGHT
        assert right is rights.get(kind) and right.kind == kind
        assert (PACKAGE / "templates" / right.template).is_file()
        for mail in right.mails:
            assert (PACKAGE / "templates" / "webence_privacy" / "email" / f"{mail}.txt").is_file()


def test_the_self_served_set_is_declared_once():
    assert rights.self_served() == {"access", "portability"}
    # No module outside the table spells a kind list of its own any more.
    for path in [PACKAGE / "requests" / "lifecycle.py", PACKAGE / "views" / "portal.py",
                 PACKAGE / "templates" / "webence_privacy" / "request_page.html"]:
        text = path.read_text()
        assert not re.search(r'"(access|portability|erasure|withdraw|objection|restriction|'
                             r'rectification)"', text), path.name


def test_a_right_is_registered_once():
    with pytest.raises(ValueError, match="'access'"):
        rights.register(Right("access", "15", "again", "again", template="x.html"))


@pytest.fixture
def an_eighth_right(tmp_path):
    """A site's own right: "complaint", whose page takes one POST that records
    the words in the request's details."""
    seen: list[str] = []

    def page(page: Page) -> dict[str, Any]:
        return {"said": page.req.details or ""}

    def complain(posted: Posted) -> Done:
        seen.append(posted.values.get("words", ""))
        posted.req.details = posted.values.get("words", "")
        posted.state.db.session.commit()
        return Done()

    right = rights.register(Right(
        "complaint", "77", "File a complaint", "Tell us what went wrong.",
        template="complaint.html", page=page, actions={"complain": Action(complain)},
        order=65))
    yield right, seen
    rights.unregister("complaint")


COMPLAINT_HTML = """<p id="said">{{ said }}</p>
<form method="post">{{ form.csrf_token }}<input type="hidden" name="action" value="complain">
<input name="words"><button>Send</button></form>"""


def test_an_eighth_right_is_offered_filed_and_dispatched(make_app, inbox, an_eighth_right):
    right, seen = an_eighth_right
    assert rights.kinds() == (*SEVEN[:6], "complaint", "restriction")

    def setup(app, db, privacy):
        app.jinja_loader = ChoiceLoader([DictLoader({"complaint.html": COMPLAINT_HTML}),
                                         app.jinja_loader])

    site = make_app(setup=setup)
    client = site.test_client()
    form = client.get("/privacy/request?lang=en").get_data(as_text=True)
    assert 'value="complaint"' in form and "File a complaint" in form
    with site.test_request_context():
        assert str(kind_label("complaint")) == "File a complaint"

    client.post("/privacy/request", headers=REFERER, data={
        "csrf_token": csrf_token(client, "/privacy/request"), "email": "ana@example.nl",
        "kind": "complaint"})
    link = next(u for u in Inbox.links(inbox.wait_to("ana@example.nl")[-1])
                if "/privacy/request/" in u).split("?")[0].split("webence.test")[-1]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get(link).get_data(as_text=True)).group(1)
    assert client.post(link, data={"csrf_token": token, "action": "verify"}).status_code == 303
    assert client.post(link, data={"csrf_token": token, "action": "complain",
                                   "words": "Too much mail"}).status_code == 303
    assert seen == ["Too much mail"]
    assert '<p id="said">Too much mail</p>' in client.get(link).get_data(as_text=True)
    # Another right's act is not this right's: refused.
    assert client.post(link, data={"csrf_token": token, "action": "erase"}).status_code == 400


def test_the_maintainer_files_an_eighth_right_and_refuses_an_unknown_one(make_app, inbox,
                                                                         an_eighth_right):
    site = make_app()
    state = site.extensions["webence_privacy"]
    with site.test_request_context():
        filed = lifecycle.file_received(state, "bo@example.nl", "complaint")
        assert filed.request.kind == "complaint"
        with pytest.raises(lifecycle.FilingError, match="complaint"):
            lifecycle.file_received(state, "bo@example.nl", "nonsense")
