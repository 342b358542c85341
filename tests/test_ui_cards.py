"""The UI's pure parts, no server: source-card HTML (escaping, highlights, links), the conversation ↔
Assistant history, filters from the controls, the paper table and the chat's error handling."""

from __future__ import annotations

import html
import re

import pytest

from rag.errors import QuestionError
from rag.types import Answer, Citation, Filters, Paper, SourceHit
from ui import api_validation
from ui.cards import (
    answer_footer,
    answer_markdown,
    highlighted_snippet,
    md_text,
    references_text,
    source_card,
    tex_to_text,
)
from ui.chat import (
    ChatService,
    Exchange,
    exchange_of_message,
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
    assert msgs[2]["content"] == "> ⚠ empty"  # a quoted warning line, no HTML
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
    assert api_validation.filters({"year_from": 2024, "authors": "Li", "has_code": False}) == \
        Filters(year_from=2024, authors=["Li"], has_code=False)
    with pytest.raises(QuestionError, match="Unknown filter"):
        api_validation.filters({"yera": 2024})
    with pytest.raises(QuestionError, match=r"history\[0\]\.role"):
        api_validation.history([{"role": "system", "content": "x"}])


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


def test_user_text_is_shown_as_typed_never_rendered() -> None:
    typed = '<b>bold</b> <img src=x onerror="alert(1)"> *star* [1](http://x) $5'
    md = md_text(typed)
    assert "<" not in md and ">" not in md  # no tag survives for the Markdown/HTML renderer
    assert r"\*star\*" in md and r"\[1\]" in md and r"\$5" in md
    assert md_text("- not a list") == r"\- not a list" and md_text("1. not a list") == r"1\. not a list"
    conv = [Exchange(typed, error="x")]
    assert to_messages(conv)[0]["content"] == md


def test_footer_has_no_html_and_references_end_with_one_stop() -> None:
    a = answer(notes=["<i>note</i>"])
    footer = answer_footer(a)
    assert not re.search(r"<[a-z/]", footer)  # the chatbot's screen-reader label is the raw message
    assert footer.rstrip().endswith("_") and "Filters applied: year 2024" in footer
    pinned = answer_footer(a, pinned=True)
    assert "chosen paper only" in pinned and "year 2024" not in pinned
    refs = references_text(answer(citations=[citation(title="Understand Multimodal Puns?")]))
    assert "Puns? Ann Lee" in refs and "?." not in refs


def test_long_passages_start_collapsed_to_the_used_sentences() -> None:
    long = "Background sentence one. " * 20 + "The used sentence. " + "Tail. " * 10
    card = source_card(citation(snippet=long, highlights=["The used sentence."]))
    assert '<span class="lq-snippet-short">… <mark>The used sentence.</mark> …</span>' in card
    assert "<details class=\"lq-whole\"><summary>Show the whole passage</summary>" in card
    assert "lq-whole" not in source_card(citation())  # a short passage is shown whole


def test_saved_conversation_round_trip_and_bad_entries_dropped() -> None:
    from ui import saved

    conv = [Exchange("first?", answer=answer()), Exchange("bad one", error="The question is empty."),
            Exchange("streaming", partial="half")]
    data = saved.conversation_to_json(conv)
    assert [e["question"] for e in data["exchanges"]] == ["first?", "bad one"]  # unfinished ones are not kept
    back = saved.conversation_from_json(data)
    assert back[0].answer == conv[0].answer and back[1].error == conv[1].error
    data["exchanges"].insert(0, {"question": 5, "answer": None})
    data["exchanges"].append({"question": "x", "answer": {"answer": "no other fields"}})
    assert len(saved.conversation_from_json(data)) == 2
    assert saved.conversation_from_json("garbage") == [] and saved.conversation_from_json(None) == []
    f = saved.filters_from_json(saved.filters_to_json("2022", 2023, ["Ann Lee", "Gone"], ["cs.XX"], "With code"),
                                [2022, 2023], ["Ann Lee"], ["cs.IR"])
    assert f == {"year_from": 2022, "year_to": 2023, "authors": ["Ann Lee"], "categories": [],
                 "has_code": "With code"}


def test_session_queue_one_drainer_and_no_lost_item() -> None:
    from ui.session_queue import Pending, SessionQueues

    q = SessionQueues()
    q.put("s", Pending("one"))
    token = q.claim("s")
    assert token is not None and q.claim("s") is None  # a second drain of the same session backs off
    assert q.claim("other") is not None  # other sessions are independent
    q.put("s", Pending("two"))
    assert [p.question for p in q.waiting("s")] == ["one", "two"]
    assert q.next("s", token).question == "one" and q.next("s", token).question == "two"
    assert q.next("s", token) is None  # empty: the claim is given up in the same step
    assert q.claim("s") is not None
    q.drop("s")
    assert q.waiting("s") == [] and q.claim("s") is not None
