"""``flask privacy ...``: the commands cron and maintainers run.

Commands are thin: they parse arguments and call the same domain functions as
the views and the admin. Every address argument goes through
:func:`flask_webence_privacy.address.canonical`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import signal
import sys
import threading
from typing import TextIO

import click
from flask import current_app
from flask.cli import AppGroup

from . import address, breaches, doctor, keeping, mail, policy, record, retention, visits
from .labels import kind_label, status_label
from .language import speaking
from .requests import erasure, export, lifecycle
from .requests.erasure import ErasureReport
from .state import get_state
from .text import printable

privacy_cli = AppGroup("privacy", help="Privacy: database, mail, requests and retention.")


def _address(value: str) -> str:
    try:
        return address.canonical(value)
    except address.InvalidAddress as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None


class NotMigrated(click.ClickException):
    """The package's tables are not there (or not up to date): exit code 2, as a
    deploy script can tell it from a failure of the step itself."""

    exit_code = 2


def _record_policy() -> str:
    """Record the policy versions and the current one's snapshot; what was new."""
    state = get_state()
    done = policy.record(state.db, state.models, state.settings, state.sources, state.periods)
    if not done.anything:
        return (f"{done.added} policy version(s) recorded: nothing new (version "
                f"{done.version} and its snapshot were recorded already).")
    return (f"{done.added} policy version(s) recorded"
            + (f"; the snapshot of version {done.version} stored." if done.snapshot else "."))


@privacy_cli.command("init-db")
def init_db() -> None:
    """For a site without migrations: create the package's tables (only those) and
    record the policy. A site on Flask-Migrate runs db upgrade, then sync-policy."""
    state = get_state()
    engine = state.db.engine
    # The package's tables and nothing else: the host's tables are the host's
    # (its migrations would meet a table they did not make).
    state.db.metadata.create_all(engine, tables=[m.__table__ for m in state.models.all()])
    # create_all never changes a table that exists: one from an older version
    # of the package is reported, with what to run.
    stale = [f for f in doctor.tables(state) if f.id in ("privacy.E007", "privacy.E008")]
    if stale:
        for finding in stale:
            click.echo(str(finding), err=True)
        raise click.ClickException("the privacy tables are out of date: run your migrations "
                                   "(flask db migrate && flask db upgrade); see the README, "
                                   "\"Upgrading\"")
    click.echo(f"Privacy tables ready (the site's own tables are the site's); {_record_policy()}")


@privacy_cli.command("sync-policy")
def sync_policy_command() -> None:
    """Record the policy versions and the current one's snapshot; creates no table.
    Run it after every deploy's migrations (flask db upgrade); twice is harmless."""
    missing = doctor.tables(get_state())
    if missing:
        for finding in missing:
            click.echo(str(finding), err=True)
        raise NotMigrated("the privacy tables are not ready: run flask db upgrade (or, on a "
                          "site without migrations, flask privacy init-db) first")
    click.echo(_record_policy())


def _mail_line(report: dict[str, int]) -> str:
    return (f"Mail: {report['sent']} sent, {report['deferred']} to retry later, "
            f"{report['failed']} given up.")


@privacy_cli.command("send-mail")
@click.option("--watch", is_flag=True,
              help="Keep running and deliver every few seconds (for a systemd service).")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between rounds with --watch.")
def send_mail(watch: bool, interval: float) -> None:
    """Deliver what the outbox still holds (from cron every few minutes, or --watch)."""
    state = get_state()
    if not watch:
        with click.progressbar(length=1, label="Sending mail", file=_progress_file()) as bar:
            report = mail.deliver_due(state)
            bar.update(1)
        click.echo(_mail_line(report))
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"Delivering the outbox every {interval:g} s; stop with Ctrl-C or SIGTERM.")
    mail.watch(state, interval=interval, stop=stop, on_report=lambda r: click.echo(_mail_line(r)))


@privacy_cli.command("check")
def check_command() -> None:
    """Check the deployment: host, limits, keys, indexes, tables, SMTP, cron jobs."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state = get_state()
    findings = doctor.check(app, state)
    if not any(f.id == "privacy.E012" for f in findings):
        click.echo(doctor.notifications(state)[0])
    for finding in findings:
        click.echo(str(finding))
    if findings:
        raise click.ClickException(f"{len(findings)} finding(s); see above.")
    click.echo("No findings: the privacy set-up is ready for production.")


# -- retention ---------------------------------------------------------------------------


def _progress_file() -> TextIO | None:
    """Where progress bars go: the terminal's stderr, or nowhere under cron."""
    return sys.stderr if sys.stderr.isatty() else io.StringIO()


