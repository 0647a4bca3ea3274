"""The maintainer sees open requests with their deadlines and answers them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from flask_webence_privacy.models import utcnow

from .conftest import Inbox, handles
from .test_portal import ANA, _host_model, verified


@pytest.fixture
def site(make_app):
    return make_app(setup=_host_model, PRIVACY_ADMIN_CHECK=lambda: True)


def add_request(app, kind="access", email=ANA, verified_days_ago=0, status="verified",
                details=None):
    db, _ = handles(app)
    models = app.extensions["webence_privacy"].models
    from flask_webence_privacy import tokens

    with app.test_request_context():
        verified_at = utcnow() - dt.timedelta(days=verified_days_ago)
        row = models.DataRequest(email=email, email_hash=tokens.keyed_hash(email), kind=kind,
                                 status=status, language="nl", details=details,
                                 verified_at=verified_at,
                                 due_at=verified_at + dt.timedelta(days=28))
        db.session.add(row)
        db.session.commit()
        return row.id, row.due_at.date().isoformat()


def form_token(client, url):
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="[a-z]*-?csrf_token" type="hidden" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("check, status", [(None, 404), (lambda: False, 403)])
def test_the_admin_is_closed_unless_the_check_says_otherwise(make_app, check, status):
    app = make_app(PRIVACY_ADMIN_CHECK=check)
    add_request(app)
    client = app.test_client()
    assert client.get("/privacy/admin/").status_code == status
    assert client.get("/privacy/admin/requests/1").status_code == status
    assert client.post("/privacy/admin/requests/1/complete").status_code in (400, status)


def test_overdue_requests_come_first_with_iso_due_dates(site):
    fresh_id, fresh_due = add_request(site, "access", verified_days_ago=1)
    late_id, late_due = add_request(site, "erasure", email="bob@example.nl", verified_days_ago=40)
    response = site.test_client().get("/privacy/admin/")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body.index(f'data-request="{late_id}"') < body.index(f'data-request="{fresh_id}"')
    assert late_due in body and fresh_due in body
    assert "wp-overdue" in body


def test_the_cli_prints_the_same_list_with_iso_dates(site):
    add_request(site, "access", verified_days_ago=1)
    _, late_due = add_request(site, "erasure", email="bob@example.nl", verified_days_ago=40)
    runner = site.test_cli_runner()
    result = runner.invoke(args=["privacy", "requests"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and f"due {late_due}" in lines[0] and "OVERDUE" in lines[0]
    overdue = runner.invoke(args=["privacy", "requests", "--overdue"])
    assert overdue.output.strip().splitlines() == [lines[0]]


def test_the_cli_exports_an_address_as_json(site):
    import json

    add_request(site, "access")
    result = site.test_cli_runner().invoke(args=["privacy", "export", ANA])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert any(s["source"] == "DataRequest" and s["count"] == 1 for s in data["sources"])


def test_admin_output_is_escaped(site):
    request_id, _ = add_request(site, "objection", details="<script>alert(1)</script>")
    body = site.test_client().get(f"/privacy/admin/requests/{request_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_an_extension_is_mailed_to_the_requester_with_its_reason(site, inbox):
    verified(site, inbox, "objection")
    inbox.clear()
    client = site.test_client()
    db, _ = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        req = db.session.scalars(db.select(models.DataRequest)).one()
        first_due = req.due_at
    url = f"/privacy/admin/requests/{req.id}"
    token = form_token(client, url)
    response = client.post(url + "/extend", data={
        "extend-csrf_token": token, "extend-months": "2",
        "extend-reason": "We moeten uw bezwaar met onze boekhouder bespreken."})
    assert response.status_code == 303
    mail = inbox.wait(1)[0]
    assert ANA in str(mail["To"])
    assert "boekhouder bespreken" in Inbox.text(mail)
    with site.app_context():
        req = db.session.get(models.DataRequest, req.id)
        assert req.extended_until == first_due + relativedelta(months=2)  # art. 12(3)
    assert req.extended_until.date().isoformat() in client.get("/privacy/admin/").get_data(
        as_text=True)


def test_an_extension_without_a_reason_is_refused(site, inbox):
    request_id, _ = add_request(site, "objection")
    client = site.test_client()
    url = f"/privacy/admin/requests/{request_id}"
    token = form_token(client, url)
    response = client.post(url + "/extend", data={"extend-csrf_token": token,
                                                  "extend-months": "2", "extend-reason": ""})
    assert response.status_code == 400
    db, _ = handles(site)
    with site.app_context():
        req = db.session.get(site.extensions["webence_privacy"].models.DataRequest, request_id)
        assert req.extended_until is None


def test_complete_and_reject(site, inbox):
    done_id, _ = add_request(site, "objection")
    refused_id, _ = add_request(site, "erasure", email="bob@example.nl")
    client = site.test_client()
    url = f"/privacy/admin/requests/{done_id}"
    token = form_token(client, url)
    assert client.post(url + "/complete", data={"complete-csrf_token": token,
                                                "complete-resolution": "Gesprek gevoerd"}
                       ).status_code == 303
    assert client.post(f"/privacy/admin/requests/{refused_id}/reject", data={
        "reject-csrf_token": token, "reject-reason": "Wij hebben geen gegevens."}
    ).status_code == 303
    assert "Wij hebben geen gegevens." in Inbox.text(inbox.wait(1)[0])
    db, _ = handles(site)
    models = site.extensions["webence_privacy"].models
    with site.app_context():
        statuses = dict(db.session.execute(sa.select(models.DataRequest.id,
                                                     models.DataRequest.status)).all())
    assert statuses == {done_id: "completed", refused_id: "rejected"}
    assert "No open requests" in client.get("/privacy/admin/?lang=en").get_data(as_text=True)


def test_admin_posts_need_the_csrf_token(site):
    request_id, _ = add_request(site, "objection")
    response = site.test_client().post(f"/privacy/admin/requests/{request_id}/complete")
    assert response.status_code == 400
