"""Fill Dutch msgstrs into the package catalog from a JSON file, then compile.

Usage: python scripts/fill_po.py translations.json
The JSON maps each English msgid to its Dutch text; a plural msgid maps to a
list [singular, plural]. Entries already translated are overwritten; msgids not
yet in the catalog are added, so this can run before `make messages`.
"""

from __future__ import annotations

import fcntl
import json
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent / "flask_webence_privacy" / "translations"


def main(path: str) -> None:
    wanted = json.loads(Path(path).read_text(encoding="utf-8"))
    po_path = ROOT / "nl" / "LC_MESSAGES" / "webence_privacy.po"
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale="nl")
    for msgid, text in wanted.items():
        if isinstance(text, list):
            existing = next((m for m in catalog if isinstance(m.id, tuple) and m.id[0] == msgid), None)
            if existing is None:
                raise SystemExit(f"plural {msgid!r} is not in the catalog: run `make messages` first")
            existing.string = tuple(text)
            existing.flags.discard("fuzzy")
            continue
        message = catalog.get(msgid)
        if message is None:
            catalog.add(msgid, text)
        else:
            message.string = text
            message.flags.discard("fuzzy")
    with po_path.open("wb") as fh:
        write_po(fh, catalog, width=100, sort_output=True, omit_header=False)
    for language in ("nl", "en"):
        po = ROOT / language / "LC_MESSAGES" / "webence_privacy.po"
        with po.open("rb") as fh:
            cat = read_po(fh, locale=language)
        with (po.with_suffix(".mo")).open("wb") as fh:
            write_mo(fh, cat)


if __name__ == "__main__":
    # Several contributors may fill at once: one at a time, or entries are lost.
    with (ROOT / ".fill.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        main(sys.argv[1])
