"""The record of processing activities (GDPR art. 30), from the registry and settings.

It is built from the same registry that drives export, erasure and the purge,
and the same configuration the privacy page shows, so the record cannot drift
from what the software does. Printed by ``flask privacy record`` as Markdown or
JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from . import breaches, cookies
from .config import localize
from .i18n import gettext as _
from .language import speaking
from .policy import format_period, source_period
from .registry import Source
from .state import State
from .visits import period as visit_period
from .visits import retention as visit_retention

#: Who the package's own records are about (art. 30(1)(c)).
_SUBJECTS = {
    "ContactMessage": "visitors who send a question or ask for a quote",
    "Subscriber": "newsletter subscribers",
    "ConsentRecord": "visitors who gave or withdrew consent",
    "DataRequest": "data subjects who exercise their rights",
    "Outbox": "recipients of the website's mail",
    "BreachFile": "people who report misuse or a possible data breach",
}


def _period(state: State, source: Source) -> str:
    if source.period is not None or source.category_column is None:
        return source_period(state.settings, source)
    return "; ".join(
        f"{name}: {format_period(category)}"
        for name, category in state.settings.retention.items()
    ) + f" (per row, from column {source.category_column})"


def build(state: State, language: str = "en") -> dict[str, Any]:
    """The record as plain data (JSON-able)."""
    settings = state.settings
    with speaking(language):
        activities = []
        for source in state.sources:
            category = None if source.category_column else settings.category(source.category)
            activities.append({
                "name": source.name,
                "table": source.table.name,
                "label": localize(source.label, language) or source.name,
                "purpose": localize(source.purpose, language) or "(purpose not registered)",
                "data_subjects": _SUBJECTS.get(source.name, "customers and website visitors")
                if source.builtin else "customers and website visitors",
                "data_categories": list(source.exported_fields()),
                "retention_category": source.retention_category(),
                "retention": _period(state, source),
                "erasable_on_request": True if category is None else category.erasable,
                "erasure": source.erase if isinstance(source.erase, str) else "custom",
                "registered_by": "package" if source.builtin else "site",
            })
        if settings.visit_log:
            default = visit_retention(settings)
            activities.append({
                "name": "VisitLog",
                "table": state.models.VisitLog.__table__.name,
                "label": "Visit log",
                "purpose": "Analysing visits to improve the website; never shared",
                "data_subjects": "website visitors",
                "data_categories": ["path", "ip (truncated)", "browser (family only)",
                                    "referrer (host only)", "visitor (hash, salt kept two days)",
                                    "created_at"],
                "retention_category": default.name,
                "retention": visit_period(settings),
                "erasable_on_request": True,
                "erasure": "delete",
                "registered_by": "package",
            })
        return {
            "title": "Record of processing activities (GDPR art. 30)",
            "breach_handling": _breach_handling(state),
            "cookie_choices": _cookie_choices(state),
            "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
            "controller": {
                "name": settings.controller_name,
                "email": settings.contact_email,
                "address": settings.controller_address,
                "phone": settings.controller_phone,
            },
            "purposes": [
                {"label": localize(p.label, language),
                 "description": localize(p.description, language),
                 "retention_category": p.category,
                 "retention": format_period(settings.category(p.category))}
                for p in settings.purposes
            ],
            "data_categories": [localize(c, language) for c in settings.data_categories],
            "activities": activities,
            "retention_categories": [
                {"name": c.name, "period": format_period(c), "erasable": c.erasable}
                for c in settings.retention.values()
            ],
            "recipients": "No one but the processors below; data is never sold.",
            "processors": [
                {"name": p.name, "purpose": localize(p.purpose, language),
                 "location": localize(p.location, language) or None,
                 "agreement_date": str(p.agreement_date) if p.agreement_date else None}
                for p in settings.processors
            ],
            "security_measures": [localize(m, language) for m in settings.security_measures] + [
                "IP addresses truncated before storage" if settings.ip_truncate
                else "IP addresses stored in full",
                "identity checked by a signed, expiring link mailed to the address",
                "automatic deletion when retention periods end (flask privacy purge)",
                "erased addresses kept only as keyed hashes",
            ],
        }


def _cookie_choices(state: State) -> list[str]:
    """How optional cookies are asked for, from the same settings the banner reads."""
    if not cookies.optional_types(state.settings):
        return []
    return [
        _("Cookies other than functional ones are set only after the visitor says yes; each "
          "choice and each withdrawal is kept as a consent record."),
        _("A browser's Global Privacy Control signal (Sec-GPC) is honoured as a no to every "
          "optional cookie until the visitor chooses otherwise (GDPR art. 21(5))."),
    ]


def _breach_handling(state: State) -> dict[str, Any]:
    """How reports of misuse and breaches are handled (arts. 33-34), in the
    language being spoken: the same form, clock and retention the site runs."""
    source = next((s for s in state.sources if s.name == "BreachFile"), None)
    hours = breaches.notify_hours()
    return {
        "report_form": state.settings.url_prefix.rstrip("/") + "/report",
        "notify_authority_within_hours": hours,
        "steps": [
            _("Anyone can report misuse or data that is not properly secured on the "
              "website's report form; the maintainer is mailed at once."),
            _("Each report opens a breach file with a %(hours)d-hour clock for notifying "
              "the Autoriteit Persoonsgegevens (GDPR art. 33).", hours=hours),
            _("The file records the facts, the effects, the measures taken, whether and "
              "when the authority was notified, and whether the people affected were told."),
            _("The records and people concerned are counted per source of personal data "
              "from this register (flask privacy breach-scope); the people affected are "
              "told once by mail when the risk to them is high (flask privacy "
              "breach-notify, GDPR art. 34)."),
        ],
        "retention": source_period(state.settings, source) if source is not None else None,
    }


def as_json(state: State, language: str = "en") -> str:
    return json.dumps(build(state, language), indent=2, ensure_ascii=False)


def _cell(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def as_markdown(state: State, language: str = "en") -> str:
    data = build(state, language)
    c = data["controller"]
    lines = [f"# {data['title']}", "", f"Generated {data['generated_at']}.", "",
             "## Controller", "", f"- Name: {c['name']}", f"- E-mail: {c['email']}"]
    if c["address"]:
        lines.append(f"- Address: {c['address']}")
    if c["phone"]:
        lines.append(f"- Phone: {c['phone']}")
    if data["purposes"]:
        lines += ["", "## Purposes", "", "| purpose | retention |", "|---|---|"]
        lines += [f"| {_cell(p['label'])} | {_cell(p['retention'])} |" for p in data["purposes"]]
    if data["data_categories"]:
        lines += ["", "## Categories of personal data", ""]
        lines += [f"- {item}" for item in data["data_categories"]]
    lines += ["", "## Processing activities", "",
              "| record | purpose | data subjects | data | retention | erased on request |",
              "|---|---|---|---|---|---|"]
    for a in data["activities"]:
        erasable = "yes" if a["erasable_on_request"] else "no (kept by law)"
        lines.append(f"| {_cell(a['label'])} (`{a['table']}`) | {_cell(a['purpose'])} | "
                     f"{_cell(a['data_subjects'])} | {_cell(a['data_categories'])} | "
                     f"{_cell(a['retention'])} | {erasable} |")
    lines += ["", "## Retention categories", "", "| category | period | erasable |", "|---|---|---|"]
    lines += [f"| {r['name']} | {r['period']} | {'yes' if r['erasable'] else 'no'} |"
              for r in data["retention_categories"]]
    lines += ["", "## Recipients and processors", "", data["recipients"], ""]
    if data["processors"]:
        lines += ["| processor | purpose | location | agreement since |", "|---|---|---|---|"]
        lines += [f"| {_cell(p['name'])} | {_cell(p['purpose'])} | {_cell(p['location'] or '-')} | "
                  f"{p['agreement_date'] or '-'} |" for p in data["processors"]]
    else:
        lines.append("No processors configured.")
    lines += ["", "## Security measures", ""]
    lines += [f"- {m}" for m in data["security_measures"]]
    if data["cookie_choices"]:
        lines += ["", "## Cookie choices", ""]
        lines += [f"- {line}" for line in data["cookie_choices"]]
    breach = data["breach_handling"]
    lines += ["", "## Reports of misuse and data breaches", ""]
    lines += [f"- {step}" for step in breach["steps"]]
    lines += [f"- Report form: {breach['report_form']}"]
    if breach["retention"]:
        lines += [f"- Breach files kept: {breach['retention']}"]
    return "\n".join(lines) + "\n"
