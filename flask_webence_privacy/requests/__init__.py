"""The data subject's requests, one module per job.

- :mod:`.lifecycle`: filing, the mailed link, verification, the deadline clock
  and the maintainer's actions;
- :mod:`.export`: access and portability (every record, as a page, JSON, ZIP);
- :mod:`.erasure`: the erasure plan and the erasure, which share one walk;
- :mod:`.marks`: withdrawal, objection, restriction and rectification;
- :mod:`.rights`: one module per right (what its page shows, what its POST
  does, whether it is self-served, its mails and labels), each registered in
  the table :mod:`flask_webence_privacy.rights` that views, admin and CLI read.

Nothing here reads the Flask request: views, the admin and the CLI share it.
"""

from __future__ import annotations

# The built-in rights register themselves when the package loads, so the table
# is full before anything that imports a request module reads it.
from . import rights as rights
