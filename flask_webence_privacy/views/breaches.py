"""The maintainer's breach files: reports with their 72-hour clock, and the form
that records the facts, effects, measures and notifications (GDPR art. 33(5)).

Behind ``PRIVACY_ADMIN_CHECK`` like every admin page (:func:`.admin.admin_only`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, request
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from .. import breaches
from ..forms import NoControlCharacters, PrivacyForm
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..models import BreachFileRow, utcnow
from ..state import State, get_state
from .admin import admin_only
from .common import private, render, see_other

#: How a time is typed (an <input type="datetime-local">) and shown in the form.
LOCAL_TIME = "%Y-%m-%dT%H:%M"


def _moment(form: Any, field: Any) -> None:
    """The field as a time (browsers send YYYY-MM-DD or YYYY-MM-DDTHH:MM)."""
    try:
        field.parsed = dt.datetime.fromisoformat(field.data) if field.data else None
    except ValueError:
        raise ValidationError(_("%(value)s is not a date; give it as YYYY-MM-DD.",
                                value=repr(field.data))) from None


def _text_field(label: Any, rows: int = 4) -> Any:
    return TextAreaField(label, validators=[Length(max=breaches.MAX_TEXT),
                                            NoControlCharacters(multiline=True)],
                         render_kw={"rows": rows, "maxlength": breaches.MAX_TEXT})


def _time_field(label: Any, kind: str) -> Any:
    return StringField(label, validators=[Optional(), _moment], render_kw={"type": kind})


class BreachForm(PrivacyForm):
    facts = _text_field(_l("What happened (the facts)"))
    effects = _text_field(_l("Its effects: which data, whose, what risk"))
    measures = _text_field(_l("Measures taken"))
    window_start = _time_field(_l("Data affected from"), "date")
    window_end = _time_field(_l("Data affected until"), "date")
    authority_notified_at = _time_field(_l("Autoriteit Persoonsgegevens notified on"),
                                        "datetime-local")
    people_told_at = _time_field(_l("People affected told on"), "date")
    notice = _text_field(_l("Text of the mail to the people affected"), rows=6)

    def validate_window_end(self, field: Any) -> None:
        start, end = getattr(self.window_start, "parsed", None), getattr(field, "parsed", None)
        if start is not None and end is not None and end < start:
            raise ValidationError(_("The end comes before the start."))


def init_views(bp: Blueprint, state: State) -> None:
    bp.add_url_rule("/admin/breaches", "admin_breaches", admin_breaches)
    # The form checks its own CSRF token (no-referrer pages post without a Referer).
    edit = state.limiter.limit("120 per hour", methods=["POST"])(admin_breach)
    bp.add_url_rule("/admin/breaches/<int:file_id>", "admin_breach", edit,
                    methods=["GET", "POST"])


def _row(file: BreachFileRow, now: dt.datetime) -> dict[str, Any]:
    return {"file": file, "due": breaches.due_text(file),
            "due_iso": breaches.due(file).isoformat(timespec="minutes"),
            "overdue": breaches.is_overdue(file, now),
            "hours_left": breaches.hours_left(file, now)}


@private
@admin_only
def admin_breaches() -> Any:
    state = get_state()
    now = utcnow()
    return render("admin_breaches.html",
                  rows=[_row(f, now) for f in breaches.list_files(state, now)])


def _fill(form: BreachForm, file: BreachFileRow) -> None:
    for name in ("facts", "effects", "measures", "notice"):
        getattr(form, name).data = getattr(file, name) or ""
    for name, shape in (("window_start", "%Y-%m-%d"), ("window_end", "%Y-%m-%d"),
                        ("authority_notified_at", LOCAL_TIME), ("people_told_at", "%Y-%m-%d")):
        value = getattr(file, name)
        getattr(form, name).data = value.strftime(shape) if value else ""


def _end_of_day(value: dt.datetime | None) -> dt.datetime | None:
    """A window's last day is included whole."""
    if value is None or value.time() != dt.time():
        return value
    return value + dt.timedelta(days=1, microseconds=-1)


@private
@admin_only
def admin_breach(file_id: int) -> Any:
    state = get_state()
    file = breaches.get(state, file_id)
    if file is None:
        abort(404)
    form = BreachForm()
    if request.method == "GET":
        _fill(form, file)
        return _page(file, form)
    if not form.validate():
        return _page(file, form, 400)
    change = breaches.FileUpdate(
        facts=form.facts.data, effects=form.effects.data, measures=form.measures.data,
        window_start=getattr(form.window_start, "parsed", None),
        window_end=_end_of_day(getattr(form.window_end, "parsed", None)),
        authority_notified_at=getattr(form.authority_notified_at, "parsed", None),
        people_told_at=getattr(form.people_told_at, "parsed", None),
        notice=form.notice.data)
    try:
        breaches.update(state, file, change)
    except breaches.BreachError as exc:
        state.db.session.rollback()
        field = getattr(form, exc.field, None) or form.notice
        field.errors = [_("Check this field.")]
        return _page(file, form, 400)
    return see_other(".admin_breach", file_id=file.id)


def _page(file: BreachFileRow, form: BreachForm, status: int = 200) -> Any:
    return render("admin_breach.html", status, row=_row(file, utcnow()), form=form)
