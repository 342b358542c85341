"""Load test: N simulated users asking through the UI's `/ask` API (gradio_client) for a bounded time.

    .venv/bin/python bench/load.py                          # starts `labqa serve` on a free port, 16 users, 60 s
    .venv/bin/python bench/load.py --url http://127.0.0.1:7860 --users 32 --duration 120
    .venv/bin/python bench/load.py --llm-hang 1      # the LLM endpoint hangs: answers must still come
    .venv/bin/python bench/load.py --servers 2 --ingest-after 20   # 2 serve processes on one Chroma server,
                                                     # a `labqa ingest` of a new paper 20 s into the load

Every user has its own gradio_client session and its own conversation: a topic question, then follow-ups
that only make sense against that conversation ("Which of those have code?", "Who wrote the second one?"),
sent with the user's history as the API expects, plus metadata questions. Reported: requests, throughput,
p50/p95/max latency, errors (must be 0), and leaks: a follow-up answer that cites a paper which is not in
that user's own conversation (another session's state bleeding in) is counted as a leak (must be 0).

With `--servers N` (N > 1) the users are spread over N `labqa serve` processes, each with its own LABQA_HOME
(as on N hosts), all on one `chroma run` (started here on a copy of the seed index unless LABQA_CHROMA_URL is
set). With `--ingest-after S`, another process runs `labqa ingest` of one new paper S seconds into the load;
from VISIBLE_WITHIN seconds after it returns, every user also asks about the new paper after each round, and
an answer that does not cite it counts as stale (must be 0); at the end every server is asked once more.

Results go to bench/out/load.json and bench/out/load.md (with the 1-minute load average before/after).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from chroma_server import free_port, vm_hwm_mb  # bench/ is on sys.path when this script runs

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
LABQA = str(Path(sys.executable).with_name("labqa"))

TOPICS = [  # first questions with different answers, so a leaked conversation shows up in the citations
    "What has the group done on recommendation unlearning?",
    "Which papers deal with federated learning?",
    "Which papers rely on sharpness-aware minimization?",
    "What has the group published on text-to-image generation?",
    "Are there papers on unlearning in large language models?",
    "Which works address unfairness between advantaged and disadvantaged users in recommender systems?",
    "What research has the group done on copyright protection or copyright infringement by generative AI models?",
    "Which papers introduce benchmarks to test how well large vision-language models understand or handle content?",
]
FOLLOW_UPS = ["Which of those have code?", "Who wrote the second one?"]
METADATA = ["How many papers did Yuyuan Li co-author since 2024?", "Which papers were published in 2023?",
            "Computer vision papers with code"]
NEW_PAPER = (  # ingested during the load with --ingest-after
    "CVJan 5, 2024Code\n"
    "GlacierSeg: Robust Segmentation of Glacier Calving Fronts in Satellite ImageryAnna Berg, Tom Lund, Eva Holm et al.\n"
    "We study the segmentation of glacier calving fronts in synthetic aperture radar satellite imagery. GlacierSeg "
    "combines a boundary-aware loss with test-time augmentation and reduces the mean front delineation error by "
    "a third.\n")
NEW_QUESTION, NEW_TITLE = "Who works on glacier calving fronts?", "GlacierSeg"
VISIBLE_WITHIN = 10.0  # seconds after the ingest returns by which every server must cite the new paper


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)  # the Assistant's own time (Answer.timings_ms)
    errors: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    follow_ups_checked: int = 0
    stale: list[str] = field(default_factory=list)  # answers after the ingest + VISIBLE_WITHIN without the new paper
    stale_checked: int = 0
    ingested_at: float | None = None  # monotonic time the ingest during the load returned
    answerers: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def cited(answer: dict[str, Any]) -> list[str]:
    return [c["paper_id"] for c in answer.get("citations", [])]


def user(n: int, url: str, deadline: list[float], stats: Stats, start: threading.Barrier) -> None:
    """One simulated user until deadline[0] (a box: the clock starts once every user has connected)."""
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # noqa: BLE001 - counted, reported
        with stats.lock:
            stats.errors.append(f"user {n}: cannot connect: {type(exc).__name__}: {exc}")
        start.abort()
        return
    start.wait()
    turn = 0
    while time.monotonic() < deadline[0]:
        topic = TOPICS[(n + turn) % len(TOPICS)]
        history: list[dict[str, str]] = []
        seen: set[str] = set()  # every paper this conversation has cited so far
        script = [topic, *FOLLOW_UPS, METADATA[(n + turn) % len(METADATA)]]
        for i, question in enumerate(script):
            if time.monotonic() >= deadline[0]:
                return
            t0 = time.perf_counter()
            try:
                # Follow-ups carry this user's history; the metadata question starts afresh.
                answer = client.predict(question, history if 0 < i < len(script) - 1 else [], None,
                                        api_name="/ask")
                latency = time.perf_counter() - t0
                if not isinstance(answer, dict) or "answer" not in answer or "citations" not in answer:
                    raise ValueError(f"not an Answer: {str(answer)[:200]}")
            except Exception as exc:  # noqa: BLE001 - counted, reported
                with stats.lock:
                    stats.errors.append(f"user {n}: {question!r}: {type(exc).__name__}: {str(exc)[:300]}")
                break
            with stats.lock:
                stats.latencies.append(latency)
                stats.server_ms.append(float(answer.get("timings_ms", {}).get("total_ms", 0.0)))
                stats.answerers[answer["answerer"].split(" @ ")[0].split(":")[0]] += 1
                if question in FOLLOW_UPS:
                    stats.follow_ups_checked += 1
                    foreign = [p for p in cited(answer) if p not in seen]
                    if foreign:
                        stats.leaks.append(f"user {n}: {question!r} after {topic!r} cited {foreign}, not in its "
                                           f"conversation {sorted(seen)}")
            if i == 0 and len(cited(answer)) < 2:
                with stats.lock:
                    stats.errors.append(f"user {n}: {topic!r} cited {len(cited(answer))} papers; the follow-ups "
                                        "need at least 2")
                break
            seen.update(cited(answer))
            history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer["answer"]}]
        turn += 1
        if stats.ingested_at is not None and time.monotonic() > stats.ingested_at + VISIBLE_WITHIN \
                and time.monotonic() < deadline[0]:
            check_new_paper(client, f"user {n} on {url}", stats)


def check_new_paper(client: Any, who: str, stats: Stats) -> None:
    try:
        answer = client.predict(NEW_QUESTION, [], None, api_name="/ask")
    except Exception as exc:  # noqa: BLE001 - counted, reported
        with stats.lock:
            stats.errors.append(f"{who}: {NEW_QUESTION!r}: {type(exc).__name__}: {str(exc)[:300]}")
        return
    with stats.lock:
        stats.stale_checked += 1
        titles = [c["title"] for c in answer.get("citations", [])]
        if not titles or not titles[0].startswith(NEW_TITLE):
            stats.stale.append(f"{who}: {NEW_QUESTION!r} cited {titles[:3]}, not the paper ingested "
                               f"{VISIBLE_WITHIN:g}+ s before")


def ms(values: list[float], q: float, scale: float = 1.0) -> int | None:
    """The q-th percentile in whole ms (None when no request succeeded)."""
    return round(float(np.percentile(values, q)) * scale) if values else None


def start_server(home: Path, port: int, log: Path, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABQA_", "OPENAI_"))}
    env.update(LABQA_HOME=str(home), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", **extra_env)
    if os.environ.get("LABQA_MODEL_CACHE"):
        env["LABQA_MODEL_CACHE"] = os.environ["LABQA_MODEL_CACHE"]
    if os.environ.get("LABQA_CHROMA_URL"):  # load-test server mode too
        env["LABQA_CHROMA_URL"] = os.environ["LABQA_CHROMA_URL"]
    proc = subprocess.Popen([LABQA, "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 600  # a missing index is built first
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"labqa serve exited with {proc.returncode}; see {log}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"labqa serve did not come up on {url}; see {log}")


def wait_ready(url: str, timeout: float = 600) -> None:
    """Until /ask answers (the server warms or builds the index in the background)."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.predict(TOPICS[0], [], None, api_name="/ask")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running `labqa serve` (default: start one here)")
    ap.add_argument("--home", type=Path, help="LABQA_HOME for the server started here (default: a copy of the "
                    "checkout's .labqa, or a fresh one built from data/)")
    ap.add_argument("--users", type=int, default=16)
    ap.add_argument("--duration", type=float, default=60, help="seconds of load")
    ap.add_argument("--servers", type=int, default=1, help="labqa serve processes (own LABQA_HOME each) on one "
                    "Chroma server; users are spread over them")
    ap.add_argument("--ingest-after", type=float, metavar="S", help="run `labqa ingest` of one new paper S seconds "
                    "into the load, then check that every server cites it (stale answers)")
    ap.add_argument("--llm-hang", type=float, metavar="TIMEOUT", help="serve with an LLM endpoint that hangs "
                    "(tests/fake_openai_server.py) and LABQA_LLM_TIMEOUT=TIMEOUT: every topic answer must still "
                    "come, as the marked offline fallback")
    args = ap.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    proc = None
    url = args.url
    extra_env: dict[str, str] = {}
    hanging = None
    if args.llm_hang:
        sys.path.insert(0, str(ROOT / "tests"))
        from fake_openai_server import FakeOpenAIServer

        hanging = FakeOpenAIServer(mode="hang", hang_seconds=3600).start()
        extra_env = {"LABQA_LLM_MODEL": "fake-model", "OPENAI_BASE_URL": hanging.base_url,
                     "OPENAI_API_KEY": "test", "LABQA_LLM_TIMEOUT": str(args.llm_hang)}
    procs: list[subprocess.Popen[bytes]] = []
    urls = [url] if url else []
    chroma = None
    if not url and args.servers > 1 and not os.environ.get("LABQA_CHROMA_URL"):
        from chroma_server import ChromaServer

        seed = args.home or OUT / "load-home"
        if not (seed / "chroma").exists():
            raise SystemExit(f"--servers needs an index to serve: build one with LABQA_HOME={seed} labqa ingest")
        path = OUT / "load-chroma"
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(seed / "chroma", path)
        chroma = ChromaServer(path).start()
        extra_env["LABQA_CHROMA_URL"] = chroma.url
        print(f"chroma run on {chroma.url} (a copy of {seed / 'chroma'})", flush=True)
    if not url:
        for i in range(args.servers):
            home = args.home or OUT / "load-home"
            if args.servers > 1:
                home = OUT / f"load-host{i + 1}"  # its own local copy, as on its own machine
                shutil.rmtree(home, ignore_errors=True)
            elif not args.home and not (home / "chroma").exists() and (ROOT / ".labqa" / "chroma").exists():
                shutil.copytree(ROOT / ".labqa" / "chroma", home / "chroma")
            port = free_port()
            print(f"starting labqa serve on port {port} (LABQA_HOME={home}) ...", flush=True)
            procs.append(start_server(home, port, OUT / f"load-serve{i + 1}.log", extra_env))
            urls.append(f"http://127.0.0.1:{port}/")
    proc = procs[0] if procs else None
    url = urls[0]
    try:
        for u in urls:
            wait_ready(u)
        stats = Stats()
        load_before = os.getloadavg()[0]
        start = threading.Barrier(args.users + 1)
        deadline = [time.monotonic() + 10**6]  # set for real once every client has connected
        threads = [threading.Thread(target=user, args=(n, urls[n % len(urls)], deadline, stats, start), daemon=True)
                   for n in range(args.users)]
        for t in threads:
            t.start()
        try:
            start.wait(timeout=120)
        except threading.BrokenBarrierError:
            pass
        t0 = time.monotonic()
        cpu0 = time.process_time()
        deadline[0] = t0 + args.duration
        ingest_s = None
        if args.ingest_after is not None:
            time.sleep(args.ingest_after)
            new = OUT / "load-new-paper.txt"
            new.write_text(NEW_PAPER)
            env = {**os.environ, "LABQA_HOME": str(OUT / "load-ingest-host"), **extra_env}
            t_ingest = time.monotonic()
            done = subprocess.run([LABQA, "ingest", str(new)], env=env, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"the ingest during the load failed: {done.stderr}")
            stats.ingested_at = time.monotonic()
            ingest_s = round(stats.ingested_at - t_ingest, 2)
            print(f"ingested a new paper in {ingest_s} s, {stats.ingested_at - t0:.0f} s into the load", flush=True)
        for t in threads:
            t.join(args.duration + 120)
        wall = time.monotonic() - t0
        if stats.ingested_at is not None:  # every server, once more, at the end
            from gradio_client import Client

            wait = stats.ingested_at + VISIBLE_WITHIN - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            for u in urls:
                check_new_paper(Client(u, verbose=False), f"final check on {u}", stats)
        result = {
            "url": url, "users": args.users, "duration_s": round(wall, 1), "requests": len(stats.latencies),
            "throughput_rps": round(len(stats.latencies) / wall, 2),
            "p50_ms": ms(stats.latencies, 50, 1000), "p95_ms": ms(stats.latencies, 95, 1000),
            "max_ms": ms(stats.latencies, 100, 1000),
            "assistant_p50_ms": ms(stats.server_ms, 50), "assistant_p95_ms": ms(stats.server_ms, 95),
            "errors": len(stats.errors), "error_samples": stats.errors[:10],
            "follow_ups_checked": stats.follow_ups_checked, "leaks": len(stats.leaks),
            "leak_samples": stats.leaks[:10], "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
            "client_cpu_s": round(time.process_time() - cpu0, 1),
            "server_peak_rss_mb": round(vm_hwm_mb(proc.pid) or 0) if proc else None,
            "servers": len(urls), "servers_peak_rss_mb": [round(vm_hwm_mb(p.pid) or 0) for p in procs],
            "ingest_during_s": ingest_s, "stale_checked": stats.stale_checked, "stale": len(stats.stale),
            "stale_samples": stats.stale[:10],
            "answerers": dict(stats.answerers),
            "when": time.strftime("%F %T"),
        }
    finally:
        if hanging:
            hanging.close()
        for p in procs:
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        if chroma:
            chroma.stop()
    (OUT / "load.json").write_text(json.dumps(result, indent=1))
    (OUT / "load.md").write_text(
        "| servers | users | s | requests | req/s | p50 ms | p95 ms | max ms | errors | follow-ups checked | leaks | "
        "ingest during s | new-paper checks | stale | server RSS MB | load before/after |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {result['servers']} | {result['users']} | {result['duration_s']} | {result['requests']} | "
        f"{result['throughput_rps']} | {result['p50_ms']} | {result['p95_ms']} | {result['max_ms']} | "
        f"{result['errors']} | {result['follow_ups_checked']} | {result['leaks']} | {result['ingest_during_s']} | "
        f"{result['stale_checked']} | {result['stale']} | "
        f"{', '.join(map(str, result['servers_peak_rss_mb'])) or result['server_peak_rss_mb']} | "
        f"{result['load_before']}/{result['load_after']} |\n")
    print(json.dumps(result, indent=1))
    return 0 if result["errors"] == 0 and result["leaks"] == 0 and result["stale"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
