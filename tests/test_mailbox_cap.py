"""Nobody can use the forms to bomb a mailbox: a daily ceiling per mailbox over
every kind of visitor-triggered mail (``PRIVACY_MAILBOX_DAILY_LIMIT``), however
the address is spelt and from however many IPs; IPv6 clients count per /64; the
request form's links have a per-address daily cap; the site's own addresses are
never capped and a flood of notifications shows. Real SMTP inbox; SQLite,
PostgreSQL and MariaDB through the ``database`` fixture."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flask_webence_privacy import address, doctor, net
from flask_webence_privacy.config import ConfigurationError
from flask_webence_privacy.mail import caps

from .conftest import csrf_token, wait_for_delivery
from .test_limits_faults import LOOSE, contact_post, outbox, request_post

PREFIX = "2001:db8:1234:5678"


def newsletter_post(client, email, ip):
    url = "/privacy/newsletter?lang=en"
    headers = {"X-Forwarded-For": ip}
    token = csrf_token(client, url, headers=headers)
    return client.post(url, headers=headers, data={
        "csrf_token": token, "email": email, "consent": "y", "age_ok": "y"})


def victim_mails(inbox):
    return [m for m in inbox.messages if str(m["To"]).split("@")[0].split("+")[0].endswith(
        "victim") and str(m["To"]).endswith("@example.org")]


def test_the_mailbox_is_the_canonical_address_without_its_tag():
    assert address.mailbox("Victim+7@Example.ORG") == "victim@example.org"
    assert address.mailbox("victim@exämple.org") == "victim@xn--exmple-cua.org"
    assert address.mailbox("+tag@example.org") == "+tag@example.org"
    assert address.mailbox("victim@example.org") == "victim@example.org"


def test_ipv6_limit_keys_count_the_slash_64_and_ipv4_the_address():
    assert net.limit_network(f"{PREFIX}::1") == net.limit_network(f"{PREFIX}:ffff::2")
    assert net.limit_network(f"{PREFIX}::1") != net.limit_network("2001:db8:1234:5679::1")
    assert net.limit_network("192.0.2.1") == "192.0.2.1"
    assert net.limit_network("192.0.2.1") != net.limit_network("192.0.2.2")


def test_forty_sign_ups_from_one_slash_64_put_at_most_ten_mails_in_the_mailbox(make_app, inbox):
    """The attack of issue 23: rotating X-Forwarded-For through one /64 and a new
    +tag each time. The per-IP limit is lifted so only the mailbox's ceiling
    stands; every answer is the one a visitor always gets."""
    app = make_app(PRIVACY_TRUSTED_PROXIES=1, **{**LOOSE, "PRIVACY_MAILBOX_DAILY_LIMIT": 10})
    client = app.test_client()
    statuses = {newsletter_post(client, f"victim+{n}@example.org", f"{PREFIX}::{n:x}").status_code
                for n in range(40)}
    assert statuses == {303}
    wait_for_delivery(app)
    assert len(victim_mails(inbox)) == 10
    assert len([k for k, _ in outbox(app) if k == "newsletter-confirm"]) == 10


def test_the_per_ip_limit_counts_the_whole_slash_64(make_app, inbox):
    app = make_app(PRIVACY_TRUSTED_PROXIES=1, PRIVACY_NEWSLETTER_RATE_LIMIT="10 per hour")
    client = app.test_client()
    statuses = [newsletter_post(client, f"victim+{n}@example.org", f"{PREFIX}::{n:x}").status_code
                for n in range(40)]
    assert statuses == [303] * 10 + [429] * 30
    wait_for_delivery(app)
    assert len(victim_mails(inbox)) <= 10


def test_the_ceiling_counts_every_kind_together(make_app, inbox):
    app = make_app(**{**LOOSE, "PRIVACY_MAILBOX_DAILY_LIMIT": 4})
    client = app.test_client()
    statuses = [contact_post(client, email=f"victim+c{n}@example.org", n=n).status_code
                for n in range(3)]
    statuses += [newsletter_post(client, f"victim+n{n}@example.org", "192.0.2.1").status_code
                 for n in range(3)]
    statuses += [request_post(client, f"Victim+r{n}@Example.org").status_code for n in range(3)]
    assert statuses == [303] * 9
    wait_for_delivery(app)
    assert len(victim_mails(inbox)) == 4
    # The owner sees every message: one notification per contact post.
    assert len(inbox.to("info@webence.nl")) == 3


def test_the_request_form_mails_one_address_a_few_links_a_day(make_app, inbox):
    app = make_app(**LOOSE)
    client = app.test_client()
    kinds = ["access", "erasure", "portability", "rectification", "restriction"]
    assert [request_post(client, "anna@example.nl", kind).status_code for kind in kinds] \
        == [303] * len(kinds)
    wait_for_delivery(app)
    assert len(inbox.to("anna@example.nl")) == 3  # PRIVACY_REQUEST_MAX_LINK_MAILS
    # Every request is filed; the ones over the cap wait for a later filing's link.
    # (PRIVACY_REQUEST_MAX_LINK_MAILS, 3 by default: the per-hour limit alone let
    # through about 120 a day)
    assert len([k for k, _ in outbox(app) if k == "request-verify"]) == 3


def test_the_owners_notifications_are_never_capped_and_a_flood_shows(make_app, inbox,
                                                                     monkeypatch):
    app = make_app(**{**LOOSE, "PRIVACY_MAILBOX_DAILY_LIMIT": 2})
    client = app.test_client()
    posts = 6
    assert {contact_post(client, email=f"anna{n}@example.nl", n=n).status_code
            for n in range(posts)} == {303}
    wait_for_delivery(app)
    assert len(inbox.to("info@webence.nl")) == posts
    state = app.extensions["webence_privacy"]
    with app.app_context():
        assert caps.recent_notifications(state) == posts
        # The site's own address is never capped, however often it is typed.
        assert all(caps.mailbox_allows(state, "info@webence.nl") for _ in range(5))
    output = app.test_cli_runner().invoke(args=["privacy", "check"]).output
    assert f"Maintainer notifications in the last hour: {posts}." in output
    monkeypatch.setattr(doctor, "NOTIFY_FLOOD", posts - 1)
    output = app.test_cli_runner().invoke(args=["privacy", "check"]).output
    assert "privacy.W014" in output
    # ... and the maintainer's own page says it first.
    app.config["PRIVACY_ADMIN_CHECK"] = None
    app.extensions["webence_privacy"].settings = replace(state.settings,
                                                         admin_check=lambda: True)
    page = client.get("/privacy/admin/?lang=en").get_data(as_text=True)
    assert f"{posts} notifications were mailed to you in the last hour." in page


@pytest.mark.parametrize("limit", [0, -1, "10", True])
def test_a_bad_mailbox_limit_stops_the_start_naming_the_key(make_app, limit):
    with pytest.raises(ConfigurationError, match="PRIVACY_MAILBOX_DAILY_LIMIT"):
        make_app(create=False, PRIVACY_MAILBOX_DAILY_LIMIT=limit)
