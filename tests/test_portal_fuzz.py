"""Whatever is posted to the request form or put in a link, the answer is never a 500."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import csrf_token, handles

pytestmark = pytest.mark.fuzz

URL = "/privacy/request"
REFERER = {"Referer": "https://webence.test/privacy/request"}
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
maybe = st.one_of(st.none(), text)
fields = st.fixed_dictionaries({
    "email": st.one_of(maybe, st.emails().map(str)),
    "kind": st.one_of(maybe, st.sampled_from(["access", "erasure", "restriction"])),
    "details": st.one_of(maybe, st.text(max_size=5000)),
    "csrf_token": st.one_of(st.just("valid"), maybe),
})


@pytest.fixture
def fuzz_app(make_sqlite_app):
    # Mail stays in the outbox ("sender"): a background sender would draw on the
    # random module (Message-IDs) while Hypothesis generates the next example.
    return make_sqlite_app(RATELIMIT_ENABLED=False, MAIL_SUPPRESS_SEND=True,
                           PRIVACY_MAIL_DISPATCH="sender")


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=fields)
def test_any_post_to_the_request_form_is_answered_without_a_server_error(fuzz_app, data):
    client = fuzz_app.test_client()
    token = csrf_token(client, URL)
    posted = {k: (token if k == "csrf_token" and v == "valid" else v)
              for k, v in data.items() if v is not None}
    response = client.post(URL, data=posted, headers=REFERER, follow_redirects=True)
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 200:
        db, _ = handles(fuzz_app)
        models = fuzz_app.extensions["webence_privacy"].models
        with fuzz_app.app_context():
            for row in db.session.scalars(db.select(models.DataRequest)):
                assert "\n" not in row.email and len(row.details or "") <= 4000


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#"),
                     min_size=1, max_size=600),
       suffix=st.sampled_from(["", "/export.json", "/export.zip"]))
def test_any_token_gets_a_clear_refusal(fuzz_app, token, suffix):
    response = fuzz_app.test_client().get(f"{URL}/{token}{suffix}")
    # 308: Werkzeug's routing normalises some odd paths (e.g. a lone newline) first.
    assert response.status_code in (400, 404, 308), response.status_code
    if response.status_code == 400:
        assert response.headers["Cache-Control"] == "no-store"
