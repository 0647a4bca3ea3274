"""The table of the data subject's rights: one :class:`Right` per kind, each
declared by its own module under :mod:`~flask_webence_privacy.requests.rights`.

The portal's form and page, the admin, the CLI, the labels and the privacy page
read this table; none of them names a kind. A right says what its page shows
(a partial template and the context it needs), what each POST of its page does,
whether verifying it completes it (the data is handed over on the page), the
mails it sends and its labels. Adding a right is one module that calls
:func:`register`, its template and its strings.

This module holds the table only and imports no right, so the domain modules
(``requests.lifecycle``) can read it while the rights import them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from .labels import KIND_LABELS
from .models import DataRequestRow
from .state import State


@dataclass(frozen=True)
class Page:
    """What a right's page is built from: its request, verified."""

    state: State
    req: DataRequestRow
    token: str
    language: str
    #: The form of a POST that was refused, shown again with its messages.
    refused: Any = None


@dataclass(frozen=True)
class Posted:
    """A validated POST of a right's page: its form, and every field as sent
    (lists of checkboxes, the rectification's ``fix-*`` fields)."""

    state: State
    req: DataRequestRow
    form: Any
    values: MultiDict[str, str]
    language: str


@dataclass(frozen=True)
class Done:
    """Where the page goes after a POST: back to itself, or, when the data is
    gone with the link, to the erasure's report (counts, no address)."""

    erased: Mapping[str, Any] | None = None


class Refused(ValueError):
    """A POST's field is refused: the page shows ``message`` beside ``field``
    (400), and nothing was stored or mailed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Action:
    """One POST of a right's page, chosen by the form's ``action`` field."""

    run: Callable[[Posted], Done]
    #: The form the POST is validated with (a PrivacyForm class); None: CSRF only.
    form: type[Any] | None = None
    #: A refused field shows the page again (400) with its message beside it;
    #: otherwise a refused post is the "link does not work" page.
    shows_errors: bool = False


@dataclass(frozen=True)
class Right:
    kind: str
    #: The GDPR article, as the form and the privacy page cite it.
    article: str
    label: Any
    description: Any
    #: The part of the request page this right shows (a template path).
    template: str
    #: Verifying completes it: the data is handed over on the page it opens.
    self_served: bool = False
    #: The page lists the subject's records (``sources``), and this browser's
    #: cookie choices (``cookie_records``).
    shows_data: bool = True
    shows_cookie_records: bool = False
    #: The context its template needs beyond the request's own.
    page: Callable[[Page], dict[str, Any]] | None = None
    actions: Mapping[str, Action] = field(default_factory=dict)
    #: The mail templates its acts send (besides the request's own: verify,
    #: verified, extended, rejected).
    mails: tuple[str, ...] = ()
    #: Where the form and the privacy page list it (lowest first; equal: as registered).
    order: int = 1000

    def context(self, page: Page) -> dict[str, Any]:
        return self.page(page) if self.page is not None else {}


#: The rights in the order the form and the privacy page list them; filled by
#: :func:`register` as the right modules load.
RIGHTS: list[Right] = []
BY_KIND: dict[str, Right] = {}


def register(right: Right) -> Right:
    """Put ``right`` in the table, in its place by ``order``."""
    if right.kind in BY_KIND:
        raise ValueError(f"the right {right.kind!r} is registered twice")
    index = next((i for i, r in enumerate(RIGHTS) if r.order > right.order), len(RIGHTS))
    RIGHTS.insert(index, right)
    BY_KIND[right.kind] = right
    KIND_LABELS[right.kind] = right.label
    return right


def unregister(kind: str) -> None:
    """Take a right out of the table (a test's own right, afterwards)."""
    right = BY_KIND.pop(kind)
    RIGHTS.remove(right)
    KIND_LABELS.pop(kind, None)


def kinds() -> tuple[str, ...]:
    return tuple(right.kind for right in RIGHTS)


def get(kind: str) -> Right | None:
    return BY_KIND.get(kind)


def self_served() -> frozenset[str]:
    """The kinds verification completes: the one place that says which."""
    return frozenset(right.kind for right in RIGHTS if right.self_served)