def _parse_now(value: str | None, param_hint: str = "--now") -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; give it as YYYY-MM-DD (e.g. 2026-11-25)",
            param_hint=param_hint,
        ) from None


@privacy_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
@click.option("--now", "now_text", metavar="YYYY-MM-DD",
              help="Purge as if it were this date (UTC midnight); default: now.")
def purge_command(dry_run: bool, now_text: str | None) -> None:
    """Delete (or anonymise) every record past its retention period."""
    now = _parse_now(now_text)  # a bad date stops here: nothing is touched
    state = get_state()
    steps = retention.rules(state, retention.moment(now))
    # A bar on a terminal; nothing but the report under cron (no terminal).
    with click.progressbar(length=len(steps), label="Purging", file=_progress_file(),
                           item_show_func=lambda r: r) as bar:
        report = retention.purge(state, now=now, dry_run=dry_run,
                                 progress=lambda rule: bar.update(1, f"{rule.name}/{rule.category}"))
    click.echo(str(report))


@privacy_cli.command("record")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of Markdown.")
@click.option("--language", default="en", show_default=True,
              help="Language of the configured texts.")
def record_command(as_json: bool, language: str) -> None:
    """Print the record of processing activities (GDPR art. 30)."""
    state = get_state()
    click.echo(record.as_json(state, language) if as_json else record.as_markdown(state, language))


