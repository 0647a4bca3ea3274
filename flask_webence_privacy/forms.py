"""Form pieces every feature shares: the address field and the age statement.

The rules stay in the domain: the address field only calls
:func:`flask_webence_privacy.address.canonical`, the age label only shows
:func:`flask_webence_privacy.consent.age_statement`.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_wtf import FlaskForm
from markupsafe import escape
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from . import address
from .consent import age_statement
from .i18n import gettext as _
from .i18n import lazy_gettext as _l
from .state import get_state
from .text import has_control

#: Flask-WTF's marker for "read the request": the default ``formdata`` of a FlaskForm.
_AUTO = FlaskForm.__init__.__defaults__[0]

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms before 3.3
    SelectChoice = None


def choice(value: str, label: Any) -> Any:
    """One option of a radio or select field. WTForms 3.3 declares options as
    ``SelectChoice`` (tuples are deprecated there and go in 3.4); 3.1 and 3.2,
    which hosts still pin and the package supports, know only (value, label)."""
    if SelectChoice is None:
        return (value, label)
    return SelectChoice(value, label)


class PrivacyForm(FlaskForm):
    """The package's forms read the posted text fields only. Flask-WTF would mix
    uploaded files into the fields, so a file part sent in a text field reached
    the validators as a file object (a 500); here it is simply no value, and the
    visitor gets the form back with that field's message."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            if formdata is not _AUTO:
                return formdata
            if request.method in ("POST", "PUT", "PATCH", "DELETE"):
                return request.form
            return None


class EmailAddress:
    """WTForms validator: replaces the field's data with the canonical address."""

    def __call__(self, form: Any, field: Any) -> None:
        try:
            field.data = address.canonical(field.data)
        except address.InvalidAddress as exc:
            raise ValidationError(str(exc)) from None


class NoControlCharacters:
    """Refuse CR, LF, NUL and other control characters (tabs and breaks allowed
    where ``multiline`` is set, as in a message body)."""

    def __init__(self, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, form: Any, field: Any) -> None:
        if isinstance(field.data, str) and has_control(field.data, multiline=self.multiline):
            raise ValidationError(_("This field contains characters that are not allowed."))


def email_field(label: Any = None) -> Any:
    return StringField(
        label if label is not None else _l("E-mail address"),
        validators=[DataRequired(message=_l("Enter your e-mail address.")),
                    Length(max=address.MAX_LENGTH), EmailAddress()],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        render_kw={"autocomplete": "email", "type": "email", "maxlength": address.MAX_LENGTH},
    )


class AgeLabel:
    """The age statement's label, with the configured minimum age at render time."""

    def __str__(self) -> str:
        return age_statement(get_state().settings)

    def __html__(self) -> str:
        return str(escape(str(self)))


def age_field() -> Any:
    """The required age-16 box (GDPR art. 8, UAVG art. 5): never pre-ticked."""
    return BooleanField(
        AgeLabel(),
        default=False,
        validators=[DataRequired(message=_l(
            "We can only store your details if you are old enough or have permission "
            "from a parent or guardian."))],
    )
