"""The compiled catalogs ship with the package and match their sources."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import flask_webence_privacy

TRANSLATIONS = Path(flask_webence_privacy.__file__).parent / "translations"


def test_every_dutch_message_is_translated_and_compiled():
    po_path = TRANSLATIONS / "nl" / "LC_MESSAGES" / "webence_privacy.po"
    with po_path.open("rb") as fh:
        po = read_po(fh, locale="nl")
    with po_path.with_suffix(".mo").open("rb") as fh:
        mo = read_mo(fh)
    missing = [m.id for m in po if m.id and not (
        m.string if isinstance(m.string, str) else all(m.string))]
    assert missing == []
    def strings(catalog):
        return {tuple(m.id) if isinstance(m.id, (list, tuple)) else m.id:
                tuple(m.string) if isinstance(m.string, (list, tuple)) else m.string
                for m in catalog if m.id}

    po_strings, mo_strings = strings(po), strings(mo)
    assert po_strings == mo_strings, "run `make messages` (or scripts/fill_po.py) to recompile"
