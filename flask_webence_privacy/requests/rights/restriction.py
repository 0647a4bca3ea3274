"""Restriction (GDPR art. 18): recorded with its grounds, once per link; while
it is open the data is only stored (``privacy.is_restricted``)."""

from __future__ import annotations

from typing import Any

from ...i18n import lazy_gettext as _l
from ...rights import Action, Done, Page, Posted, Right, register
from ..marks import record_mark
from ._grounds import GroundsForm, grounds_page


def _page(page: Page) -> dict[str, Any]:
    return grounds_page(page, GroundsForm)


def _mark(posted: Posted) -> Done:
    record_mark(posted.state, posted.req, posted.form.grounds.data)
    return Done()


RIGHT = register(Right(
    "restriction", "18", _l("Restrict processing"),
    _l("Have the use of your data limited while a question about it is being settled."),
    template="webence_privacy/rights/restriction.html",
    page=_page,
    actions={"mark": Action(_mark, form=GroundsForm)},
    mails=("request_mark",),
    order=70,
))
