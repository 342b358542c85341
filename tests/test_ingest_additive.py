"""Ingest adds and updates; it removes only what it was told to (issue 10, finding 1).

A paper leaves the index only when the file it came from is ingested again without it, or with --prune.
The seed index (index_home) was built from data/; these tests ingest other files into it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_ingest import DATA, LISTING, ingest_json, run, snapshot
from test_server_mode import EXTRA_PAPER

ABSTRACTS = "002_5f359bf6322cb736.txt"
SECOND_PAPER = (
    "LGFeb 2, 2024\n"
    "Tidal Forecasting with Graph Neural NetworksMara Quist, Olle Brandt et al.\n"
    "We forecast coastal tides with a graph neural network over tide gauge stations and cut the mean "
    "absolute error of harmonic analysis by a fifth on twelve years of gauge records.\n"
)


def titles(capsys: pytest.CaptureFixture[str]) -> list[str]:
    code, out, err = run(["papers", "--json"], capsys)
    assert code == 0, err
    return [p["title"] for p in json.loads(out)]


def paper_rows(home: Path) -> dict[str, str]:
    """Every committed paper record except those named in `skip` (id → stored metadata)."""
    import chromadb
    from chromadb.api.client import SharedSystemClient
    from chromadb.config import Settings as ChromaSettings

    SharedSystemClient.clear_system_cache()
    client = chromadb.PersistentClient(path=str(home / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    col = next(c for c in client.list_collections() if c.name.startswith("labqa_papers_"))
    got = col.get(include=["metadatas"])
    SharedSystemClient.clear_system_cache()
    return {pid: json.dumps(m, sort_keys=True) for pid, m in zip(got["ids"], got["metadatas"], strict=True)}


def test_ingesting_one_file_adds_its_papers_and_keeps_every_other(index_home: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    before = paper_rows(index_home)
    new = tmp_path / "new-paper.txt"
    new.write_text(EXTRA_PAPER)
    report = ingest_json([str(new)], capsys)
    assert report["papers"] == 32 and report["papers_added"] == 1 and report["removed"] == []
    assert report["chunks_removed"] == 0 and report["chunks_unchanged"] == 89
    after = paper_rows(index_home)
    assert {k: after[k] for k in before} == before, "the 31 seed papers are untouched"
    assert any(t.startswith("GlacierSeg") for t in titles(capsys))
    _, out, _ = run(["ask", "--json", "What is EISAM?"], capsys)
    assert json.loads(out)["citations"][0]["title"].startswith("Taming the Long Tail")

    # The same file again, now with another paper instead: only its own old paper leaves.
    new.write_text(SECOND_PAPER)
    report = ingest_json([str(new)], capsys)
    assert report["papers"] == 32 and report["papers_added"] == 1
    assert [(r["title"], r["sources"]) for r in report["removed"]] == [
        ("GlacierSeg: Robust Segmentation of Glacier Calving Fronts in Satellite Imagery", [str(new)])]
    now = titles(capsys)
    assert "Tidal Forecasting with Graph Neural Networks" in now and not any(t.startswith("GlacierSeg") for t in now)
    after = paper_rows(index_home)
    assert {k: after[k] for k in before} == before


def test_a_paper_merged_from_two_files_keeps_both_sources(index_home: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """EISAM's listing entry is in the listing, another version of its abstract in the abstracts file.
    Ingesting either file alone changes nothing: the other file's part is kept."""
    before = snapshot(index_home)
    for name in (LISTING, ABSTRACTS):
        report = ingest_json([str(DATA / name)], capsys)
        assert report["papers"] == 31 and report["papers_indexed"] == 0 and report["removed"] == []
    assert snapshot(index_home) == before
    _, out, _ = run(["papers", "--json"], capsys)
    eisam = next(p for p in json.loads(out) if p["title"].startswith("Taming the Long Tail"))
    assert {Path(s["path"]).name for s in eisam["provenance"]} == {LISTING, ABSTRACTS}


