""""Copy BibTeX" in a real browser: after an answer, the first source card's button and the all-cited button
put BibTeX on the clipboard that parses back to the cited papers. Reuses test_ui_browser's `labqa serve` and
Chromium fixtures."""

from __future__ import annotations

from typing import Any

import pytest
from test_ui_browser import QUESTION, ask, browser, cards, open_page, server  # noqa: F401 - fixtures

from ingest.bibtex import parse_bibtex

pytestmark = pytest.mark.browser


def test_copy_bibtex_buttons(server: str, browser: Any) -> None:  # noqa: F811
    outside: list[str] = []
    page = open_page(browser, server, outside)
    ask(page, QUESTION)
    shown = cards(page)
    assert len(shown) >= 2
    page.locator("#lq-sources .lq-card .lq-copy-bib").first.click()
    page.wait_for_function("document.querySelector('#lq-sources .lq-copy-bib').innerText === 'Copied'")
    (entry,) = parse_bibtex("clipboard", page.evaluate("navigator.clipboard.readText()"))
    assert entry.title == shown[0]["title"] and entry.authors_truncated  # the listing names three, "and others"
    page.locator("#lq-sources .lq-sources > .lq-copy-bib").click()
    page.wait_for_timeout(300)
    entries = list(parse_bibtex("clipboard", page.evaluate("navigator.clipboard.readText()")))
    assert [e.title for e in entries] == [c["title"] for c in shown]
    assert not outside
