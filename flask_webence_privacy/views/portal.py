"""The request portal: one form, a mailed link, then the page for each right."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, request, url_for
from wtforms import BooleanField, RadioField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from .. import address, cookies
from ..forms import NoControlCharacters, PrivacyForm, email_field
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..language import current_language
from ..models import DataRequestRow
from ..net import accepted
from ..requests import erasure, export, lifecycle, marks
from ..requests.lifecycle import MAX_DETAILS, OPEN, RequestError
from ..rights import BY_KIND, RIGHTS
from ..state import State, get_state
from ..tokens import MAX_TOKEN_LENGTH, TokenError, keyed_hash
from ..transactions import DatabaseUnavailable, retrying
from .common import private, read_result, render, result_token, see_other


class RequestForm(PrivacyForm):
    email = email_field()
    kind = RadioField(
        _l("What would you like to do?"),
        choices=[(r.kind, r.label) for r in RIGHTS],
        validators=[InputRequired(message=_l("Choose what you would like to do."))],
    )
    details = TextAreaField(
        _l("Details"),
        validators=[Optional(), Length(max=MAX_DETAILS), NoControlCharacters(multiline=True)],
        render_kw={"maxlength": MAX_DETAILS, "rows": 4},
    )


class ActForm(PrivacyForm):
    """A button that POSTs (CSRF only): verify, erase, record."""


class GroundsForm(PrivacyForm):
    grounds = TextAreaField(
        _l("Your grounds"),
        validators=[Optional(), Length(max=MAX_DETAILS), NoControlCharacters(multiline=True)],
        render_kw={"maxlength": MAX_DETAILS, "rows": 4},
    )
    marketing = BooleanField(_l("I object to the use of my data for direct marketing, "
                                "such as the newsletter"))


def _address_key() -> str:
    """Rate-limit key per address (hashed: the limiter's storage never holds it)."""
    try:
        return "request:" + keyed_hash(address.canonical(request.form.get("email", "")))
    except address.InvalidAddress:
        return "request:invalid"


def init_views(bp: Blueprint, state: State) -> None:
    limit = state.limiter.limit
    # Only filed requests count: a mistyped form never locks a visitor out.
    settings = state.settings
    form_view = limit(settings.request_rate_limit, methods=["POST"],
                      deduct_when=accepted)(request_form)
    form_view = limit(settings.request_address_rate_limit, methods=["POST"],
                      key_func=_address_key, deduct_when=accepted)(form_view)
    form_view = private(form_view)
    # The form checks its CSRF token itself (PrivacyForm), so a missing or broken
    # token (a body that is not UTF-8 loses every field) gives the form back with
    # its message, as on the other public forms, instead of a bare 400 page.
    bp.add_url_rule("/request", "request_form", form_view, methods=["GET", "POST"])
    # Where the forms land (303): reloading them files and mails nothing again.
    bp.add_url_rule("/request/sent", "request_sent", private(request_sent))
    bp.add_url_rule("/request/erased/<result>", "request_erased", private(request_erased))
    page_view = limit("30 per hour", methods=["POST"])(request_page)
    # The page is sent with Referrer-Policy: no-referrer (its URL is a secret), so
    # browsers post its forms without a Referer, which a host's CSRFProtect would
    # refuse (setup.exempt_from_host_csrf). Its forms check the CSRF token themselves
    # (PrivacyForm), and the signed link in the URL is a second, unguessable secret.
    bp.add_url_rule("/request/<token>", "request_page", page_view, methods=["GET", "POST"])
    bp.add_url_rule("/request/<token>/export.json", "request_export", request_export)
    bp.add_url_rule("/request/<token>/export.zip", "request_export_zip", request_export_zip)


def request_form() -> Any:
    state = get_state()
    form = RequestForm()
    if request.method == "GET":
        preset = request.args.get("kind")
        if preset in BY_KIND:
            form.kind.data = preset
    if form.validate_on_submit():
        language = current_language()
        started = time.perf_counter()
        try:
            filed = retrying(state, lambda: lifecycle.create_request(
                state, form.email.data, form.kind.data, form.details.data, language))
        except DatabaseUnavailable:
            return render("request.html", 503, form=form, rights=RIGHTS, unavailable=True)
        state.floors["request"].settle(started, full=filed.created)
        # The same page whether the address is known, new or already has a request.
        return see_other(".request_sent")
    status = 400 if request.method == "POST" else 200
    return render("request.html", status, form=form, rights=RIGHTS)


def request_sent() -> Response:
    return render("request_sent.html")


def request_erased(result: str) -> Response:
    """What the erasure did, from a short-lived signed report (counts, no address):
    the request's own link no longer works once its data is gone."""
    try:
        report = read_result(result)
    except TokenError as exc:
        return _error(exc.reason)
    if not isinstance(report, dict) or not isinstance(report.get("erased"), list) \
            or not isinstance(report.get("kept"), list):
        return _error("invalid")
    return render("request_erased.html", report=report)


ERRORS = {
    "invalid": (400, _l("This link does not work"),
                _l("The link is incomplete, has been replaced by a newer one, or is no longer "
                   "valid. You can file your request again.")),
    "expired": (410, _l("This link has expired"),
                _l("For your safety, links expire. You can file your request again and we "
                   "will mail you a new link.")),
    "used": (409, _l("This link has already been used"),
             _l("What this link was for has been done. You can file a new request if you "
                "need to.")),
    "closed": (409, _l("This request is closed"),
               _l("This request has been handled. You can file a new request if you need to.")),
    "unverified": (409, _l("Please confirm your request first"),
                   _l("Open the link from the mail and press the button to confirm.")),
    "failed": (503, _l("Your data could not be erased right now"),
               _l("Something went wrong while erasing, so nothing was changed and your request "
                  "is still open. Please try again later; we have been notified.")),
}


def _error(reason: str) -> Response:
    status, title, message = ERRORS.get(reason, ERRORS["invalid"])
    return render("request_error.html", status, title=title, message=message,
                  retry=url_for(".request_form"))


def _load(state: State, token: str) -> DataRequestRow:
    if len(token) > MAX_TOKEN_LENGTH:
        raise RequestError("invalid")
    return lifecycle.load(state, token)


@private
def request_page(token: str) -> Any:
    state = get_state()
    try:
        req = _load(state, token)
    except RequestError as exc:
        return _error(exc.reason)
    language = current_language()
    here = url_for(".request_page", token=token)
    if request.method == "POST":
        action = request.form.get("action", "")
        form = GroundsForm() if action == "mark" else ActForm()
        if not form.validate_on_submit():
            return _error("invalid") if not form.errors.get("csrf_token") else render(
                "request_error.html", 400, title=_("The form had expired"),
                message=_("Please go back, reload the page and try again."), retry=here)
        try:
            if action == "verify":
                lifecycle.verify(state, token)
                return see_other(".request_page", token=token)
            if req.verified_at is None:
                return _error("unverified")
            if action == "erase":
                report = erasure.erase_by_request(state, req)
                return see_other(".request_erased", result=result_token(report.as_dict()))
            if action == "withdraw":
                purposes = request.form.getlist("purpose")
                chosen = None if request.form.get("all") else purposes
                marks.withdraw_consents(state, req, chosen, language)
                return see_other(".request_page", token=token)
            if action == "mark":
                marks.record_mark(state, req, form.grounds.data, bool(form.marketing.data))
                return see_other(".request_page", token=token)
            if action == "rectify":
                changes = _changes(request.form)
                marks.rectify(state, req, changes, request.form.get("note", "")[:4000])
                return see_other(".request_page", token=token)
        except erasure.ErasureFailed:
            return _error("failed")
        except RequestError as exc:
            return _error(exc.reason)
        return _error("invalid")
    if req.verified_at is None:
        return render("request_verify.html", req=req, right=BY_KIND[req.kind], form=ActForm())
    return _verified_page(state, req, token, language)


def _changes(form: Any) -> dict[tuple[int, Any, str], str]:
    """Fields named ``fix-<source>-<row>-<field>`` from the rectification form."""
    changes: dict[tuple[int, Any, str], str] = {}
    for key, value in form.items():
        if not key.startswith("fix-"):
            continue
        parts = key.split("-", 3)
        if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
            continue
        changes[(int(parts[1]), int(parts[2]), parts[3])] = value[:1000]
    return changes


def _verified_page(state: State, req: DataRequestRow, token: str, language: str) -> Response:
    email = req.email or ""
    context: dict[str, Any] = {
        "req": req,
        "right": BY_KIND[req.kind],
        "token": token,
        "sources": export.readable_subject(state, email, language),
        "form": ActForm(),
        "open": req.status in OPEN,
        "due": lifecycle.due(req),
        # This browser's cookie choices (its id comes from its own choice cookie).
        "cookie_records": (cookies.browser_records(state)
                           if req.kind in ("access", "portability", "withdraw") else []),
        "cookie_period": cookies.period(state.settings),
    }
    if req.kind == "erasure":
        # The erasure's own walk, counting only: the page promises what it does.
        context["plan"] = erasure.plan(state, email, language)
    elif req.kind == "withdraw":
        context["consents"] = marks.active_consents(state, email)
    elif req.kind in ("objection", "restriction"):
        form = GroundsForm()
        form.grounds.data = req.details
        context["form"] = form
        context["marked"] = req.token_used_at is not None
    elif req.kind == "rectification":
        context["editable"] = marks.editable_records(state, email, language)
    return render("request_page.html", **context)


def _export_request(token: str) -> tuple[State, DataRequestRow]:
    state = get_state()
    req = _load(state, token)
    if req.verified_at is None:
        raise RequestError("unverified")
    return state, req


@private
def request_export(token: str) -> Any:
    try:
        state, req = _export_request(token)
    except RequestError as exc:
        return _error(exc.reason)
    data = export.export_subject(state, req.email or "", current_language())
    response = Response(export.export_json(data), mimetype="application/json")
    # No personal data in the file name (it ends up in download folders and logs).
    response.headers["Content-Disposition"] = 'attachment; filename="privacy-export.json"'
    return response


@private
def request_export_zip(token: str) -> Any:
    try:
        state, req = _export_request(token)
    except RequestError as exc:
        return _error(exc.reason)
    data = export.export_subject(state, req.email or "", current_language())
    readable = export.readable_subject(state, req.email or "", current_language())
    response = Response(export.export_zip(data, readable), mimetype="application/zip")
    response.headers["Content-Disposition"] = 'attachment; filename="privacy-export.zip"'
    return response
