"""The maintainer's side: open requests with their deadlines, overdue first.

Closed unless ``PRIVACY_ADMIN_CHECK`` returns true: unset, the pages do not exist
(404) for anyone; set but false, they are forbidden (403).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, request
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..forms import NoControlCharacters, PrivacyForm, choice
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..labels import channel_label
from ..language import current_language
from ..mail import recent_notifications
from ..models import utcnow
from ..requests import lifecycle
from ..rights import RIGHTS
from ..state import State, get_state
from .common import private, render, see_other


class ReasonForm(PrivacyForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(message=_l("Give a reason.")), Length(max=lifecycle.MAX_DETAILS),
                    NoControlCharacters(multiline=True)],
        render_kw={"rows": 3, "maxlength": lifecycle.MAX_DETAILS},
    )


class ExtendForm(ReasonForm):
    months = RadioField(_l("Extend by"),
                        choices=[choice("1", _l("one month")), choice("2", _l("two months"))],
                        default="2", validators=[DataRequired()])


class CompleteForm(PrivacyForm):
    resolution = TextAreaField(
        # The form's macro adds "(optional)" to a field that is not required.
        _l("What was done"),
        validators=[Length(max=lifecycle.MAX_DETAILS), NoControlCharacters(multiline=True)],
        render_kw={"rows": 2, "maxlength": lifecycle.MAX_DETAILS},
    )


def _received_date(form: Any, field: Any) -> None:
    """The date field as a date (browsers send YYYY-MM-DD); the rules on it
    (not in the future) are the domain's."""
    try:
        field.parsed = dt.date.fromisoformat(field.data) if field.data else None
    except ValueError:
        raise ValidationError(_("%(value)s is not a date; give it as YYYY-MM-DD.",
                                value=repr(field.data))) from None


class NewRequestForm(PrivacyForm):
    """A request that arrived by mail, phone or letter, filed by the maintainer."""

    email = StringField(
        _l("E-mail address of the person"),
        validators=[DataRequired(message=_l("Enter the person's e-mail address.")),
                    Length(max=320)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        render_kw={"type": "email", "maxlength": 320, "autocomplete": "off"},
    )
    # Any value reaches the domain, which refuses what it does not know by name.
    kind = SelectField(_l("Kind of request"), validate_choice=False,
                       choices=[choice(r.kind, r.label) for r in RIGHTS],
                       validators=[DataRequired(message=_l("Choose the kind of request."))])
    channel = SelectField(_l("Received by"), validate_choice=False,
                          choices=[choice(c, channel_label(c)) for c in lifecycle.CHANNELS],
                          validators=[DataRequired(message=_l("Choose how it was received."))])
    received = StringField(_l("Received on"), validators=[Optional(), _received_date],
                           render_kw={"type": "date"})
    language = SelectField(_l("Language of the mails"), validate_choice=False, choices=[],
                           validators=[DataRequired(message=_l("Choose a language."))])
    details = TextAreaField(
        _l("What was asked"),
        validators=[Optional(), Length(max=lifecycle.MAX_DETAILS),
                    NoControlCharacters(multiline=True)],
        render_kw={"rows": 3, "maxlength": lifecycle.MAX_DETAILS},
    )


LANGUAGE_NAMES = {"nl": _l("Dutch"), "en": _l("English")}


def admin_only(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check = get_state().settings.admin_check
        if check is None:
            abort(404)
        if not check():
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def init_views(bp: Blueprint, state: State) -> None:
    bp.add_url_rule("/admin/", "admin_index", admin_index)
    bp.add_url_rule("/admin/requests/<int:request_id>", "admin_detail", admin_detail)
    new_view = state.limiter.limit("120 per hour", methods=["POST"])(admin_new)
    # Like the actions below: the form checks its own CSRF token.
    bp.add_url_rule("/admin/requests/new", "admin_new", new_view, methods=["GET", "POST"])
    for action in ("complete", "reject", "extend"):
        view = state.limiter.limit("120 per hour", methods=["POST"])(admin_action)
        # no-referrer pages post without a Referer; the forms check the CSRF token.
        bp.add_url_rule(f"/admin/requests/<int:request_id>/{action}", f"admin_{action}",
                        view, methods=["POST"], defaults={"action": action})


def _row(req: Any, now: Any) -> dict[str, Any]:
    deadline = lifecycle.due(req)
    return {
        "req": req,
        "channel": channel_label(req.channel),
        "due": deadline.date().isoformat() if deadline else "",
        "overdue": lifecycle.is_overdue(req, now),
    }


@private
@admin_only
def admin_index() -> Any:
    state = get_state()
    now = utcnow()
    show_all = request.args.get("all") == "1"
    rows = [_row(r, now) for r in lifecycle.list_requests(state, include_closed=show_all, now=now)]
    # One notification per message, so a flood of the forms shows here first.
    return render("admin_index.html", rows=rows, show_all=show_all,
                  notifications=recent_notifications(state, now))


def _detail(state: State, req: Any, status: int = 200, **forms: Any) -> Any:
    context = {"complete_form": CompleteForm(prefix="complete"),
               "reject_form": ReasonForm(prefix="reject"),
               "extend_form": ExtendForm(prefix="extend")}
    context.update(forms)
    return render("admin_detail.html", status, row=_row(req, utcnow()), **context)


@private
@admin_only
def admin_detail(request_id: int) -> Any:
    state = get_state()
    req = lifecycle.get(state, request_id)
    if req is None:
        abort(404)
    return _detail(state, req)


@private
@admin_only
def admin_action(request_id: int, action: str) -> Any:
    state = get_state()
    req = lifecycle.get(state, request_id)
    if req is None:
        abort(404)
    form_class: Any = {"complete": CompleteForm, "reject": ReasonForm, "extend": ExtendForm}[action]
    form = form_class(prefix=action)
    if not form.validate_on_submit():
        return _detail(state, req, 400, **{f"{action}_form": form})
    try:
        if action == "complete":
            lifecycle.complete(state, req, form.resolution.data)
        elif action == "reject":
            lifecycle.reject(state, req, form.reason.data)
        else:
            lifecycle.extend(state, req, form.reason.data, int(form.months.data))
    except (lifecycle.RequestError, ValueError):
        return _detail(state, req, 409)
    return see_other(".admin_detail", request_id=req.id)


@private
@admin_only
def admin_new() -> Any:
    """File a request that arrived by mail, phone or letter; the person is mailed
    the verification link and the request is on the clock from its receipt."""
    state = get_state()
    form = NewRequestForm()
    languages = state.settings.languages
    form.language.choices = [choice(code, LANGUAGE_NAMES.get(code, code)) for code in languages]
    if request.method == "GET":
        form.received.data = utcnow().date().isoformat()
        form.language.data = current_language()
        return render("admin_new.html", form=form)
    if not form.validate_on_submit():
        return render("admin_new.html", 400, form=form)
    try:
        filed = lifecycle.file_received(
            state, form.email.data, form.kind.data, channel=form.channel.data,
            received=getattr(form.received, "parsed", None), details=form.details.data,
            language=form.language.data)
    except lifecycle.FilingError as exc:
        getattr(form, exc.field).errors = [exc.message]
        return render("admin_new.html", 400, form=form)
    return see_other(".admin_detail", request_id=filed.request.id)
