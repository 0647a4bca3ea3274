"""Every page state (tests/pagestates.py), in Dutch and English, at 1280 and 390
px: axe-core (WCAG 2.1 A/AA) finds nothing, and at 390 px no page scrolls sideways."""

from __future__ import annotations

import pytest

from .conftest import axe_violations
from .pagestates import LANGUAGES, SITE_CONFIG, STATES, WIDTHS, inbox_link, scroll_overflow, walk

pytestmark = pytest.mark.browser


@pytest.fixture
def example_site_options():
    # Debug mode on loopback: the demo opens the maintainer's pages and the mail viewer.
    return {"mail": True, "debug": True, "MAIL_DEBUG": False, **SITE_CONFIG}


def summary(violations: list[dict]) -> list[str]:
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['target']})"
            for v in violations]


def test_every_page_state_is_accessible_at_both_widths(chromium, example_site, inbox):
    problems: dict[str, list[str]] = {}
    scanned = 0
    for language in LANGUAGES:
        context = chromium.new_context(locale="nl-NL" if language == "nl" else "en-GB",
                                       viewport={"width": WIDTHS[0], "height": 900})
        page = context.new_page()
        page.set_default_timeout(10_000)

        def visit(name: str, page, language=language) -> None:
            nonlocal scanned
            lang = page.locator("html").get_attribute("lang")
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                found = summary(axe_violations(page))
                if lang != language:
                    found.append(f"the page is in {lang!r}, not {language!r}")
                if width < 600 and (overflow := scroll_overflow(page)) > 0:
                    found.append(f"scrolls sideways by {overflow}px")
                if found:
                    problems[f"{name} [{language}, {width}px]"] = found
                scanned += 1

        try:
            walk(page, example_site.url, language, example_site.app, inbox_link(inbox), visit)
        finally:
            context.close()
    print(f"\naccessibility walk: {scanned} page states scanned "
          f"({len(STATES)} pages x {len(LANGUAGES)} languages x {len(WIDTHS)} widths)")
    assert scanned == len(STATES) * len(LANGUAGES) * len(WIDTHS)
    assert not problems, "\n".join(f"{where}: {found}" for where, found in problems.items())
