"""Blinker signals. Each is sent with the Flask app as sender.

Subscribe with ``consent_given.connect(receiver, app)``; receivers must not
raise: the act they report has already been committed.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: Consent recorded. kwargs: ``record`` (the ConsentRecord), ``email``, ``purpose``.
consent_given = _signals.signal("consent-given")
#: Consent withdrawn (a new record, never an edit). kwargs: ``record``, ``email``, ``purpose``.
consent_withdrawn = _signals.signal("consent-withdrawn")
#: A visitor saved a cookie choice (banner or settings page). kwargs: ``choice_id``
#: (the browser's random id), ``given`` (frozenset of the types said yes to),
#: ``records`` (the ConsentRecords written, one per optional type).
cookie_choice_changed = _signals.signal("cookie-choice-changed")
#: A contact/quote message was stored. kwargs: ``message`` (the ContactMessage).
message_received = _signals.signal("message-received")
#: A newsletter subscription was requested (pending). kwargs: ``subscriber``.
subscribed = _signals.signal("subscribed")
#: A newsletter subscription was confirmed. kwargs: ``subscriber``.
subscription_confirmed = _signals.signal("subscription-confirmed")
#: A subscriber unsubscribed. kwargs: ``subscriber``, ``one_click`` (bool).
unsubscribed = _signals.signal("unsubscribed")
#: A data request was filed (not yet verified). kwargs: ``request`` (the DataRequest).
request_created = _signals.signal("request-created")
#: A data request was verified through its mailed link. kwargs: ``request``.
request_verified = _signals.signal("request-verified")
#: A data request was completed or rejected. kwargs: ``request``.
request_completed = _signals.signal("request-completed")
#: A subject's data was erased. kwargs: ``email_hash``, ``report``.
subject_erased = _signals.signal("subject-erased")
#: The purge removed rows. kwargs: ``model`` (name), ``category``, ``count``.
records_purged = _signals.signal("records-purged")

__all__ = [
    "consent_given",
    "consent_withdrawn",
    "cookie_choice_changed",
    "message_received",
    "records_purged",
    "request_completed",
    "request_created",
    "request_verified",
    "subject_erased",
    "subscribed",
    "subscription_confirmed",
    "unsubscribed",
]
