"""One module per right, each registering its :class:`~flask_webence_privacy.rights.Right`
in the table (:mod:`flask_webence_privacy.rights`) that the portal, the admin
and the CLI dispatch through. Imported in the order the form lists them.

A new right is a module here that calls ``register(Right(...))``, its template
under ``templates/webence_privacy/rights/`` and its strings; a site's own right
registers the same way from its code.
"""

from __future__ import annotations

from . import access, erasure, objection, portability, rectification, restriction, withdraw

__all__ = ["access", "erasure", "objection", "portability", "rectification", "restriction",
           "withdraw"]
