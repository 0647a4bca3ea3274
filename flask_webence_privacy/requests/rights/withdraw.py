"""Withdrawal of consent (GDPR art. 7(3)): the page lists the active consents
(and this browser's cookie choices); its POST withdraws the chosen ones or all."""

from __future__ import annotations

from typing import Any

from ...i18n import lazy_gettext as _l
from ...rights import Action, Done, Page, Posted, Right, register
from ..marks import active_consents, withdraw_consents


def _page(page: Page) -> dict[str, Any]:
    return {"consents": active_consents(page.state, page.req.email or "")}


def _withdraw(posted: Posted) -> Done:
    chosen = None if posted.values.get("all") else posted.values.getlist("purpose")
    withdraw_consents(posted.state, posted.req, chosen, posted.language)
    return Done()


RIGHT = register(Right(
    "withdraw", "7(3)", _l("Withdraw consent"),
    _l("Withdraw a consent you gave, such as for the newsletter."),
    template="webence_privacy/rights/withdraw.html",
    shows_cookie_records=True,
    page=_page,
    actions={"withdraw": Action(_withdraw)},
    order=50,
))
