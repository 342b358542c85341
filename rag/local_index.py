"""The local copy of an index: its papers (the catalog), its chunk texts and its BM25 index, persisted under
LABQA_HOME so a process loads them instead of rebuilding them from the store, and kept in step with the
store's change log (rag.changes) by loading only the papers that changed.

    LABQA_HOME/lexical/<fingerprint>/
        CURRENT                  the name of the version in use (replaced atomically)
        versions/<name>/         manifest.json (store version, epoch, record files, segments, file sizes and
                                 checksums), derived.pkl (the catalog's derived state, a cache)
        records/<name>.pkl       paper records (Paper, chunk ids, digest): a base file, then deltas of the
                                 papers an update set or dropped; immutable, shared by versions
        segments/<name>/         one immutable piece of the BM25 index: bm25/ (bm25s's own save, loaded with
                                 memory mapping), rows.pkl (chunk id, paper id, page of each row), texts.bin
                                 + offsets.npy (the chunk texts, memory-mapped)

A version is a base segment plus small delta segments, and a base records file plus small delta files.
Adding or changing papers writes a records delta and a delta segment with only their chunks (scored with
the collection's document frequencies, so its scores compare with the base's); a chunk that a paper no longer names is a tombstone, masked out of every search. When the deltas
grow past a share of the base they are merged into a new base. Every write goes to a new folder that is
renamed into place, then CURRENT is replaced: a failed or killed writer leaves the previous version in use.
A missing, stale or damaged copy is rebuilt from the store once, saying so on stderr.

In embedded mode the copy sits beside the vectors (LABQA_HOME/chroma); in server mode each app host keeps
its own in its own LABQA_HOME and follows the server's change log.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import sys
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag import changes, store
from rag.catalog import Catalog
from rag.errors import StoreError
from rag.settings import Settings
from rag.types import Paper

SCHEMA = 5  # bump when the layout changes: older copies are then rebuilt
MERGE_SHARE = 0.1  # deltas holding more than this share of the base's chunks are merged into a new base
MERGE_MIN = 5000  # ... but small collections keep up to this many delta chunks before merging
MAX_SEGMENTS = 8  # or when there are more segments than this
MAX_RECORD_FILES = 16  # record deltas past this many are folded into a new base file
KEEP_VERSIONS = 3
SHIFT = 1 << 32  # a chunk's place: SHIFT * segment + row, one int (a dict of tuples would cost more to build)  # older version folders (and the segments only they use) are deleted
STEMMER_LANGUAGE = "english"

Say = Callable[[str], None]
log = logging.getLogger(__name__)


def unpickle(data: bytes | memoryview) -> Any:
    """pickle.loads with the cyclic garbage collector paused: rebuilding a catalog makes millions of objects,
    and the collections they would set off cost more than the loading itself (2.5-3.5x slower at 10k papers)."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(data)
    finally:
        if was:
            gc.enable()
        # What was loaded lives as long as its version: frozen, later collections skip it instead of walking
        # millions of objects each time (1.2 s of a 100k-paper start). A follower unfreezes when it lets an
        # old version go (release_frozen), so the old one's reference cycles can still be collected.
        gc.freeze()


def release_frozen() -> None:
    """Let the collector see the frozen objects again (an old version was just dropped), collect, refreeze."""
    import gc

    gc.unfreeze()
    gc.collect()
    gc.freeze()


def stderr(message: str) -> None:
    print(f"labqa: {message}", file=sys.stderr, flush=True)


def folder(settings: Settings) -> Path:
    return settings.home / "lexical" / store.fingerprint(settings)


class CopyDamaged(Exception):
    """The persisted copy cannot be used (missing files, wrong sizes or checksums, unreadable)."""


# ---------------------------------------------------------------------------------------------- tokenizing

_stemmer: Any = None


def tokenize(texts: list[str]) -> list[list[str]]:
    """BM25 tokens, as llama-index's BM25Retriever makes them: bm25s's tokenizer, English stop words removed,
    Snowball-stemmed."""
    global _stemmer
    import bm25s

    if _stemmer is None:
        import Stemmer

        _stemmer = Stemmer.Stemmer(STEMMER_LANGUAGE)
    out = bm25s.tokenize(texts, stopwords=STEMMER_LANGUAGE, stemmer=_stemmer, return_ids=False, show_progress=False)
    return [list(t) for t in out]


