"""Objection (GDPR art. 21): grounds, and a box for direct marketing, which
stops the newsletter at once; other grounds go to the maintainer, once per link."""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField

from ...i18n import lazy_gettext as _l
from ...rights import Action, Done, Page, Posted, Right, register
from ..marks import record_mark
from ._grounds import GroundsForm, grounds_page


class ObjectionForm(GroundsForm):
    marketing = BooleanField(_l("I object to the use of my data for direct marketing, "
                                "such as the newsletter"))


def _page(page: Page) -> dict[str, Any]:
    return grounds_page(page, ObjectionForm)


def _mark(posted: Posted) -> Done:
    record_mark(posted.state, posted.req, posted.form.grounds.data,
                bool(posted.form.marketing.data))
    return Done()


RIGHT = register(Right(
    "objection", "21", _l("Object to processing"),
    _l("Object to the use of your data, for example for marketing."),
    template="webence_privacy/rights/objection.html",
    page=_page,
    actions={"mark": Action(_mark, form=ObjectionForm)},
    mails=("request_mark",),
    order=60,
))