def test_relative_and_absolute_paths_are_one_source(index_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(index_home)
    monkeypatch.chdir(DATA.parent)
    report = ingest_json(["data"], capsys)
    assert report["papers"] == 31 and report["papers_indexed"] == 0 and report["removed"] == []
    assert snapshot(index_home) == before


def test_prune_says_what_it_removes_and_dry_run_writes_nothing(index_home: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    new = tmp_path / "only.txt"
    new.write_text(EXTRA_PAPER)
    before = snapshot(index_home)
    code, out, err = run(["ingest", "--prune", "--dry-run", str(new)], capsys)
    assert code == 0 and "--prune would remove 31 paper(s)" in err and "Taming the Long Tail" in err
    assert "1 would be added, 0 would be updated, 31 would be removed" in out and "nothing was written" in out
    assert snapshot(index_home) == before

    code, out, err = run(["ingest", "--dry-run", str(new)], capsys)  # without --prune nothing would leave
    assert code == 0 and "1 would be added, 0 would be updated, 0 would be removed" in out
    assert snapshot(index_home) == before

    report = ingest_json(["--prune", str(new)], capsys)
    assert report["papers"] == 1 and len(report["removed"]) == 31
    assert [t[:10] for t in titles(capsys)] == ["GlacierSeg"]


def test_skip_invalid_keeps_the_previous_version_of_a_bad_record(index_home: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    new = tmp_path / "two.txt"
    new.write_text(EXTRA_PAPER + SECOND_PAPER)
    assert ingest_json([str(new)], capsys)["papers"] == 33
    # The Tidal entry's header breaks and the GlacierSeg abstract is revised, in one edit.
    revised = EXTRA_PAPER.replace("reduces the mean front", "halves the mean front")
    new.write_text(revised + SECOND_PAPER.replace("LGFeb 2, 2024", "QQFeb 2, 2024"))
    code, out, err = run(["ingest", "--json", "--skip-invalid", str(new)], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["papers"] == 33 and report["removed"] == [], "the bad record's paper stays"
    assert report["kept_previous"] == [f"{new}:4"] and f"{new}:4: unknown category 'QQ'" in err
    assert report["papers_updated"] == 1  # the good revision went in
    _, out, _ = run(["papers", "--json"], capsys)
    papers = {p["title"]: p for p in json.loads(out)}
    assert "halves the mean front" in papers[next(t for t in papers if t.startswith("GlacierSeg"))]["abstract"]
    assert papers["Tidal Forecasting with Graph Neural Networks"]["category"] == "cs.LG"  # its previous version

    new.write_text(revised)  # fixed by removing the entry: now it leaves
    report = ingest_json([str(new)], capsys)
    assert [r["title"] for r in report["removed"]] == ["Tidal Forecasting with Graph Neural Networks"]


def test_a_file_that_cannot_be_read_keeps_its_papers_under_skip_invalid(index_home: Path, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    new = tmp_path / "new.txt"
    new.write_text(EXTRA_PAPER)
    ingest_json([str(new)], capsys)
    new.write_bytes(EXTRA_PAPER.encode() + b"\xff\xfe\n")
    code, out, err = run(["ingest", "--json", "--skip-invalid", str(new)], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["papers"] == 32 and report["removed"] == [] and report["kept_previous"] == [f"{new}:1"]
    assert f"{new}:4: not UTF-8" in err


def _drop_records(home: Path) -> None:
    """Make the index look like one built before ingest kept its source records."""
    import chromadb
    from chromadb.api.client import SharedSystemClient
    from chromadb.config import Settings as ChromaSettings

    SharedSystemClient.clear_system_cache()
    client = chromadb.PersistentClient(path=str(home / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    for c in client.list_collections():
        if c.name.startswith("labqa_records_"):
            client.delete_collection(c.name)
    SharedSystemClient.clear_system_cache()


def test_an_index_built_before_records_were_kept_reads_its_sources_again(
        index_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _drop_records(index_home)
    before = paper_rows(index_home)
    new = tmp_path / "new.txt"
    new.write_text(EXTRA_PAPER)
    report = ingest_json([str(new)], capsys)
    assert report["papers"] == 32 and report["removed"] == [] and report["papers_added"] == 1
    after = paper_rows(index_home)
    assert {k: after[k] for k in before} == before
    assert ingest_json([str(new)], capsys)["papers_indexed"] == 0  # the records are kept from now on


def test_an_old_index_whose_sources_are_gone_asks_for_a_full_ingest(index_home: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(DATA, corpus)
    ingest_json(["--prune", str(corpus)], capsys)  # the index now comes from the copy
    _drop_records(index_home)
    shutil.rmtree(corpus)
    new = tmp_path / "new.txt"
    new.write_text(EXTRA_PAPER)
    before = snapshot(index_home)
    code, out, err = run(["ingest", str(new)], capsys)
    assert code == 2 and f"{corpus / LISTING}, no longer exists" in err and "labqa ingest --prune" in err
    assert snapshot(index_home) == before
