"""Write the README's configuration reference from the declarations in config.py.

Usage: python -m scripts.settings_table          (rewrites the table in README.md)
       python -m scripts.settings_table --check  (exits 1 when the README is behind)

The table is the one under "## Configuration reference"; the text around it is
the README's own. tests/test_settings_reference.py fails while they differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flask_webence_privacy.config import reference_table

README = Path(__file__).resolve().parent.parent / "README.md"
HEADING = "## Configuration reference\n"


def table_span(text: str) -> tuple[int, int]:
    """Where the table under the heading starts and ends (its last line included)."""
    start = text.index("|", text.index(HEADING))
    end = start
    while end < len(text) and text.startswith("|", end):
        end = text.index("\n", end) + 1
    return start, end


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    start, end = table_span(text)
    wanted = reference_table()
    if text[start:end] == wanted:
        return 0
    if "--check" in argv:
        print("README.md's configuration reference is behind config.KEYS: "
              "run python -m scripts.settings_table", file=sys.stderr)
        return 1
    README.write_text(text[:start] + wanted + text[end:], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
