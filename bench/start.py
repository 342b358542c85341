"""Start-up and live-update benchmark: what the persisted local copy (rag.local_index) and the change log buy.

    .venv/bin/python bench/start.py --sizes seed,1k,5k,10k --modes embedded,server --precision int8
    .venv/bin/python bench/start.py report

For each size and mode, on a store built once (by `labqa ingest` of the corpus, vectors from bench/out/vectors
where cached; kept in bench/out/stores/start-<size>-<mode>-<precision> and reused):

- a one-question `labqa ask` from a new process, timed from outside (wall time, peak RSS via wait4):
  `cold` = no persisted copy in its LABQA_HOME (it is built from the store, once), then `warm` = the copy
  present (3 runs, median and max; RSS is the largest). In server mode the asking process has its own
  LABQA_HOME (another host, in effect) and the ingest another;
- a running process (an Assistant loaded and warm) while another process runs `labqa ingest` of one new
  paper: seconds until its answer cites the new paper, from the ingest's start and from its exit (the
  commit lies between);
- `labqa ingest` of 1 and then 100 new papers into the index (wall time; the report's seconds; how much of
  it went into bringing this machine's copy up to date; the new chunks go through the embedding model).

Results accumulate in bench/out/start.json (a rerun of a size/mode replaces its entry) and bench/out/start.md.
`seed` is the 31-paper data/ folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
RESULTS = OUT / "start.json"
LABQA = [sys.executable, "-m", "rag.cli"]
SEED_QUESTION = "What is EISAM?"


def timed(cmd: list[str], env: dict[str, str], log: Path, stdin: str | None = None) -> tuple[float, float, str]:
    """Run a command; (wall seconds, peak RSS MB via wait4, stdout). stderr goes to the log."""
    with log.open("a") as fh, tempfile.TemporaryFile("w+") as out:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=fh, text=True,
                                stdin=subprocess.PIPE if stdin else None)
        if stdin:
            assert proc.stdin is not None
            proc.stdin.write(stdin)
            proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed; see {log}")
    return wall, usage.ru_maxrss / 1024, text


def env_for(home: Path, url: str | None, precision: str) -> dict[str, str]:
    import scale

    return scale.child_env(home, url, precision)


def extra_papers(path: Path, count: int, start: int) -> list[tuple[str, str]]:
    """`count` new synthetic papers (not in any corpus) as a listing file; returns (title, acronym) pairs."""
    from itertools import accumulate

    import make_corpus as mc

    seeds = mc.load_seed()
    authors = mc.author_pool(7)
    cum = list(accumulate(1.0 / (r + 1) ** 0.85 for r in range(len(authors))))
    papers = [mc.make_paper(start + i, 7, seeds, authors, cum, versions=0.0, untitled=0.0) for i in range(count)]
    with path.open("w", encoding="utf-8") as fh:
        for p in papers:
            fh.write(f"{mc.header(p)}\n{mc.title_line(p)}\n{p.abstract}\n")
    return [(p.title, p.acronym) for p in papers]


def corpus_data(label: str) -> Path:
    if label == "seed":
        return ROOT / "data"
    import scale

    return scale.ensure_corpus(label) / "data"


def question_for(label: str) -> str:
    if label == "seed":
        return SEED_QUESTION
    import scale

    qs = json.loads((scale.corpus_dir(label) / "questions.json").read_text())
    return qs["named"][0]["question"]


# ---------------------------------------------------------------- the running process (a child)

def child_follow(args: argparse.Namespace) -> None:
    """Load an Assistant, let another process ingest one new paper, report when this one cites it."""
    from rag.assistant import Assistant
    from rag.settings import load_settings

    title, acronym = json.loads(args.paper)
    assistant = Assistant(load_settings())
    assistant.warm()
    # by its full title: a synthetic name can also be an older paper's (at 100k papers some are), and "What is
    # <name>?" then cites that one
    question = f'What is "{title}" about?'
    assert not any(c.title == title for c in assistant.ask(question).citations)
    env = {**os.environ, "LABQA_HOME": args.ingest_home}
    t0 = time.monotonic()
    proc = subprocess.Popen([*LABQA, "ingest", "--json", args.file], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    exited = None
    seen = None
    asks = 0
    while time.monotonic() - t0 < 600:
        if exited is None and proc.poll() is not None:
            exited = time.monotonic()
        answer = assistant.ask(question)
        asks += 1
        if any(c.title == title for c in answer.citations):
            seen = time.monotonic()
            break
        time.sleep(0.1)
    proc.wait()
    if exited is None:
        exited = time.monotonic()
    Path(args.result).write_text(json.dumps({
        "since_ingest_start_s": round(seen - t0, 2) if seen else None,
        "since_ingest_exit_s": round(seen - exited, 2) if seen else None,
        "ingest_s": round(exited - t0, 2), "asks": asks}))


# ---------------------------------------------------------------- orchestration

def ensure_store(label: str, mode: str, precision: str, base: Path, log: Path, url: str | None,
                 vectors: str) -> dict[str, Any]:
    """The store of this size and mode, built once (ingest of the corpus, vectors from the cache)."""
    import scale

    marker = base / "ingested.json"
    if marker.exists():
        return json.loads(marker.read_text())
    env = env_for(base / "home", url, precision)
    res, wall, rss = scale.run_child(["_ingest", "--data", str(corpus_data(label)), "--vectors", vectors], env, log)
    info = {"papers": res["report"]["papers"], "ingest_s": round(res["seconds"], 1), "ingest_rss_mb": round(rss),
            "embedded": res["embedded"], "randomized": res.get("randomized", 0),
            "chunks": res["report"]["chunks_added"] + res["report"]["chunks_unchanged"] + res["report"]["chunks_updated"]}
    marker.write_text(json.dumps(info))
    return info


def run_one(label: str, mode: str, precision: str, runs: int, vectors: str = "cache",
            queries: bool = False) -> dict[str, Any]:
    from chroma_server import ChromaServer

    base = OUT / "stores" / f"start-{label}-{mode}-{precision}{'-random' if 'random' in vectors else ''}"
    base.mkdir(parents=True, exist_ok=True)
    log = OUT / "logs" / f"start-{label}-{mode}-{precision}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server = ChromaServer(base / "server") if mode == "server" else None
    entry: dict[str, Any] = {"size": label, "mode": mode, "precision": precision, "vectors": vectors,
                             "started": time.strftime("%F %T"),
                             "load_before": round(os.getloadavg()[0], 2)}
    try:
        if server:
            server.start()
        url = server.url if server else None
        entry["store"] = ensure_store(label, mode, precision, base, log, url, vectors)
        ingest_home = base / "home"
        app_home = base / "app-home" if server else ingest_home  # server mode: the app is "another host"
        env = env_for(app_home, url, precision)
        question = question_for(label)
        ask = [*LABQA, "ask", "--json", question]

        print(f"[{label} {mode}] cold ask (no persisted copy) ...", flush=True)
        shutil.rmtree(app_home / "lexical", ignore_errors=True)
        wall, rss, out = timed(ask, env, log)
        entry["cold"] = {"wall_s": round(wall, 2), "rss_mb": round(rss),
                         "answer_ms": json.loads(out)["timings_ms"].get("total_ms")}
        print(f"[{label} {mode}] warm asks (persisted copy) ...", flush=True)
        walls, rsss = [], []
        for _ in range(runs):
            wall, rss, out = timed(ask, env, log)
            walls.append(wall)
            rsss.append(rss)
        entry["warm"] = {"median_s": round(statistics.median(walls), 2), "max_s": round(max(walls), 2),
                         "rss_mb": round(max(rsss)), "runs": runs, "cited": bool(json.loads(out)["citations"])}

        if queries and label != "seed":
            import scale

            print(f"[{label} {mode}] warm query latency ...", flush=True)
            res, wall, rss = scale.run_child(["_query", "--corpus", str(scale.corpus_dir(label)), "--reps", "3",
                                              "--budget", "60"], env, log)
            entry["query"] = {k: res[k] for k in ("load_seconds", "dense", "bm25", "hybrid", "metadata")}
            entry["query"]["peak_rss_mb"] = round(rss)
        files = {k: base / f"extra-{k}-{int(time.time())}.txt" for k in ("follow", "one", "hundred")}
        fresh = 10**8 + (int(time.time()) % 10**6) * 1000  # papers no earlier run added to this store
        follow = extra_papers(files["follow"], 1, fresh)
        extra_papers(files["one"], 1, fresh + 1)
        extra_papers(files["hundred"], 100, fresh + 2)
        print(f"[{label} {mode}] a running process sees a paper another process ingests ...", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
            result = Path(tmp.name)
        wall, rss, _ = timed([sys.executable, str(Path(__file__)), "_follow", "--paper", json.dumps(follow[0]),
                              "--file", str(files["follow"]), "--ingest-home", str(ingest_home), "--result",
                              str(result)], env, log)
        entry["follow"] = {**json.loads(result.read_text()), "process_rss_mb": round(rss)}
        result.unlink()
        for key, label_ in (("one", "ingest_1"), ("hundred", "ingest_100")):
            print(f"[{label} {mode}] {label_} ...", flush=True)
            wall, rss, out = timed([*LABQA, "ingest", "--json", str(files[key])], env_for(ingest_home, url, precision),
                                   log)
            rep = json.loads(out)
            entry[label_] = {"wall_s": round(wall, 2), "report_s": round(rep["seconds"], 2),
                             "local_index_s": rep.get("local_index_seconds"), "embedded": rep["chunks_embedded"],
                             "rss_mb": round(rss)}
        if server:
            entry["server_peak_rss_mb"] = round(server.peak_rss_mb() or 0)
    finally:
        if server:
            server.stop()
    entry["load_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(entry), flush=True)
    return entry


def vec_label(r: dict[str, Any]) -> str:
    """Random vectors are named in the table (the figures are about start-up and ingest, not retrieval)."""
    n = r.get("store", {}).get("randomized", 0)
    return f", **{n:,} of {r['store'].get('chunks', 0):,} chunk vectors random**" if n else ""


def hybrid(r: dict[str, Any]) -> str:
    h = r.get("query", {}).get("hybrid")
    return f"{h['p50_ms']} / {h['p95_ms']}" if h else "–"


def render(results: list[dict[str, Any]]) -> str:
    lines = ["| size | mode | precision | papers | cold ask s (RSS MB) | warm ask s median / max (RSS MB) | "
             "new paper visible s (from ingest start / exit) | +1 paper ingest s (copy s) | +100 papers ingest s "
             "(copy s, chunks embedded) | load |", "|---|---|---|---|---|---|---|---|---|---|"]
    order = {"seed": 0}
    for r in sorted(results, key=lambda r: (order.get(r["size"], 1), r["store"]["papers"] if r.get("store") else 0,
                                           r["mode"])):
        c, w, f = r.get("cold", {}), r.get("warm", {}), r.get("follow", {})
        one, hundred = r.get("ingest_1", {}), r.get("ingest_100", {})
        lines.append(
            f"| {r['size']} | {r['mode']} | {r['precision']}{vec_label(r)} | {r.get('store', {}).get('papers')} | "
            f"{c.get('wall_s')} ({c.get('rss_mb')}) | {w.get('median_s')} / {w.get('max_s')} ({w.get('rss_mb')}) | "
            f"{f.get('since_ingest_start_s')} / {f.get('since_ingest_exit_s')} | "
            f"{one.get('wall_s')} ({one.get('local_index_s')}) | {hundred.get('wall_s')} "
            f"({hundred.get('local_index_s')}, {hundred.get('embedded')}) | "
            f"{r.get('load_before')}/{r.get('load_after')} |")
    return "\n".join(lines) + "\n"


def chart(results: list[dict[str, Any]], path: Path) -> None:
    """One-question `labqa ask` from a new process against papers: cold (no copy) and warm, per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for mode, color in (("embedded", "tab:blue"), ("server", "tab:orange")):
        rows = sorted((r for r in results if r["mode"] == mode and r.get("warm")), key=lambda r: r["store"]["papers"])
        if not rows:
            continue
        xs = [r["store"]["papers"] for r in rows]
        ax.plot(xs, [r["cold"]["wall_s"] for r in rows], "s--", color=color, alpha=0.6,
                label=f"{mode}: cold (copy built from the store)")
        ax.plot(xs, [r["warm"]["median_s"] for r in rows], "o-", color=color, label=f"{mode}: warm (persisted copy)")
        for r, x in zip(rows, xs, strict=True):
            if vec_label(r):
                ax.annotate("random vectors", (x, r["warm"]["median_s"]), fontsize=7, textcoords="offset points",
                            xytext=(-30, 8))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("papers in the index")
    ax.set_ylabel("one-question `labqa ask`, s (wall)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("LabQA start-up: a new process answering one question")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", nargs="?", default="run", choices=["run", "report", "_follow"])
    ap.add_argument("--sizes", default="seed,1k")
    ap.add_argument("--modes", default="embedded,server")
    ap.add_argument("--precision", choices=["fp32", "int8"], default="int8")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--vectors", choices=["cache", "cache+random"], default="cache",
                    help="cache+random: chunks the vector cache lacks get random unit vectors, not the model's "
                    "(start-up and ingest figures only; labelled in the table)")
    ap.add_argument("--queries", action="store_true", help="also warm query latency (p50/p95 per retriever)")
    ap.add_argument("--paper")
    ap.add_argument("--file")
    ap.add_argument("--ingest-home")
    ap.add_argument("--result")
    args = ap.parse_args(argv)
    if args.cmd == "_follow":
        child_follow(args)
        return 0
    OUT.mkdir(exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    if args.cmd == "run":
        for label in args.sizes.split(","):
            for mode in args.modes.split(","):
                entry = run_one(label, mode, args.precision, args.runs, args.vectors, args.queries)
                results = [r for r in results if (r["size"], r["mode"], r["precision"], r.get("vectors", "cache"))
                           != (label, mode, args.precision, args.vectors)]
                results.append(entry)
                RESULTS.write_text(json.dumps(results, indent=1))
                (OUT / "start.md").write_text(render(results))
    chart(results, OUT / "start.png")
    (OUT / "start.md").write_text(render(results))
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    sys.exit(main())
