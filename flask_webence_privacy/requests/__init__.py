"""The data subject's requests, one module per job.

- :mod:`.lifecycle`: filing, the mailed link, verification, the deadline clock
  and the maintainer's actions;
- :mod:`.export`: access and portability (every record, as a page, JSON, ZIP);
- :mod:`.erasure`: the erasure plan and the erasure, which share one walk;
- :mod:`.marks`: withdrawal, objection, restriction and rectification.

Nothing here reads the Flask request: views, the admin and the CLI share it.
"""
