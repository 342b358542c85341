"""One writer at a time (issue 10, finding 2): a second ingest on the same store waits for the first, saying
for whom, or fails at once with a clear error — it never interleaves (two interleaved ingests lost papers).
Embedded store: a file lock in LABQA_HOME. Server mode: see test_server_mode.py (lease in the server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_ingest import DATA, LABQA

from ingest import lock
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


def labqa(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LABQA, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def test_a_second_ingest_fails_at_once_with_no_wait(index_home: Path) -> None:
    with lock.writer(load_settings(), "ingest"):
        t0 = time.monotonic()
        proc = labqa("ingest", "--no-wait")
        took = time.monotonic() - t0
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"Another writer holds the index: `labqa ingest` (pid {os.getpid()} on " in proc.stderr
    assert str(index_home / "ingest.lock") in proc.stderr and "LABQA_INGEST_WAIT" in proc.stderr
    assert took < 30  # fails at once: what it takes is starting Python and reading the sources


def test_a_second_ingest_waits_then_runs(index_home: Path) -> None:
    held = threading.Event()

    def hold() -> None:
        with lock.writer(load_settings(), "ingest"):
            held.set()
            time.sleep(4)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    proc = labqa("ingest", "--json")
    holder.join()
    assert proc.returncode == 0, proc.stderr
    assert f"labqa: waiting for `labqa ingest` (pid {os.getpid()} on" in proc.stderr
    report = json.loads(proc.stdout)
    assert 0.5 < report["waited_seconds"] < 10 and report["papers"] == 31


def test_a_second_ingest_gives_up_after_ingest_wait(index_home: Path) -> None:
    with lock.writer(load_settings(), "index drop"):
        t0 = time.monotonic()
        proc = labqa("ingest", env={"LABQA_INGEST_WAIT": "1"})
        took = time.monotonic() - t0
    assert proc.returncode == 2 and "waiting for `labqa index drop`" in proc.stderr
    assert "Another writer holds the index after waiting 1 s" in proc.stderr
    assert took < 30


@pytest.mark.slow
def test_two_ingests_started_together_lose_nothing(index_home: Path, tmp_path: Path) -> None:
    """The reproduction of the finding, small: ingest data/ + 40 new papers, and while it embeds, a second
    `labqa ingest data/`. Before the lock the second one deleted what the first was writing."""
    more = tmp_path / "more"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_corpus.py"), "--papers", "40", "--out", str(more)],
                   check=True, capture_output=True, timeout=120)
    env = {**os.environ, "LABQA_INGEST_BATCH_PAPERS": "4"}
    first = subprocess.Popen([LABQA, "ingest", "--json", str(DATA), str(more / "data")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert first.stderr is not None
    for line in first.stderr:  # the first batch is committed: the first ingest is mid-way
        if line.startswith("indexing: ") and not line.startswith("indexing: 0/"):
            break
    t0 = time.monotonic()
    second = labqa("ingest", "--json", str(DATA))
    waited = time.monotonic() - t0
    out, _ = first.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert "waiting for `labqa ingest`" in second.stderr
    first_report, second_report = json.loads(out), json.loads(second.stdout)
    assert first_report["papers"] == 71 and first_report["papers_added"] == 40
    assert second_report["papers"] == 71 and second_report["removed"] == [] and second_report["papers_indexed"] == 0
    assert second_report["waited_seconds"] > 0.5 and waited >= second_report["waited_seconds"]
    papers = json.loads(labqa("papers", "--json").stdout)
    assert len(papers) == 71
    print(f"second ingest waited {second_report['waited_seconds']:.1f} s")
