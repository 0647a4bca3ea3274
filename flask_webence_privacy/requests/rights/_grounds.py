"""What objection and restriction share: a right recorded as a mark on the
subject, with the grounds the person gives."""

from __future__ import annotations

from typing import Any

from wtforms import TextAreaField
from wtforms.validators import Length, Optional

from ...forms import NoControlCharacters, PrivacyForm
from ...i18n import lazy_gettext as _l
from ...rights import Page
from ..lifecycle import MAX_DETAILS


class GroundsForm(PrivacyForm):
    grounds = TextAreaField(
        _l("Your grounds"),
        validators=[Optional(), Length(max=MAX_DETAILS), NoControlCharacters(multiline=True)],
        render_kw={"maxlength": MAX_DETAILS, "rows": 4},
    )


def grounds_page(page: Page, form_class: type[GroundsForm]) -> dict[str, Any]:
    """The form, with the grounds given when the request was filed, until the
    link has been used to record the mark."""
    form = form_class()
    form.grounds.data = page.req.details
    return {"form": form, "marked": page.req.token_used_at is not None}
