"""Access (GDPR art. 15): the page shows every record, with its purpose and
period, and offers the JSON and ZIP downloads; verifying completes it."""

from __future__ import annotations

from ...i18n import lazy_gettext as _l
from ...rights import Right, register

RIGHT = register(Right(
    "access", "15", _l("See your data"),
    _l("Which personal data we hold about you, why, and for how long."),
    template="webence_privacy/rights/access.html",
    self_served=True,
    shows_cookie_records=True,
    order=10,
))