@privacy_cli.command("visits")
@click.option("--days", default=visits.DEFAULT_DAYS, show_default=True,
              type=click.IntRange(min=1, max=3660), help="Days to show, today included.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def visits_command(days: int, as_json: bool) -> None:
    """Page views and unique visitors per day, top routes, referrers and browsers."""
    state = get_state()
    if not state.settings.visit_log:
        raise click.ClickException("the visit log is off: set PRIVACY_VISIT_LOG = True")
    summary = visits.summary(state, days)
    if as_json:
        click.echo(json.dumps(summary.as_json(), indent=2))
        return
    click.echo(f"Visits {summary.start} to {summary.end}: {summary.views} page views "
               f"(the retention period keeps {summary.retention_days} days)")
    click.echo(f"{'day':<12}{'views':>8}{'visitors':>10}")
    for day in summary.days:
        click.echo(f"{day.day.isoformat():<12}{day.views:>8}{day.visitors:>10}")
    for title, rows in (("Top pages", summary.paths), ("Referrers", summary.referrers),
                        ("Browsers", summary.browsers)):
        click.echo(f"\n{title}:")
        for label, views in rows or [("(none)", 0)]:
            # Escaped: a path stored before the log kept routes only must not
            # send the terminal a sequence.
            click.echo(f"  {views:>8}  {printable(label)}")


@privacy_cli.command("hold")
@click.argument("email")
@click.option("--reason", required=True, help="Why the records must be kept (e.g. a claim).")
def hold_command(email: str, reason: str) -> None:
    """Keep every record of EMAIL through the purge and erasure until released."""
    state = get_state()
    try:
        keeping.place_hold(state.db, state.models, _address(email), reason)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo("Hold recorded: the purge keeps this subject's records until released.")


@privacy_cli.command("release")
@click.argument("email")
def release_command(email: str) -> None:
    """End the holds on EMAIL's records."""
    state = get_state()
    count = keeping.release_holds(state.db, state.models, address.lookup_key(email))
    click.echo(f"{count} hold(s) released.")


# -- requests (the portal's domain, for requests that arrive by mail or phone) ------------


@privacy_cli.command("requests")
@click.option("--overdue", is_flag=True, help="Only requests past their due date.")
def list_requests_command(overdue: bool) -> None:
    """Open privacy requests, overdue first, with due dates (ISO 8601)."""
    rows = lifecycle.list_requests(get_state(), overdue_only=overdue)
    if not rows:
        click.echo("No overdue requests." if overdue else "No open requests.")
        return
    for req in rows:
        deadline = lifecycle.due(req)
        flag = "OVERDUE" if lifecycle.is_overdue(req) else ""
        # The CLI speaks English; the labels are the pages' and the mails'.
        with speaking("en"):
            kind, status = str(kind_label(req.kind)), str(status_label(req.status))
        click.echo("\t".join([
            f"#{req.id}", kind, status,
            f"due {deadline.date().isoformat()}" if deadline else "due -",
            f"by {req.channel}", req.email or "(erased)", flag,
        ]).rstrip())


#: Which argument or option each field of a refused filing came from.
_FILING_PARAMS = {"email": "EMAIL", "kind": "KIND", "channel": "--channel",
                  "received": "--received", "language": "--language"}


@privacy_cli.command("request-add")
@click.argument("email")
@click.argument("kind")
@click.option("--received", "received_text", metavar="YYYY-MM-DD",
              help="The day the request arrived; the deadline counts from it. Default: today.")
@click.option("--channel", default="mail", show_default=True, metavar="|".join(lifecycle.CHANNELS),
              help="How it arrived.")
@click.option("--details", help="What the person asked, in a few words.")
@click.option("--language", help="The language of the person's mails (default: the site's).")
def request_add_command(email: str, kind: str, received_text: str | None, channel: str,
                        details: str | None, language: str | None) -> None:
    """File a request that arrived by mail, phone or letter; EMAIL gets the verification link.

    KIND is one of the rights in the table (flask_webence_privacy.rights): access,
    rectification, erasure, portability, withdraw, objection, restriction, and any
    right the site registers.
    """
    received = _parse_now(received_text, "--received")
    try:
        filed = lifecycle.file_received(get_state(), email, kind, channel=channel,
                                        received=received, details=details, language=language)
    except lifecycle.FilingError as exc:
        raise click.BadParameter(exc.message, param_hint=_FILING_PARAMS[exc.field]) from None
    req = filed.request
    deadline = lifecycle.due(req)
    if filed.created:
        click.echo(f"Request #{req.id} filed: {req.kind} by {req.channel}, due "
                   f"{deadline.date().isoformat() if deadline else '-'}. "
                   f"The verification link was mailed to {req.email}.")
    else:
        click.echo(f"Request #{req.id} ({req.kind}) for this address was already open; "
                   "nothing new was filed."
                   + (" Its link was mailed again." if filed.mail_id else ""))


@privacy_cli.command("remind")
@click.option("--now", "now_text", metavar="YYYY-MM-DD",
              help="Remind as if it were this date (UTC midnight); default: now.")
def remind_command(now_text: str | None) -> None:
    """Mail the maintainer the open requests due within a week or overdue, and the breach
    files past 48 hours not notified (once each; for cron)."""
    now = _parse_now(now_text)
    state = get_state()
    reminded = lifecycle.remind(state, retention.moment(now))
    # Breach files past 48 hours with no notification recorded: their own mail.
    files = breaches.remind(state, retention.moment(now))
    if reminded.mail_id is None and files.mail_id is None:
        click.echo("Nothing to remind of.")
        return
    if reminded.mail_id is not None:
        click.echo(f"Reminder mailed: {len(reminded.overdue)} overdue, "
                   f"{len(reminded.soon)} due within a week.")
    if files.mail_id is not None:
        click.echo(f"Breach reminder mailed: {len(files.files)} file(s) past 48 hours "
                   "without a notification of the Autoriteit Persoonsgegevens.")


@privacy_cli.command("export")
@click.argument("email")
def export_command(email: str) -> None:
    """Print every record of EMAIL as JSON (an access request by mail or phone)."""
    data = export.export_subject(get_state(), _address(email))
    click.echo(export.export_json(data))


@privacy_cli.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(email: str, yes: bool) -> None:
    """Erase EMAIL everywhere but what the law or a hold keeps; prints what was erased and kept."""
    state = get_state()
    canonical = _address(email)
    if not yes:
        click.confirm(f"Erase all data of {canonical}? This cannot be undone", abort=True)
    try:
        report = erasure.erase_subject(state, canonical)
    except erasure.ErasureFailed as exc:
        raise click.ClickException(f"erasure failed and was rolled back ({exc})") from None
    _print_erasure(report)


def _print_erasure(report: ErasureReport) -> None:
    for row in report.erased:
        click.echo(f"erased\t{row.name}\t{row.count}")
    for row in report.kept:
        click.echo(f"kept\t{row.name}\t{row.count}\t{row.reason}")
    if not report.erased and not report.kept:
        click.echo("Nothing found for this address.")


@privacy_cli.command("replay-erasures")
def replay_erasures_command() -> None:
    """Erase again what a restored backup brought back (from the erasure ledger)."""
    state = get_state()
    with click.progressbar(length=len(state.sources), label="Replaying erasures",
                           file=_progress_file()) as bar:
        report = erasure.replay_erasures(state, progress=lambda: bar.update(1))
    _print_erasure(report)


# -- reports of misuse and breach files (GDPR arts. 33-34) ---------------------------------


class BadValue(click.UsageError):
    """A value that names nothing or contradicts another: exit code 2, the value named."""


@privacy_cli.command("breaches")
def breaches_command() -> None:
    """Reports of misuse and breach files, those still on the 72-hour clock first."""
    state = get_state()
    files = breaches.list_files(state)
    if not files:
        click.echo("No reports.")
        return
    for file in files:
        notified = file.authority_notified_at
        click.echo("\t".join([
            f"#{file.id}", f"reported {file.created_at:%Y-%m-%d %H:%M}",
            f"notify by {breaches.due_text(file)}",
            f"notified {notified:%Y-%m-%d %H:%M}" if notified else "not notified",
            f"people told {file.people_told_at:%Y-%m-%d}" if file.people_told_at else "people not told",
            "OVERDUE" if breaches.is_overdue(file) else "",
        ]).rstrip())


def _window_date(value: str, hint: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; give it as YYYY-MM-DD",
                                 param_hint=hint) from None


@privacy_cli.command("breach-scope")
@click.option("--since", "since_text", required=True, metavar="YYYY-MM-DD",
              help="First day of the window.")
@click.option("--until", "until_text", required=True, metavar="YYYY-MM-DD",
              help="Last day of the window (included).")
@click.option("--source", "source_name", metavar="NAME", help="One registered source only.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def breach_scope_command(since_text: str, until_text: str, source_name: str | None,
                         as_json: bool) -> None:
    """Per registered source, the rows and distinct persons created or changed in a window:
    counts only, never an address."""
    since, until = _window_date(since_text, "--since"), _window_date(until_text, "--until")
    if until < since:
        raise BadValue(f"--until {until_text!r} is before --since {since_text!r}")
    try:
        found = breaches.scope(get_state(), since, until, source_name)
    except breaches.UnknownSource as exc:
        raise BadValue(f"--source {printable(exc.name)!r} is not a registered source; "
                       f"known: {', '.join(exc.known)}") from None
    if as_json:
        click.echo(json.dumps(found.as_json(), indent=2, ensure_ascii=False))
        return
    click.echo(f"Window {found.since:%Y-%m-%d %H:%M} to {found.until:%Y-%m-%d %H:%M} (UTC): "
               f"{found.rows} row(s) of {found.persons} distinct person(s).")
    click.echo("\t".join(["source", "rows", "persons", "retention", "label", "data"]))
    for one in found.sources:
        click.echo("\t".join([one.name, str(one.rows), str(one.persons), one.retention,
                              one.label, ", ".join(one.categories)]))


@privacy_cli.command("breach-notify")
@click.argument("file_id", type=int)
def breach_notify_command(file_id: int) -> None:
    """Mail every person with data in breach file FILE_ID's window the notice written on it
    (GDPR art. 34), once."""
    state = get_state()
    file = breaches.get(state, file_id)
    if file is None:
        raise BadValue(f"FILE_ID {file_id} is not a breach file; see flask privacy breaches")
    if file.notice_sent_at is None and (not file.notice or file.window_start is None
                                        or file.window_end is None):
        raise click.ClickException(
            f"breach file #{file_id} has no notice text or no window yet: write them on "
            "its admin page first")
    with click.progressbar(length=0, label="Queueing notices", file=_progress_file(),
                           show_pos=True) as bar:
        done = breaches.notify(state, file, progress=bar.update)
    if done.already:
        click.echo(f"Breach file #{file_id}: the notice was already mailed on "
                   f"{done.sent_at:%Y-%m-%d %H:%M} to {done.mailed} person(s); nothing sent now.")
        return
    click.echo(f"Breach file #{file_id}: notice mailed to {done.mailed} person(s) through the "
               "outbox; flask privacy send-mail delivers any that could not go yet.")
