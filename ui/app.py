"""The Gradio app: chat with streamed, cited answers and filters; a paper browser; an evaluation tab; and
the `ask` API endpoint. Gradio is imported inside the functions (≈ 2.5 s), never at module import.
(No `from __future__ import annotations` here: Gradio reads handler annotations such as gr.SelectData at
run time.)"""

import logging
import os
import sys
from pathlib import Path
from typing import Any

from rag.assistant import MAX_QUESTION_CHARS
from rag.errors import LabQAError
from rag.lexicon import CATEGORY_LABELS
from rag.settings import Settings
from rag.types import Filters
from ui import mcp_tools, saved
from ui import papers as papers_view
from ui.cards import COPY_BIBTEX_JS, esc, references_text
from ui.chat import (
    ANY,
    CODE_CHOICES,
    SOURCES_INTRO,
    ChatService,
    Exchange,
    exchange_of_message,
    panel_html,
    parse_filters,
    to_messages,
)
from ui.session_queue import Pending, SessionQueues
from ui.startup import IndexBuild, needs_ingest, warm_in_background

log = logging.getLogger("labqa.ui")
CSS_PATH = Path(__file__).with_name("style.css")
EXAMPLES = [
    "What has the group done on recommendation unlearning?",
    "Which papers were published in 2023?",
    "How many papers did Yuyuan Li co-author since 2024?",
    "Computer vision papers with code",
    "What is EISAM?",
    "Who wrote the paper on multimodal puns?",
]
# Answering a question holds a worker thread for ~20 ms offline (CPU-bound; more threads do not make it
# faster, but they keep one slow question from queueing the others) and for seconds with an LLM (I/O-bound:
# the thread just waits on the endpoint). 8 concurrent answers keeps several users' LLM calls in flight at
# once without letting a burst of offline questions oversubscribe the 2-core machine. The Assistant is
# thread-safe (one shared index, the conversation is passed in), so this is safe. Every event that answers
# (submit, Ask, retry, examples, "ask about this paper", the /ask API) shares this one limit.
CONCURRENT_ANSWERS = 8
ANSWERING = {"concurrency_id": "answers", "concurrency_limit": CONCURRENT_ANSWERS, "api_visibility": "private"}
PRIVATE = {"api_visibility": "private"}  # UI events are not API endpoints; only /ask is
# The page is designed light; Gradio would follow a dark system theme. Its frontend reads ?__theme= on load,
# so set it before the (deferred) app script runs.
LIGHT_MODE = ("<script>(() => { const u = new URL(location.href); if (!u.searchParams.has('__theme')) "
              "{ u.searchParams.set('__theme', 'light'); history.replaceState(null, '', u); } })();</script>")


COUNT_FROM = int(MAX_QUESTION_CHARS * 0.8)  # the counter appears near the limit, not while typing short questions
# Runs in the browser on every keystroke (a Gradio js-only event: no server call). Counts like the server does
# (whitespace folded); over the limit it says by how much, and Enter keeps the text (see take()).
COUNTER_JS = f"""(q) => {{
  const n = (q || '').trim().replace(/\\s+/g, ' ').length, max = {MAX_QUESTION_CHARS};
  const fmt = (x) => x.toLocaleString('en');
  if (n <= {COUNT_FROM}) return '';
  if (n > max) return `<div class="lq-count lq-over">${{fmt(n)}} / ${{fmt(max)}} characters: ${{fmt(n - max)}} too many.
    Shorten the question to send it.</div>`;
  return `<div class="lq-count">${{fmt(n)}} / ${{fmt(max)}} characters</div>`;
}}"""
# A tap (or click) on an [n] marker in an answer brings that answer's card n into view: on a phone the sources
# sit below the chat. Gradio renders messages from Markdown and has no per-marker event, and links in the
# message would end up in its screen-reader label, so the marker under the pointer is found here.
CITE_TAP_JS = r"""<script>document.addEventListener('click', (e) => {
  const bot = e.target.closest && e.target.closest('#lq-chat [data-testid=bot]');
  const r = bot && document.caretRangeFromPoint && document.caretRangeFromPoint(e.clientX, e.clientY);
  if (!r || r.startContainer.nodeType !== 3) return;
  const text = r.startContainer.textContent, at = r.startOffset;
  const hit = [...text.matchAll(/\[(\d{1,3})\]/g)].find(m => m.index <= at && at <= m.index + m[0].length);
  if (!hit) return;
  const k = [...document.querySelectorAll('#lq-chat [data-testid=bot]')].indexOf(bot);
  let tries = 0;
  const show = () => {  // the panel may still be switching to this answer's cards (chatbot.select)
    const card = document.getElementById(`a${k}-src-${hit[1]}`);
    if (!card) { if (tries++ < 40) setTimeout(show, 50); return; }
    card.scrollIntoView({behavior: 'smooth', block: 'start'});
    card.classList.add('lq-flash'); setTimeout(() => card.classList.remove('lq-flash'), 1600);
  };
  show();
});</script>"""


