"""Portability (GDPR art. 20): the person downloads their data (JSON, ZIP) on the
page, which verifying completes; or names an organisation (art. 20(2)).

The organisation is mailed a link, never the data: the link opens a page from
which the same export downloads once, within ``PRIVACY_TOKEN_MAX_AGE``. Its token
has its own purpose (a request link is refused there and the other way round),
carries the request id and a nonce, and the row keeps only the keyed hash of the
nonce; the first download claims it with a conditional UPDATE, so a second use
(or two at once) is refused. The person is mailed a notice naming the recipient.
Naming one puts the request back on the maintainer's list until the
organisation has downloaded it; the download completes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ... import address, mail, signals, tokens
from ...forms import PrivacyForm, email_field
from ...i18n import gettext as _
from ...i18n import lazy_gettext as _l
from ...labels import SENT_OUTCOME
from ...links import external_url
from ...models import DataRequestRow, utcnow
from ...rights import Action, Done, Page, Posted, Refused, Right, register
from ...state import State
from ..lifecycle import COMPLETED, REJECTED, VERIFIED, RequestError, emit

KIND = "portability"
#: The token purpose of the organisation's link (tokens.PURPOSES).
PURPOSE = "portability-recipient"
#: Mails to one organisation's address a day: naming an address must not become
#: a way to flood someone else's inbox.
RECIPIENT_CAP_PER_DAY = 3


class RecipientForm(PrivacyForm):
    recipient = email_field(_l("E-mail address of the organisation"))


def _page(page: Page) -> dict[str, Any]:
    return {"recipient_form": page.refused or RecipientForm()}


def name_recipient(state: State, req: DataRequestRow, recipient: str,
                   language: str | None = None) -> DataRequestRow:
    """Send ``req``'s export to the organisation at ``recipient``: once per request.

    An address that is not one, or one mailed too often today, raises
    :class:`~flask_webence_privacy.rights.Refused` (field ``recipient``); a
    request of another kind, unverified, closed or already sent raises
    :class:`RequestError`. Nothing is stored or mailed then.
    """
    if req.kind != KIND or req.email is None:
        raise RequestError("invalid")
    if req.verified_at is None:
        raise RequestError("unverified")
    if req.status == REJECTED:
        raise RequestError("closed")
    if req.recipient is not None:
        raise RequestError("used")
    try:
        canonical = address.canonical(recipient)
    except address.InvalidAddress as exc:
        raise Refused("recipient", str(exc)) from None
    if not mail.within_daily_cap(state, "portability-recipient", canonical,
                                 RECIPIENT_CAP_PER_DAY):
        raise Refused("recipient", _("We cannot send more mail to %(address)s today. "
                                     "Please try again tomorrow.", address=canonical))
    db, DataRequest = state.db, state.models.DataRequest
    nonce, now = tokens.nonce(), utcnow()
    result = db.session.execute(
        sa.update(DataRequest)
        .where(DataRequest.id == req.id, DataRequest.recipient.is_(None))
        .values(recipient=canonical, recipient_at=now,
                recipient_token_hash=tokens.keyed_hash(nonce),
                # Open again until the organisation has its copy.
                status=VERIFIED, completed_at=None, resolution=None)
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0) != 1:
        db.session.rollback()
        raise RequestError("used")
    db.session.refresh(req)
    language = req.language or language or state.settings.default_language
    # The page opens in the language of the mail that carries the link.
    url = external_url("webence_privacy.portability_download",
                       token=tokens.make(PURPOSE, {"r": req.id, "n": nonce}), lang=language)
    hours = state.settings.token_max_age // 3600
    rows = [
        mail.queue(state, kind="portability-recipient", to=canonical,
                   template="portability_recipient", language=language,
                   subject_email=req.email, links=[url], url=url, max_age_hours=hours),
        mail.queue(state, kind="portability-notice", to=req.email,
                   template="portability_notice", language=language,
                   subject_email=req.email, recipient=canonical, max_age_hours=hours),
    ]
    db.session.commit()
    mail.dispatch(state, [row.id for row in rows])
    return req


def load_download(state: State, token: str) -> DataRequestRow:
    """The request an organisation's link points to; :class:`RequestError`
    "invalid", "expired" or, once downloaded, "downloaded"."""
    try:
        payload = tokens.load(PURPOSE, token, max_age=state.settings.token_max_age)
    except tokens.TokenError as exc:
        raise RequestError(exc.reason) from None
    if not isinstance(payload, Mapping) or not isinstance(payload.get("r"), int) \
            or not isinstance(payload.get("n"), str):
        raise RequestError("invalid")
    req = state.db.session.get(state.models.DataRequest, payload["r"])
    if req is None or req.email is None or req.recipient_token_hash is None \
            or req.recipient_token_hash != tokens.keyed_hash(payload["n"]):
        raise RequestError("invalid")
    if req.recipient_downloaded_at is not None:
        raise RequestError("downloaded")
    return req


def claim_download(state: State, req: DataRequestRow) -> None:
    """Use the organisation's link: once, even when two downloads race (a
    conditional UPDATE); completes the request."""
    db, DataRequest = state.db, state.models.DataRequest
    now = utcnow()
    result = db.session.execute(
        sa.update(DataRequest)
        .where(DataRequest.id == req.id, DataRequest.recipient_downloaded_at.is_(None),
               DataRequest.recipient_token_hash == req.recipient_token_hash)
        .values(recipient_downloaded_at=now, status=COMPLETED, completed_at=now,
                resolution=SENT_OUTCOME)
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0) != 1:
        db.session.rollback()
        raise RequestError("downloaded")
    db.session.commit()
    db.session.refresh(req)
    emit(signals.request_completed, request=req)


def _send(posted: Posted) -> Done:
    name_recipient(posted.state, posted.req, posted.form.recipient.data, posted.language)
    return Done()


RIGHT = register(Right(
    KIND, "20", _l("Take your data with you"),
    _l("Receive your data in a machine-readable file, for yourself or another organisation."),
    template="webence_privacy/rights/portability.html",
    self_served=True,
    shows_cookie_records=True,
    page=_page,
    actions={"send": Action(_send, form=RecipientForm, shows_errors=True)},
    mails=("portability_recipient", "portability_notice"),
    order=40,
))
