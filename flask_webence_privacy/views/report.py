"""``/report``: a report of misuse or of data not properly secured. Thin: read the
form, call :func:`flask_webence_privacy.breaches.report`, render."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .. import address, breaches
from ..forms import EmailAddress, NoControlCharacters, PrivacyForm
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..language import current_language
from ..net import accepted, client_key
from ..state import State, get_state
from ..transactions import DatabaseUnavailable, retrying
from .common import private, render, see_other

#: A post larger than this is refused before it is parsed (as on the contact form).
MAX_BODY = 64 * 1024


class ReportForm(PrivacyForm):
    # Optional: a report is welcome without a way to answer it.
    email = StringField(
        _l("Your e-mail address"),
        validators=[Optional(), Length(max=address.MAX_LENGTH), EmailAddress()],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        render_kw={"autocomplete": "email", "type": "email", "maxlength": address.MAX_LENGTH},
    )
    details = TextAreaField(
        _l("What did you notice?"),
        validators=[DataRequired(message=_l("Describe what you noticed.")),
                    Length(max=breaches.MAX_DETAILS,
                           message=_l("Use at most %(max)d characters.")),
                    NoControlCharacters(multiline=True)],
        render_kw={"rows": 8, "maxlength": breaches.MAX_DETAILS},
    )


def init_views(bp: Blueprint, state: State) -> None:
    view = state.limiter.limit(
        state.settings.contact_rate_limit,
        methods=["POST"],
        key_func=client_key,
        deduct_when=accepted,
        on_breach=_too_many,
    )(private(report_page))
    # CSRF is the form's own (PrivacyForm): a missing token gives the form back.
    bp.add_url_rule("/report", "report", view, methods=["GET", "POST"])
    bp.add_url_rule("/report/sent", "report_sent", private(report_sent))
    # The privacy page and the report form state the deadline from the one constant.
    bp.add_app_template_global(breaches.notify_hours, "privacy_breach_hours")


def _too_many(limit: Any) -> Response:
    return render("error.html", 429, title=_("Too many reports"),
                  message=_("You sent several reports in a short time. "
                            "Please wait a while and try again."))


def report_sent() -> Response:
    """Where a sent report lands (303): reloading it sends nothing again."""
    return render("report_sent.html")


def report_page() -> Response | BaseResponse:
    state = get_state()
    if request.method == "POST" and (request.content_length or 0) > MAX_BODY:
        return render("error.html", 413, title=_("Message too long"),
                      message=_("Your message is too long to send. Please shorten it, "
                                "or mail us directly."))
    try:
        form = ReportForm()
    except RequestEntityTooLarge:
        return render("error.html", 413, title=_("Message too long"))
    if request.method == "GET":
        return _form(form)
    if not form.validate():
        return _form(form, 400)
    try:
        retrying(state, lambda: breaches.report(
            state, details=form.details.data, email=form.email.data or None,
            language=current_language()))
    except breaches.BreachError as exc:  # the form lets nothing through that this refuses
        getattr(form, exc.field).errors = [_("Check this field.")]
        return _form(form, 400)
    except DatabaseUnavailable:
        return _form(form, 503, unavailable=True)
    return see_other(".report_sent")


def _form(form: ReportForm, status: int = 200, unavailable: bool = False) -> Response:
    return render("report.html", status, form=form, unavailable=unavailable)
