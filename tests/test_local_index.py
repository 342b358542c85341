"""The persisted local copy (rag.local_index): written by ingest, loaded instead of rebuilt, updated with a delta
segment and tombstones, rebuilt once (saying so) when missing, stale or damaged; scoped BM25 masks before its
top k; dense scores are Chroma's cosine distances."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_ingest import ingest_json, run
from test_ingest_additive import SECOND_PAPER
from test_server_mode import EXTRA_PAPER

from rag import local_index, store
from rag.settings import load_settings


def copy_of(home: Path) -> local_index.LocalIndex:
    settings = load_settings()
    return local_index.load(local_index.folder(settings))


def open_index():  # type: ignore[no-untyped-def]
    from rag.embedding import Embedder
    from rag.retrieval import Index

    settings = load_settings()
    return Index(settings, Embedder.for_settings(settings))


def test_ingest_writes_the_copy_and_a_process_loads_it_without_rebuilding(
        index_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    copy = copy_of(index_home)
    assert len(copy.records) == 31 and copy.chunk_count == 89 and len(copy.segments) == 1

    def no_rebuild(*a, **kw):  # type: ignore[no-untyped-def]
        raise AssertionError("the persisted copy should have been loaded, not rebuilt")

    monkeypatch.setattr(local_index, "build_full", no_rebuild)
    index = open_index()
    assert len(index.catalog) == 31
    assert "building the local index" not in capsys.readouterr().err
    hits = index.search("item-wise sharpness-aware minimization for tail items", mode="bm25")
    assert hits[0].paper.title.startswith("Taming the Long Tail")


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage", "stale-fingerprint"])
def test_a_missing_or_damaged_copy_is_rebuilt_once_and_said_so(index_home: Path, damage: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    root = local_index.folder(load_settings())
    name = (root / "CURRENT").read_text().strip()
    manifest = json.loads((root / "versions" / name / "manifest.json").read_text())
    papers = root / "records" / manifest["records"][0]
    if damage == "missing":
        (root / "CURRENT").unlink()
    elif damage == "truncated":
        papers.write_bytes(papers.read_bytes()[:100])
    elif damage == "garbage":
        seg = next((root / "segments").iterdir())
        rows = seg / "rows.pkl"
        rows.write_bytes(b"x" * rows.stat().st_size)  # same size, wrong content: the checksum catches it
    else:
        manifest = root / "versions" / name / "manifest.json"
        data = json.loads(manifest.read_text())
        data["fingerprint"] = "0000000000"
        manifest.write_text(json.dumps(data))
    index = open_index()
    err = capsys.readouterr().err
    assert "building the local index" in err and "this happens once" in err, err
    assert len(index.catalog) == 31 and index.local.chunk_count == 89
    open_index()  # the rebuilt copy is used from now on
    assert "building the local index" not in capsys.readouterr().err


def test_adding_and_removing_a_paper_writes_a_delta_and_tombstones(index_home: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    before = copy_of(index_home)
    base = before.segments[0].name
    new = tmp_path / "new.txt"
    new.write_text(EXTRA_PAPER)
    report = ingest_json([str(new)], capsys)
    assert report["papers_added"] == 1 and report["version"] == before.version + 1
    after = copy_of(index_home)
    assert after.version == report["version"] and len(after.records) == 32
    assert [s.name for s in after.segments][0] == base, "the base segment is kept, not rebuilt"
    # the records too: the base file is kept and the new paper's record is a delta beside it
    assert after.manifest.records[0] == before.manifest.records[0] and len(after.manifest.records) == 2
    followed = local_index.load(local_index.folder(load_settings()), derived=False, previous=before)
    assert followed.records.keys() == after.records.keys()
    assert all(followed.records[pid] is before.records[pid] for pid in before.records), "read forward, not again"
    assert len(after.segments) == 2 and len(after.segments[1]) == after.chunk_count - 89
    hits = after.search("glacier calving fronts segmentation", 5)
    assert after.paper_of(hits[0][0]) == next(pid for pid, r in after.records.items()
                                              if r.paper.title.startswith("GlacierSeg"))
    # The delta is scored with the collection's statistics: its scores are on the base's scale.
    base_best = before.search("federated learning", 1)[0][1]
    assert 0.2 * base_best < after.search("glacier", 1)[0][1] < 10 * base_best

    new.write_text(SECOND_PAPER)  # the file now holds another paper instead: GlacierSeg leaves the index
    report = ingest_json([str(new)], capsys)
    assert len(report["removed"]) == 1 and report["papers_added"] == 1
    gone = copy_of(index_home)
    assert len(gone.records) == 32 and [s.name for s in gone.segments][0] == base
    assert all(not r.paper.title.startswith("GlacierSeg") for r in gone.records.values())
    assert not any("glacier" in gone.text(cid).lower() for cid, _ in gone.search("glacier calving", 5))
    assert gone.chunk_count == sum(len(r.chunk_ids) for r in gone.records.values())  # tombstones are not live


def test_a_failed_update_leaves_the_previous_version_in_use(index_home: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    before = copy_of(index_home)

    def disk_full(*a, **kw):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    new = tmp_path / "new.txt"
    new.write_text(EXTRA_PAPER)
    with monkeypatch.context() as m:
        m.setattr(local_index, "build_segment", disk_full)
        code, out, err = run(["ingest", "--json", str(new)], capsys)
    assert code == 0 and "could not update the local index copy" in err  # the store is committed regardless
    report = json.loads(out)
    assert report["papers_added"] == 1
    still = copy_of(index_home)
    assert still.version == before.version and len(still.records) == 31
    index = open_index()  # the next reader brings the old copy up to date from the change log
    assert len(index.catalog) == 32 and index.local.version == report["version"]
    assert len(index.local.segments) == 2


def test_scoped_bm25_masks_before_its_top_k(index_home: Path) -> None:
    """At scale a global top 30 holds no chunk of a small scope; the mask must apply before the top k."""
    copy = copy_of(index_home)
    query = "federated learning"
    everything = copy.search(query, 200)
    in_top = {copy.paper_of(cid) for cid, _ in everything[:2]}
    weaker = [copy.paper_of(cid) for cid, _ in everything if copy.paper_of(cid) not in in_top]
    scope = {weaker[-1]}  # a paper ranked far below the first two
    hits = copy.search(query, 2, scope)
    assert hits and {copy.paper_of(cid) for cid, _ in hits} == scope
    assert copy.search(query, 2, set()) == []


def test_dense_scores_are_cosine_similarities_from_chromas_distances(index_home: Path) -> None:
    index = open_index()
    cid = next(iter(index.local.where))
    got = index.chunk_col.get(ids=[cid], include=["embeddings"])
    question = "sharpness-aware minimization for long-tail recommendation"
    q = index.embedder.embed_cached([question])[0]
    vec = np.asarray(got["embeddings"][0], dtype=np.float32)
    expected = float(np.dot(q, vec) / (np.linalg.norm(q) * np.linalg.norm(vec)))
    scores = dict(index._dense(question, {index.local.paper_of(cid)}))
    assert scores[cid] == pytest.approx(expected, abs=1e-4)


def test_the_copy_lives_beside_the_embedded_store(index_home: Path) -> None:
    settings = load_settings()
    assert local_index.folder(settings).parent.parent == settings.home
    assert (settings.home / "chroma").exists()
    assert local_index.folder(settings).name == store.fingerprint(settings)


def test_a_derived_state_saved_by_another_version_is_ignored(index_home: Path) -> None:
    """An older version folder's derived.pkl written by another LabQA version (other classes) is not used
    to derive this version's catalog from: the catalog is built from the papers instead."""
    import pickle
    import zlib

    root = local_index.folder(load_settings())
    name = (root / "CURRENT").read_text().strip()
    (root / "versions" / name / local_index.DERIVED).unlink(missing_ok=True)
    older = root / "versions" / "v000000000000-older"
    older.mkdir()
    body = pickle.dumps({"schema": 0, "name": older.name, "records": {}, "catalog": object()})
    (older / local_index.DERIVED).write_bytes(zlib.crc32(body).to_bytes(4, "big") + body)
    index = open_index()
    assert len(index.catalog) == 31 and index.catalog.companions
