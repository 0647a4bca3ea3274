"""The maintainer's side: open requests with their deadlines, overdue first.

Closed unless ``PRIVACY_ADMIN_CHECK`` returns true: unset, the pages do not exist
(404) for anyone; set but false, they are forbidden (403).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, redirect, request, url_for
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..forms import NoControlCharacters, PrivacyForm
from ..i18n import lazy_gettext as _l
from ..models import utcnow
from ..requests import lifecycle
from ..state import State, get_state
from .common import private, render


class ReasonForm(PrivacyForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(message=_l("Give a reason.")), Length(max=lifecycle.MAX_DETAILS),
                    NoControlCharacters(multiline=True)],
        render_kw={"rows": 3, "maxlength": lifecycle.MAX_DETAILS},
    )


class ExtendForm(ReasonForm):
    months = RadioField(_l("Extend by"), choices=[SelectChoice("1", _l("one month")),
                                                    SelectChoice("2", _l("two months"))],
                        default="2", validators=[DataRequired()])


class CompleteForm(PrivacyForm):
    resolution = TextAreaField(
        # The form's macro adds "(optional)" to a field that is not required.
        _l("What was done"),
        validators=[Length(max=lifecycle.MAX_DETAILS), NoControlCharacters(multiline=True)],
        render_kw={"rows": 2, "maxlength": lifecycle.MAX_DETAILS},
    )


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
    for action in ("complete", "reject", "extend"):
        view = state.limiter.limit("120 per hour", methods=["POST"])(admin_action)
        # no-referrer pages post without a Referer; the forms check the CSRF token.
        state.csrf.exempt(view)
        bp.add_url_rule(f"/admin/requests/<int:request_id>/{action}", f"admin_{action}",
                        view, methods=["POST"], defaults={"action": action})


def _row(req: Any, now: Any) -> dict[str, Any]:
    deadline = lifecycle.due(req)
    return {
        "req": req,
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
    return render("admin_index.html", rows=rows, show_all=show_all)


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
    return redirect(url_for(".admin_detail", request_id=req.id), 303)