def too_long_html(n: int) -> str:
    return (f'<div class="lq-count lq-over">{n:,} / {MAX_QUESTION_CHARS:,} characters: {n - MAX_QUESTION_CHARS:,} '
            "too many. Shorten the question to send it.</div>")


def filters_label(f: Filters | None) -> str:
    """The folded filters panel says which filters are set, so a forgotten one is not a surprise."""
    return f"Filters · {f.describe()}" if f is not None else "Filters · none set (narrow the next question)"


def _theme():  # type: ignore[no-untyped-def]
    import gradio as gr

    # System fonts only: the page must not reach for a font CDN (LabQA runs offline).
    sans = ["Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Helvetica Neue", "Arial",
            "sans-serif"]
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="amber", neutral_hue="slate", font=sans,
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
                          radius_size="md").set(
        body_background_fill="#f6f7fb", body_text_color="*neutral_800",
        block_shadow="0 1px 2px rgba(15, 23, 42, .06)",
        block_title_background_fill="transparent", block_title_text_color="*neutral_600",
        block_title_padding="0", block_title_text_weight="600", block_label_background_fill="transparent",
        block_label_text_color="*neutral_600")


def launch_options() -> dict[str, Any]:
    """Look and feel for Blocks.launch() (Gradio 6 takes theme and CSS there, not in Blocks())."""
    return {"theme": _theme(), "css": CSS_PATH.read_text(encoding="utf-8"),
            "head": LIGHT_MODE + CITE_TAP_JS + COPY_BIBTEX_JS}


def header_html(label: str, n_papers: int) -> str:
    papers = f"{n_papers} papers" if n_papers else "the group's papers"
    return ('<div class="lq-header"><div><div class="lq-logo">LabQA</div>'
            f'<div class="lq-tagline">Ask questions about {papers}; every answer cites its sources.</div></div>'
            f'<div class="lq-answerer" title="Set LABQA_LLM_MODEL and OPENAI_BASE_URL to use an LLM">'
            f'Answerer: <b>{esc(label)}</b></div></div>')


