"""Shared fixtures. Every test runs with LABQA_HOME in its own tmp folder and no LLM configured; the ONNX
export of the embedding model and one ingest of the seed corpus are made once per session and reused."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
sys.path.insert(0, str(ROOT / "bench"))  # the tests start `chroma run` with the benchmark's helper


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Reuse the checkout's cache when it exists (saves the ~6 s export); otherwise export once per session.
    local = ROOT / ".labqa" / "models"
    return local if local.exists() else tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> None:
    for key in list(os.environ):
        if key.startswith("LABQA_") or key.startswith("OPENAI_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LABQA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABQA_MODEL_CACHE", str(model_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # No follower thread per Assistant in the test process (dozens of them would poll their stores every
    # second); tests/test_live_updates.py turns it on where following is what is tested.
    monkeypatch.setenv("LABQA_FOLLOW_SECONDS", "0")


@pytest.fixture(scope="session")
def built_home(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    """A LABQA_HOME holding the index of the seed corpus (built once per session; treat as read-only)."""
    from ingest.pipeline import ingest
    from rag.settings import Settings

    home = tmp_path_factory.mktemp("built")
    ingest(Settings(home=home, model_cache=model_cache, data_dir=DATA))
    return home


@pytest.fixture
def index_home(built_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, writable copy of the seed index as this test's LABQA_HOME."""
    home = tmp_path / "home"
    shutil.copytree(built_home, home, dirs_exist_ok=True)
    monkeypatch.setenv("LABQA_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def assistant(built_home: Path, model_cache: Path):  # type: ignore[no-untyped-def]
    """One offline Assistant over the seed index, shared by read-only tests."""
    from rag.assistant import Assistant
    from rag.settings import Settings

    a = Assistant(Settings(home=built_home, model_cache=model_cache, data_dir=DATA))
    a.index  # noqa: B018 - load once
    return a


@pytest.fixture
def chroma_server(built_home: Path, tmp_path: Path) -> Iterator[object]:
    """A real `chroma run` on 127.0.0.1 serving a private copy of the seed index."""
    from chroma_server import ChromaServer

    path = tmp_path / "chroma-server"
    shutil.copytree(built_home / "chroma", path)
    with ChromaServer(path) as server:
        yield server
