"""The data subject's rights the portal serves, in one list the page and portal share."""

from __future__ import annotations

from dataclasses import dataclass

from .i18n import lazy_gettext as _l


@dataclass(frozen=True)
class Right:
    kind: str
    article: str
    label: object
    description: object


RIGHTS: tuple[Right, ...] = (
    Right("access", "15", _l("See your data"),
          _l("Which personal data we hold about you, why, and for how long.")),
    Right("rectification", "16", _l("Correct your data"),
          _l("Have incorrect or incomplete data corrected.")),
    Right("erasure", "17", _l("Erase your data"),
          _l("Have your data deleted, except what the law obliges us to keep.")),
    Right("portability", "20", _l("Take your data with you"),
          _l("Receive your data in a machine-readable file, for yourself or another organisation.")),
    Right("withdraw", "7(3)", _l("Withdraw consent"),
          _l("Withdraw a consent you gave, such as for the newsletter.")),
    Right("objection", "21", _l("Object to processing"),
          _l("Object to the use of your data, for example for marketing.")),
    Right("restriction", "18", _l("Restrict processing"),
          _l("Have the use of your data limited while a question about it is being settled.")),
)

KINDS: tuple[str, ...] = tuple(right.kind for right in RIGHTS)
BY_KIND = {right.kind: right for right in RIGHTS}
