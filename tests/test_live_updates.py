"""Live updates across processes: a running process sees papers another process ingested, without a restart
(embedded store and Chroma server), and two `labqa serve` processes on one server agree after an ingest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chroma_server import ChromaServer, free_port  # bench/, on sys.path via conftest
from test_server_mode import EXTRA_PAPER

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Who works on glacier calving fronts?"
VISIBLE_WITHIN = 10.0  # seconds after the ingest commits (the target)


@pytest.fixture(autouse=True)
def _following(monkeypatch: pytest.MonkeyPatch) -> None:
    """conftest turns following off for the test process; here it is what is tested (the default, 1 s)."""
    monkeypatch.delenv("LABQA_FOLLOW_SECONDS")


def ingest_elsewhere(path: Path, env: dict[str, str] | None = None) -> None:
    """`labqa ingest PATH` in another process (same LABQA_HOME or server as this test)."""
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ingest", str(path)], env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def cites_glacierseg(answer) -> bool:  # type: ignore[no-untyped-def]
    return bool(answer.citations) and answer.citations[0].title.startswith("GlacierSeg")


def wait_until_cited(assistant, deadline: float) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while time.monotonic() < deadline:
        if cites_glacierseg(assistant.ask(QUESTION)):
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"the running process did not see the new paper within {VISIBLE_WITHIN} s")


def test_a_running_process_sees_a_paper_another_process_ingested(index_home: Path, tmp_path: Path) -> None:
    from rag.assistant import Assistant
    from rag.settings import load_settings

    assistant = Assistant(load_settings())
    assistant.warm()
    assert len(assistant.catalog) == 31 and not cites_glacierseg(assistant.ask(QUESTION))
    loaded = assistant.index
    new = tmp_path / "new.txt"
    new.write_text(EXTRA_PAPER)
    ingest_elsewhere(new)
    waited = wait_until_cited(assistant, time.monotonic() + VISIBLE_WITHIN)
    print(f"visible {waited:.2f} s after the ingest returned")
    # Every derived state follows: the catalog, its name linker (the paper's own name) and dense search.
    assert len(assistant.catalog) == 32 and assistant.index is not loaded
    assert assistant.index.local.version == loaded.local.version + 1
    named = assistant.ask("What is GlacierSeg?")
    assert cites_glacierseg(named), named.answer
    assert cites_glacierseg(assistant.ask(QUESTION, mode="dense"))
    assert len(assistant.index.local.segments) == 2  # loaded incrementally: base + the one paper's delta


def test_the_version_check_is_off_the_question_path_and_throttled(index_home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Questions never check the store themselves; the follower thread checks about once per follow_seconds."""
    from rag.assistant import Assistant
    from rag.settings import load_settings

    calls = {"n": 0}
    from rag.retrieval import Index

    original = Index.store_head

    settings = load_settings()

    def counted(self):  # type: ignore[no-untyped-def]
        if self.settings.home == settings.home:  # other tests' Assistants follow their own stores meanwhile
            calls["n"] += 1
        return original(self)

    monkeypatch.setattr(Index, "store_head", counted)
    assistant = Assistant(settings)
    assistant.warm()
    t0 = time.monotonic()
    calls["n"] = 0
    while time.monotonic() - t0 < 3.0:
        assistant.ask("Which papers were published in 2023?")
    elapsed = time.monotonic() - t0
    assert 1 <= calls["n"] <= elapsed / assistant.settings.follow_seconds + 1


@pytest.mark.server
def test_a_running_process_follows_a_chroma_server(chroma_server: ChromaServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The app on "another host": its own LABQA_HOME, a local copy built from the server once, then followed."""
    from rag.assistant import Assistant
    from rag.settings import load_settings

    monkeypatch.setenv("LABQA_CHROMA_URL", chroma_server.url)
    monkeypatch.setenv("LABQA_HOME", str(tmp_path / "app-host"))
    assistant = Assistant(load_settings())
    assistant.warm()
    assert len(assistant.catalog) == 31
    new = tmp_path / "new.txt"
    new.write_text(EXTRA_PAPER)
    ingest_elsewhere(new, {"LABQA_HOME": str(tmp_path / "ingest-host")})
    wait_until_cited(assistant, time.monotonic() + VISIBLE_WITHIN)
    assert len(assistant.catalog) == 32


def start_serve(home: Path, url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "LABQA_HOME": str(home), "LABQA_CHROMA_URL": url, "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}/"


def ask_until(url: str, question: str, deadline: float) -> dict:  # type: ignore[type-arg]
    from gradio_client import Client

    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return Client(url, verbose=False).predict(question, [], None, api_name="/ask")
        except Exception as exc:  # noqa: BLE001 - the server is still starting
            last = exc
            time.sleep(1)
    raise AssertionError(f"{url} did not answer: {last}")


@pytest.mark.server
@pytest.mark.slow
def test_two_servers_on_one_chroma_server_agree_after_an_ingest(chroma_server: ChromaServer,
                                                                tmp_path: Path) -> None:
    from gradio_client import Client

    servers = [start_serve(tmp_path / f"host{i}", chroma_server.url, tmp_path / f"serve{i}.log") for i in (1, 2)]
    try:
        for _, url in servers:
            first = ask_until(url, QUESTION, time.monotonic() + 240)
            assert not first["citations"] or not first["citations"][0]["title"].startswith("GlacierSeg")
        new = tmp_path / "new.txt"
        new.write_text(EXTRA_PAPER)
        ingest_elsewhere(new, {"LABQA_HOME": str(tmp_path / "ingest-host"), "LABQA_CHROMA_URL": chroma_server.url})
        committed = time.monotonic()
        seen: dict[str, float] = {}
        clients = {url: Client(url, verbose=False) for _, url in servers}
        while len(seen) < len(servers) and time.monotonic() < committed + VISIBLE_WITHIN:
            for url, client in clients.items():
                if url not in seen:
                    answer = client.predict(QUESTION, [], None, api_name="/ask")
                    if answer["citations"] and answer["citations"][0]["title"].startswith("GlacierSeg"):
                        seen[url] = time.monotonic() - committed
            time.sleep(0.2)
        assert len(seen) == len(servers), f"only {sorted(seen)} saw the new paper within {VISIBLE_WITHIN} s"
        papers = [client.predict("How many papers are there?", [], None, api_name="/ask") for client in
                  clients.values()]
        assert papers[0]["answer"] == papers[1]["answer"] and papers[0]["answer"].startswith("**32**"), papers
    finally:
        for proc, _ in servers:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for i in (1, 2):
            shutil.copy(tmp_path / f"serve{i}.log", tmp_path / f"serve{i}.kept.log")