def build_app(settings: Settings, assistant=None, build: IndexBuild | None = None):  # type: ignore[no-untyped-def]
    """The whole UI as a gr.Blocks. `assistant` defaults to a new Assistant(settings), created on first use;
    `build` reports a background ingest started by serve()."""
    import gradio as gr

    service = ChatService(settings, assistant, build)
    build = service.build

    with gr.Blocks(title="LabQA — ask the group's papers", fill_width=False) as demo:
        conv = gr.State([])  # this session's conversation (list[Exchange]); never shared between sessions
        # The same conversation and filters in the browser's localStorage: a reload or a reopened tab comes
        # back to them (Gradio encrypts the value with a per-server-run secret, so a restart starts afresh).
        saved_conv = gr.BrowserState(saved.conversation_to_json([]), storage_key="labqa-conversation")
        saved_filters = gr.BrowserState(saved.filters_to_json(**saved.FILTER_DEFAULTS), storage_key="labqa-filters")
        banner = gr.HTML(build.banner_html(), visible=not build.ready, elem_id="lq-banner")
        ticker = gr.Timer(1.0, active=not build.ready)
        header = gr.HTML(header_html("…", 0))

        with gr.Tabs(selected="chat", elem_id="lq-tabs") as tabs:
            with gr.Tab("Chat", id="chat", elem_id="lq-tab-chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=11, min_width=320):
                        # No "copy_all"/trash toolbar: it floats over the first lines of the answer, and the
                        # buttons under the box copy (with references) and clear already.
                        chatbot = gr.Chatbot(
                            elem_id="lq-chat", show_label=False, height="calc(100vh - 300px)", min_height=400,
                            layout="panel", latex_delimiters=[], line_breaks=False,
                            buttons=["copy"], feedback_options=None, autoscroll=True,
                            placeholder=("<div class='lq-empty'><b>Ask about the group's research.</b><br>"
                                         "Answers quote the abstracts and cite each paper as [n]; tap a [n] "
                                         "to see its source.</div>"),
                            examples=[{"text": q} for q in EXAMPLES],
                        )
                        with gr.Row(elem_id="lq-ask-row"):
                            question = gr.Textbox(placeholder="Ask a question about the papers…  (Enter to send)",
                                                  show_label=False, lines=1, max_lines=4, scale=8, autofocus=True,
                                                  elem_id="lq-question", container=False)
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=72, elem_id="lq-send")
                        note = gr.HTML("", elem_id="lq-ask-note", container=False)
                        with gr.Row(elem_id="lq-actions"):
                            retry = gr.Button("↻ Retry", size="sm", variant="secondary", elem_id="lq-retry")
                            copy = gr.Button("Copy answer + references", size="sm", variant="secondary",
                                             elem_id="lq-copy")
                            clear = gr.Button("✕ Clear conversation", size="sm", variant="secondary",
                                              elem_id="lq-clear")
                        copy_text = gr.Textbox(visible="hidden", elem_id="lq-copy-text")
                    with gr.Column(scale=9, min_width=320, elem_id="lq-side"):
                        # Sources first: they are read with every answer; filters are set now and then, so
                        # they start folded (their label says which are set).
                        gr.HTML('<div class="lq-side-title">Sources</div>')
                        sources = gr.HTML(SOURCES_INTRO, elem_id="lq-sources")
                        with gr.Accordion(filters_label(None), open=False, elem_id="lq-filters") as filter_box:
                            with gr.Row(elem_classes="lq-filter-row"):
                                year_from = gr.Dropdown([ANY], value=ANY, label="From year", elem_id="lq-year-from",
                                                        min_width=90)
                                year_to = gr.Dropdown([ANY], value=ANY, label="To year", elem_id="lq-year-to",
                                                      min_width=90)
                                has_code = gr.Dropdown(CODE_CHOICES, value=ANY, label="Released code",
                                                       elem_id="lq-code", min_width=120)
                            with gr.Row(elem_classes="lq-filter-row"):
                                authors = gr.Dropdown([], value=[], multiselect=True, allow_custom_value=True,
                                                      label="Author", elem_id="lq-authors",
                                                      min_width=150)
                                categories = gr.Dropdown([], value=[], multiselect=True, label="Category",
                                                         elem_id="lq-categories", min_width=150)
                                reset = gr.Button("Reset", size="sm", variant="secondary", elem_id="lq-reset",
                                                  scale=0, min_width=64)

            with gr.Tab("Papers", id="papers", elem_id="lq-tab-papers"):
                with gr.Row():
                    search = gr.Textbox(placeholder="Search titles, authors, abstracts…", show_label=False,
                                        scale=4, elem_id="lq-paper-search", container=False)
                    sort = gr.Dropdown(list(papers_view.SORTS), value="Newest first", show_label=False,
                                       scale=1, min_width=150, elem_id="lq-paper-sort", container=False)
                count = gr.Markdown(elem_id="lq-paper-count")
                with gr.Row(equal_height=False):
                    table = gr.Dataframe(headers=papers_view.COLUMNS, datatype="str", interactive=False,
                                         wrap=True, max_height=640, scale=3,
                                         column_widths=["14%", "11%", "13%", "37%", "25%"],
                                         buttons=["copy"], elem_id="lq-papers")
                    with gr.Column(scale=2, min_width=300):
                        ask_paper = gr.Button("Ask about this paper in the chat", variant="primary",
                                              interactive=False, elem_id="lq-ask-paper")
                        details = gr.HTML(papers_view.details_html(None), elem_id="lq-paper-details")
                chosen = gr.State(None)  # paper_id of the chosen row

            with gr.Tab("Evaluation", id="evaluation", elem_id="lq-tab-eval"):
                from ui.evaluation import build_tab

                build_tab(service)

        filter_inputs = [year_from, year_to, authors, categories, has_code]
        chat_outputs = [chatbot, conv, copy_text, sources, saved_conv]
        queues = SessionQueues()

        # Asking is two steps. `take` (unqueued, instant) checks the box, puts the question in the session's
        # queue and empties the box once; the box is not an output of the answer, so what the user types
        # while an answer streams stays there. `drain` (queued) answers the session's questions in order.
        def take(text: str, y0, y1, who, cats, code, request: gr.Request):  # type: ignore[no-untyped-def]
            folded = " ".join((text or "").split())
            if not folded:  # Enter on an empty box (or a second Enter after sending) does nothing
                return gr.skip(), ""
            if len(folded) > MAX_QUESTION_CHARS:  # keep the text so it can be trimmed
                return gr.skip(), too_long_html(len(folded))
            try:
                filters = parse_filters(y0, y1, who, cats, code)
            except LabQAError as exc:
                return gr.skip(), f'<div class="lq-count lq-over">{esc(exc)}</div>'
            queues.put(request.session_hash, Pending(text, filters))
            return "", ""

        def drain(history: list[Exchange], request: gr.Request):  # type: ignore[no-untyped-def]
            sid = request.session_hash
            token = queues.claim(sid)
            if token is None:  # this session is being answered: that drain takes the new question in turn
                yield (gr.skip(),) * len(chat_outputs)
                return
            papers = service.papers_by_id()
            state = history
            answered = False
            try:
                while (item := queues.next(sid, token)) is not None:
                    base, text, pinned = state, item.question, item.pinned
                    if item.retry:
                        if not state:
                            continue
                        base, text, pinned = state[:-1], state[-1].question, state[-1].pinned
                    answered = True
                    shown_panel = None
                    for state in service.stream(text, base, item.filters, pinned):
                        # The panel changes twice (searching…, then the cards); gr.skip() leaves it alone between.
                        panel = panel_html(state, papers=papers)
                        update = panel if panel != shown_panel else gr.skip()
                        shown_panel = panel
                        waiting = [p.question for p in queues.waiting(sid) if not p.retry]
                        yield to_messages(state, waiting), state, gr.skip(), update, gr.skip()
                    last = state[-1]
                    yield (gr.skip(), state, references_text(last.answer) if last.answer else "", gr.skip(),
                           saved.conversation_to_json(state))
                if not answered:  # nothing was waiting (an empty Enter): a generator that yields nothing
                    yield (gr.skip(),) * len(chat_outputs)  # would set every output to None, emptying the chat
            finally:
                queues.release(sid, token)

        def take_retry(y0, y1, who, cats, code, request: gr.Request):  # type: ignore[no-untyped-def]
            try:
                filters = parse_filters(y0, y1, who, cats, code)
            except LabQAError:
                filters = None
            queues.put(request.session_hash, Pending("", filters, retry=True))

        def take_example(evt: gr.SelectData, y0, y1, who, cats, code, request: gr.Request):  # type: ignore[no-untyped-def]
            text = evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value)
            take(text, y0, y1, who, cats, code, request)

        def clear_chat(request: gr.Request):  # type: ignore[no-untyped-def]
            queues.drop(request.session_hash)
            return [], [], "", SOURCES_INTRO, saved.conversation_to_json([])

        def show_sources(evt: gr.SelectData, history: list[Exchange]):  # type: ignore[no-untyped-def]
            index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
            i = exchange_of_message(history, int(index)) if index is not None else None
            return panel_html(history, i, service.papers_by_id()) if i is not None and i < len(history) \
                else gr.skip()

        answering = {**ANSWERING, "show_progress": "hidden"}
        drains = [
            question.submit(take, [question, *filter_inputs], [question, note], queue=False, **PRIVATE)
            .then(drain, [conv], chat_outputs, **answering),
            send.click(take, [question, *filter_inputs], [question, note], queue=False, **PRIVATE)
            .then(drain, [conv], chat_outputs, **answering),
            retry.click(take_retry, filter_inputs, None, queue=False, **PRIVATE)
            .then(drain, [conv], chat_outputs, **answering),
            chatbot.retry(take_retry, filter_inputs, None, queue=False, **PRIVATE)
            .then(drain, [conv], chat_outputs, **answering),
            chatbot.example_select(take_example, filter_inputs, None, queue=False, **PRIVATE)
            .then(drain, [conv], chat_outputs, **answering),
        ]
        # The counter runs in the browser only (a js-only event: no server call per keystroke); .change, not
        # .input, so a paste and the emptied box after sending update it too.
        question.change(None, [question], [note], js=COUNTER_JS, **PRIVATE)
        chatbot.select(show_sources, [conv], sources, queue=False, **PRIVATE)
        copy.click(None, [copy_text], None, js="(t) => { if (t) navigator.clipboard.writeText(t); return []; }",
                   **PRIVATE)

        def remember_filters(*values):  # type: ignore[no-untyped-def]
            try:
                label = filters_label(parse_filters(*values))
            except LabQAError:
                label = filters_label(None)
            return saved.filters_to_json(*values), gr.Accordion(label=label)

        for control in filter_inputs:
            control.change(remember_filters, filter_inputs, [saved_filters, filter_box], queue=False, **PRIVATE)
        reset.click(lambda: (ANY, ANY, [], [], ANY), None, filter_inputs, queue=False, **PRIVATE)

        # --- catalog-dependent parts: filled on page load (and again when a background ingest finishes);
        # the saved conversation and filters come back here too ---
        def load_page(query: str, order: str, stored_filters, stored_conv):  # type: ignore[no-untyped-def]
            papers = service.papers()
            years = sorted({p.year for p in papers if p.year})
            cats = sorted({p.category for p in papers if p.category})
            authors_all = sorted({a for p in papers for a in p.authors})
            cat_choices = [(f"{c} ({CATEGORY_LABELS[c]})" if c in CATEGORY_LABELS else c, c) for c in cats]
            shown = papers_view.search(papers, query, order)
            kept = saved.filters_from_json(stored_filters, years, authors_all, cats)
            history = saved.conversation_from_json(stored_conv)
            last = history[-1] if history else None
            copied = references_text(last.answer) if last is not None and last.answer else ""
            return (header_html(service.answerer_label(), len(papers)),
                    gr.update(choices=[ANY, *years], value=kept["year_from"]),
                    gr.update(choices=[ANY, *years], value=kept["year_to"]),
                    gr.update(choices=authors_all, value=kept["authors"]),
                    gr.update(choices=cat_choices, value=kept["categories"]), gr.update(value=kept["has_code"]),
                    papers_view.rows(shown), papers_view.count_text(len(shown), len(papers)),
                    gr.HTML(build.banner_html(), visible=not build.ready), gr.Timer(active=not build.ready),
                    history, to_messages(history), panel_html(history, papers={p.paper_id: p for p in papers}),
                    copied)

        page_outputs = [header, year_from, year_to, authors, categories, has_code, table, count, banner, ticker,
                        conv, chatbot, sources, copy_text]
        page_inputs = [search, sort, saved_filters, saved_conv]
        demo.load(load_page, page_inputs, page_outputs, **PRIVATE)

        def tick(query: str, order: str, stored_filters, stored_conv):  # type: ignore[no-untyped-def]
            if build.state == "building":
                return (gr.skip(),) * 8 + (gr.HTML(build.banner_html(), visible=True), gr.Timer(active=True)) \
                    + (gr.skip(),) * 4
            return load_page(query, order, stored_filters, stored_conv)

        ticker.tick(tick, page_inputs, page_outputs, queue=False, **PRIVATE)

        def forget_session(request: gr.Request) -> None:
            queues.drop(request.session_hash)

        demo.unload(forget_session)

        # --- papers tab ---
        def filter_table(query: str, order: str):  # type: ignore[no-untyped-def]
            papers = service.papers()
            shown = papers_view.search(papers, query, order)
            return papers_view.rows(shown), papers_view.count_text(len(shown), len(papers))

        search.change(filter_table, [search, sort], [table, count], queue=False, **PRIVATE)
        sort.change(filter_table, [search, sort], [table, count], queue=False, **PRIVATE)

        def choose(evt: gr.SelectData):  # type: ignore[no-untyped-def]
            row = evt.row_value or []
            title = row[papers_view.COLUMNS.index("Title")] if len(row) == len(papers_view.COLUMNS) else None
            paper = next((p for p in service.papers() if papers_view.tex_to_text(p.title) == title), None)
            return papers_view.details_html(paper), paper.paper_id if paper else None, \
                gr.update(interactive=paper is not None)

        table.select(choose, None, [details, chosen, ask_paper], queue=False, **PRIVATE)

        def take_paper(paper_id: str | None, request: gr.Request):  # type: ignore[no-untyped-def]
            paper = service.papers_by_id().get(paper_id or "")
            if paper is not None:  # the paper is the scope; the chat filters are not merged into it
                queues.put(request.session_hash, Pending(papers_view.ask_about(paper), pinned=paper.paper_id))
            return gr.Tabs(selected="chat")

        drains.append(ask_paper.click(take_paper, [chosen], tabs, queue=False, **PRIVATE)
                      .then(drain, [conv], chat_outputs, **answering))
        # Clearing stops an answer that is still streaming (and forgets the questions waiting behind it).
        clear.click(clear_chat, None, chat_outputs, cancels=drains, queue=False, **PRIVATE)

        # --- the API: same JSON as `labqa ask --json` ---
        def ask(question: str, history: list[dict[str, Any]] | None = None,
                filters: dict[str, Any] | None = None) -> dict[str, Any]:
            """Answer a question about the research group's papers, citing them. Counts and lists ("how many
            papers since 2024?") are exact, from the catalog; when the collection has nothing on the question the
            answer says so (abstained: true) and cites nothing.

            Args:
                question: the question in English, e.g. "What has the group done on recommendation unlearning?"
                history: optional conversation so far, [{"role": "user"|"assistant", "content": "..."}], for
                    follow-ups like "which of those have code?"
                filters: optional {"year_from": int, "year_to": int, "authors": [str], "categories": [str],
                    "has_code": bool}

            Returns:
                The JSON of `labqa ask --json`: answer (text with [n] markers), citations (n, paper_id, title,
                authors, authors_truncated, year, url, doi, arxiv_id, snippet, page: the PDF page or null),
                abstained, filters, notes, answerer.
            """
            try:
                return service.ask(question, history, filters)
            except LabQAError as exc:
                raise gr.Error(str(exc), print_exception=False) from None
            except Exception as exc:  # noqa: BLE001 - clients get a sentence, the log gets the trace
                log.exception("API ask failed")
                raise gr.Error(f"Something went wrong while answering ({type(exc).__name__}). The details are in "
                               "the server log.", print_exception=False) from None

        gr.api(ask, api_name="ask", concurrency_id="answers", concurrency_limit=CONCURRENT_ANSWERS)
        mcp_tools.register(service)  # find_papers, get_paper, paper_bibtex (also MCP tools)

    # The answering events share the limit above; the remaining events (page load, table search) are light.
    demo.queue(default_concurrency_limit=CONCURRENT_ANSWERS)
    return demo


