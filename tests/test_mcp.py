"""`labqa serve` is an MCP server: a real `labqa serve` process, a real MCP client (the `mcp` SDK's streamable
HTTP client) lists the tools and gets a cited answer, with a PDF page, and a paper lookup."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.server, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures"
QUESTION = "What is the inverse propagator of the lambda field proportional to in the Bethe lattice model?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_object(text: str):  # type: ignore[no-untyped-def]
    """Gradio's MCP server renders a tool's return value with str(): JSON for strings, a Python literal for
    dicts and lists."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return ast.literal_eval(text)


@pytest.fixture(scope="module")
def server(built_home: Path, model_cache: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from ingest.pipeline import ingest
    from rag.settings import Settings

    home, src = tmp_path_factory.mktemp("mcp-home"), tmp_path_factory.mktemp("mcp-sources")
    shutil.copytree(built_home, home, dirs_exist_ok=True)
    for f in (ROOT / "data").iterdir():
        shutil.copy(f, src / f.name)
    for name in ("arxiv_old_1111.2011v2.xml", "1111.2011v2.pdf"):
        shutil.copy(FIX / name, src / name)
    ingest(Settings(home=home, model_cache=model_cache, data_dir=src))  # adds the PDF's paper to the seed index
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABQA_", "OPENAI_"))}
    env.update(LABQA_HOME=str(home), LABQA_MODEL_CACHE=str(model_cache), LABQA_DATA_DIR=str(src),
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"labqa serve did not start: {proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.5)
    yield url + "gradio_api/mcp/"
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


async def _session(url: str, calls: list[tuple[str, dict]]):  # type: ignore[no-untyped-def]
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        results = [await session.call_tool(name, args) for name, args in calls]
        return tools.tools, results


def test_mcp_client_lists_tools_and_gets_cited_answers(server: str) -> None:
    tools, (answer, found, bib) = asyncio.run(_session(server, [
        ("ask", {"question": QUESTION}),
        ("find_papers", {"query": "Del Maestro Bethe", "limit": 5}),
        ("paper_bibtex", {"paper_ids": ["quantum-criticality-for-extended-nodes-on-a-bethe-lattice-in"]}),
    ]))
    by_name = {t.name: t for t in tools}
    assert {"ask", "find_papers", "get_paper", "paper_bibtex"} <= set(by_name)
    assert "question" in by_name["ask"].inputSchema["properties"] and "filters" in by_name["ask"].inputSchema["properties"]
    assert "citations" in by_name["ask"].description and "metadata" in by_name["find_papers"].description

    assert not answer.isError
    got = as_object(answer.content[0].text)
    assert not got["abstained"] and "[1]" in got["answer"]
    cite = got["citations"][0]
    assert cite["title"].startswith("Quantum Criticality") and cite["page"] == 6 and cite["arxiv_id"] == "1111.2011"
    assert cite["authors"] == ["James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic"]
    assert not cite["authors_truncated"]

    papers = as_object(found.content[0].text)
    assert [p["arxiv_id"] for p in papers] == ["1111.2011"] and papers[0]["full_text_pages"] == 8
    assert bib.content[0].text.startswith("@article{murray2011quantum,")  # a string comes as it is
