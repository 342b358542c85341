"""Ingest into a real Chroma store: idempotent, incremental, fingerprinted, and never half-written."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
LISTING = "000_f3841e431c41a46e.txt"
LABQA = str(Path(sys.executable).with_name("labqa"))


def snapshot(home: Path) -> dict[str, str]:
    """Content of every collection in the store (ids, texts, metadata, vectors) as one digest each."""
    import chromadb
    from chromadb.api.client import SharedSystemClient
    from chromadb.config import Settings as ChromaSettings

    SharedSystemClient.clear_system_cache()  # read what is on disk, not what this process cached
    client = chromadb.PersistentClient(path=str(home / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    out = {}
    for col in client.list_collections():
        got = col.get(include=["documents", "metadatas", "embeddings"])
        rows = sorted(zip(got["ids"], got["documents"], [json.dumps(m, sort_keys=True) for m in got["metadatas"]],
                          [[round(float(x), 6) for x in e] for e in got["embeddings"]], strict=True))
        out[col.name] = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
    SharedSystemClient.clear_system_cache()
    return out


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def ingest_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, err = run(["ingest", "--json", *args], capsys)
    assert code == 0, err
    return json.loads(out)


def corpus_copy(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(DATA, target)
    return target


def test_second_ingest_changes_nothing(index_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(index_home)
    report = ingest_json([], capsys)
    assert report["papers"] == 31
    assert (report["chunks_added"], report["chunks_updated"], report["chunks_removed"]) == (0, 0, 0)
    assert report["chunks_unchanged"] > 31 and report["chunks_embedded"] == 0
    assert set(report) >= {"papers", "chunks_added", "chunks_updated", "chunks_unchanged", "chunks_removed",
                           "seconds"}
    assert snapshot(index_home) == before


def test_changed_abstract_updates_only_that_paper(index_home: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    corpus = corpus_copy(tmp_path)
    listing = corpus / LISTING
    lines = listing.read_text().splitlines()
    assert lines[2].startswith("Many recent studies leverage the pre-trained CLIP")  # VoP's abstract
    lines[2] = lines[2].replace("five text-video retrieval benchmarks", "six text-video retrieval benchmarks")
    listing.write_text("\n".join(lines) + "\n")
    # --prune: the copy replaces the seed folder the index was built from (the same papers, so nothing leaves)
    report = ingest_json(["--prune", str(corpus)], capsys)
    assert report["papers_indexed"] == 1 and report["removed"] == []
    assert report["chunks_updated"] >= 1 and report["chunks_added"] == 0 and report["chunks_removed"] == 0
    assert report["chunks_embedded"] == report["chunks_updated"]
    code, out, _ = run(["papers", "--json"], capsys)
    vop = next(p for p in json.loads(out) if p["title"].startswith("VoP"))
    assert "six text-video retrieval benchmarks" in vop["abstract"]


def test_paper_removed_from_sources_leaves_the_index(index_home: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    corpus = corpus_copy(tmp_path)
    listing = corpus / LISTING
    lines = listing.read_text().splitlines()
    assert lines[-2].startswith("Adaptive Portfolio")
    listing.write_text("\n".join(lines[:-3]) + "\n")
    report = ingest_json(["--prune", str(corpus)], capsys)
    assert report["papers"] == 30 and report["chunks_removed"] >= 1
    assert [r["title"] for r in report["removed"]] == [lines[-2].split("Thompson Sampling")[0] + "Thompson Sampling"]
    assert report["chunks_added"] == report["chunks_updated"] == 0
    _, out, _ = run(["papers", "--json"], capsys)
    assert not any(p["title"].startswith("Adaptive Portfolio") for p in json.loads(out))
    _, out, _ = run(["ask", "--json", "Thompson sampling for portfolio selection with multi-armed bandits"], capsys)
    assert not any(c["title"].startswith("Adaptive Portfolio") for c in json.loads(out)["citations"])


def test_changing_chunk_settings_builds_a_new_index_and_keeps_the_old_one(
        index_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(index_home)
    monkeypatch.setenv("LABQA_CHUNK_TOKENS", "128")
    report = ingest_json([], capsys)
    assert report["chunks_unchanged"] == 0 and report["chunks_added"] == report["chunks_embedded"] > 89
    after = snapshot(index_home)
    assert {k: after[k] for k in before} == before, "the default index is kept exactly as it was"
    new = set(after) - set(before)
    assert len(new) == 4 and len({n.rsplit("_", 1)[1] for n in new}) == 1  # chunks, papers, records, changes of one index
    _, out, _ = run(["ask", "--json", "What is EISAM?"], capsys)
    assert json.loads(out)["citations"][0]["title"].startswith("Taming the Long Tail")

    monkeypatch.delenv("LABQA_CHUNK_TOKENS")  # back to the defaults: their index answers, nothing re-embedded
    _, out, _ = run(["ask", "--json", "What is EISAM?"], capsys)
    assert json.loads(out)["citations"][0]["title"].startswith("Taming the Long Tail")
    code, out, _ = run(["index", "list", "--json"], capsys)
    indexes = {i["name"]: i for i in json.loads(out)}
    assert code == 0 and len(indexes) == 2
    current = next(i for i in indexes.values() if i["current"])
    trial = next(i for i in indexes.values() if not i["current"])
    assert current["papers"] == trial["papers"] == 31 and trial["chunks"] > current["chunks"] == 89
    assert trial["settings"]["chunk_tokens"] == 128 and current["settings"]["chunk_tokens"] == 200
    assert trial["last_ingest"] and trial["vector_mb"] > 0
    code, out, _ = run(["index", "list"], capsys)
    assert "chunk_tokens=128" in out and "* the index of the current settings" in out

    code, out, err = run(["index", "drop", trial["name"]], capsys)
    assert code == 0 and f"dropped index {trial['name']}" in out
    assert snapshot(index_home) == before
    monkeypatch.setenv("LABQA_CHUNK_TOKENS", "128")  # its index is gone now: a clear message, not a crash
    code, out, err = run(["ask", "What is EISAM?"], capsys)
    assert code == 2 and "No index for the current settings (chunk_tokens=128" in err
    assert "Run `labqa ingest`" in err and f"{current['name']}: chunk_tokens=200" in err
    code, _, err = run(["index", "drop", "nope"], capsys)
    assert code == 2 and "No index named 'nope'" in err and current["name"] in err


BAD_SOURCES = {
    "unparsable header": "XYZ nonsense\nTitleAnn Lee et al.\nAbstract.\n",
    "no author list": "LGMay 30\nA title with no authors at all\nAbstract.\n",
    "missing abstract": "LGMay 30\nA TitleAnn Lee et al.\n",
    "unknown category": "QQMay 30\nA TitleAnn Lee et al.\nAbstract.\n",
    "empty file": "",
    "binary file": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "not UTF-8": "LGMay 30\nA Title\xe9Ann Lee et al.\nAbstract.\n".encode("latin-1"),
}


@pytest.mark.parametrize("case", sorted(BAD_SOURCES))
def test_bad_input_leaves_the_index_exactly_as_it_was(case: str, index_home: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    corpus = corpus_copy(tmp_path)
    bad = corpus / "zz_bad.txt"
    content = BAD_SOURCES[case]
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = snapshot(index_home)
    code, out, err = run(["ingest", str(corpus)], capsys)
    assert code == 2 and out == ""
    assert str(bad) in err and "Traceback" not in err
    assert snapshot(index_home) == before


def test_missing_path_is_an_error_from_the_real_command(index_home: Path, tmp_path: Path) -> None:
    before = snapshot(index_home)
    proc = subprocess.run([LABQA, "ingest", str(tmp_path / "nope")], capture_output=True, text=True,
                          env={**os.environ, "LABQA_HOME": str(index_home)}, timeout=120)
    assert proc.returncode == 2
    assert f"{tmp_path / 'nope'}: no such file or folder" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(index_home) == before


def test_skip_invalid_ingests_the_good_records(index_home: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    corpus = corpus_copy(tmp_path)
    (corpus / "zz_extra.txt").write_text(
        "QQMay 30\nA TitleAnn Lee et al.\nAbstract.\n"
        "LGMay 30\nQuantum Annealing for Graph PartitioningAnn Lee, Bo Chen et al.\n"
        "We map graph partitioning to an Ising model and solve it with quantum annealing hardware.\n")
    code, out, err = run(["ingest", "--json", "--skip-invalid", str(corpus)], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["papers"] == 32 and report["chunks_added"] >= 1
    assert f"{corpus / 'zz_extra.txt'}:1: unknown category 'QQ'" in err
    assert report["skipped"] and "unknown category" in report["skipped"][0]


def test_papers_json_has_every_field(index_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["papers", "--json"], capsys)
    papers = json.loads(out)
    assert code == 0 and len(papers) == 31
    fields = {"paper_id", "title", "title_source", "authors", "authors_truncated", "date", "year", "year_inferred",
              "category", "has_code", "urls", "score", "abstract", "other_abstracts", "provenance"}
    assert all(fields <= set(p) for p in papers)
    assert sum(p["has_code"] for p in papers) == 5
    assert {p["provenance"][0]["path"].rsplit("/", 1)[-1] for p in papers} == {LISTING, "002_5f359bf6322cb736.txt"}
    code, out, _ = run(["papers"], capsys)
    assert "31 papers" in out and "only the first three authors are known" in out


def test_every_chunk_fits_the_model_and_no_text_is_lost(built_home: Path) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core.schema import MetadataMode

    from rag import store
    from rag.embedding import MAX_TOKENS, load_tokenizer
    from rag.text import sentences

    client = chromadb.PersistentClient(path=str(built_home / "chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    cols = {c.name: c for c in client.list_collections()}
    chunk_col = next(c for n, c in cols.items() if "_chunks_" in n)
    paper_col = next(c for n, c in cols.items() if "_papers_" in n)
    records = store.read_papers(paper_col)
    got = chunk_col.get(include=["documents", "metadatas"])
    texts = dict(zip(got["ids"], got["documents"], strict=True))
    tok = load_tokenizer()
    assert len(records) == 31 and len(texts) == sum(len(r.chunk_ids) for r in records.values())
    for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
        node = store.chunk_node_from_record(cid, text, meta)
        embedded = node.get_content(metadata_mode=MetadataMode.EMBED)
        assert len(tok.encode(embedded).ids) <= MAX_TOKENS, cid
        assert embedded.startswith(f"title: {meta['title']}\nauthors: ")  # title/authors/year reach the vector
        assert {"paper_id", "title", "authors", "category", "has_code"} <= set(meta)
    for rec in records.values():
        joined = " ".join(texts[c] for c in rec.chunk_ids)
        for version in [rec.paper.abstract, *rec.paper.other_abstracts]:
            for sentence in sentences(version):
                assert sentence in joined, (rec.paper.title, sentence)


@pytest.mark.slow
def test_interrupted_ingest_keeps_the_old_index_and_the_next_run_completes(index_home: Path, tmp_path: Path) -> None:
    corpus = corpus_copy(tmp_path)
    listing = corpus / LISTING
    lines = listing.read_text().splitlines()
    for i in range(2, len(lines), 3):  # revise every abstract: all 30 listing papers need new chunks
        lines[i] += " This sentence was added in a revision of the abstract."
    listing.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "LABQA_HOME": str(index_home), "LABQA_INGEST_BATCH_PAPERS": "2"}

    proc = subprocess.Popen([LABQA, "ingest", "--prune", str(corpus)], env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # the first progress line comes right after the first committed batch
        if line.startswith("indexing: "):
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)

    papers = json.loads(subprocess.run([LABQA, "papers", "--json"], env=env, capture_output=True, text=True,
                                       check=True).stdout)
    assert len(papers) == 31
    revised = sum("added in a revision" in p["abstract"] for p in papers)
    assert 0 < revised < 30, f"the kill should land mid-way ({revised} of 30 papers were committed)"
    answer = json.loads(subprocess.run([LABQA, "ask", "--json", "What is EISAM?"], env=env, capture_output=True,
                                       text=True, check=True).stdout)
    assert answer["citations"] and not answer["abstained"]

    done = subprocess.run([LABQA, "ingest", "--json", "--prune", str(corpus)], env=env, capture_output=True, text=True,
                          check=True)
    report = json.loads(done.stdout)
    assert report["papers"] == 31 and report["papers_indexed"] == 30 - revised
    again = json.loads(subprocess.run([LABQA, "ingest", "--json", "--prune", str(corpus)], env=env, capture_output=True,
                                      text=True, check=True).stdout)
    assert again["papers_indexed"] == 0 and again["chunks_added"] == again["chunks_updated"] == 0

    import chromadb
    from chromadb.api.client import SharedSystemClient
    from chromadb.config import Settings as ChromaSettings

    from rag import store

    SharedSystemClient.clear_system_cache()
    client = chromadb.PersistentClient(path=str(index_home / "chroma"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    cols = {c.name: c for c in client.list_collections()}
    chunk_ids = set(next(c for n, c in cols.items() if "_chunks_" in n).get(include=[])["ids"])
    named = {cid for r in store.read_papers(next(c for n, c in cols.items() if "_papers_" in n)).values()
             for cid in r.chunk_ids}
    assert chunk_ids == named, "no duplicate or orphan chunks after the resumed run"
    SharedSystemClient.clear_system_cache()
