"""The chat, without Gradio: a per-session conversation (a list of Exchange, kept in the session's
gr.State), turned into chatbot messages and into the Turn history the Assistant reads for follow-ups.

One ChatService serves every session; it holds no conversation of its own (the Assistant is thread-safe
and stateless per call), so sessions never see each other's messages."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rag.errors import LabQAError, QuestionError
from rag.settings import Settings
from rag.types import Answer, Filters, Paper, Turn
from ui import api_validation
from ui.cards import answer_footer, answer_markdown, error_markdown, esc, md_text, sources_html
from ui.startup import IndexBuild

log = logging.getLogger("labqa.ui")
ANY = "Any"
STREAM_EVERY = 0.03  # seconds: at most ~30 chat updates a second while an answer streams
CODE_CHOICES = ["Any", "With code", "Without code"]


@dataclass
class Exchange:
    """One question of a conversation and what came back: an Answer, an error message, or (while
    streaming) the text so far."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    partial: str = ""
    pinned: str | None = None  # paper_id when asked with "Ask about this paper" (that paper is the scope)


def history_turns(conv: list[Exchange]) -> list[Turn]:
    """The conversation as the Assistant reads it: answered exchanges only, raw answer text (the papers
    a follow-up like "which of those have code?" refers to are found by their titles in it)."""
    turns: list[Turn] = []
    for ex in conv:
        if ex.answer is not None:
            turns += [Turn("user", ex.question),
                      Turn("assistant", ex.answer.answer, [c.paper_id for c in ex.answer.citations])]
    return turns


def parse_filters(year_from: Any = None, year_to: Any = None, authors: list[str] | None = None,
                  categories: list[str] | None = None, has_code: str | None = None) -> Filters | None:
    """The filter controls beside the chat → rag.types.Filters (None when nothing is set)."""

    def year(v: Any) -> int | None:
        if v in (None, "", ANY):
            return None
        try:
            return int(v)
        except (TypeError, ValueError):
            raise QuestionError(f"The year filter {v!r} is not a year (e.g. 2023).") from None

    y0, y1 = year(year_from), year(year_to)
    if y0 and y1 and y0 > y1:  # "from 2025 to 2023" means the same range
        y0, y1 = y1, y0
    f = Filters(year_from=y0, year_to=y1,
                authors=[a.strip() for a in authors or [] if a and a.strip()],
                categories=[c for c in categories or [] if c],
                has_code={"With code": True, "Without code": False}.get(has_code or ANY))
    return None if f.is_empty() else f


WAITING = "_Waiting for the answer above…_"


def to_messages(conv: list[Exchange], waiting: list[str] | None = None) -> list[dict[str, Any]]:
    """Chatbot messages (Gradio 6 "messages" format: role/content dicts, content as Markdown). The user's
    text is escaped (shown as typed, never rendered as HTML or Markdown); `waiting` are questions sent
    while an answer streams, shown after it until their turn comes."""
    out: list[dict[str, Any]] = []
    for ex in conv:
        if ex.question:
            out.append({"role": "user", "content": md_text(ex.question)})
        if ex.error is not None:
            out.append({"role": "assistant", "content": error_markdown(ex.error)})
        elif ex.answer is not None:
            out.append({"role": "assistant",
                        "content": answer_markdown(ex.answer.answer) + answer_footer(ex.answer, bool(ex.pinned))})
        else:
            out.append({"role": "assistant", "content": answer_markdown(ex.partial) if ex.partial else "…"})
    for q in waiting or []:
        out += [{"role": "user", "content": md_text(q)}, {"role": "assistant", "content": WAITING}]
    return out


def exchange_of_message(conv: list[Exchange], message_index: int) -> int | None:
    """Which exchange a chatbot message (by position, as to_messages lays them out) belongs to."""
    pos = 0
    for i, ex in enumerate(conv):
        pos += 2 if ex.question else 1
        if message_index < pos:
            return i
    return None


