"""The newsletter pages: subscribe, confirm (GET shows, POST acts), unsubscribe
(RFC 8058 one-click included) and a new confirmation link. Thin: the rules are in
:mod:`flask_webence_privacy.newsletter`."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.wrappers import Response as BaseResponse
from wtforms import BooleanField
from wtforms.validators import DataRequired

from .. import newsletter, tokens
from ..forms import PrivacyForm, age_field, email_field
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..language import current_language
from ..net import accepted, client_key, stored_ip
from ..state import State, get_state
from ..transactions import DatabaseUnavailable, retrying
from .common import private, read_result, render, result_token, see_other

#: Generous: a mail provider sends many one-click opt-outs from few addresses, and
#: a link without its token is useless anyway; this only stops hammering.
LINK_RATE_LIMIT = "60 per minute"
#: RFC 8058 section 3.1: the body a mail client POSTs for a one-click opt-out.
ONE_CLICK = {"List-Unsubscribe": ["One-Click"]}
#: Larger posts are refused before parsing; the forms hold a few short fields.
MAX_BODY = 16 * 1024


class SubscribeForm(PrivacyForm):
    email = email_field()
    # The label is set per request to the exact wording stored with the consent.
    consent = BooleanField(
        "", default=False,
        validators=[DataRequired(message=_l("Tick the box to receive the newsletter."))],
    )
    age_ok = age_field()


class ResendForm(PrivacyForm):
    email = email_field()


class ButtonForm(PrivacyForm):
    """The one-button pages: only the CSRF token."""


def init_views(bp: Blueprint, state: State) -> None:
    config = state.settings.newsletter

    def add(rule: str, endpoint: str, view: Any, limit: str, counts_success: bool) -> None:
        view = private(view)
        view.__name__ = f"newsletter_{endpoint}"
        # Each view checks CSRF itself (the form, or validate_csrf), so a missing
        # token gives the page back with a message instead of a bare 400, and the
        # one-click POST, which carries none, can pass.
        view = state.limiter.limit(limit, methods=["POST"], key_func=client_key,
                                   deduct_when=accepted if counts_success else None,
                                   on_breach=_too_many)(view)
        bp.add_url_rule(rule, endpoint, view, methods=["GET", "POST"])

    # The forms count only what they accept; the link pages count every POST.
    add("/newsletter", "newsletter", subscribe_page, config.rate_limit, True)
    add("/newsletter/resend", "newsletter_resend", resend_page, config.rate_limit, True)
    add("/newsletter/confirm/<token>", "newsletter_confirm", confirm_page, LINK_RATE_LIMIT, False)
    add("/newsletter/unsubscribe/<token>", "newsletter_unsubscribe", unsubscribe_page,
        LINK_RATE_LIMIT, False)
    # Where the forms land (303): a reload of a GET sends and stores nothing again.
    bp.add_url_rule("/newsletter/sent", "newsletter_sent", private(sent_page))
    bp.add_url_rule("/newsletter/resent", "newsletter_resent", private(sent_page),
                    defaults={"resent": True})
    bp.add_url_rule("/newsletter/confirmed/<result>", "newsletter_confirmed",
                    private(confirmed_page))


def _too_many(limit: Any) -> Response:
    return render("error.html", 429, title=_("Too many requests"),
                  message=_("You sent this form several times in a short time. "
                            "Please wait a while and try again."))


def _too_large() -> Response:
    return render("error.html", 413, title=_("Request too large"),
                  message=_("What you sent is too large for this form."))


def _link_error(reason: str, status: int | None = None) -> Response:
    """Invalid (404), expired (410, with a form for a new link), used (410)."""
    codes = {"invalid": 404, "expired": 410, "used": 410}
    return render("newsletter_link_error.html", status or codes.get(reason, 404),
                  reason=reason, form=ResendForm(formdata=None))


def sent_page(resent: bool = False) -> Response:
    # One page whatever the address's state: nobody learns who subscribed.
    return render("newsletter_sent.html", resent=resent)


def confirmed_page(result: str) -> Response:
    """After a confirmation: the subscriber's opt-out link, from a short-lived token
    holding the subscriber's id (the confirmation link itself is used up)."""
    state = get_state()
    try:
        payload = read_result(result)
    except tokens.TokenError as exc:
        return _link_error(exc.reason)
    subscriber = None
    if isinstance(payload, dict) and isinstance(payload.get("s"), int):
        subscriber = state.db.session.get(state.models.Subscriber, payload["s"])
    if subscriber is None:
        return _link_error("invalid")
    return render("newsletter_confirmed.html",
                  unsubscribe_url=newsletter.unsubscribe_url(state, subscriber))


