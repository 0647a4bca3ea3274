"""Erasure (GDPR art. 17): the page shows what will be erased and what the law
keeps (the erasure's own walk, counting only); its POST erases, after which the
link no longer works, so the page goes to the erasure's report."""

from __future__ import annotations

from typing import Any

from ...i18n import lazy_gettext as _l
from ...rights import Action, Done, Page, Posted, Right, register
from ..erasure import erase_by_request, plan


def _page(page: Page) -> dict[str, Any]:
    return {"plan": plan(page.state, page.req.email or "", page.language)}


def _erase(posted: Posted) -> Done:
    return Done(erased=erase_by_request(posted.state, posted.req).as_dict())


RIGHT = register(Right(
    "erasure", "17", _l("Erase your data"),
    _l("Have your data deleted, except what the law obliges us to keep."),
    template="webence_privacy/rights/erasure.html",
    shows_data=False,
    page=_page,
    actions={"erase": Action(_erase)},
    order=30,
))
