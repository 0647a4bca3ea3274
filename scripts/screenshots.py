"""`make screenshots`: a PNG of every page state (tests/pagestates.py) in Dutch and
English at 1280 and 390 px, so a maintainer can look at every page in a minute.

Runs the example site on a temporary SQLite database with a loopback SMTP server
(the walk follows the mailed links), in Debian's Chromium. Writes
``<out>/<language>-<width>/<nn>-<state>.png`` (default out: ``screenshots/``, not
committed). Usage: ``python -m scripts.screenshots [--out DIR] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.conftest import CHROMIUM, Inbox, LiveServer, free_port
from tests.pagestates import LANGUAGES, SITE_CONFIG, STATES, WIDTHS, inbox_link, walk


def build_site(folder: Path, smtp_port: int) -> Any:
    from example_site import create_app, db

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'site.db'}",
        "SECRET_KEY": "screenshots",
        "PRIVACY_HASH_KEY": "screenshots-hash-key",
        "TRUSTED_HOSTS": ["127.0.0.1", "localhost"],
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_SUPPRESS_SEND": False,
        "DEBUG": True, "MAIL_DEBUG": False,  # debug on loopback: admin pages and mail viewer
        **SITE_CONFIG,
    })
    app.debug = True
    with app.app_context():
        db.create_all()
        app.extensions["webence_privacy"].privacy.sync_policy()
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--only", nargs="*", default=None,
                        help="photograph only these states (the walk still passes the others)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"Chromium not found at {CHROMIUM} (Debian package 'chromium')", file=sys.stderr)
        return 1

    from aiosmtpd.controller import Controller
    from playwright.sync_api import sync_playwright

    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    written = 0
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(build_site(Path(tmp), smtp.port))
        launch = ["--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-gpu"]
        if os.geteuid() == 0:
            launch.append("--no-sandbox")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=launch)
                for language in LANGUAGES:
                    context = browser.new_context(locale="nl-NL" if language == "nl" else "en-GB")
                    page = context.new_page()
                    page.set_default_timeout(10_000)
                    number = iter(range(1, len(STATES) + 1))

                    def shoot(name: str, page: Any, language: str = language,
                              number: Any = number) -> None:
                        nonlocal written
                        index = next(number)
                        if args.only and name not in args.only:
                            return
                        for width in WIDTHS:
                            folder = args.out / f"{language}-{width}"
                            folder.mkdir(parents=True, exist_ok=True)
                            page.set_viewport_size({"width": width, "height": 900})
                            page.screenshot(path=str(folder / f"{index:02d}-{name}.png"),
                                            full_page=True)
                            written += 1

                    walk(page, server.url, language, server.app, inbox_link(inbox), shoot)
                    context.close()
                browser.close()
        finally:
            server.stop()
            smtp.stop()
    print(f"{written} screenshots of {len(STATES)} page states in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
