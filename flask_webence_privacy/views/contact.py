"""``/contact``: the contact and quote form. Thin: read the form, call
:func:`flask_webence_privacy.contact.submit`, render."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from .. import contact
from ..forms import NoControlCharacters, PrivacyForm, age_field, email_field
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..language import current_language
from ..net import accepted, client_key, stored_ip
from ..state import State, get_state
from ..transactions import DatabaseUnavailable, retrying
from .common import private, render, see_other

#: A form post larger than this is refused before it is parsed (the fields' own
#: limits add up to well under it). The host's MAX_CONTENT_LENGTH is left alone.
MAX_BODY = 64 * 1024


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _too_long() -> Any:
    return _l("Use at most %(max)d characters.")


class ContactForm(PrivacyForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("Enter your name.")),
                    Length(max=contact.MAX_NAME, message=_too_long()), NoControlCharacters()],
        filters=[_strip],
        render_kw={"autocomplete": "name", "maxlength": contact.MAX_NAME},
    )
    email = email_field()
    phone = StringField(
        _l("Phone number"),
        validators=[Optional(), Length(max=contact.MAX_PHONE, message=_too_long()),
                    NoControlCharacters(),
                    Regexp(r"^[0-9+()./\- ]*$", message=_l(
                        "Use digits, spaces and + - ( ) only, like +31 20 123 4567."))],
        filters=[_strip],
        render_kw={"autocomplete": "tel", "type": "tel", "maxlength": contact.MAX_PHONE},
    )
    company = StringField(
        _l("Company"),
        validators=[Optional(), Length(max=contact.MAX_COMPANY, message=_too_long()),
                    NoControlCharacters()],
        filters=[_strip],
        render_kw={"autocomplete": "organization", "maxlength": contact.MAX_COMPANY},
    )
    purpose = RadioField(_l("What is your message about?"), validate_choice=False, choices=[])
    message = TextAreaField(
        _l("Your message"),
        validators=[DataRequired(message=_l("Enter your message.")),
                    Length(max=contact.MAX_MESSAGE, message=_too_long()),
                    NoControlCharacters(multiline=True)],
        render_kw={"rows": 8, "maxlength": contact.MAX_MESSAGE},
    )
    age_ok = age_field()
    # Honeypot: hidden from people (and from assistive technology), filled by bots.
    website = StringField(_l("Leave this field empty"))

    def __init__(self, *args: Any, purposes: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.purpose.choices = list(purposes.items())

    def validate_purpose(self, field: Any) -> None:
        if field.data not in dict(field.choices):
            raise ValidationError(_("Choose what your message is about."))


def init_views(bp: Blueprint, state: State) -> None:
    view = private(contact_page)
    view = state.limiter.limit(
        state.settings.contact_rate_limit,
        methods=["POST"],
        key_func=client_key,
        deduct_when=accepted,
        on_breach=_too_many,
    )(view)
    # CSRF is checked by the form itself (PrivacyForm), so a missing token gives the
    # form back with the visitor's text and a message instead of a bare 400 page.
    bp.add_url_rule("/contact", "contact", view, methods=["GET", "POST"])
    bp.add_url_rule("/contact/sent", "contact_sent", private(contact_sent))


def _too_many(limit: Any) -> Response:
    return render(
        "error.html",
        429,
        title=_("Too many messages"),
        message=_("You sent several messages in a short time. Please wait a while and try again."),
    )


def _too_large() -> Response:
    return render(
        "error.html",
        413,
        title=_("Message too long"),
        message=_("Your message is too long to send. Please shorten it, or mail us directly."),
    )


def contact_sent() -> Response:
    """Where a sent form lands (303): reloading it sends nothing again."""
    return render("contact_sent.html")


def contact_page() -> Response | BaseResponse:
    state = get_state()
    language = current_language()
    labels = {
        name: contact.purpose_label(state.settings, name, language)
        for name in contact.purposes(state.settings)
    }
    if request.method == "POST" and (request.content_length or 0) > MAX_BODY:
        return _too_large()
    try:
        form = ContactForm(purposes=labels)
    except RequestEntityTooLarge:  # a chunked body past Werkzeug's form limit
        return _too_large()
    if request.method == "GET":
        wanted = request.args.get("purpose")
        form.purpose.data = wanted if wanted in labels else next(iter(labels))
        return _form(form, language)

    if form.website.data:
        # A bot filled the hidden field: answer as if all went well, store nothing.
        return see_other(".contact_sent")
    if not form.validate():
        return _form(form, language, status=400)
    ip = stored_ip()
    started = time.perf_counter()
    try:
        retrying(state, lambda: contact.submit(
            state,
            name=form.name.data,
            email=form.email.data,
            phone=form.phone.data,
            company=form.company.data,
            purpose=form.purpose.data,
            message=form.message.data,
            language=language,
            ip=ip,
        ))
    except contact.ContactError as exc:  # the form lets nothing through that this refuses
        getattr(form, exc.field).errors = [_("Check this field.")]
        return _form(form, language, status=400)
    except DatabaseUnavailable:
        return _form(form, language, status=503, unavailable=True)
    # With or without the acknowledgement (its cap), the same time: every answer
    # teaches the floor (the one row more or less is all they differ by).
    state.floors["contact"].settle(started, full=True)
    return see_other(".contact_sent")


def _form(form: ContactForm, language: str, status: int = 200,
          unavailable: bool = False) -> Response:
    return render("contact.html", status, form=form, notice=contact.notice(language),
                  unavailable=unavailable)
