"""What the package keeps in memory for speed, and how each store is bounded.

Nothing kept here decides anything. Each function returns what its ``make`` (or
``check``) returns, and only saves doing it again: a store that is emptied costs
time, never a different answer. The rules live in the modules that pass the
``make``; what each store saves is measured by ``make bench`` (bench/README.md).

Every store is emptied whole when it reaches its bound (simpler and cheaper on
each hit than a least-recently-used order, and each working set is small), so
nothing a visitor sends can grow the memory. One :class:`Caches` per app, on its
state; the languages of Accept-Language headers are kept per process, as they
depend on nothing but the header and the site's languages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")

#: Rendered parts of pages kept at most (per language, policy version, day,
#: mount, URL and banner or not: a four-language site keeps about 40).
PAGES_MAX = 128
#: Choice cookies kept with their checked signature at most.
CHOICES_MAX = 4096
#: Accept-Language headers kept with the language each one chose at most, and
#: the longest kept (a browser's is far shorter; a longer one is answered, not kept).
LANGUAGES_MAX = 1024
LANGUAGE_HEADER_MAX = 256


def remember(store: dict[_K, _V], key: _K, value: _V, limit: int) -> _V:
    """Keep ``value`` under ``key``; a store at ``limit`` is emptied first."""
    if len(store) >= limit:
        store.clear()
    store[key] = value
    return value


@dataclass
class Caches:
    """One app's stores: each field is read and filled only by its method below."""

    pages: dict[tuple[str, ...], Any] = field(default_factory=dict)
    choices: dict[str, Any] = field(default_factory=dict)
    texts: dict[tuple[str, ...], str] = field(default_factory=dict)
    own_frame: bool | None = None

    def page(self, key: tuple[str, ...], make: Callable[[], _V]) -> _V:
        """A part of a page that is the same for every visitor (the policy's
        article, the cookie banner, a whole privacy page and its validator),
        made once per ``key``. Bound: :data:`PAGES_MAX` parts, then all go
        (yesterday's pages and earlier policy versions with them)."""
        found = self.pages.get(key)
        if found is None:
            found = remember(self.pages, key, make(), PAGES_MAX)
        return found  # type: ignore[no-any-return]

    def text(self, key: tuple[str, ...], make: Callable[[], str]) -> str:
        """A text fixed by the settings and the catalogues (the exact wording a
        form's consent proves, per language), made once: switching the locale to
        word it costs more than the rest of a form's answer. Bound: the settings'
        own (one per form and site language)."""
        found = self.texts.get(key)
        if found is None:
            found = self.texts[key] = make()
        return found

    def checked_choice(self, value: str, check: Callable[[str], _V]) -> _V:
        """What a visitor's choice cookie holds once ``check`` has accepted its
        signature: the same cookie comes with every page of a visitor who has
        answered. ``check`` raising keeps nothing. Bound: :data:`CHOICES_MAX`
        cookies, then all go. (The caller still checks the age every time.)"""
        found = self.choices.get(value)
        if found is None:
            found = remember(self.choices, value, check(value), CHOICES_MAX)
        return found  # type: ignore[no-any-return]

    def frame_is_own(self, check: Callable[[], bool]) -> bool:
        """Whether the templates of a kept page are all the package's own files:
        looked at once per process (templates do not move while it runs)."""
        if self.own_frame is None:
            self.own_frame = check()
        return self.own_frame


_LANGUAGES: dict[tuple[str, tuple[str, ...]], str] = {}


def language_for(header: str, languages: tuple[str, ...], choose: Callable[[], str]) -> str:
    """The site language ``choose`` picks for an Accept-Language ``header``:
    browsers send a handful of distinct values, and parsing one on every page was
    measurable. Bound: :data:`LANGUAGES_MAX` headers of at most
    :data:`LANGUAGE_HEADER_MAX` characters (a longer one is answered, not kept)."""
    key = (header, languages)
    found = _LANGUAGES.get(key)
    if found is None:
        found = choose()
        if len(header) <= LANGUAGE_HEADER_MAX:
            remember(_LANGUAGES, key, found, LANGUAGES_MAX)
    return found


#: User agents kept with what they were found to be (a machine or a browser
#: family) at most, and the longest kept (a longer one is classified, not kept).
AGENTS_MAX = 2048
AGENT_MAX = 512

_AGENTS: dict[str, Any] = {}


def agent_for(user_agent: str, classify: Callable[[], _V]) -> _V:
    """What ``classify`` finds a User-Agent header to be: a site sees a few
    hundred distinct ones a day, and matching one against the crawler list and
    the parser's rules costs about 0.3 ms. Per process (it depends on the header
    only). Bound: :data:`AGENTS_MAX` headers of at most :data:`AGENT_MAX`
    characters (a longer one is classified, not kept)."""
    found = _AGENTS.get(user_agent)
    if found is None:
        found = classify()
        if len(user_agent) <= AGENT_MAX:
            remember(_AGENTS, user_agent, found, AGENTS_MAX)
    return found
