"""Whatever a visitor (or a bot) posts to the contact form, the answer is never a 500:
either the thanks page, the form again with a 400, or a refusal page."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import csrf_token, handles

pytestmark = pytest.mark.fuzz

URL = "/privacy/contact"

# Any text a browser can send (lone surrogates cannot be encoded, so no browser sends them).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
maybe = st.one_of(st.none(), text)
fields = st.fixed_dictionaries({
    "name": maybe,
    "email": st.one_of(maybe, st.emails().map(str)),
    "phone": maybe,
    "company": maybe,
    "purpose": st.one_of(maybe, st.sampled_from(["question", "quote"])),
    "message": maybe,
    "age_ok": st.one_of(maybe, st.just("y")),
    "website": st.one_of(st.none(), st.just(""), text),
    "csrf_token": st.one_of(st.just("valid"), maybe),
})


@pytest.fixture
def fuzz_app(make_sqlite_app):
    # Mail stays in the outbox ("sender"): a background sender would draw on the
    # random module (Message-IDs) while Hypothesis generates the next example.
    return make_sqlite_app(PRIVACY_CONTACT_RATE_LIMIT="100000 per minute",
                           MAIL_SUPPRESS_SEND=True, PRIVACY_MAIL_DISPATCH="sender")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=fields, lang=st.sampled_from(["nl", "en", "xx", ""]))
def test_any_post_to_the_contact_form_is_answered_without_a_server_error(fuzz_app, data, lang):
    client = fuzz_app.test_client()
    token = csrf_token(client, URL)
    posted = {k: (token if k == "csrf_token" and v == "valid" else v)
              for k, v in data.items() if v is not None}
    response = client.post(f"{URL}?lang={lang}", data=posted, follow_redirects=True)
    assert response.status_code in (200, 400, 413), response.status_code
    if response.status_code == 400:
        assert "wp-summary" in response.get_data(as_text=True)


def test_a_message_keeps_its_line_breaks_and_tabs_while_the_name_is_trimmed(fuzz_app):
    client = fuzz_app.test_client()
    token = csrf_token(client, URL)
    client.post(URL, data={"csrf_token": token, "purpose": "quote", "name": " Ö ",
                           "email": "o@example.nl", "message": "tab\there\r\nnext",
                           "age_ok": "y"}, follow_redirects=True)
    db, _ = handles(fuzz_app)
    models = fuzz_app.extensions["webence_privacy"].models
    with fuzz_app.app_context():
        (row,) = db.session.scalars(db.select(models.ContactMessage)).all()
        assert row.name == "Ö"
        assert row.message == "tab\there\r\nnext"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(purpose=text, lang=text)
def test_any_link_to_the_form_shows_it_and_stores_nothing(fuzz_app, purpose, lang):
    response = fuzz_app.test_client().get(URL, query_string={"purpose": purpose, "lang": lang,
                                                             "name": purpose, "age_ok": "y"})
    assert response.status_code == 200
    db, _ = handles(fuzz_app)
    models = fuzz_app.extensions["webence_privacy"].models
    with fuzz_app.app_context():
        assert db.session.scalar(db.select(db.func.count(models.ContactMessage.id))) == 0
