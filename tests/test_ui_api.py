"""The app's API over real HTTP with gradio_client: the `ask` endpoint returns `labqa ask --json`'s object,
follow-ups work, errors come back as readable messages and the server keeps serving, sessions are answered
concurrently, and the server refuses to serve anything but its own page and outputs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer

pytestmark = [
    pytest.mark.server,
    # Gradio's queue uses pandas options that pandas 3 deprecates; not ours to fix.
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
ROOT = Path(__file__).resolve().parents[1]
UNLEARNING = "What has the group done on recommendation unlearning?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(settings, assistant=None) -> tuple[object, str]:  # type: ignore[no-untyped-def]
    from ui.app import build_app, launch

    demo = build_app(settings, assistant)
    return demo, launch(demo, "127.0.0.1", free_port())


def client(url: str):  # type: ignore[no-untyped-def]
    from gradio_client import Client

    return Client(url, verbose=False)


@pytest.fixture(scope="module")
def app_url(assistant) -> Iterator[str]:  # type: ignore[no-untyped-def]
    demo, url = start(assistant.settings, assistant)
    yield url
    demo.close()  # type: ignore[attr-defined]


def test_ask_returns_the_cli_json(app_url: str, assistant, built_home: Path) -> None:  # type: ignore[no-untyped-def]
    got = client(app_url).predict("What is EISAM?", api_name="/ask")
    assert isinstance(got, dict) and got["citations"] and "[1]" in got["answer"]
    assert got["citations"][0]["title"].startswith("Taming the Long Tail")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABQA_", "OPENAI_"))}
    env.update(LABQA_HOME=str(built_home), LABQA_MODEL_CACHE=str(assistant.settings.models_dir))
    cli = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "What is EISAM?", "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    expected = json.loads(cli.stdout)
    assert set(got) == set(expected)
    for key in expected:
        if key != "timings_ms":
            assert got[key] == expected[key], key


def test_follow_up_with_history(app_url: str) -> None:
    c = client(app_url)
    first = c.predict(UNLEARNING, api_name="/ask")
    assert len(first["citations"]) >= 3
    history = [{"role": "user", "content": UNLEARNING}, {"role": "assistant", "content": first["answer"]}]
    follow = c.predict("Which of those have code?", history, api_name="/ask")
    assert follow["citations"] and all(cit["has_code"] for cit in follow["citations"])
    assert {cit["paper_id"] for cit in follow["citations"]} <= {cit["paper_id"] for cit in first["citations"]}
    assert "previous answer" in follow["filters"]


def test_filters_apply_and_are_reported(app_url: str) -> None:
    got = client(app_url).predict("unlearning", None, {"year_from": 2025, "categories": ["cs.IR"]}, api_name="/ask")
    assert got["citations"] and all(c["year"] >= 2025 and c["category"] == "cs.IR" for c in got["citations"])
    assert "2025" in got["filters"] and "cs.IR" in got["filters"]


def test_errors_are_readable_and_the_server_keeps_serving(app_url: str) -> None:
    from gradio_client.exceptions import AppError

    c = client(app_url)
    with pytest.raises(AppError, match="The question is empty"):
        c.predict("   ", api_name="/ask")
    with pytest.raises(AppError, match="Unknown filter"):
        c.predict("unlearning", None, {"yeer": 2020}, api_name="/ask")
    with pytest.raises(AppError, match=r"`history\[0\].role` must be"):
        c.predict("and those?", [{"role": "robot", "content": "x"}], api_name="/ask")
    assert c.predict("What is EISAM?", api_name="/ask")["citations"]  # still serving


@pytest.mark.parametrize("state", ["missing", "corrupt"])
def test_broken_store_is_a_readable_error(tmp_path: Path, state: str) -> None:
    from gradio_client.exceptions import AppError

    from rag.settings import Settings
    from ui.startup import needs_ingest

    home = tmp_path / "home"
    if state == "corrupt":
        (home / "chroma").mkdir(parents=True)
        (home / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    settings = Settings(home=home)
    assert needs_ingest(settings) == (state == "missing")  # serve() rebuilds a missing index, never a broken one
    demo, url = start(settings)
    try:
        c = client(url)
        expected = "No LabQA index.*labqa ingest" if state == "missing" else "Chroma store .* failed"
        for _ in range(2):  # the server keeps answering (with the same clear message)
            with pytest.raises(AppError, match=expected) as err:
                c.predict("What is EISAM?", api_name="/ask")
            assert "Traceback" not in str(err.value)
    finally:
        demo.close()  # type: ignore[attr-defined]


def get(url: str, method: str = "GET") -> int:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_serves_only_its_own_files(app_url: str) -> None:
    base = app_url.rstrip("/")
    assert get(base + "/") == 200
    assert get(f"{base}/gradio_api/file={ROOT / 'README.md'}") == 403  # files of the checkout
    assert get(f"{base}/gradio_api/file=/etc/passwd") == 403
    assert get(f"{base}/gradio_api/file=https://example.com/x.png") == 403  # no fetching through the server
    assert get(f"{base}/gradio_api/upload", "POST") == 403  # nothing to upload
    with urllib.request.urlopen(base + "/gradio_api/info", timeout=10) as r:
        info = json.load(r)
    # UI events are not API endpoints; /ask and the paper-lookup tools are (also as MCP tools, see test_mcp.py)
    assert list(info["named_endpoints"]) == ["/ask", "/find_papers", "/get_paper", "/paper_bibtex"]


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeOpenAIServer]:
    reply = "EISAM regularizes the loss landscape per item [1]. It helps tail items [1]."
    with FakeOpenAIServer(reply=reply, api_key="test", chunk_delay=0.15, words_per_chunk=2) as srv:
        yield srv


@pytest.fixture(scope="module")
def llm_app(llm_server: FakeOpenAIServer, built_home: Path, model_cache: Path) -> Iterator[str]:
    from rag.settings import Settings

    settings = Settings(home=built_home, model_cache=model_cache, data_dir=ROOT / "data", llm_model="fake-model",
                        openai_base_url=llm_server.base_url, openai_api_key="test", llm_fallback=False,
                        llm_timeout=5)
    demo, url = start(settings)
    yield url
    demo.close()  # type: ignore[attr-defined]


def test_llm_down_is_a_readable_error(llm_app: str, llm_server: FakeOpenAIServer) -> None:
    from gradio_client.exceptions import AppError

    c = client(llm_app)
    llm_server.mode = "server_error"
    try:
        with pytest.raises(AppError) as err:
            c.predict("What is EISAM?", api_name="/ask")
        assert "LLM endpoint" in str(err.value) and "Traceback" not in str(err.value)
    finally:
        llm_server.mode = "ok"
    got = c.predict("What is EISAM?", api_name="/ask")  # the endpoint is back: so is the app
    assert got["answerer"].startswith("fake-model @") and got["citations"]


def test_sessions_are_answered_concurrently(llm_app: str) -> None:
    """Each LLM answer streams for ≈ 1 s; two sessions asking at once must not take twice as long."""
    clients = [client(llm_app), client(llm_app)]
    clients[1].predict("What is EISAM?", api_name="/ask")  # warm: the index loads on the first question
    t0 = time.perf_counter()
    clients[0].predict("What is EISAM?", api_name="/ask")
    single = time.perf_counter() - t0
    assert single > 0.6  # the fake really is slow, or this test proves nothing

    results: list[dict] = []
    threads = [threading.Thread(target=lambda c=c: results.append(c.predict("What is EISAM?", api_name="/ask")))
               for c in clients]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    both = time.perf_counter() - t0
    assert len(results) == 2 and all(r["citations"] for r in results)
    assert both < 1.6 * single, f"two sessions took {both:.2f} s, one took {single:.2f} s"


BAD_INPUTS = [
    # (question, history, filters) → the field the message must name
    (123, None, None, "`question` must be text"),
    ("x" * 5000, None, None, "`question` is 5,000 characters long; the limit is 2,000"),
    ("and those?", "not a list", None, "`history` must be a list"),
    ("and those?", [{"role": "user", "content": "hi"}] * 51, None, "`history` has 51 turns; the limit is 50"),
    ("and those?", [{"role": "user", "content": "x" * 20_001}], None,
     r"`history\[0\].content` is 20,001 characters long; the limit is 20,000"),
    ("and those?", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": 7}], None,
     r"`history\[1\].content` must be text, not int"),
    ("and those?", [{"role": "robot", "content": "x"}], None, r"`history\[0\].role` must be \"user\" or"),
    ("and those?", ["just text"], None, r"`history\[0\]` must be an object"),
    ("unlearning", None, "2024", "`filters` must be an object"),
    ("unlearning", None, {"year_from": "twenty"}, "`filters.year_from` must be a year"),
    ("unlearning", None, {"year_from": 1850}, "`filters.year_from` is 1850; years from 1900 to 2099"),
    ("unlearning", None, {"year_to": [2024]}, "`filters.year_to` must be a year"),
    ("unlearning", None, {"authors": 5}, "`filters.authors` must be a list of text, not int"),
    ("unlearning", None, {"categories": ["cs.IR", None]}, r"`filters.categories\[1\]` must be text"),
    ("unlearning", None, {"has_code": "yes"}, "`filters.has_code` must be true, false or null"),
    ("unlearning", None, {"paper_ids": ["no-such-paper"]}, "`filters.paper_ids`: no paper with id 'no-such-paper'"),
    ("unlearning", None, {"yeer": 2020}, "Unknown filter"),
]


@pytest.mark.parametrize("question,history,filters,message", BAD_INPUTS, ids=[m[:30] for *_, m in BAD_INPUTS])
def test_bad_input_is_named_and_breaks_only_itself(app_url: str, question, history, filters, message,  # type: ignore[no-untyped-def]
                                                   caplog: pytest.LogCaptureFixture) -> None:
    from gradio_client.exceptions import AppError

    c = client(app_url)
    with caplog.at_level("ERROR", logger="labqa.ui"), pytest.raises(AppError, match=message) as err:
        c.predict(question, history, filters, api_name="/ask")
    assert "Something went wrong" not in str(err.value) and "Traceback" not in str(err.value)
    assert not [r for r in caplog.records if r.name == "labqa.ui"]  # no trace in the server log either
    assert c.predict("What is EISAM?", api_name="/ask")["citations"]  # the next request is answered


def test_big_history_is_refused_before_it_is_read(app_url: str) -> None:
    """A 50 MB history used to be accepted; now the turn limit refuses it with a sentence."""
    from gradio_client.exceptions import AppError

    history = [{"role": "user", "content": "x" * 1_000_000}] * 50
    with pytest.raises(AppError, match=r"`history\[0\].content` is 1,000,000 characters"):
        client(app_url).predict("and those?", history, api_name="/ask")


def test_paper_ids_ask_about_one_paper_and_win_over_nothing_else(app_url: str, assistant) -> None:  # type: ignore[no-untyped-def]
    """Finding 1 of issue 13 through the API: `paper_ids` scopes the question to the chosen paper; a year
    filter that would exclude it cannot be combined with it (it used to answer about a 2022 paper)."""
    from gradio_client.exceptions import AppError

    from ui.papers import ask_about

    paper = next(p for p in assistant.catalog.papers if p.title.startswith("Taming the Long Tail"))
    c = client(app_url)
    got = c.predict(ask_about(paper), None, {"paper_ids": [paper.paper_id]}, api_name="/ask")
    assert [x["paper_id"] for x in got["citations"]] == [paper.paper_id]
    with pytest.raises(AppError, match="cannot be combined"):
        c.predict(ask_about(paper), None, {"paper_ids": [paper.paper_id], "year_from": 2022, "year_to": 2022},
                  api_name="/ask")


def test_every_paper_asked_about_by_id_leads_with_that_paper(app_url: str, assistant) -> None:  # type: ignore[no-untyped-def]
    """The scope must hold for every paper, not only those whose title retrieval finds first. Depends on the
    planner honouring Filters.paper_ids for topic questions (the lead's rag/planning.py rewrite): today the
    In-UCDS paper's question leads with its reproducibility companion, and two papers also cite their
    companion, which is outside the scope."""
    from ui.papers import ask_about

    c = client(app_url)
    wrong = []
    for paper in assistant.catalog.papers:
        got = c.predict(ask_about(paper), None, {"paper_ids": [paper.paper_id]}, api_name="/ask")
        if [x["paper_id"] for x in got["citations"]] != [paper.paper_id]:
            wrong.append((paper.title[:50], [x["title"][:40] for x in got["citations"]]))
    assert not wrong, wrong
