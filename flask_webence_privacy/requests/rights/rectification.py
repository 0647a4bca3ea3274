"""Rectification (GDPR art. 16): the fields a registration marks ``editable``
are corrected on the page; anything else goes to the maintainer as a note."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from ...i18n import lazy_gettext as _l
from ...rights import Action, Done, Page, Posted, Right, register
from ..marks import editable_records, rectify


def _page(page: Page) -> dict[str, Any]:
    return {"editable": editable_records(page.state, page.req.email or "", page.language)}


def changes(values: MultiDict[str, str]) -> dict[tuple[int, Any, str], str]:
    """Fields named ``fix-<source>-<row>-<field>`` from the rectification form."""
    found: dict[tuple[int, Any, str], str] = {}
    for key, value in values.items():
        if not key.startswith("fix-"):
            continue
        parts = key.split("-", 3)
        if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
            continue
        found[(int(parts[1]), int(parts[2]), parts[3])] = value[:1000]
    return found


def _rectify(posted: Posted) -> Done:
    rectify(posted.state, posted.req, changes(posted.values), posted.values.get("note", "")[:4000])
    return Done()


RIGHT = register(Right(
    "rectification", "16", _l("Correct your data"),
    _l("Have incorrect or incomplete data corrected."),
    template="webence_privacy/rights/rectification.html",
    page=_page,
    actions={"rectify": Action(_rectify)},
    mails=("request_mark",),
    order=20,
))