def panel_html(conv: list[Exchange], index: int | None = None, papers: dict[str, Paper] | None = None) -> str:
    """The sources panel beside the chat: the cards of one answer (the latest unless another is chosen)."""
    if not conv:
        return SOURCES_INTRO
    i = len(conv) - 1 if index is None else index
    ex = conv[i]
    n = len(ex.answer.citations) if ex.answer is not None else 0
    count = f'{n} paper{"s" if n != 1 else ""} cited · ' if n else ""
    head = f'<div class="lq-panel-q">{count}for “{esc(ex.question)}”</div>' if ex.question else ""
    if ex.error is not None:
        body = '<div class="lq-panel-empty">No sources: the question was not answered.</div>'
    elif ex.answer is None:
        body = '<div class="lq-panel-empty">Searching the papers…</div>'
    elif not ex.answer.citations:
        body = ('<div class="lq-panel-empty">No sources cited: the collection has nothing on this question.</div>'
                if ex.answer.abstained else '<div class="lq-panel-empty">This answer cites no paper.</div>')
    else:
        body = sources_html(ex.answer, papers, prefix=f"a{i}-src")
    hint = '<div class="lq-panel-hint">Click an earlier answer to see its sources.</div>' if len(conv) > 1 else ""
    return f'<div class="lq-panel">{head}{body}{hint}</div>'


SOURCES_INTRO = ('<div class="lq-panel"><div class="lq-panel-empty">The sources of each answer appear here: one '
                 'card per cited paper, numbered like the [n] markers in the answer, with the sentences the '
                 'answer used <mark>highlighted</mark>.</div></div>')


class ChatService:
    """Answers for every session; creates the Assistant on first use (so a broken store is reported in
    the chat, and a store fixed later works without a restart)."""

    def __init__(self, settings: Settings, assistant=None, build: IndexBuild | None = None) -> None:  # type: ignore[no-untyped-def]
        self.settings = settings
        self._assistant = assistant
        self.build = build or IndexBuild()
        self._lock = threading.Lock()

    @property
    def assistant(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._assistant is None:
                from rag.assistant import Assistant

                self._assistant = Assistant(self.settings)
            return self._assistant

    def answerer_label(self) -> str:
        try:
            return self.assistant.answerer_label
        except Exception as exc:  # noqa: BLE001 - a bad LLM setting must not break the page
            return f"unavailable ({exc})"

    def papers(self) -> list[Paper]:
        """The catalog, or [] while the index is missing or broken (the chat explains why)."""
        if not self.build.ready:
            return []
        try:
            return list(self.assistant.catalog.papers)
        except LabQAError:
            return []

    def papers_by_id(self) -> dict[str, Paper]:
        return {p.paper_id: p for p in self.papers()}

    def stream(self, question: str, conv: list[Exchange], filters: Filters | None,
               pinned: str | None = None) -> Iterator[list[Exchange]]:
        """Yields the conversation after each streamed piece; the last one holds the Answer or the error.
        `pinned` (a paper id) asks about that paper alone: it is the whole scope, and the chat filters are
        not merged into it (a year filter would otherwise swap in another paper of that year)."""
        ex = Exchange(question=(question or "").strip(), pinned=pinned)
        if pinned:
            filters = Filters(paper_ids=[pinned])
        conv = [*conv, ex]
        yield conv
        try:
            if not self.build.ready:
                raise LabQAError(self.build.message())
            shown = 0.0
            for item in self.assistant.stream(ex.question, filters, history_turns(conv[:-1])):
                if isinstance(item, Answer):
                    ex.answer = item
                    continue
                ex.partial += item
                # Show text as it comes, but pieces that arrive together (the offline answerer produces its
                # lines within a millisecond) go out as one update: each update costs the browser a render.
                now = time.monotonic()
                if now - shown >= STREAM_EVERY:
                    shown = now
                    yield conv
        except LabQAError as exc:
            ex.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - the user gets a sentence, the log gets the trace
            log.exception("answering %r failed", ex.question)
            ex.error = (f"Something went wrong while answering ({type(exc).__name__}: {exc}). The details are in "
                        "the server log; the app is still running, so you can ask again.")
        yield conv

    def ask(self, question: str, history: list[dict[str, Any]] | None = None,
            filters: dict[str, Any] | None = None) -> dict[str, Any]:
        """The API endpoint's body: same JSON object as `labqa ask --json` (Answer.to_dict())."""
        text = api_validation.question(question)  # checked before the index: bad input is the client's to fix
        turns = api_validation.history(history)
        api_validation.filters(filters)
        if not self.build.ready:
            raise LabQAError(self.build.message())
        scope = api_validation.filters(filters, self.assistant.catalog)  # now the paper ids can be checked
        return self.assistant.ask(text, filters=scope, history=turns).to_dict()
