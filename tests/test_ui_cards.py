"""The UI's pure parts, no server: source-card HTML (escaping, highlights, links), the conversation ↔
Assistant history, filters from the controls, the paper table and the chat's error handling."""

from __future__ import annotations

import html
import re

import pytest

from rag.errors import QuestionError
from rag.types import Answer, Citation, Filters, Paper, SourceHit
from ui.cards import (
    answer_footer,
    answer_markdown,
    highlighted_snippet,
    references_text,
    source_card,
    tex_to_text,
)
from ui.chat import (
    ChatService,
    Exchange,
    exchange_of_message,
    filters_from_dict,
    history_from_messages,
    history_turns,
    panel_html,
    parse_filters,
    to_messages,
)
from ui.papers import details_html, iso_date, rows, search


def citation(**kw) -> Citation:  # type: ignore[no-untyped-def]
    base = dict(n=1, paper_id="p1", title="A $\\varepsilon$-Constrained <b>Bold</b> \"Title\"",
                authors=["Ann Lee", "Bo Chen", "Cy Dong"], authors_truncated=True, year=2024, date="Dec 17, 2024",
                category="cs.LG", url="https://github.com/x/y", has_code=True,
                snippet="First sentence with $\\mathrm{MRD}$ & <tags>. Second sentence is used. Third one.",
                highlights=["Second sentence is used."])
    base.update(kw)
    return Citation(**base)  # type: ignore[arg-type]


def answer(**kw) -> Answer:  # type: ignore[no-untyped-def]
    base = dict(question="q?", answer="Claim one [1]. A < b and $x$ [1].", answerer="offline", abstained=False,
                citations=[citation()], sources=[SourceHit("p1", "T", 0.5), SourceHit("p2", "Other <i>", 0.2)],
                timings_ms={"total_ms": 21.4}, filters="year 2024", notes=["a note"])
    base.update(kw)
    return Answer(**base)  # type: ignore[arg-type]


def test_card_escapes_everything_from_the_corpus() -> None:
    card = source_card(citation(), anchor="a0-src-1")
    assert "<b>Bold</b>" not in card and "&lt;b&gt;Bold&lt;/b&gt;" in card
    assert "&lt;tags&gt;" in card and "&amp;" in card and "&quot;Title&quot;" in card
    assert "$" not in card  # TeX rendered (ε, MRD) and any other $ escaped as &#36;
    assert "ε-Constrained" in card and "MRD" in card
    assert "Ann Lee, Bo Chen, Cy Dong et al." in card
    assert "Dec 17, 2024" in card and "cs.LG" in card
    assert 'href="https://github.com/x/y"' in card and 'rel="noopener noreferrer"' in card and "Code ↗" in card
    assert 'data-n="1"' in card and 'id="a0-src-1"' in card
    assert "\n" not in card  # one line: the chatbot's Markdown would turn indented lines into code blocks


def test_card_without_truncation_link_or_date() -> None:
    card = source_card(citation(authors=["Solo Author"], authors_truncated=False, url=None, has_code=False,
                                date=None, year=None, category=None))
    assert "Solo Author<" in card and "et al." not in card
    assert "date unknown" in card and "href" not in card
    assert "authors unknown" in source_card(citation(authors=[], authors_truncated=False))


def test_only_http_links_are_rendered() -> None:
    card = source_card(citation(url="javascript:alert(1)", has_code=True))
    assert "javascript" not in card and "code released" in card


def test_highlights_marked_in_place_and_outside_ones_shown_first() -> None:
    out = highlighted_snippet("One. Two <x>. Three.", ["Two <x>.", "Not in the snippet."])
    assert out.startswith("<mark>Not in the snippet.</mark> … ")
    assert "One. <mark>Two &lt;x&gt;.</mark> Three." in out
    # whitespace differences do not lose the highlight
    assert "<mark>Two  \n words.</mark>" in highlighted_snippet("A. Two  \n words. B.", ["Two words."])


def test_tex_to_text() -> None:
    assert tex_to_text("via $\\varepsilon$-Constrained") == "via ε-Constrained"
    assert tex_to_text("a ($\\mathrm{MRD}$) metric") == "a (MRD) metric"
    assert tex_to_text("cost $5 and $10") == "cost $5 and $10"  # not TeX: no closing math
    assert tex_to_text("$\\frac{a}{b}$") == "$\\frac{a}{b}$"  # unknown TeX stays as written


def test_answer_markdown_and_footer() -> None:
    a = answer()
    md = answer_markdown(a.answer)
    assert "&lt; b" in md and "[1]" in md and "$" not in md
    footer = answer_footer(a)
    assert "Answerer: offline" in footer and "21 ms" in footer and "Filters applied: year 2024" in footer
    assert "a note" in footer
    assert "No filters" in answer_footer(answer(filters=""))
    text = references_text(a)
    assert text.startswith("Claim one [1].") and "[1] A $\\varepsilon$-Constrained" in text and "(2024)" in text


