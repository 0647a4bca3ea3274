"""``flask privacy ...``: the commands cron and maintainers run.

Commands are thin: they parse arguments and call the same domain functions as
the views and the admin.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from .extension import get_state

privacy_cli = AppGroup("privacy", help="Privacy: database, mail, requests and retention.")


@privacy_cli.command("init-db")
def init_db() -> None:
    """Create the package's tables (and the host's) and record the policy versions."""
    from .policy import sync_versions

    state = get_state()
    state.db.create_all()
    added = sync_versions(state.db, state.models, state.settings, state.sources)
    click.echo(f"Privacy tables ready; {added} policy version(s) recorded.")
