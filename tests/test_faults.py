"""Faults: each one ends in a clear error (what is wrong, how to fix it, no stack trace), and the previous
index survives it. "Intact" means what a user sees: `labqa papers --json` still lists the 31 papers and
`labqa ask` still answers with citations.

The store faults are made for real, also as root (CI): read-only by dropping the capabilities that let
root ignore file permissions; a full disk with a file size limit (RLIMIT_FSIZE, writes fail with EFBIG)
and, where a tmpfs can be mounted in a private mount namespace, with a genuinely full file system.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chroma_server import ChromaServer
from fake_openai_server import FakeOpenAIServer
from test_server_mode import DATA, EXTRA_PAPER, ROOT, labqa

from rag.errors import StoreError

QUESTION = "What is EISAM?"
TOPIC_QUESTION = "Which work improves tail items in LLM-based recommender systems?"
EISAM_TITLE = "Taming the Long Tail"


def data_with_extra_paper(tmp_path: Path) -> Path:
    """The seed sources plus one new paper, so an ingest has something to write."""
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    (data / "010_extra.txt").write_text(EXTRA_PAPER)
    return data


def assert_papers_intact(papers: list[dict[str, object]]) -> None:
    """The 31 papers are all there. An ingest that failed may still have added the new paper whole: Chroma
    logs a write before it applies it, so a write whose *applying* failed (e.g. "Error in compaction") is
    applied when the store is next opened. Ingest writes a paper's record only after all its chunks, so a
    listed paper is always complete, and the test checks that it can be answered from."""
    titles = [str(p["title"]) for p in papers]
    assert len(titles) in (31, 32), titles
    assert len(titles) == 31 or any(t.startswith("GlacierSeg") for t in titles), titles


def assert_index_intact(**run: object) -> None:
    papers = json.loads(labqa("papers", "--json", url=None, **run).stdout)  # type: ignore[arg-type]
    assert_papers_intact(papers)
    answer = json.loads(labqa("ask", "--json", QUESTION, url=None, **run).stdout)  # type: ignore[arg-type]
    assert answer["citations"] and answer["citations"][0]["title"].startswith(EISAM_TITLE)
    if len(papers) == 32:
        glacier = json.loads(labqa("ask", "--json", "How are glacier calving fronts segmented?", url=None,
                                   **run).stdout)  # type: ignore[arg-type]
        assert glacier["citations"][0]["title"].startswith("GlacierSeg"), glacier["answer"]


PROGRESS_LINE = re.compile(r"^[\w ]+: \d+/\d+ \w+ \(.*\)$")


def error_after_progress(stderr: str) -> str:
    """stderr without ingest's progress lines, which in logs come before the error (a failure can come after
    the last chunk, e.g. when the paper records are written: "indexing: 1/1 papers" then the error)."""
    return "\n".join(line for line in stderr.splitlines() if not PROGRESS_LINE.match(line))


def assert_clear_failure(proc: subprocess.CompletedProcess[str], *phrases: str) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert error_after_progress(proc.stderr).startswith("labqa: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, proc.stderr
    return proc.stderr


# ------------------------------------------------------------------ the Chroma server goes away mid-session

@pytest.mark.server
def test_chroma_server_stops_mid_session_then_returns(chroma_server: ChromaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.assistant import Assistant
    from rag.settings import load_settings

    server = chroma_server
    monkeypatch.setenv("LABQA_CHROMA_URL", server.url)
    assistant = Assistant(load_settings())
    assert assistant.ask(QUESTION).citations[0].title.startswith(EISAM_TITLE)

    server.stop()
    # a question that names its paper is answered from the catalog already loaded; one that needs the
    # vectors must say where the store went
    with pytest.raises(StoreError) as err:
        assistant.ask(TOPIC_QUESTION)
    assert f"Cannot reach the Chroma server at {server.url}" in str(err.value)
    assert "chroma run --path" in str(err.value)
    assert_clear_failure(labqa("ask", QUESTION, url=server.url, check=False),
                         f"Cannot reach the Chroma server at {server.url}", "chroma run --path")

    server.start()  # same folder, same port: the same session recovers without a restart
    assert any(c.title.startswith(EISAM_TITLE) for c in assistant.ask(TOPIC_QUESTION).citations)
    answer = json.loads(labqa("ask", "--json", QUESTION, url=server.url).stdout)
    assert answer["citations"][0]["title"].startswith(EISAM_TITLE)


# ------------------------------------------------------------------ the LLM endpoint hangs

def test_hanging_llm_times_out_and_the_offline_answer_still_comes(built_home: Path, model_cache: Path,
                                                                  index_home: Path) -> None:
    from rag.assistant import Assistant
    from rag.settings import Settings

    with FakeOpenAIServer(mode="hang", hang_seconds=60) as llm:
        settings = Settings(home=built_home, model_cache=model_cache, data_dir=DATA, llm_model="fake-model",
                            openai_base_url=llm.base_url, openai_api_key="test", llm_timeout=1.0)
        assistant = Assistant(settings)
        assistant.warm()
        for question in (QUESTION, "Which papers deal with federated learning?"):  # it keeps serving
            start = time.monotonic()
            pieces = list(assistant.stream(question))
            elapsed = time.monotonic() - start
            answer = pieces[-1]
            assert elapsed < 15, f"the 1 s LLM timeout took {elapsed:.1f} s"
            assert answer.answerer.startswith("offline (fallback: fake-model @ ")
            assert any("did not answer within 1 s (LABQA_LLM_TIMEOUT)" in n for n in answer.notes), answer.notes
            assert any(isinstance(p, str) and "did not answer within 1 s" in p for p in pieces)
            assert answer.citations and not answer.abstained
        assert len(llm.requests) == 2  # the endpoint was really asked, twice

        cli = labqa("ask", QUESTION, url=None, env={"LABQA_LLM_MODEL": "fake-model", "OPENAI_BASE_URL": llm.base_url,
                                                    "OPENAI_API_KEY": "test", "LABQA_LLM_TIMEOUT": "1"})
    assert "did not answer within 1 s" in cli.stdout
    assert "Answerer: offline (fallback: fake-model @" in cli.stdout
    assert EISAM_TITLE in cli.stdout


# ------------------------------------------------------------------ the store is read-only during ingest

CAP_SETPCAP = 8
PR_CAPBSET_DROP = 24
DAC_CAPS = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: what lets root ignore permissions


def _drop_dac_caps() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in DAC_CAPS:
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            os._exit(97)


def as_unprivileged() -> dict[str, object]:
    """subprocess options under which file permissions hold, also for root (bounding set without DAC caps)."""
    if os.geteuid() != 0:
        return {}
    caps = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("CapEff"))
    if not int(caps.split()[1], 16) & (1 << CAP_SETPCAP):
        pytest.skip("running as root without CAP_SETPCAP: cannot make root respect file permissions here")
    return {"preexec_fn": _drop_dac_caps}


def _set_writable(path: Path, writable: bool) -> None:
    for p in [path, *path.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode | 0o200 if writable else mode & ~0o222)


def test_read_only_store_fails_clearly_and_keeps_the_index(index_home: Path, tmp_path: Path) -> None:
    data = data_with_extra_paper(tmp_path)
    store = index_home / "chroma"
    run = as_unprivileged()
    _set_writable(store, False)
    try:
        proc = labqa("ingest", str(data), url=None, check=False, **run)
        assert_clear_failure(proc, f"The Chroma store at {store} failed", "read-only", f"chmod -R u+w {store}")
        # Chroma writes even to read: questions fail the same clear way while the folder stays read-only.
        assert_clear_failure(labqa("papers", url=None, check=False, **run), "read-only")
    finally:
        _set_writable(store, True)
    assert_index_intact()


# ------------------------------------------------------------------ the disk fills up during ingest

def _file_size_limit(limit: int):  # type: ignore[no-untyped-def]
    def apply() -> None:  # writes past `limit` bytes fail with EFBIG instead of killing the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_full_disk_during_ingest_fails_clearly_and_keeps_the_index(index_home: Path, tmp_path: Path) -> None:
    data = data_with_extra_paper(tmp_path)
    store = index_home / "chroma"
    largest = max(f.stat().st_size for f in store.rglob("*") if f.is_file())
    proc = labqa("ingest", str(data), url=None, check=False, preexec_fn=_file_size_limit(largest))
    err = assert_clear_failure(proc, f"The Chroma store at {store} failed", "cannot grow", "ulimit -f",
                               "The index is intact")
    assert "rm -rf" not in err and "damaged" not in err  # never advise deleting a good index
    assert_index_intact()
    again = json.loads(labqa("ingest", "--json", str(data), url=None).stdout)  # room again: it completes
    assert again["papers"] == 32


def test_really_full_file_system_during_ingest(index_home: Path, tmp_path: Path) -> None:
    """The same on a tmpfs that is full, in a private mount namespace (skipped where mounting is not allowed)."""
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1)")
    mnt, out = tmp_path / "mnt", tmp_path / "out"
    mnt.mkdir()
    out.mkdir()
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "mount", "-t", "tmpfs", "-o", "size=1m",
                            "tmpfs", str(mnt)], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private mount namespace here: {probe.stderr.strip()}")
    data = data_with_extra_paper(tmp_path)
    labqa_cmd = f'"{sys.executable}" -m rag.cli'
    script = f"""
        mount -t tmpfs -o size=8m tmpfs "{mnt}" || exit 90
        cp -r "{index_home / 'chroma'}" "{mnt}/chroma"
        dd if=/dev/zero of="{mnt}/filler" bs=64k 2>/dev/null  # fill the disk
        run() {{ name=$1; shift; "$@" >"{out}/$name.out" 2>"{out}/$name.err"; echo $? >"{out}/$name.rc"; }}
        run ingest {labqa_cmd} ingest "{data}"
        run ask_full {labqa_cmd} ask "{QUESTION}"
        rm "{mnt}/filler"  # free space, as the error says
        run papers {labqa_cmd} papers --json
        run ask {labqa_cmd} ask --json "{QUESTION}"
    """
    env = {**os.environ, "LABQA_HOME": str(mnt)}
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr

    def result(name: str) -> tuple[int, str, str]:
        return (int((out / f"{name}.rc").read_text()), (out / f"{name}.out").read_text(),
                (out / f"{name}.err").read_text())

    for name in ("ingest", "ask_full"):  # while the disk is full, both fail and say so
        rc, _, err = result(name)
        assert rc == 2 and error_after_progress(err).startswith("labqa: error: ") and "Traceback" not in err, err
        assert "is full" in err and "free some space" in err and "The index is intact" in err, err
        assert "rm -rf" not in err and "damaged" not in err
    rc, stdout, err = result("papers")
    assert rc == 0, err
    assert_papers_intact(json.loads(stdout))
    rc, stdout, err = result("ask")
    assert rc == 0 and json.loads(stdout)["citations"][0]["title"].startswith(EISAM_TITLE), err


# ------------------------------------------------------------------ the store folder is corrupt

def test_corrupt_store_says_how_to_rebuild_and_the_advice_works(index_home: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.assistant import Assistant
    from rag.settings import load_settings

    store = index_home / "chroma"
    sqlite = store / "chroma.sqlite3"
    sqlite.write_bytes(os.urandom(sqlite.stat().st_size))
    advice = f"rm -rf {store}"
    assert_clear_failure(labqa("ask", QUESTION, url=None, check=False), "damaged", advice, "labqa ingest")
    with pytest.raises(StoreError, match="damaged") as err:
        Assistant(load_settings()).ask(QUESTION)
    assert advice in str(err.value)

    shutil.rmtree(store)  # follow the advice (on a one-paper source folder, to keep the test fast)
    small = tmp_path / "small"
    small.mkdir()
    (small / "extra.txt").write_text(EXTRA_PAPER)
    assert json.loads(labqa("ingest", "--json", str(small), url=None).stdout)["papers"] == 1
    answer = json.loads(labqa("ask", "--json", "Who works on glacier calving fronts?", url=None).stdout)
    assert answer["citations"][0]["title"].startswith("GlacierSeg")


IN_PROCESS_READ_ONLY = r'''
import json, sys
from pathlib import Path
from rag.assistant import Assistant
from rag.errors import StoreError
from rag.settings import load_settings


def _set_writable(path, writable):  # as in test_faults
    for p in [path, *path.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode | 0o200 if writable else mode & ~0o222)


store = Path(sys.argv[1])
assistant = Assistant(load_settings())
out = {}
_set_writable(store, False)
try:
    assistant.ask("What is EISAM?")
    out["read_only"] = "answered"
except StoreError as exc:
    out["read_only"] = str(exc)
_set_writable(store, True)
for i in range(2):
    try:
        out[f"after_{i}"] = assistant.ask("What is EISAM?").citations[0].title
    except StoreError as exc:
        out[f"after_{i}"] = "error: " + str(exc)
print(json.dumps(out))
'''


def test_a_store_writable_again_answers_in_the_same_process(index_home: Path, tmp_path: Path) -> None:
    """What a running `labqa serve` sees: a question while the store is read-only fails clearly; once it is
    writable again the very next question is answered (chromadb had kept the half-started client of the
    failed open, and the next error advised deleting the store)."""
    script = tmp_path / "probe.py"
    script.write_text(IN_PROCESS_READ_ONLY)
    store = index_home / "chroma"
    try:
        proc = subprocess.run([sys.executable, str(script), str(store)], capture_output=True,
                              text=True, timeout=300, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              **as_unprivileged())
    finally:
        _set_writable(store, True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert "read-only" in out["read_only"] and "rm -rf" not in out["read_only"]
    assert out["after_0"].startswith(EISAM_TITLE), out["after_0"]
    assert out["after_1"].startswith(EISAM_TITLE)