def test_conversation_to_history_skips_errors_and_keeps_raw_answers() -> None:
    conv = [Exchange("first?", answer=answer(answer="**Paper A** [1]")), Exchange("", error="empty"),
            Exchange("second?", answer=answer(answer="B [1]"))]
    turns = history_turns(conv)
    assert [(t.role, t.content) for t in turns] == [("user", "first?"), ("assistant", "**Paper A** [1]"),
                                                     ("user", "second?"), ("assistant", "B [1]")]
    msgs = to_messages(conv)
    assert [m["role"] for m in msgs] == ["user", "assistant", "assistant", "user", "assistant"]
    assert "lq-error" in msgs[2]["content"]
    # chatbot message index → exchange index (for showing an earlier answer's sources)
    assert [exchange_of_message(conv, i) for i in range(6)] == [0, 0, 1, 2, 2, None]
    panel = panel_html(conv, 0)
    assert 'id="a0-src-1"' in panel and "first?" in panel
    assert "not answered" in panel_html(conv, 1)


def test_filters_from_controls_and_api() -> None:
    assert parse_filters("Any", "Any", [], [], "Any") is None
    f = parse_filters("2025", 2023, [" Yuyuan Li ", ""], ["cs.IR"], "With code")
    assert f == Filters(year_from=2023, year_to=2025, authors=["Yuyuan Li"], categories=["cs.IR"], has_code=True)
    assert parse_filters(None, None, None, None, "Without code") == Filters(has_code=False)
    with pytest.raises(QuestionError):
        parse_filters("twenty", None)
    assert filters_from_dict({"year_from": 2024, "authors": "Li", "has_code": False}) == \
        Filters(year_from=2024, authors=["Li"], has_code=False)
    with pytest.raises(QuestionError, match="Unknown filter"):
        filters_from_dict({"yera": 2024})
    with pytest.raises(QuestionError):
        history_from_messages([{"role": "system", "content": "x"}])


def test_stream_turns_every_failure_into_a_chat_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rag.settings import Settings

    service = ChatService(Settings(home=tmp_path / "nothing-here"))
    states = list(service.stream("   ", [], None))
    assert states[0][-1].question == "" and states[-1][-1].error and "empty" in states[-1][-1].error
    last = list(service.stream("What is EISAM?", [], None))[-1][-1]
    assert last.answer is None and "labqa ingest" in (last.error or "")  # missing store: readable, no trace
    assert "Traceback" not in (last.error or "")


def test_stream_with_the_real_assistant(assistant) -> None:  # type: ignore[no-untyped-def]
    service = ChatService(assistant.settings, assistant)
    states = list(service.stream("What has the group done on recommendation unlearning?", [], None))
    assert len(states) > 2  # the text arrived in pieces before the final answer
    first = states[-1]
    a = first[-1].answer
    assert a is not None and a.citations and re.search(r"\[1\]", a.answer)
    follow = list(service.stream("Which of those have code?", first, None))[-1]
    b = follow[-1].answer
    assert b is not None and b.citations and all(c.has_code for c in b.citations)
    assert {c.paper_id for c in b.citations} <= {c.paper_id for c in a.citations}


def test_paper_table_search_sort_and_details(assistant) -> None:  # type: ignore[no-untyped-def]
    papers = assistant.catalog.papers
    newest = search(papers, "", "Newest first")
    assert len(newest) == len(papers) == 31
    dated = [iso_date(p) for p in newest if p.year]
    assert dated == sorted(dated, reverse=True) and iso_date(newest[-1]) == "—"
    hits = search(papers, "FEDERATED learning", "Title A–Z")
    assert hits and all("federated" in (p.title + p.abstract + " ".join(p.other_abstracts)).lower() for p in hits)
    assert [p.title for p in hits] == sorted((p.title for p in hits), key=str.casefold)
    table = rows(hits)
    assert len(table[0]) == 5
    two = next(p for p in papers if p.other_abstracts)
    d = details_html(two)
    assert "version 2 of 2" in d and html.escape(two.title.split(":")[0]) in d
    derived = next(p for p in papers if p.title_source == "derived")
    assert "title is derived" in details_html(derived)


def test_paper_escaping_in_details() -> None:
    p = Paper(paper_id="x", title="<script>alert(1)</script>", title_source="listing", authors=[],
              authors_truncated=False, date="May 30", year=2026, year_inferred=True, category="cs.CV",
              has_code=True, urls=["https://example.org/p?a=1&b=2"], score=None, abstract="a < b $x$ & c")
    d = details_html(p)
    assert "<script>" not in d and "&lt;script&gt;" in d
    assert "a &lt; b x &amp; c" in d and "year inferred" in d
    assert 'href="https://example.org/p?a=1&amp;b=2"' in d and "Code / project page ↗" in d