def _guard_middleware():  # type: ignore[no-untyped-def]
    """Refuse the Gradio routes LabQA does not need, so the server serves only its own page and outputs:
    no uploads, no fetching of outside URLs through /file=, no proxy, no vibe-editing."""
    from urllib.parse import unquote

    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse

    refused = ("/upload", "/proxy=", "/vibe", "/undo-vibe", "/run-history", "/process_recording", "/monitoring")

    class Guard:
        def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
            self.app = app

        async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
            if scope["type"] == "http":
                path = unquote(scope.get("path", "")).lower()
                path = path.removeprefix("/gradio_api")
                target = path.split("/file=", 1)[1] if "/file=" in path else ""
                if path.startswith(refused) or target.startswith(("http:", "https:", "//")):
                    await PlainTextResponse("Not available in LabQA.", status_code=403)(scope, receive, send)
                    return
            await self.app(scope, receive, send)

    return Middleware(Guard)


def launch(demo, host: str = "127.0.0.1", port: int = 7860):  # type: ignore[no-untyped-def]
    """Start serving without blocking; returns the local URL. Never shared publicly; only the page, its
    assets and the app's own outputs are served (see _guard_middleware); no monitoring or run history. The
    public API functions (ask, find_papers, get_paper, paper_bibtex) are also MCP tools at /gradio_api/mcp/."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    _, url, _ = demo.launch(server_name=host, server_port=port, share=False, inbrowser=False, show_error=False,
                            footer_links=["api"], enable_monitoring=False, mcp_server=True, run_history=False,
                            max_file_size="1kb", app_kwargs={"middleware": [_guard_middleware()]}, quiet=True,
                            prevent_thread_lock=True, **launch_options())
    return url


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> int:
    """`labqa serve`: build the index first if it is missing (progress on the page and in the terminal),
    then serve the UI on host:port until Ctrl-C."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from rag.assistant import Assistant

    assistant = Assistant(settings)
    build = IndexBuild()
    if needs_ingest(settings):
        print(f"labqa: no index at {settings.chroma_url or settings.home}; building it from {settings.data_dir} "
              "(the page shows the progress)", file=sys.stderr)
        build.start(settings, on_ready=lambda: warm_in_background(assistant))
    else:
        warm_in_background(assistant)
    demo = build_app(settings, assistant, build)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"labqa: warning: serving on {host}: anyone who can reach this machine can use the app.",
              file=sys.stderr)
    try:
        launch(demo, host, port)
    except OSError as exc:
        print(f"labqa: error: cannot listen on {host}:{port} ({exc}). Is another server running there? "
              "Choose another port with --port.", file=sys.stderr)
        return 1
    print(f"labqa: serving on http://{host}:{port}  (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    return 0
