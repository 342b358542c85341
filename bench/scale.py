"""Scale benchmark: ingest and query latency at 1k, 10k and 100k synthetic papers, embedded and server mode.

    .venv/bin/python bench/scale.py run --sizes 1k,10k --modes embedded,server
    .venv/bin/python bench/scale.py fill --size 100k        # embed a corpus once into the vector cache
    .venv/bin/python bench/scale.py run --sizes 100k --vectors cache
    .venv/bin/python bench/scale.py run --sizes 1k,100k --precision int8   # LABQA_EMBED_PRECISION=int8
    .venv/bin/python bench/scale.py embed-speed             # model throughput alone
    .venv/bin/python bench/scale.py report                  # re-render bench/out/results.md and latency.png

For each size and mode: a fresh store; `labqa ingest` of the corpus in a child process (papers/s, chunks/s,
time in the model, peak RSS from wait4), then a no-change re-ingest; the store's size on disk; then a query
child that loads an Assistant (index load time, peak RSS) and asks warm questions through Assistant.ask —
topic questions with mode=dense, bm25 and hybrid, and metadata questions — for p50/p95 latency. Server mode
runs the same children against a `chroma run` started here (its peak RSS is reported too).

`--vectors cache` (default) serves chunk vectors from bench/out/vectors when they are there and embeds (and
caches) the rest, so the model cost is paid once per chunk text; the table says how many chunks each run
embedded and at what rate. `--vectors model` always embeds. `--profile` writes cProfile dumps and a summary
of the hottest LabQA functions to bench/out/profiles/.

Results accumulate in bench/out/results.json (one entry per size, mode and vectors setting; a rerun
replaces its entry). Everything under bench/out/ is git-ignored.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
RESULTS = OUT / "results.json"
MODES = ("dense", "bm25", "hybrid")


def size_of(label: str) -> int:
    label = label.lower()
    return int(float(label[:-1]) * 1000) if label.endswith("k") else int(label)


def corpus_dir(label: str) -> Path:
    return OUT / f"corpus-{label}"


def ensure_corpus(label: str) -> Path:
    import make_corpus

    out = corpus_dir(label)
    if not (out / "manifest.jsonl").exists():
        print(f"generating corpus {label} ...", flush=True)
        make_corpus.generate(size_of(label), out)
        make_corpus.check(out)
    return out


def models_dir() -> Path:
    local = ROOT / ".labqa" / "models"
    return local if local.exists() else OUT / "models"


def child_env(home: Path, chroma_url: str | None, precision: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABQA_", "OPENAI_"))}
    env.update(LABQA_HOME=str(home), LABQA_MODEL_CACHE=str(models_dir()), HF_HUB_OFFLINE="1",
               LABQA_EMBED_PRECISION=precision,
               TOKENIZERS_PARALLELISM="false", ANONYMIZED_TELEMETRY="False")
    if chroma_url:
        env["LABQA_CHROMA_URL"] = chroma_url
    return env


def run_child(args: list[str], env: dict[str, str], log: Path) -> tuple[dict[str, Any], float, float]:
    """Run `scale.py <args>` in a child; returns (its JSON result, wall seconds, peak RSS MB via wait4)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        result_file = Path(tmp.name)
    t = time.perf_counter()
    with log.open("a") as fh:
        fh.write(f"\n$ scale.py {' '.join(args)}\n")
        fh.flush()
        proc = subprocess.Popen([sys.executable, str(Path(__file__)), *args, "--result", str(result_file)],
                                env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    try:
        result = json.loads(result_file.read_text() or "{}")
    finally:
        result_file.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise SystemExit(f"child {' '.join(args)} failed ({proc.returncode}); see {log}")
    return result, wall, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


# ---------------------------------------------------------------- children (run in their own process)

def _settings():  # type: ignore[no-untyped-def]
    from rag.settings import load_settings

    return load_settings()


@contextlib.contextmanager
def _profiled(path: str | None):  # type: ignore[no-untyped-def]
    if not path:
        yield
        return
    import cProfile

    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        prof.dump_stats(path)


def child_ingest(args: argparse.Namespace) -> dict[str, Any]:
    import vector_cache

    import ingest.pipeline as pipeline
    from rag import cli

    settings = _settings()
    cache = vector_cache.cache_for(settings)
    stats = vector_cache.install(cache, use_cache=args.vectors in ("cache", "cache+random"),
                                 fill_random=args.vectors == "cache+random")
    parse = {"seconds": 0.0}

    def timed(fn):  # type: ignore[no-untyped-def]
        def run(*a, **kw):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                parse["seconds"] += time.perf_counter() - t
        return run

    # Parsing the files, then building papers from all records (merging versions): the "parse" stage.
    pipeline.parse_scope = timed(pipeline.parse_scope)  # type: ignore[assignment]
    pipeline._plan = timed(pipeline._plan)  # type: ignore[assignment]
    out = io.StringIO()
    t = time.perf_counter()
    with _profiled(args.profile), contextlib.redirect_stdout(out):
        rc = cli.main(["ingest", "--json", "--skip-invalid", str(args.data)])
    seconds = time.perf_counter() - t
    cache.flush()
    if rc != 0:
        raise SystemExit(rc)
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    return {"report": report, "seconds": seconds, "parse_seconds": parse["seconds"],
            "model_seconds": stats.model_seconds, "embedded": stats.embedded, "cached": stats.cached,
            "cache_lookup_seconds": stats.lookup_seconds, "randomized": stats.randomized}


def _summary(totals: list[float], retrieve: list[float]) -> dict[str, float]:
    def pct(values: list[float], q: float) -> float:
        return round(float(np.percentile(values, q)), 1) if values else float("nan")

    return {"n": len(totals), "p50_ms": pct(totals, 50), "p95_ms": pct(totals, 95), "max_ms": pct(totals, 100),
            "retrieve_p50_ms": pct(retrieve, 50), "retrieve_p95_ms": pct(retrieve, 95)}


def child_query(args: argparse.Namespace) -> dict[str, Any]:
    from rag.assistant import Assistant

    qs = json.loads((Path(args.corpus) / "questions.json").read_text())
    topic = qs["topic"] + [q["question"] for q in qs["named"]]
    named = {q["question"]: q["title"] for q in qs["named"]}
    t = time.perf_counter()
    assistant = Assistant(_settings())
    assistant.warm()
    load_s = time.perf_counter() - t
    out: dict[str, Any] = {"load_seconds": round(load_s, 2), "papers": len(assistant.catalog.papers)}

    def measure(questions: list[str], mode: str, use_metadata: bool) -> dict[str, Any]:
        totals: list[float] = []
        retrieve: list[float] = []
        ranks: dict[str, int | None] = {}
        for q in questions:  # warm-up pass: first-time costs (caches, lazy imports) are not "warm"
            a = assistant.ask(q, mode=mode, use_metadata=use_metadata)
            if q in named:
                titles = [s.title for s in a.sources]
                ranks[q] = titles.index(named[q]) + 1 if named[q] in titles else None
        deadline = time.perf_counter() + args.budget
        for _ in range(args.reps):
            for q in questions:
                t0 = time.perf_counter()
                a = assistant.ask(q, mode=mode, use_metadata=use_metadata)
                totals.append((time.perf_counter() - t0) * 1000)
                retrieve.append(a.timings_ms.get("retrieve_ms", 0.0))
            if time.perf_counter() > deadline:
                break
        res: dict[str, Any] = _summary(totals, retrieve)
        if ranks:
            res["named_hit@1"] = round(sum(1 for r in ranks.values() if r == 1) / len(ranks), 3)
            res["named_hit@5"] = round(sum(1 for r in ranks.values() if r and r <= 5) / len(ranks), 3)
        return res

    with _profiled(args.profile):
        for mode in MODES:
            out[mode] = measure(topic, mode, use_metadata=False)
        out["metadata"] = measure(qs["metadata"], "hybrid", use_metadata=True)
    return out


def _chunk_texts(papers: list[Any], settings: Any, tokenizer: Any) -> list[str]:
    """The exact texts ingest embeds for these papers' chunks (the vector cache is keyed by them)."""
    from llama_index.core.schema import MetadataMode

    from ingest.chunking import chunk_papers
    from rag import store

    chunks = chunk_papers(papers, tokenizer, settings.chunk_tokens, settings.chunk_overlap_sentences)
    return [store.chunk_node(c, p).get_content(metadata_mode=MetadataMode.EMBED)
            for p in papers for c in chunks[p.paper_id]]


def child_fill(args: argparse.Namespace) -> dict[str, Any]:
    """Embed every chunk text of a corpus that the cache lacks (resumable: flushes every few thousand)."""
    import vector_cache

    from ingest.pipeline import load_papers
    from rag.embedding import Embedder, load_tokenizer

    settings = _settings()
    cache = vector_cache.cache_for(settings)
    papers, _, _ = load_papers([Path(args.data)], settings.listing_year, skip_invalid=True)
    tokenizer = load_tokenizer()
    embedder = Embedder.for_settings(settings)
    embedded, t0, step = 0, time.perf_counter(), 256
    for i in range(0, len(papers), step):
        batch = papers[i:i + step]
        texts = _chunk_texts(batch, settings, tokenizer)
        keys = [vector_cache.VectorCache.key(x) for x in texts]
        _, missing = cache.get(keys)
        if missing:
            vecs = embedder.embed([texts[j] for j in missing], settings.embed_batch_size)
            cache.add([keys[j] for j in missing], vecs)
            embedded += len(missing)
        if (i // step) % 4 == 0:
            rate = embedded / max(1e-9, time.perf_counter() - t0)
            print(f"{i + len(batch)}/{len(papers)} papers, {embedded} chunks embedded ({rate:.1f}/s), "
                  f"cache {len(cache)}", flush=True)
    cache.flush()
    return {"papers": len(papers), "embedded": embedded, "seconds": time.perf_counter() - t0, "cache": len(cache)}


def child_embed_speed(args: argparse.Namespace) -> dict[str, Any]:
    """Chunks/s of the embedding model alone, on real chunk texts of the 1k corpus, at a few batch sizes."""
    from ingest.pipeline import load_papers
    from rag.embedding import Embedder, load_tokenizer

    settings = _settings()
    papers, _, _ = load_papers([Path(args.data)], settings.listing_year, skip_invalid=True)
    papers = papers[:400]
    all_texts = _chunk_texts(papers, settings, load_tokenizer())
    texts = all_texts[: args.n]
    embedder = Embedder.for_settings(settings)
    embedder.warm()
    out: dict[str, Any] = {"texts": len(texts), "chunks_per_paper": round(len(all_texts) / len(papers), 2)}
    for bs in (16, 32, 64, 128):
        t = time.perf_counter()
        embedder.embed(texts, bs)
        out[f"batch_{bs}_chunks_per_s"] = round(len(texts) / (time.perf_counter() - t), 1)
    return out


# ---------------------------------------------------------------- orchestration

def run_one(label: str, mode: str, vectors: str, precision: str, reps: int, budget: float,
            profile: bool) -> dict[str, Any]:
    from chroma_server import ChromaServer

    corpus = ensure_corpus(label)
    base = OUT / "stores" / f"{label}-{mode}-{precision}"
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    log = OUT / "logs" / f"{label}-{mode}-{precision}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    prof_dir = OUT / "profiles"
    prof_dir.mkdir(exist_ok=True)
    server = ChromaServer(base / "server") if mode == "server" else None
    entry: dict[str, Any] = {"size": label, "mode": mode, "vectors": vectors, "precision": precision,
                             "started": time.strftime("%F %T"),
                             "load_before": loadavg(), "cpus": os.cpu_count()}
    try:
        if server:
            server.start()
        env = child_env(base / "home", server.url if server else None, precision)

        def prof(name: str) -> list[str]:
            return ["--profile", str(prof_dir / f"{name}-{label}-{mode}.prof")] if profile else []

        print(f"[{label} {mode}] ingest ...", flush=True)
        res, wall, rss = run_child(["_ingest", "--data", str(corpus / "data"), "--vectors", vectors,
                                    *prof("ingest")], env, log)
        rep = res["report"]
        chunks = rep["chunks_added"] + rep["chunks_updated"] + rep["chunks_unchanged"]
        entry["ingest"] = {
            "papers": rep["papers"], "chunks": chunks, "seconds": round(res["seconds"], 1),
            "wall_seconds": round(wall, 1), "papers_per_s": round(rep["papers"] / res["seconds"], 1),
            "chunks_per_s": round(chunks / res["seconds"], 1), "parse_seconds": round(res["parse_seconds"], 1),
            "model_seconds": round(res["model_seconds"], 1), "embedded": res["embedded"], "cached": res["cached"],
            "model_chunks_per_s": round(res["embedded"] / res["model_seconds"], 1) if res["model_seconds"] else None,
            "store_seconds": round(res["seconds"] - res["parse_seconds"] - res["model_seconds"]
                                   - res["cache_lookup_seconds"], 1),
            "peak_rss_mb": round(rss), "load": loadavg(),
        }
        expected = sum(1 for _ in (corpus / "manifest.jsonl").open())
        entry["ingest"]["papers_expected"] = expected
        if rep["papers"] != expected:
            print(f"  WARNING: ingest found {rep['papers']} papers, the manifest has {expected}", flush=True)
        print(f"  {entry['ingest']}", flush=True)
        print(f"[{label} {mode}] re-ingest (no change) ...", flush=True)
        res, wall, rss = run_child(["_ingest", "--data", str(corpus / "data"), "--vectors", vectors,
                                    *prof("reingest")], env, log)
        entry["reingest"] = {"seconds": round(res["seconds"], 1), "parse_seconds": round(res["parse_seconds"], 1),
                             "chunks_added": res["report"]["chunks_added"], "peak_rss_mb": round(rss)}
        entry["index_mb"] = round(du_mb(server.path if server else base / "home" / "chroma"), 1)
        print(f"[{label} {mode}] queries ...", flush=True)
        res, wall, rss = run_child(["_query", "--corpus", str(corpus), "--reps", str(reps), "--budget", str(budget),
                                    *prof("query")], env, log)
        res["peak_rss_mb"] = round(rss)
        entry["query"] = res
        if server:
            entry["server_peak_rss_mb"] = round(server.peak_rss_mb() or 0)
    finally:
        if server:
            server.stop()
    entry["load_after"] = loadavg()
    if profile:
        for name in ("ingest", "reingest", "query"):
            summarize_profile(prof_dir / f"{name}-{label}-{mode}.prof")
    print(f"  {json.dumps(entry.get('query'))}", flush=True)
    return entry


def summarize_profile(path: Path, top: int = 25) -> None:
    """The hottest LabQA functions (cumulative time) next to the dump, as text."""
    import pstats

    if not path.exists():
        return
    stats = pstats.Stats(str(path))
    rows = []
    for (file, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        rel = os.path.relpath(file, ROOT)
        if rel.startswith(("rag/", "ingest/", "ui/", "eval/")):
            rows.append((cumtime, tottime, ncalls, f"{rel}:{line}:{func}"))
        elif "site-packages" in file and tottime > 0.5:
            rows.append((cumtime, tottime, ncalls, file.split("site-packages/")[1] + f":{line}:{func}"))
    rows.sort(reverse=True)
    lines = [f"{'cumulative s':>12} {'own s':>8} {'calls':>9}  function"]
    lines += [f"{c:12.2f} {t:8.2f} {n:9d}  {name}" for c, t, n, name in rows[:top]]
    path.with_suffix(".txt").write_text("\n".join(lines) + "\n")


def _key(r: dict[str, Any]) -> tuple[str, str, str, str]:
    return r["size"], r["mode"], r["vectors"], r.get("precision", "fp32")


def load_results() -> list[dict[str, Any]]:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else []


def save_result(entry: dict[str, Any]) -> None:
    results = [r for r in load_results()
               if _key(r) != _key(entry)]
    results.append(entry)
    results.sort(key=lambda r: (size_of(r["size"]), r["mode"], r.get("precision", "fp32"), r["vectors"]))
    RESULTS.write_text(json.dumps(results, indent=1))


def _lat(q: dict[str, Any], key: str) -> str:
    d = q.get(key) or {}
    return f"{d.get('p50_ms', '–')} / {d.get('p95_ms', '–')}"


def render(results: list[dict[str, Any]]) -> str:
    lines = ["# LabQA scale benchmark", "",
             f"Machine: {os.cpu_count()} CPUs (shared; `load` = 1-minute load average before/after each run). "
             "Latency in ms as p50 / p95 of warm questions through `Assistant.ask` (offline answerer). "
             "`vectors=cache`: chunk vectors served from bench/out/vectors where present; `embedded` = chunks "
             "that went through the model in that run; `int8` = LABQA_EMBED_PRECISION=int8 (quantized model).", "",
             "## Ingest", "",
             "| size | mode | vectors | papers | chunks | ingest s | papers/s | chunks/s | parse s | model s "
             "(embedded, chunks/s) | store s | re-ingest s | index MB | ingest RSS MB | server RSS MB | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        i = r.get("ingest", {})
        re_ = r.get("reingest", {})
        model = f"{i.get('model_seconds')} ({i.get('embedded')}, {i.get('model_chunks_per_s') or '–'})"
        lines.append(f"| {r['size']} | {r['mode']} | {r['vectors']} {r.get('precision', 'fp32')} | "
                     f"{i.get('papers')} | {i.get('chunks')} | "
                     f"{i.get('seconds')} | {i.get('papers_per_s')} | {i.get('chunks_per_s')} | "
                     f"{i.get('parse_seconds')} | {model} | {i.get('store_seconds')} | {re_.get('seconds')} | "
                     f"{r.get('index_mb')} | {i.get('peak_rss_mb')} | {r.get('server_peak_rss_mb', '–')} | "
                     f"{r.get('load_before')}/{r.get('load_after')} |")
    lines += ["", "## Queries", "",
              "| size | mode | precision | index load s | query RSS MB | dense | BM25 | hybrid | metadata | hybrid retrieval "
              "(p50 / p95) | method-name hit@5 dense / BM25 / hybrid | load |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        q = r.get("query", {})
        if not q:
            continue
        hits = " / ".join(str((q.get(m) or {}).get("named_hit@5", "–")) for m in MODES)
        h = q.get("hybrid") or {}
        lines.append(f"| {r['size']} | {r['mode']} | {r.get('precision', 'fp32')} | {q.get('load_seconds')} | {q.get('peak_rss_mb')} | "
                     f"{_lat(q, 'dense')} | {_lat(q, 'bm25')} | {_lat(q, 'hybrid')} | {_lat(q, 'metadata')} | "
                     f"{h.get('retrieve_p50_ms')} / {h.get('retrieve_p95_ms')} | {hits} | "
                     f"{r.get('load_before')}/{r.get('load_after')} |")
    return "\n".join(lines) + "\n"


def chart(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = [m for m in ("embedded", "server") if any(r["mode"] == m and r.get("query") for r in results)]
    if not modes:
        return
    fig, axes = plt.subplots(1, len(modes), figsize=(6 * len(modes), 4.2), sharey=True, squeeze=False)
    colors = {"dense": "tab:blue", "bm25": "tab:orange", "hybrid": "tab:green", "metadata": "tab:red"}
    for ax, mode in zip(axes[0], modes, strict=True):
        by_size: dict[str, dict[str, Any]] = {}  # one point per size: fp32 where measured, else int8
        for r in results:
            if r["mode"] == mode and r.get("query") and (r["size"] not in by_size or r.get("precision") == "fp32"):
                by_size[r["size"]] = r
        rows = sorted(by_size.values(), key=lambda r: size_of(r["size"]))
        xs = [r["query"].get("papers") or size_of(r["size"]) for r in rows]
        for kind, color in colors.items():
            ax.plot(xs, [r["query"][kind]["p50_ms"] for r in rows], "o-", color=color, label=f"{kind} p50")
            ax.plot(xs, [r["query"][kind]["p95_ms"] for r in rows], "s--", color=color, alpha=0.5,
                    label=f"{kind} p95")
        for r, x in zip(rows, xs, strict=True):
            if r.get("precision", "fp32") != "fp32":
                ax.annotate(r["precision"] + " vectors", (x, r["query"]["hybrid"]["p50_ms"]), fontsize=7,
                            textcoords="offset points", xytext=(-40, 8))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("papers in the index")
        ax.set_title(f"{mode} store")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("warm question latency, ms")
    axes[0][-1].legend(fontsize=7, ncol=2)
    fig.suptitle("LabQA question latency vs corpus size (Assistant.ask, offline answerer)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report() -> None:
    results = load_results()
    (OUT / "results.md").write_text(render(results))
    chart(results, OUT / "latency.png")
    print(f"wrote {OUT / 'results.md'} and {OUT / 'latency.png'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="benchmark sizes × modes and update the report")
    p.add_argument("--sizes", default="1k,10k")
    p.add_argument("--modes", default="embedded,server")
    p.add_argument("--vectors", choices=["cache", "model"], default="cache")
    p.add_argument("--precision", choices=["fp32", "int8"], default="fp32", help="LABQA_EMBED_PRECISION")
    p.add_argument("--reps", type=int, default=3, help="measured passes over the questions (after a warm-up)")
    p.add_argument("--budget", type=float, default=120, help="stop repeating a question kind after this many s")
    p.add_argument("--profile", action="store_true")
    p = sub.add_parser("fill", help="embed a corpus into the vector cache")
    p.add_argument("--size", required=True)
    p.add_argument("--precision", choices=["fp32", "int8"], default="fp32", help="LABQA_EMBED_PRECISION")
    p = sub.add_parser("embed-speed", help="embedding model throughput alone")
    p.add_argument("--precision", choices=["fp32", "int8"], default="fp32", help="LABQA_EMBED_PRECISION")
    p.add_argument("--n", type=int, default=512)
    sub.add_parser("report", help="re-render results.md and latency.png")
    for name in ("_ingest", "_query", "_fill", "_embed_speed"):  # children
        p = sub.add_parser(name)
        p.add_argument("--data", type=Path)
        p.add_argument("--corpus", type=Path)
        p.add_argument("--vectors", default="cache")
        p.add_argument("--reps", type=int, default=3)
        p.add_argument("--budget", type=float, default=120)
        p.add_argument("--n", type=int, default=512)
        p.add_argument("--profile")
        p.add_argument("--result", type=Path, required=True)
    args = ap.parse_args(argv)

    children = {"_ingest": child_ingest, "_query": child_query, "_fill": child_fill, "_embed_speed": child_embed_speed}
    if args.cmd in children:
        result = children[args.cmd](args)
        args.result.write_text(json.dumps(result))
        return 0

    OUT.mkdir(exist_ok=True)
    if args.cmd == "run":
        for label in args.sizes.split(","):
            for mode in args.modes.split(","):
                save_result(run_one(label, mode, args.vectors, args.precision, args.reps, args.budget,
                                    args.profile))
                write_report()
    elif args.cmd == "fill":
        corpus = ensure_corpus(args.size)
        log = OUT / "logs" / f"fill-{args.size}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        res, wall, rss = run_child(["_fill", "--data", str(corpus / "data")],
                                   child_env(OUT / "fill-home", None, args.precision), log)
        print(json.dumps({**res, "wall_seconds": round(wall, 1), "peak_rss_mb": round(rss), "load": loadavg()}))
    elif args.cmd == "embed-speed":
        corpus = ensure_corpus("1k")
        log = OUT / "logs" / "embed-speed.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        before = loadavg()
        res, wall, rss = run_child(["_embed_speed", "--data", str(corpus / "data"), "--n", str(args.n)],
                                   child_env(OUT / "fill-home", None, args.precision), log)
        res.update(precision=args.precision, load_before=before, load_after=loadavg(), cpus=os.cpu_count())
        (OUT / "embed_speed.json").write_text(json.dumps(res, indent=1))
        print(json.dumps(res))
    elif args.cmd == "report":
        write_report()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    sys.exit(main())
