"""Server mode: LABQA_CHROMA_URL points ingest, ask and papers at a real `chroma run` on 127.0.0.1.

The server is started on a copy of the seed index (a `chroma run --path` folder has the same layout as the
embedded store), so nothing is re-embedded except one new paper, which proves writes go through the server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chroma_server import ChromaServer, free_port  # bench/chroma_server.py, on sys.path via conftest

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
EXTRA_PAPER = (
    "CVJan 5, 2024Code\n"
    "GlacierSeg: Robust Segmentation of Glacier Calving Fronts in Satellite ImageryAnna Berg, Tom Lund, Eva Holm et al.\n"
    "We study the segmentation of glacier calving fronts in synthetic aperture radar satellite imagery. GlacierSeg "
    "combines a boundary-aware loss with test-time augmentation and reduces the mean front delineation error by "
    "a third. Code is available at https://github.com/example/glacierseg.\n"
)


def labqa(*args: str, url: str | None, check: bool = True, input: str | None = None,
          env: dict[str, str] | None = None, **popen: Any) -> subprocess.CompletedProcess[str]:
    """`labqa ARGS` in a subprocess with the test's environment (isolated LABQA_HOME) and LABQA_CHROMA_URL."""
    full_env = {**os.environ, **(env or {})}
    if url:
        full_env["LABQA_CHROMA_URL"] = url
    proc = subprocess.run([sys.executable, "-m", "rag.cli", *args], env=full_env, capture_output=True, text=True,
                          timeout=300, cwd=ROOT, input=input, **popen)
    if check:
        assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_ingest_and_ask_through_a_chroma_server(chroma_server: ChromaServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    (data / "010_extra.txt").write_text(EXTRA_PAPER)
    url = chroma_server.url

    first = json.loads(labqa("ingest", "--json", str(data), url=url).stdout)
    assert first["papers"] == 32
    assert first["chunks_unchanged"] == 89  # the seed index the server already holds
    assert first["chunks_added"] >= 1 and first["chunks_embedded"] == first["chunks_added"]

    again = json.loads(labqa("ingest", "--json", str(data), url=url).stdout)
    assert again["papers"] == 32
    assert again["chunks_added"] == again["chunks_updated"] == again["chunks_removed"] == 0
    assert again["chunks_embedded"] == 0
    assert again["chunks_unchanged"] == first["chunks_unchanged"] + first["chunks_added"]

    out = labqa("ask", "--json", "-", url=url, input="What is EISAM?\nWho works on glacier calving fronts?\n")
    eisam, glacier = (json.loads(line) for line in out.stdout.splitlines())
    assert eisam["citations"][0]["title"].startswith("Taming the Long Tail")
    assert "EISAM" in eisam["answer"] and not eisam["abstained"]
    assert glacier["citations"][0]["title"].startswith("GlacierSeg"), glacier["answer"]  # written via the server

    papers = json.loads(labqa("papers", "--json", url=url).stdout)
    assert len(papers) == 32
    # Nothing went to an embedded store: LABQA_HOME holds no Chroma folder.
    assert not (Path(os.environ["LABQA_HOME"]) / "chroma").exists()


def test_an_assistant_in_process_uses_the_server(chroma_server: ChromaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `labqa serve` and `labqa eval` do: load_settings() from the environment, then an Assistant."""
    from rag.assistant import Assistant
    from rag.settings import load_settings

    monkeypatch.setenv("LABQA_CHROMA_URL", chroma_server.url)
    settings = load_settings()
    assert settings.chroma_url == chroma_server.url
    assistant = Assistant(settings)
    assistant.warm()
    assert len(assistant.catalog.papers) == 31
    for mode in ("dense", "bm25", "hybrid"):
        answer = assistant.ask("Which papers deal with federated learning?", mode=mode)
        assert answer.citations and not answer.abstained, mode
    n_2023 = sum(1 for p in assistant.catalog.papers if p.year == 2023)
    counted = assistant.ask("How many papers were published in 2023?")
    assert counted.answer.startswith(f"**{n_2023}**"), counted.answer


def test_a_bad_server_url_is_a_clear_error() -> None:
    bad = labqa("papers", url="127.0.0.1:8000", check=False)
    assert bad.returncode == 2
    assert "is not a URL like http://127.0.0.1:8000" in bad.stderr
    port = free_port()  # a port nobody listens on
    down = labqa("ask", "What is EISAM?", url=f"http://127.0.0.1:{port}", check=False)
    assert down.returncode == 2
    assert f"Cannot reach the Chroma server at http://127.0.0.1:{port}" in down.stderr
    assert "chroma run --path" in down.stderr


def test_server_ingest_of_one_file_keeps_the_rest_and_holds_a_lease(chroma_server: ChromaServer, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Additive ingest through the server, and the writer lease: while one writer holds it, another ingest
    (from any machine that reaches the server) fails at once with --no-wait, naming the holder."""
    from ingest import lock
    from rag.settings import load_settings

    new = tmp_path / "new.txt"
    new.write_text(EXTRA_PAPER)
    report = json.loads(labqa("ingest", "--json", str(new), url=chroma_server.url).stdout)
    assert report["papers"] == 32 and report["removed"] == [] and report["chunks_unchanged"] == 89

    monkeypatch.setenv("LABQA_CHROMA_URL", chroma_server.url)
    with lock.writer(load_settings(), "ingest"):
        busy = labqa("ingest", "--no-wait", str(new), url=chroma_server.url, check=False)
    assert busy.returncode == 2, busy.stderr
    assert f"Another writer holds the index: `labqa ingest` (pid {os.getpid()} on" in busy.stderr
    assert f"lease in {chroma_server.url}, expires in" in busy.stderr
    again = json.loads(labqa("ingest", "--json", "--no-wait", str(new), url=chroma_server.url).stdout)
    assert again["papers"] == 32 and again["papers_indexed"] == 0  # released: the next writer goes ahead


@pytest.mark.slow
def test_a_killed_server_writer_blocks_only_until_its_lease_expires(chroma_server: ChromaServer,
                                                                    tmp_path: Path) -> None:
    import signal
    import time

    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    listing = data / "000_f3841e431c41a46e.txt"
    lines = listing.read_text().splitlines()
    for i in range(2, len(lines), 3):  # every listing paper needs new chunks: an ingest long enough to kill
        lines[i] += " This sentence was added in a revision of the abstract."
    listing.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "LABQA_CHROMA_URL": chroma_server.url, "LABQA_INGEST_BATCH_PAPERS": "2",
           "LABQA_INGEST_LEASE_SECONDS": "6"}
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", "--prune", str(data)], env=env, cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("indexing: "):
            break
    proc.send_signal(signal.SIGKILL)  # no release, no more renewals: its lease lapses within 6 s
    proc.wait(timeout=60)
    killed_at = time.monotonic()
    done = labqa("ingest", "--json", "--prune", str(data), url=chroma_server.url,
                 env={"LABQA_INGEST_LEASE_SECONDS": "6"})
    report = json.loads(done.stdout)
    assert "waiting for `labqa ingest` (pid" in done.stderr and "its lease expires in" in done.stderr
    assert 0.5 < report["waited_seconds"] <= 7 and time.monotonic() - killed_at < 120
    assert report["papers"] == 31 and report["removed"] == []
    papers = json.loads(labqa("papers", "--json", url=chroma_server.url).stdout)
    assert sum("added in a revision" in p["abstract"] for p in papers) == 30
    print(f"waited {report['waited_seconds']:.1f} s for the killed writer's lease")