def subscribe_page() -> Response | BaseResponse:
    state = get_state()
    language = current_language()
    wording = newsletter.consent_wording(state, language)
    if request.method == "POST" and (request.content_length or 0) > MAX_BODY:
        return _too_large()
    form = SubscribeForm()
    form.consent.label.text = wording
    if request.method == "GET":
        return render("newsletter.html", form=form)
    if not form.validate():
        return render("newsletter.html", 400, form=form)
    ip = stored_ip()
    started = time.perf_counter()
    try:
        result = retrying(state, lambda: newsletter.subscribe(
            state, email=form.email.data, wording=wording, language=language,
            age_confirmed=bool(form.age_ok.data), ip=ip))
    except DatabaseUnavailable:
        return render("newsletter.html", 503, form=form, unavailable=True)
    state.floors["newsletter"].settle(started, full=result.outcome is newsletter.Outcome.MAILED)
    # One answer whatever the address's state: nobody learns who subscribed.
    return see_other(".newsletter_sent")


def resend_page() -> Response | BaseResponse:
    state = get_state()
    if request.method == "POST" and (request.content_length or 0) > MAX_BODY:
        return _too_large()
    form = ResendForm()
    if request.method == "GET":
        return render("newsletter_resend.html", form=form)
    if not form.validate():
        return render("newsletter_resend.html", 400, form=form)
    started = time.perf_counter()
    result = newsletter.resend(state, email=form.email.data)
    state.floors["newsletter-resend"].settle(started,
                                             full=result.outcome is newsletter.Outcome.MAILED)
    return see_other(".newsletter_resent")


def confirm_page(token: str) -> Response | BaseResponse:
    state = get_state()
    if request.method == "GET":
        # A GET only looks: mail scanners open links before the visitor does.
        try:
            newsletter.check_confirm(state, token)
        except newsletter.LinkError as exc:
            return _link_error(exc.reason)
        return render("newsletter_confirm.html", form=ButtonForm())
    if (request.content_length or 0) > MAX_BODY:
        return _too_large()
    form = ButtonForm()
    if not form.validate():
        try:
            newsletter.check_confirm(state, token)
        except newsletter.LinkError as exc:
            return _link_error(exc.reason)
        return render("newsletter_confirm.html", 400, form=form)
    try:
        subscriber = newsletter.confirm(state, token, ip=stored_ip())
    except newsletter.LinkError as exc:
        return _link_error(exc.reason)
    return see_other(".newsletter_confirmed", result=result_token({"s": subscriber.id}))


def unsubscribe_page(token: str) -> Response | BaseResponse:
    state = get_state()
    if request.method == "POST" and (request.content_length or 0) > MAX_BODY:
        return _too_large()
    try:
        subscriber = newsletter.check_unsubscribe(state, token)
    except newsletter.LinkError as exc:
        return _link_error(exc.reason)
    if request.method == "GET":
        done = subscriber.status == newsletter.UNSUBSCRIBED
        return render("newsletter_unsubscribe.html", form=ButtonForm(), done=done)
    one_click = request.form.to_dict(flat=False) == ONE_CLICK
    if not one_click:
        form = ButtonForm()
        if not form.validate():
            return render("newsletter_unsubscribe.html", 400, form=form, done=False)
    try:
        newsletter.unsubscribe(state, token, one_click=one_click)
    except newsletter.LinkError as exc:
        return _link_error(exc.reason)
    if one_click:
        # 200 with a short page, never a redirect: a one-click client does not follow one.
        return render("newsletter_unsubscribe.html", form=None, done=True)
    # The visitor's button: back to the link's page, which now says it is done.
    return see_other(".newsletter_unsubscribe", token=token)
