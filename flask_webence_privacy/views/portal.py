"""The request portal: one form, a mailed link, then the page for each right."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, request, url_for
from wtforms import RadioField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from .. import address, cookies
from ..forms import NoControlCharacters, PrivacyForm, choice, email_field
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..language import current_language
from ..models import DataRequestRow
from ..net import accepted
from ..requests import erasure, export, lifecycle
from ..requests.lifecycle import MAX_DETAILS, OPEN, RequestError
from ..requests.rights import portability
from ..rights import BY_KIND, RIGHTS, Page, Posted, Refused
from ..state import State, get_state
from ..tokens import MAX_TOKEN_LENGTH, TokenError, keyed_hash
from ..transactions import DatabaseUnavailable, retrying
from .common import private, read_result, render, result_token, see_other


class RequestForm(PrivacyForm):
    email = email_field()
    kind = RadioField(
        _l("What would you like to do?"),
        # Read from the table on each form: a right registered later is offered too.
        choices=lambda: [choice(r.kind, r.label) for r in RIGHTS],
        validators=[InputRequired(message=_l("Choose what you would like to do."))],
    )
    details = TextAreaField(
        _l("Details"),
        validators=[Optional(), Length(max=MAX_DETAILS), NoControlCharacters(multiline=True)],
        render_kw={"maxlength": MAX_DETAILS, "rows": 4},
    )


class ActForm(PrivacyForm):
    """A button that POSTs (CSRF only): verify, erase, record, download."""


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
    # The organisation's link (portability to an organisation): a page whose
    # button downloads once; a GET uses nothing, so a mail scanner that follows
    # links cannot spend it.
    download_view = limit("30 per hour", methods=["POST"])(portability_download)
    bp.add_url_rule("/portability/<token>", "portability_download", download_view,
                    methods=["GET", "POST"])


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
    "downloaded": (410, _l("This download has already been used"),
                   _l("The data behind this link could be downloaded once, and it has been. "
                      "The person who named you can ask us to send it again.")),
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
        return _post(state, req, token, language, here)
    if req.verified_at is None:
        return render("request_verify.html", req=req, right=BY_KIND[req.kind], form=ActForm())
    return _verified_page(state, req, token, language)


def _post(state: State, req: DataRequestRow, token: str, language: str, here: str) -> Any:
    """Verify (every right), or the action of the request's right, from its module."""
    action = request.form.get("action", "")
    right = BY_KIND.get(req.kind)
    act = right.actions.get(action) if right is not None and action != "verify" else None
    form = (act.form if act is not None and act.form is not None else ActForm)()
    if not form.validate_on_submit():
        if form.errors.get("csrf_token"):
            return render("request_error.html", 400, title=_("The form had expired"),
                          message=_("Please go back, reload the page and try again."),
                          retry=here)
        if act is not None and act.shows_errors and req.verified_at is not None:
            return _verified_page(state, req, token, language, refused=form)
        return _error("invalid")
    try:
        if action == "verify":
            lifecycle.verify(state, token)
            return see_other(".request_page", token=token)
        if req.verified_at is None:
            return _error("unverified")
        if act is None:
            return _error("invalid")
        done = act.run(Posted(state, req, form, request.form, language))
    except Refused as refused:
        getattr(form, refused.field).errors = [refused.message]
        return _verified_page(state, req, token, language, refused=form)
    except erasure.ErasureFailed:
        return _error("failed")
    except RequestError as exc:
        return _error(exc.reason)
    if done.erased is not None:
        return see_other(".request_erased", result=result_token(dict(done.erased)))
    return see_other(".request_page", token=token)


def _verified_page(state: State, req: DataRequestRow, token: str, language: str,
                   refused: Any = None) -> Response:
    """The page of a confirmed request: the request's own lines, then what its
    right's module says the page shows (``refused``: a form shown again, 400)."""
    right = BY_KIND.get(req.kind)
    if right is None:  # a right the site no longer registers
        return _error("invalid")
    email = req.email or ""
    context: dict[str, Any] = {
        "req": req,
        "right": right,
        "token": token,
        "sources": export.readable_subject(state, email, language) if right.shows_data else [],
        "form": ActForm(),
        "open": req.status in OPEN,
        "due": lifecycle.due(req),
        # This browser's cookie choices (its id comes from its own choice cookie).
        "cookie_records": cookies.browser_records(state) if right.shows_cookie_records else [],
        "cookie_period": cookies.period(state.settings),
    }
    context.update(right.context(Page(state, req, token, language, refused)))
    return render("request_page.html", 400 if refused is not None else 200, **context)


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


@private
def portability_download(token: str) -> Any:
    """The organisation's link: a page with the download buttons; the POST hands
    over the export once (the link then answers 410)."""
    state = get_state()
    if len(token) > MAX_TOKEN_LENGTH:
        return _error("invalid")
    try:
        req = portability.load_download(state, token)
    except RequestError as exc:
        return _error(exc.reason)
    form = ActForm()
    if request.method == "GET":
        return render("portability_download.html", form=form)
    if not form.validate_on_submit():
        return render("request_error.html", 400, title=_("The form had expired"),
                      message=_("Please go back, reload the page and try again."),
                      retry=url_for(".portability_download", token=token))
    language = req.language or state.settings.default_language
    email = req.email or ""
    # Built before the link is spent, so a failure leaves it usable.
    data = export.export_subject(state, email, language)
    if request.form.get("format") == "zip":
        body = export.export_zip(data, export.readable_subject(state, email, language))
        mimetype, name = "application/zip", "privacy-export.zip"
    else:
        body, mimetype, name = export.export_json(data).encode(), "application/json", \
            "privacy-export.json"
    try:
        portability.claim_download(state, req)
    except RequestError as exc:
        return _error(exc.reason)
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