def lexical_text(text: str, paper: Paper) -> str:
    """What BM25 indexes for a chunk: the passage under the same title/authors/year header it is embedded with."""
    from llama_index.core.schema import MetadataMode, TextNode

    meta: dict[str, Any] = {"title": paper.title, "authors": paper.authors_for_embedding}
    if paper.year:
        meta["year"] = paper.year
    return TextNode(text=text, metadata=meta).get_content(metadata_mode=MetadataMode.EMBED)


# ---------------------------------------------------------------------------------------------- segments

@dataclass(frozen=True)
class Row:
    chunk_id: str
    paper_id: str
    page: int | None


class Segment:
    """One immutable piece of the lexical index, memory-mapped from its folder."""

    def __init__(self, path: Path) -> None:
        import bm25s

        self.path, self.name = path, path.name
        meta = json.loads((path / "meta.json").read_text())
        self.avgdl: float = meta["avgdl"]
        rows = unpickle((path / "rows.pkl").read_bytes())
        self.chunk_ids: list[str] = rows["chunk_ids"]
        self.paper_ids: list[str] = rows["paper_ids"]
        self.pages: list[int | None] = rows["pages"]
        self.offsets = np.load(path / "offsets.npy", mmap_mode="r")
        size = (path / "texts.bin").stat().st_size
        self.texts = np.memmap(path / "texts.bin", dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
        logging.getLogger("bm25s").setLevel(logging.ERROR)
        self.bm25 = bm25s.BM25.load(str(path / "bm25"), mmap=True, show_progress=False)
        if len(self.chunk_ids) != int(self.bm25.scores["num_docs"]) or len(self.offsets) != len(self.chunk_ids) + 1:
            raise CopyDamaged(f"segment {path.name} does not hold as many rows as it lists")

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def text(self, row: int) -> str:
        return bytes(self.texts[int(self.offsets[row]):int(self.offsets[row + 1])]).decode("utf-8")

    def doc_freq(self, token: str) -> int:
        tid = self.bm25.vocab_dict.get(token)
        if tid is None or tid + 1 >= len(self.bm25.scores["indptr"]):
            return 0
        indptr = self.bm25.scores["indptr"]
        return int(indptr[tid + 1] - indptr[tid])

    def top(self, tokens: list[str], mask: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k best rows among those the mask allows (weights 0/1): the mask applies before the top k."""
        ids = self.bm25.get_tokens_ids([t for t in tokens if t])
        if not ids or not mask.any():
            return []
        scores = self.bm25.get_scores_from_ids(ids, weight_mask=mask)
        k = min(k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(r), float(scores[r])) for r in best if scores[r] > 0]


def build_segment(path: Path, rows: list[Row], texts: list[str], lexical: list[str],
                  base: Segment | None = None) -> None:
    """Write a segment folder. A delta (base given) is scored with the base's document frequencies and
    length norm plus its own, so its scores are comparable with the base's without rebuilding the base."""
    import bm25s
    from bm25s import scoring

    tokens = tokenize(lexical) if lexical else []
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    logging.getLogger("bm25s").setLevel(logging.ERROR)
    model = bm25s.BM25()
    avgdl = float(np.mean([len(t) for t in tokens])) if tokens else 1.0
    if base is None:
        model.index(tokens or [[""]], show_progress=False)
    else:
        # bm25s scores eagerly (IDF is baked into the matrix), so a delta is built through its own
        # scoring functions with collection-wide statistics: base documents + these.
        vocab = {t: i for i, t in enumerate(dict.fromkeys(tok for doc in tokens for tok in doc))}
        if "" not in vocab:
            vocab[""] = len(vocab)
        ids = [[vocab[t] for t in doc] for doc in tokens]
        own = scoring._calculate_doc_freqs(ids, list(vocab.values()), show_progress=False)
        df = {vocab[t]: own.get(vocab[t], 0) + base.doc_freq(t) for t in vocab}
        n_docs = len(tokens) + len(base)
        idf = scoring._build_idf_array(df, n_docs, scoring._select_idf_scorer(model.idf_method), model.dtype)
        avgdl = base.avgdl
        data, doc_idx, voc_idx = scoring._build_scores_and_indices_for_matrix(
            ids, idf, avgdl, own, model.k1, model.b, model.delta, None, method=model.method, dtype=model.dtype,
            int_dtype=model.int_dtype, show_progress=False)
        data, indices, indptr = model._np_csc(data=data, rows=doc_idx, cols=voc_idx, shape=(len(ids), len(vocab)))
        model.scores = {"data": data.astype(model.dtype), "indices": indices, "indptr": indptr,
                        "num_docs": len(ids)}
        model.vocab_dict = vocab
        model.nonoccurrence_array = None  # only BM25L/BM25+ use one
    model.save(str(tmp / "bm25"), show_progress=False)
    (tmp / "rows.pkl").write_bytes(pickle.dumps({
        "chunk_ids": [r.chunk_id for r in rows], "paper_ids": [r.paper_id for r in rows],
        "pages": [r.page for r in rows]}, protocol=5))
    blobs = [t.encode("utf-8") for t in texts]
    np.save(tmp / "offsets.npy", np.concatenate([[0], np.cumsum([len(b) for b in blobs], dtype=np.int64)])
            .astype(np.int64))
    with open(tmp / "texts.bin", "wb") as fh:
        for b in blobs:
            fh.write(b)
    (tmp / "meta.json").write_text(json.dumps({"avgdl": avgdl, "rows": len(rows), "delta": base is not None}))
    _fsync_tree(tmp)
    os.replace(tmp, path)


def _fsync_tree(path: Path) -> None:
    for f in path.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())


# ---------------------------------------------------------------------------------------------- the copy

@dataclass
class Manifest:
    name: str
    fingerprint: str
    version: int
    epoch: str
    segments: list[str]
    files: dict[str, list[int]]  # path (relative to the copy's folder) → [size, crc32]
    records: list[str]  # record files, applied in order: a base, then deltas

    def to_json(self) -> str:
        return json.dumps({"schema": SCHEMA, **self.__dict__}, sort_keys=True)


class LocalIndex:
    """One loaded version: paper records, segments, and which row of which segment holds each live chunk."""

    def __init__(self, root: Path, manifest: Manifest, records: dict[str, store.PaperRecord] | None,
                 segments: list[Segment], catalog: Catalog | None = None) -> None:
        """`records=None` (a writer that only adds a delta): every row counts as live, nothing is read."""
        self.root, self.manifest, self.segments = root, manifest, segments
        self._catalog = catalog
        self._saved = catalog is not None  # the derived catalog state is on disk
        # (records, catalog) of an earlier version, to derive this one's catalog state from (see `catalog`)
        self.base: tuple[dict[str, store.PaperRecord], Catalog] | None = None
        self.version, self.epoch = manifest.version, manifest.epoch
        # chunk id → SHIFT * segment + row; later segments win (an updated chunk's newest row)
        self.where: dict[str, int] = {}
        for si, seg in enumerate(segments):
            self.where.update(zip(seg.chunk_ids, range(si * SHIFT, si * SHIFT + len(seg)), strict=True))
        light = records is None
        self.records = records = records or {}
        named = set().union(*(r.chunk_ids for r in records.values())) if records else set()
        if not light and (len(named) != len(self.where) or not named.issuperset(self.where)):
            # Rows no paper names any more (or that a later segment replaced) are the tombstones.
            self.where = {cid: loc for cid, loc in self.where.items() if cid in named}
        self.live: list[np.ndarray] = [np.zeros(len(s), dtype=np.float32) for s in segments]
        locs = np.fromiter(self.where.values(), dtype=np.int64, count=len(self.where))
        for si, live in enumerate(self.live):
            mine = locs[(locs >= si * SHIFT) & (locs < (si + 1) * SHIFT)] - si * SHIFT
            live[mine] = 1.0

    @property
    def catalog(self) -> Catalog:
        """The catalog with everything derived from it (name linker, term statistics), built once per version:
        from an earlier version's (the one this process had loaded, else the newest one saved on disk) by the
        papers that changed, else from every paper. `save_derived` keeps it for later processes."""
        if self._catalog is None:
            from rag.derived import derive

            base = self.base or _older_derived(self.root, self.manifest.name)
            catalog = None
            if base is not None:
                try:
                    catalog = self._catalog_from(*base)
                except Exception as exc:  # noqa: BLE001 - a cache: build it from every paper instead
                    log.warning("could not update the catalog state from an earlier version (%s); rebuilding it", exc)
            if catalog is None:
                catalog = Catalog(self.papers_in_order())
                derive(catalog)
            self._catalog, self.base = catalog, None
        return self._catalog

    def _catalog_from(self, old_records: dict[str, store.PaperRecord], old_catalog: Catalog) -> Catalog:
        """This version's catalog and its derived state from an earlier version's, by the papers that changed."""
        from rag.derived import changes_between, derive

        gone, new = changes_between({pid: r.digest for pid, r in old_records.items()},
                                    {pid: r.digest for pid, r in self.records.items()})
        for pid, rec in self.records.items():  # unchanged papers: one copy in memory, not two
            old = old_records.get(pid)
            if pid not in new and old is not None and old.paper.provenance == rec.paper.provenance:
                self.records[pid] = old
        papers = self.papers_in_order()
        by_id = {p.paper_id: p for p in papers}
        removed = [old_catalog.by_id[pid] for pid in gone if pid in old_catalog.by_id]
        added = [by_id[pid] for pid in new if pid in by_id]
        catalog = Catalog.updated(papers, old_catalog, removed, added)
        derive(catalog, old_catalog, removed, added)
        return catalog

    def save_derived(self) -> None:
        """Save the catalog's derived state beside this version (derived.pkl), so later processes unpickle it
        instead of computing it (a cache: failing to write it only costs them that time)."""
        if self._saved or self._catalog is None:
            return
        self._saved = True
        try:
            _write_derived(self.root / "versions" / self.manifest.name, self.manifest.name, self.records,
                           self._catalog)
        except OSError as exc:
            log.warning("could not save the derived catalog state: %s", exc)

    @property
    def chunk_count(self) -> int:
        return len(self.where)

    def papers_in_order(self) -> list[Paper]:
        return sorted((r.paper for r in self.records.values()),
                      key=lambda p: min((s.path, s.line) for s in p.provenance) if p.provenance else ("~", 0))

    def row(self, chunk_id: str) -> tuple[Segment, int] | None:
        loc = self.where.get(chunk_id)
        return (self.segments[loc // SHIFT], loc % SHIFT) if loc is not None else None

    def paper_of(self, chunk_id: str) -> str | None:
        got = self.row(chunk_id)
        return got[0].paper_ids[got[1]] if got else None

    def search(self, query: str, k: int, scope: set[str] | None = None) -> list[tuple[str, float]]:
        """BM25 over the live chunks (of the papers in scope), best first. The scope is a weight mask applied
        before each segment's top k, so in-scope chunks are never crowded out by out-of-scope ones."""
        tokens = tokenize([query])[0]
        if not tokens or (scope is not None and not scope):
            return []
        masks = self.live if scope is None else self._scope_masks(scope)
        hits: list[tuple[str, float]] = []
        for seg, mask in zip(self.segments, masks, strict=True):
            hits.extend((seg.chunk_ids[r], s) for r, s in seg.top(tokens, mask, k))
        hits.sort(key=lambda h: -h[1])
        return hits[:k]

    def _scope_masks(self, scope: set[str]) -> list[np.ndarray]:
        """Weight 1 for the live chunks of the papers in scope, 0 for every other row."""
        masks = [np.zeros(len(s), dtype=np.float32) for s in self.segments]
        for pid in scope:
            rec = self.records.get(pid)
            for cid in rec.chunk_ids if rec else ():
                loc = self.where.get(cid)
                if loc is not None:
                    masks[loc // SHIFT][loc % SHIFT] = 1.0
        return masks

    def text(self, chunk_id: str) -> str:
        seg, row = self.row(chunk_id) or (None, -1)
        return seg.text(row) if seg is not None else ""

    def page(self, chunk_id: str) -> int | None:
        got = self.row(chunk_id)
        return got[0].pages[got[1]] if got else None


# ---------------------------------------------------------------------------------------------- reading

def _read_manifest(root: Path) -> Manifest:
    try:
        name = (root / "CURRENT").read_text().strip()
        data = json.loads((root / "versions" / name / "manifest.json").read_text())
    except FileNotFoundError as exc:
        raise FileNotFoundError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise CopyDamaged(f"unreadable manifest ({exc})") from None
    if data.pop("schema", None) != SCHEMA:
        raise CopyDamaged("written by another LabQA version")
    return Manifest(**data)


def _check_files(root: Path, manifest: Manifest) -> None:
    for rel, (size, crc) in manifest.files.items():
        path = root / rel
        try:
            if path.stat().st_size != size:
                raise CopyDamaged(f"{rel} has {path.stat().st_size} bytes, the manifest says {size}")
        except FileNotFoundError:
            raise CopyDamaged(f"{rel} is missing") from None
        if crc >= 0 and zlib.crc32(path.read_bytes()) != crc:
            raise CopyDamaged(f"{rel} does not match its checksum")


RECORDS = "records"  # folder of the record files
DERIVED = "derived.pkl"  # crc32 (4 bytes) + pickle of {"name", "records", "catalog"}: optional, a cache


def _write_derived(version_dir: Path, name: str, records: dict[str, store.PaperRecord], catalog: Catalog) -> None:
    if not version_dir.is_dir():
        return
    body = pickle.dumps({"schema": SCHEMA, "name": name, "records": records, "catalog": catalog}, protocol=5)
    tmp = version_dir / f".{DERIVED}.{uuid.uuid4().hex[:8]}"
    tmp.write_bytes(zlib.crc32(body).to_bytes(4, "big") + body)
    os.replace(tmp, version_dir / DERIVED)


def _read_derived(version_dir: Path, name: str) -> tuple[dict[str, store.PaperRecord], Catalog] | None:
    try:
        raw = memoryview((version_dir / DERIVED).read_bytes())  # no copies of a file of tens of MB
        if zlib.crc32(raw[4:]) != int.from_bytes(raw[:4], "big"):
            raise CopyDamaged("checksum")
        data = unpickle(raw[4:])
        if data.get("schema") != SCHEMA:  # saved by another LabQA version: its objects may lack what this one uses
            (version_dir / DERIVED).unlink(missing_ok=True)  # useless from now on; its version can be collected
            raise CopyDamaged("written by another LabQA version")
        if data["name"] != name:
            raise CopyDamaged("another version's")
        return data["records"], data["catalog"]
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged cache is rebuilt from the record files
        log.warning("ignoring %s in %s (%s)", DERIVED, version_dir, exc)
        return None


def _older_derived(root: Path, name: str) -> tuple[dict[str, store.PaperRecord], Catalog] | None:
    """The saved derived state of the newest other version that has one (records, catalog), if any."""
    try:
        versions = sorted((p for p in (root / "versions").iterdir()
                           if p.is_dir() and p.name != name and not p.name.startswith(".") and (p / DERIVED).exists()),
                          key=lambda p: p.name, reverse=True)
    except OSError:
        return None
    for v in versions:
        got = _read_derived(v, v.name)
        if got is not None:
            return got
    return None


def _read_records(root: Path, names: list[str], start: LocalIndex | None = None) -> dict[str, store.PaperRecord]:
    """The records the files give, applied in order; from `start`'s records when its files are the first ones
    (a process following the store reads only the new deltas, not the base again)."""
    done = start.manifest.records if start is not None else []
    if start is not None and start.records and names[:len(done)] == done:
        records, todo = dict(start.records), names[len(done):]
    else:
        records, todo = {}, names
    for n in todo:
        part = unpickle((root / RECORDS / n).read_bytes())
        for pid in part["drop"]:
            records.pop(pid, None)
        records.update(part["set"])
    return records


def load(root: Path, derived: bool = True, records: bool = True, previous: LocalIndex | None = None) -> LocalIndex:
    """The current version; `derived=False` skips the persisted catalog, `records=False` the paper records too
    (a writer adding a delta needs neither); `previous` (the version this process has) is read only forward."""
    manifest = _read_manifest(root)
    _check_files(root, manifest)
    version_dir = root / "versions" / manifest.name
    try:
        got = derived and records and _read_derived(version_dir, manifest.name)
        if got:
            recs, catalog = got
        else:
            recs, catalog = (_read_records(root, manifest.records, previous) if records else None), None
        segments = [Segment(root / "segments" / s) for s in manifest.segments]
    except CopyDamaged:
        raise
    except Exception as exc:  # unpickling or numpy errors: a damaged file
        raise CopyDamaged(f"{type(exc).__name__}: {exc}") from None
    return LocalIndex(root, manifest, recs, segments, catalog)


# ---------------------------------------------------------------------------------------------- writing

def _checked(root: Path, rel: str, checksum: bool) -> tuple[str, list[int]]:
    path = root / rel
    return rel, [path.stat().st_size, zlib.crc32(path.read_bytes()) if checksum else -1]


def _segment_files(root: Path, name: str) -> dict[str, list[int]]:
    seg = root / "segments" / name
    # Small files carry a checksum; big ones are checked by size (reading them whole to check them would cost
    # what memory mapping saves; a damaged big records file fails to unpickle, which counts as damage too).
    return dict(_checked(root, str(f.relative_to(root)), f.stat().st_size < 8 * 2**20)
                for f in sorted(seg.rglob("*")) if f.is_file())


def _write_records(root: Path, set_: dict[str, store.PaperRecord], drop: list[str]) -> str:
    """One immutable record file (written aside, then renamed into place); its name."""
    name = f"r{int(time.time() * 1000):x}-{uuid.uuid4().hex[:8]}.pkl"
    folder_ = root / RECORDS
    folder_.mkdir(parents=True, exist_ok=True)
    tmp = folder_ / f".{name}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(pickle.dumps({"set": set_, "drop": drop}, protocol=5))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder_ / name)
    return name


def _write_version(root: Path, fp: str, version: int, epoch: str, records: list[str], segments: list[str]) -> None:
    name = f"v{version:012d}-{uuid.uuid4().hex[:8]}"
    final = root / "versions" / name
    tmp = root / "versions" / f".{name}.tmp"
    tmp.mkdir(parents=True)
    files: dict[str, list[int]] = {}
    for s in segments:
        files.update(_segment_files(root, s))
    for r in records:
        path = root / RECORDS / r
        files.update([_checked(root, f"{RECORDS}/{r}", path.stat().st_size < 8 * 2**20)])  # as for segments
    (tmp / "manifest.json").write_text(Manifest(name, fp, version, epoch, segments, files, records).to_json())
    _fsync_tree(tmp)
    os.replace(tmp, final)
    current = root / "CURRENT.tmp"
    current.write_text(name)
    with open(current, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(current, root / "CURRENT")  # the switch: readers see the old version or the new one
    _collect_garbage(root)


def _collect_garbage(root: Path) -> None:
    """Keep the newest versions, plus the newest one with a saved derived state (a process that starts after
    some ingests derives from it instead of from scratch), and the segments and record files they use. A
    process still reading an older segment keeps its memory-mapped files (the OS frees them when it lets go)."""
    versions = sorted((p for p in (root / "versions").iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: p.name)
    keep = versions[-KEEP_VERSIONS:]
    with_derived = [v for v in versions if (v / DERIVED).exists()]
    if with_derived and with_derived[-1] not in keep:
        keep.append(with_derived[-1])
    for old in versions:
        if old not in keep:
            shutil.rmtree(old, ignore_errors=True)
    used: set[str] = set()
    for v in keep:
        try:
            data = json.loads((v / "manifest.json").read_text())
            used.update(data["segments"])
            used.update(data.get("records", []))
        except (OSError, ValueError, KeyError):
            continue
    for kind in ("segments", RECORDS):
        for item in (root / kind).iterdir() if (root / kind).is_dir() else ():
            # A .tmp is being written, or was left by a killed writer (then it is old).
            if item.name not in used and (not item.name.endswith(".tmp") or time.time() - item.stat().st_mtime > 3600):
                shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink(missing_ok=True)


def _new_segment_name() -> str:
    return f"s{int(time.time() * 1000):x}-{uuid.uuid4().hex[:8]}"


def _chunks_from_store(chunk_col: Any, ids: list[str], page: int = 5000) -> dict[str, tuple[str, dict[str, Any]]]:
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for i in range(0, len(ids), page):
        got = chunk_col.get(ids=ids[i:i + page], include=["documents", "metadatas"])
        for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            out[cid] = (text or "", meta or {})
    return out


def _rows_for(records: Iterable[store.PaperRecord], chunks: dict[str, tuple[str, dict[str, Any]]]
              ) -> tuple[list[Row], list[str], list[str]]:
    rows, texts, lexical = [], [], []
    for r in records:
        for cid in r.chunk_ids:
            if cid not in chunks:
                continue  # a record naming a chunk the store lost: it is simply not searchable
            text, meta = chunks[cid]
            page = meta.get("page")
            rows.append(Row(cid, r.paper.paper_id, int(page) if page is not None else None))
            texts.append(text)
            lexical.append(lexical_text(text, r.paper))
    return rows, texts, lexical


def build_full(root: Path, settings: Settings, client: Any, head: changes.Head, say: Say) -> None:
    """Read every paper and chunk from the store and write a copy with one base segment."""
    chunk_name, paper_name = store.collection_names(settings)
    t0 = time.perf_counter()
    records = store.read_papers(client.get_collection(paper_name, embedding_function=None))
    say(f"reading {len(records):,} papers' chunk texts from the store ...")
    ids = sorted({cid for r in records.values() for cid in r.chunk_ids})
    chunks = _chunks_from_store(client.get_collection(chunk_name, embedding_function=None), ids)
    say(f"indexing {len(chunks):,} chunks for BM25 ...")
    rows, texts, lexical = _rows_for(records.values(), chunks)
    name = _new_segment_name()
    (root / "segments").mkdir(parents=True, exist_ok=True)
    build_segment(root / "segments" / name, rows, texts, lexical)
    _write_version(root, store.fingerprint(settings), head.version, head.epoch, [_write_records(root, records, [])],
                   [name])
    say(f"local index written ({len(records):,} papers, {len(rows):,} chunks, "
        f"{time.perf_counter() - t0:.1f} s)")


def apply_changes(root: Path, current: LocalIndex, settings: Settings, client: Any, head: changes.Head,
                  todo: list[changes.Change]) -> None:
    """Bring a copy to `head` by reading only the papers the log names: their records go into a delta records
    file, their new chunks into a delta segment; chunks no paper names any more become tombstones. `current`
    may be loaded without its records (load(records=False)): a delta needs none of them. Merges the deltas
    when they grow."""
    chunk_name, paper_name = store.collection_names(settings)
    touched = sorted(set().union(*(c.changed | c.removed for c in todo)))
    paper_col = client.get_collection(paper_name, embedding_function=None)
    fresh: dict[str, store.PaperRecord] = {}
    for i in range(0, len(touched), 5000):
        got = paper_col.get(ids=touched[i:i + 5000], include=["metadatas"])
        for pid, meta in zip(got["ids"], got["metadatas"], strict=True):
            fresh[pid] = store.PaperRecord(Paper.from_dict(json.loads(meta["json"])), meta["chunk_ids"].split(),
                                           meta["digest"])
    drop = [pid for pid in touched if pid not in fresh]

    def all_records() -> dict[str, store.PaperRecord]:
        records = _read_records(root, current.manifest.records, current)
        for pid in drop:
            records.pop(pid, None)
        records.update(fresh)
        return records

    new_ids = [cid for r in fresh.values() for cid in r.chunk_ids if cid not in current.where]
    segments = [s.name for s in current.segments]
    if new_ids:
        chunks = _chunks_from_store(client.get_collection(chunk_name, embedding_function=None), new_ids)
        wanted = set(new_ids)
        part = [store.PaperRecord(r.paper, [c for c in r.chunk_ids if c in wanted], r.digest) for r in fresh.values()]
        rows, texts, lexical = _rows_for(part, chunks)
        deltas = sum(len(s) for s in current.segments[1:]) + len(rows)
        if deltas > max(MERGE_MIN, MERGE_SHARE * len(current.segments[0])) or len(segments) >= MAX_SEGMENTS:
            _merge(root, current, all_records(), rows, texts, settings, head)
            return
        name = _new_segment_name()
        build_segment(root / "segments" / name, rows, texts, lexical, base=current.segments[0])
        segments.append(name)
    if len(current.manifest.records) >= MAX_RECORD_FILES:
        files = [_write_records(root, all_records(), [])]
    else:
        files = [*current.manifest.records, _write_records(root, fresh, drop)]
    _write_version(root, store.fingerprint(settings), head.version, head.epoch, files, segments)


def _merge(root: Path, current: LocalIndex, records: dict[str, store.PaperRecord], new_rows: list[Row],
           new_texts: list[str], settings: Settings, head: changes.Head) -> None:
    """One new base from every live chunk (texts from the copy itself, new ones from the store)."""
    new = {r.chunk_id: (r, t) for r, t in zip(new_rows, new_texts, strict=True)}
    rows, texts, lexical = [], [], []
    for rec in records.values():
        for cid in rec.chunk_ids:
            if cid in new:
                row, text = new[cid]
            elif (got := current.row(cid)) is not None:
                seg, i = got
                row, text = Row(cid, rec.paper.paper_id, seg.pages[i]), seg.text(i)
            else:
                continue
            rows.append(row)
            texts.append(text)
            lexical.append(lexical_text(text, rec.paper))
    name = _new_segment_name()
    build_segment(root / "segments" / name, rows, texts, lexical)
    _write_version(root, store.fingerprint(settings), head.version, head.epoch, [_write_records(root, records, [])],
                   [name])


# ---------------------------------------------------------------------------------------------- sync

def _lock(root: Path) -> Any:
    from filelock import FileLock

    root.mkdir(parents=True, exist_ok=True)
    return FileLock(str(root / "write.lock"))


def sync(settings: Settings, client: Any, current: LocalIndex | None = None, say: Say = stderr,
         head: changes.Head | None = None, reader: bool = True) -> LocalIndex | None:
    """The copy at the store's current version: the one given or on disk when it is current, else brought
    up to date from the change log, else rebuilt from the store (once; other processes wait and load it).
    `reader=False` (ingest): only write the copy, load nothing."""
    root = folder(settings)
    if head is None:
        head = changes.read_head(changes.open_log(client, settings))
    if current is not None and (current.version, current.epoch) == (head.version, head.epoch):
        return current
    try:
        with _lock(root):
            new = _sync_locked(root, settings, client, head, say, reader, current)
    except OSError as exc:
        raise StoreError(store.unusable_home(root, exc)) from None
    if new is not None and new._catalog is None and current is not None and current._catalog is not None:
        new.base = (current.records, current._catalog)  # its catalog state follows from this one's
    return new


def _sync_locked(root: Path, settings: Settings, client: Any, head: changes.Head, say: Say,
                 reader: bool, current: LocalIndex | None) -> LocalIndex | None:
    def loaded() -> LocalIndex | None:  # a reader that has a version reads the record files forward from it
        return load(root, previous=current) if reader else None

    try:
        m = _read_manifest(root)
        if m.fingerprint != store.fingerprint(settings) or m.epoch != head.epoch:
            why = "the local index belongs to another store or index"
        elif m.version >= head.version:  # another process brought it here (or further) meanwhile
            return loaded()
        else:
            todo = changes.since(changes.open_log(client, settings), m.version, head.version)
            if todo is not None:
                apply_changes(root, load(root, derived=False, records=False), settings, client, head, todo)
                return loaded()
            why = f"the local index is at version {m.version} and the store's change log cannot bring it to {head.version}"
    except FileNotFoundError:
        why = "no local index yet"
    except CopyDamaged as exc:
        why = f"the local index is damaged ({exc})"
    say(f"building the local index of {store.where(settings)} ({why}); this happens once ...")
    build_full(root, settings, client, head, say)
    return load(root) if reader else None
