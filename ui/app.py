"""The Gradio app: chat with streamed, cited answers and filters; a paper browser; an evaluation tab; and
the `ask` API endpoint. Gradio is imported inside the functions (≈ 2.5 s), never at module import.
(No `from __future__ import annotations` here: Gradio reads handler annotations such as gr.SelectData at
run time.)"""

import logging
import os
import sys
from pathlib import Path
from typing import Any

from rag.catalog import CATEGORY_NAMES
from rag.errors import LabQAError
from rag.settings import Settings
from ui import mcp_tools
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
    return {"theme": _theme(), "css": CSS_PATH.read_text(encoding="utf-8"), "head": LIGHT_MODE + COPY_BIBTEX_JS}


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
        banner = gr.HTML(build.banner_html(), visible=not build.ready, elem_id="lq-banner")
        ticker = gr.Timer(1.0, active=not build.ready)
        header = gr.HTML(header_html("…", 0))

        with gr.Tabs(selected="chat", elem_id="lq-tabs") as tabs:
            with gr.Tab("Chat", id="chat", elem_id="lq-tab-chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=11, min_width=420):
                        chatbot = gr.Chatbot(
                            elem_id="lq-chat", show_label=False, height="calc(100vh - 300px)", min_height=400,
                            layout="panel", latex_delimiters=[], line_breaks=False,
                            buttons=["copy", "copy_all"], feedback_options=None, autoscroll=True,
                            placeholder=("<div class='lq-empty'><b>Ask about the group's research.</b><br>"
                                         "Answers quote the abstracts and cite each paper as [n].</div>"),
                            examples=[{"text": q} for q in EXAMPLES],
                        )
                        with gr.Row(elem_id="lq-ask-row"):
                            question = gr.Textbox(placeholder="Ask a question about the papers…  (Enter to send)",
                                                  show_label=False, lines=1, max_lines=4, scale=8, autofocus=True,
                                                  elem_id="lq-question", container=False)
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="lq-send")
                        with gr.Row(elem_id="lq-actions"):
                            retry = gr.Button("↻ Retry", size="sm", variant="secondary", elem_id="lq-retry")
                            copy = gr.Button("Copy answer + references", size="sm", variant="secondary",
                                             elem_id="lq-copy")
                            clear = gr.Button("✕ Clear conversation", size="sm", variant="secondary",
                                              elem_id="lq-clear")
                        copy_text = gr.Textbox(visible="hidden", elem_id="lq-copy-text")
                    with gr.Column(scale=9, min_width=340, elem_id="lq-side"):
                        # Sources first: they are read with every answer; filters are set now and then.
                        gr.HTML('<div class="lq-side-title">Sources</div>')
                        sources = gr.HTML(SOURCES_INTRO, elem_id="lq-sources")
                        with gr.Accordion("Filters · narrow the next question", open=True, elem_id="lq-filters"):
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
                                         column_widths=["17%", "10%", "8%", "39%", "26%"],
                                         buttons=["copy"], elem_id="lq-papers")
                    with gr.Column(scale=2, min_width=320):
                        ask_paper = gr.Button("Ask about this paper in the chat", variant="primary",
                                              interactive=False, elem_id="lq-ask-paper")
                        details = gr.HTML(papers_view.details_html(None), elem_id="lq-paper-details")
                chosen = gr.State(None)  # paper_id of the chosen row

            with gr.Tab("Evaluation", id="evaluation", elem_id="lq-tab-eval"):
                from ui.evaluation import build_tab

                build_tab(service)

        filter_inputs = [year_from, year_to, authors, categories, has_code]
        chat_outputs = [chatbot, question, conv, copy_text, sources]

        def respond(text: str, history: list[Exchange], y0, y1, who, cats, code):  # type: ignore[no-untyped-def]
            papers = service.papers_by_id()
            try:
                filters = parse_filters(y0, y1, who, cats, code)
            except LabQAError as exc:
                history = [*history, Exchange(question=text or "", error=str(exc))]
                yield to_messages(history), "", history, "", panel_html(history)
                return
            shown_panel = None
            for state in service.stream(text, history, filters):
                last = state[-1]
                copied = references_text(last.answer) if last.answer else ""
                # The panel changes twice (searching…, then the cards); gr.skip() leaves it alone in between.
                panel = panel_html(state, papers=papers)
                update = panel if panel != shown_panel else gr.skip()
                shown_panel = panel
                yield to_messages(state), "", state, copied, update

        def retry_last(history: list[Exchange], *filters):  # type: ignore[no-untyped-def]
            if not history:
                yield [], "", [], "", SOURCES_INTRO
                return
            yield from respond(history[-1].question, history[:-1], *filters)

        def pick_example(evt: gr.SelectData, history: list[Exchange], *filters):  # type: ignore[no-untyped-def]
            text = evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value)
            yield from respond(text, history, *filters)

        def clear_chat():  # type: ignore[no-untyped-def]
            return [], "", [], "", SOURCES_INTRO

        def show_sources(evt: gr.SelectData, history: list[Exchange]):  # type: ignore[no-untyped-def]
            index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
            i = exchange_of_message(history, int(index)) if index is not None else None
            return panel_html(history, i, service.papers_by_id()) if i is not None else gr.skip()

        ask_inputs = [question, conv, *filter_inputs]
        question.submit(respond, ask_inputs, chat_outputs, **ANSWERING)
        send.click(respond, ask_inputs, chat_outputs, **ANSWERING)
        retry.click(retry_last, [conv, *filter_inputs], chat_outputs, **ANSWERING)
        chatbot.retry(retry_last, [conv, *filter_inputs], chat_outputs, **ANSWERING)
        chatbot.example_select(pick_example, [conv, *filter_inputs], chat_outputs, **ANSWERING)
        chatbot.select(show_sources, [conv], sources, queue=False, **PRIVATE)
        clear.click(clear_chat, None, chat_outputs, queue=False, **PRIVATE)
        chatbot.clear(clear_chat, None, chat_outputs, queue=False, **PRIVATE)
        copy.click(None, [copy_text], None, js="(t) => { if (t) navigator.clipboard.writeText(t); return []; }",
                   **PRIVATE)
        reset.click(lambda: (ANY, ANY, [], [], ANY), None, filter_inputs, queue=False, **PRIVATE)

        # --- catalog-dependent parts: filled on page load (and again when a background ingest finishes) ---
        def load_page(query: str, order: str):  # type: ignore[no-untyped-def]
            papers = service.papers()
            years = sorted({p.year for p in papers if p.year})
            cats = sorted({p.category for p in papers if p.category})
            authors_all = sorted({a for p in papers for a in p.authors})
            cat_choices = [(f"{c} ({CATEGORY_NAMES[c][0]})" if c in CATEGORY_NAMES else c, c) for c in cats]
            shown = papers_view.search(papers, query, order)
            return (header_html(service.answerer_label(), len(papers)),
                    gr.update(choices=[ANY, *years]), gr.update(choices=[ANY, *years]),
                    gr.update(choices=authors_all), gr.update(choices=cat_choices),
                    papers_view.rows(shown), papers_view.count_text(len(shown), len(papers)),
                    gr.HTML(build.banner_html(), visible=not build.ready), gr.Timer(active=not build.ready))

        page_outputs = [header, year_from, year_to, authors, categories, table, count, banner, ticker]
        demo.load(load_page, [search, sort], page_outputs, **PRIVATE)

        def tick(query: str, order: str):  # type: ignore[no-untyped-def]
            if build.state == "building":
                return (gr.skip(),) * 7 + (gr.HTML(build.banner_html(), visible=True), gr.Timer(active=True))
            return load_page(query, order)

        ticker.tick(tick, [search, sort], page_outputs, queue=False, **PRIVATE)

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

        def ask_about(paper_id: str | None, history: list[Exchange], *filters):  # type: ignore[no-untyped-def]
            paper = service.papers_by_id().get(paper_id or "")
            if paper is None:
                return
            yield from respond(papers_view.ask_about(paper), history, *filters)

        ask_paper.click(lambda: gr.Tabs(selected="chat"), None, tabs, queue=False, **PRIVATE).then(
            ask_about, [chosen, conv, *filter_inputs], chat_outputs, **ANSWERING)

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
